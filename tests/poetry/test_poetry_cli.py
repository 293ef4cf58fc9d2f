"""The poem / poetry commands (registered on a bare typer app): in-process, and once as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dreamwright.poetry.cli import register

SRC = str(Path(__file__).resolve().parents[2] / "src")
APP = "import typer; from dreamwright.poetry.cli import register; app=typer.Typer(); register(app); app()"


@pytest.fixture(scope="module")
def cli():
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


@pytest.fixture(scope="module")
def run_dir(poem_run, table) -> str:
    return str(poem_run)


def test_subprocess_poem_and_error(run_dir):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    args = [
        sys.executable,
        "-c",
        APP,
        "poem",
        run_dir,
        "--form",
        "七绝",
        "--acrostic",
        "春夏？秋冬！",
        "--seed",
        "1",
    ]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()
    assert [r[0] for r in rows[:4]] == list("春夏秋冬")
    assert all(len(r.split()[0]) == 8 and len(r.split()[1]) == 7 for r in rows[:4])  # line + tone marks
    assert "韵·" in rows[1] and "格律" in rows[4]
    args = [sys.executable, "-c", APP, "poem", run_dir, "--acrostic", "龍"]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and "「龍」" in out.stderr and "「龙」" in out.stderr


def test_poem_samples_and_json(cli, run_dir):
    out = cli("poem", run_dir, "--form", "五律", "--json", "--seed", "3", "-s", "2", "--keywords", "月")
    assert out.exit_code == 0, out.output
    poems = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(poems) == 2 and all(len(p["lines"]) == 8 and p["form"] == "五律" for p in poems)
    out = cli("poem", run_dir, "-s", "3", "--seed", "1", "--no-marks")
    assert out.exit_code == 0 and len(out.stdout.strip().split("\n\n")) == 3


def test_the_old_count_flag_still_counts_with_a_warning(run_dir):
    """-n is a length in every other command; for poems it still counts, for one release, and says so."""
    from tests.conftest import run_cli

    old = run_cli("poem", run_dir, "-n", "2", "--seed", "4", "--no-marks", timeout=300)
    new = run_cli("poem", run_dir, "-s", "2", "--seed", "4", "--no-marks", timeout=300)
    assert old.returncode == new.returncode == 0, old.stderr
    assert old.stdout == new.stdout and len(new.stdout.strip().split("\n\n")) == 2
    assert "deprecated" in old.stderr and "-s/--num-samples" in old.stderr and "deprecated" not in new.stderr
    both = run_cli("poem", run_dir, "-n", "2", "-s", "3", timeout=300)
    assert both.returncode == 2 and both.stderr.strip().startswith("error:") and "Traceback" not in both.stderr


def test_poem_errors_name_the_commands_options(run_dir):
    """The CLI names its option; the Python API names its argument."""
    from dreamwright.errors import InvalidArgument
    from dreamwright.poetry.decode import PoemRequest
    from tests.conftest import run_cli

    zero = run_cli("poem", run_dir, "-s", "0", timeout=300)
    assert zero.returncode == 2 and zero.stderr == "error: --num-samples must be >= 1, got 0\n"
    with pytest.raises(InvalidArgument, match="^num_samples must be >= 1"):
        PoemRequest("五绝", num_samples=0)


@pytest.mark.parametrize("model, start", [("tiny", "依山明前光"), ("bundled", "东东东东东")])
def test_an_impossible_start_says_why_it_stops_at_once(run_dir, model, start):
    """A fixed 平平平平 fits no tone pattern and leaves nothing free to change: the one-line error says so,
    rather than counting backoffs it never made."""
    from tests.conftest import run_cli

    if model == "bundled":
        from dreamwright import bundled
        from dreamwright.poetry import BUNDLED_MODEL

        if bundled.find(BUNDLED_MODEL) is None:
            pytest.skip("no bundled tang-poetry model in this checkout")
    where = [run_dir] if model == "tiny" else []
    env = {"PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = run_cli("poem", *where, "--start", start, "--seed", "0", env=env)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert f"the fixed 「{start[3]}」 breaks the tone pattern at line 1, character 4" in out.stderr
    assert "fixed by --start/--acrostic, so there is nothing to back off to" in out.stderr
    assert "backoffs" not in out.stderr and "budget" not in out.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("--form", "六绝"), "unknown form"),
        (("--tones", "sometimes"), "strict, loose or off"),
        (("--acrostic", "春夏秋冬风"), "at most 4"),
        (("--candidates", "0"), "candidates must be >= 1"),
        (("--theme", "㐀"), "theme characters not in the model's vocabulary: 「㐀」"),
        (("--keywords", "月,山,花,雪,风"), "give at most 4"),
    ],
)
def test_poem_errors(cli, run_dir, args, message):
    out = cli("poem", run_dir, *args)
    assert out.exit_code == 2 and message in out.output


def test_poem_theme_and_candidates(cli, run_dir):
    out = cli("poem", run_dir, "--theme", "秋月", "--candidates", "3", "--seed", "2", "--json")
    assert out.exit_code == 0, out.output
    poem = json.loads(out.stdout)
    assert poem["theme"] == "秋月" and len(poem["plan"]) == 4 and poem["candidates"] == 3
    assert 0 <= poem["candidate"] < 3 and poem["score"] < 0
    again = json.loads(cli("poem", run_dir, "--theme", "秋月", "-c", "3", "--seed", "2", "--json").stdout)
    assert again == {**poem, "seconds": again["seconds"]}  # reproducible from the seed
    marked = cli("poem", run_dir, "--theme", "秋月", "--seed", "2").stdout
    assert "主题 秋月：计划 " + "｜".join(k or "–" for k in poem["plan"]) in marked


def test_poetry_check(cli, table):
    out = cli("poetry", "check", "床前明月光，疑是地上霜。举头望明月，低头思故乡。")
    assert out.exit_code == 0, out.output
    assert "not regulated" in out.stdout and "rhyme ok" in out.stdout
    out = cli("poetry", "check", "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    assert "tones ok" in out.stdout and "仄起首句不入韵" in out.stdout


def test_web_router(tiny):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from dreamwright.serve.routers.poetry import router

    app = FastAPI()
    app.include_router(router(lambda: tiny))
    client = TestClient(app)
    r = client.post("/v1/poems", json={"form": "七绝", "acrostic": "春？夏！", "seed": 1, "num_samples": 2})
    assert r.status_code == 200, r.text
    poems = r.json()["poems"]
    assert len(poems) == 2 and all(p["lines"][0][0] == "春" and p["lines"][1][0] == "夏" for p in poems)
    assert all("韵·" in p["marked"] for p in poems)
    r = client.post("/v1/poems", json={"acrostic": "龍"})
    err = r.json()["error"]  # OpenAI's error shape, as everywhere on the server
    assert r.status_code == 400 and "「龙」" in err["message"] and err["param"] == "acrostic"
    assert client.post("/v1/poems", json={"num_samples": 99}).status_code == 422
    page = client.get("/poetry")
    assert page.status_code == 200 and "/poetry.js" in page.text and "<script>" not in page.text
    assert "fetch('/v1/poems'" in client.get("/poetry.js").text
