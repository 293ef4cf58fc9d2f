from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from dreamwright.image.cli import parse_bytes, register

SRC = str(Path(__file__).resolve().parents[2] / "src")
FAST = ["--weights", "random", "--content-layers", "conv3_1", "--style-layers", "conv1_1,conv2_1,conv3_1"]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_register_adds_style_dream_and_draw(app):
    names = {c.name for c in app.registered_commands}
    assert names == {"style", "dream", "draw"}


def test_style_command_writes_png_and_prints_path(app, images, tmp_path):
    content, style, style2 = images
    out = tmp_path / "out.png"
    result = CliRunner().invoke(
        app,
        [
            "style",
            str(content),
            str(style),
            str(style2),
            "-o",
            str(out),
            "--size",
            "32",
            "--iterations",
            "4",
            "--style-blend",
            "0.5,0.5",
            "--save-every",
            "2",
            "--device",
            "cpu",
            "--seed",
            "3",
            *FAST,
        ],
    )
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout
    assert Image.open(out).size == (32, 24)
    assert sorted(p.name for p in tmp_path.glob("out-*.png")) == ["out-0002.png", "out-0004.png"]
    assert result.stderr.splitlines()[0] == "backbone: vgg19 (random weights)"


@pytest.mark.parametrize(("name", "fmt"), [("d.jpg", "JPEG"), ("d.jpeg", "JPEG"), ("d.webp", "WEBP"), ("d.png", "PNG")])
def test_dream_writes_the_format_of_the_extension(app, images, tmp_path, name, fmt):
    content, _, _ = images
    out = tmp_path / name
    argv = ["dream", str(content), "-o", str(out), "--size", "32", "--octaves", "1", "--steps", "1", *FAST[:2]]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    with Image.open(out) as written:
        assert written.format == fmt and written.size == (32, 24)


def test_style_frames_take_the_output_format(app, images, tmp_path):
    content, style, _ = images
    out = tmp_path / "painted.webp"
    argv = ["style", str(content), str(style), "-o", str(out), "--size", "32", "--iterations", "2", *FAST]
    result = CliRunner().invoke(app, [*argv, "--save-every", "1", "--optimizer", "adam"])
    assert result.exit_code == 0, result.output
    frames = sorted(tmp_path.glob("painted-*"))
    assert [f.name for f in frames] == ["painted-0001.webp", "painted-0002.webp"]
    assert all(Image.open(f).format == "WEBP" for f in [out, *frames])


def test_auto_backbone_without_vgg_weights_runs_efficientnet_and_says_so(app, images, tmp_path):
    content, _, _ = images
    out = tmp_path / "dream.png"
    argv = ["dream", str(content), "-o", str(out), "--size", "32", "--octaves", "1", "--steps", "1"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0].startswith("backbone: efficientnet-lite0 (works offline; no VGG-19 weights")


def test_dream_command(app, images, tmp_path):
    content, _, _ = images
    out = tmp_path / "dream.png"
    result = CliRunner().invoke(
        app,
        [
            "dream",
            str(content),
            "-o",
            str(out),
            "--size",
            "48",
            "--octaves",
            "2",
            "--steps",
            "2",
            "--backbone",
            "efficientnet-lite0",
            "--seed",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (48, 36)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["style", "{missing}", "{style}", "-o", "{out}", "--weights", "random"], "not found"),
        (["style", "{text}", "{style}", "-o", "{out}", "--weights", "random"], "not an image"),
        (
            ["style", "{content}", "{style}", "-o", "{out}", "--weights", "random", "--style-layers", "x1"],
            "valid layers: conv1_1",
        ),
        (["style", "{content}", "{style}", "-o", "{out}", "--weights", "{text}"], "sha256"),
        (["style", "{content}", "{style}", "-o", "{out}", "--backbone", "vgg19"], "--backbone efficientnet-lite0"),
        (
            ["style", "{content}", "{style}", "-o", "{tmp}/x.gif", "--weights", "random"],
            "end it in .png, .jpg, .jpeg or .webp",
        ),
        (
            [
                "style",
                "{content}",
                "{style}",
                "-o",
                "{out}",
                "--weights",
                "random",
                "--size",
                "4000",
                "--max-memory",
                "64M",
            ],
            "needs about",
        ),
        (
            ["dream", "{content}", "-o", "{out}", "--weights", "random", "--layers", "mixed4:1"],
            "unknown layer",
        ),
        (["dream", "{content}", "-o", "{out}", "--weights", "random", "--max-memory", "lots"], "512M or 2G"),
    ],
)
def test_bad_inputs_give_one_line_and_exit_2(app, images, tmp_path, args, message):
    content, style, _ = images
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    fill = {
        "missing": tmp_path / "nope.png",
        "style": style,
        "content": content,
        "out": tmp_path / "o.png",
        "text": text,
        "tmp": tmp_path,
    }
    argv = [a.format(**fill) for a in args]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_parse_bytes():
    assert parse_bytes("512M") == 512 * 1024**2
    assert parse_bytes("1.5G") == int(1.5 * 1024**3)
    assert parse_bytes(None) is None


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_subprocess_register_app(images, tmp_path):
    content, style, _ = images
    out = tmp_path / "sub.png"
    code = "import typer; from dreamwright.image.cli import register; app = typer.Typer(); register(app); app()"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "style",
            str(content),
            str(style),
            "-o",
            str(out),
            "--size",
            "32",
            "--iterations",
            "2",
            *FAST,
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert Image.open(out).size == (32, 24)
    proc = subprocess.run(
        [sys.executable, "-c", code, "dream", str(tmp_path / "missing.png"), "-o", str(out)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: image not found") and "Traceback" not in proc.stderr


def test_subprocess_main_cli(images, tmp_path):
    content, _, _ = images
    out = tmp_path / "main.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dreamwright",
            "dream",
            str(content),
            "-o",
            str(out),
            "--size",
            "32",
            "--octaves",
            "1",
            "--steps",
            "1",
            "--weights",
            "random",
            "--seed",
            "0",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("main.png") and Image.open(out).size == (32, 24)


def test_preview_writes_a_128px_result_with_the_installed_command(images, tmp_path):
    import time

    from tests.cli.helpers import run_dreamwright

    content, style, _ = images
    big = tmp_path / "big.png"
    Image.open(content).resize((400, 300)).save(big)
    out = tmp_path / "preview.jpg"
    env = {"DREAMWRIGHT_OFFLINE": "1", "TORCH_HOME": str(tmp_path / "torch"), "OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    proc = run_dreamwright("style", str(big), str(style), "-o", str(out), "--preview", "--seed", "0", env=env,
                           timeout=300)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert Image.open(out).size == (128, 96) and Image.open(out).format == "JPEG"
    assert "backbone: efficientnet-lite0" in proc.stderr and "Traceback" not in proc.stderr
    assert elapsed < 120  # "a few seconds" on a quiet machine; generous for a shared one


def test_default_threads_are_the_idle_cores(monkeypatch):
    from dreamwright.image import cli as image_cli

    monkeypatch.setattr(image_cli.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(image_cli.os, "getloadavg", lambda: (1.1, 0.0, 0.0))
    assert image_cli.idle_cores() == 1  # one core busy elsewhere: one thread, not two fighting for it
    monkeypatch.setattr(image_cli.os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert image_cli.idle_cores() == 2
    monkeypatch.setattr(image_cli.os, "getloadavg", lambda: (7.0, 0.0, 0.0))
    assert image_cli.idle_cores() == 1  # never fewer than one

    def unavailable():
        raise OSError

    monkeypatch.setattr(image_cli.os, "getloadavg", unavailable)
    assert image_cli.idle_cores() == 2


@pytest.mark.parametrize("command", ["dream", "style"])
@pytest.mark.parametrize("size", ["0", "-3"])
def test_a_size_of_zero_or_less_is_refused_naming_the_option(images, tmp_path, command, size):
    from tests.conftest import run_cli

    content, style, _ = images
    inputs = [str(content)] if command == "dream" else [str(content), str(style)]
    out = tmp_path / "o.png"
    proc = run_cli(command, *inputs, "-o", str(out), "--size", size, "--weights", "random", env=_env())
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: --size must be a positive number of pixels, got {size}"
    assert not out.exists()


@pytest.mark.parametrize("command", ["style", "dream"])
def test_options_are_the_fields_offered(app, command):
    """Every field of StyleOptions / DreamOptions declared with knob() is an option, with its help text."""
    from dataclasses import fields

    from dreamwright.image.dream import DreamOptions
    from dreamwright.image.style import StyleOptions

    kind = StyleOptions if command == "style" else DreamOptions
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    offered = [f for f in fields(kind) if "help" in f.metadata]
    assert len(offered) >= 12
    for f in offered:
        flag = (f.metadata["flag"] or "--" + f.name.replace("_", "-")).split("/")[0]
        assert flag in result.output, flag
        assert f.metadata["help"][:24] in result.output, f.name
    for own in ["--output", "--threads", *(["--preview", "--single-scale"] if command == "style" else [])]:
        assert own in result.output
