"""``dreamwright generate`` in a shell: prompts from stdin or a file, samples to a file or as JSON lines,
literal Unicode stop strings, and which model ran — all through the installed console script."""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dreamwright.cli import parse_escapes
from tests.cli.helpers import assert_one_line_error, dreamwright_script, run_dreamwright, stderr_lines
from tests.conftest import TINY_MODEL

JSON_KEYS = {"text", "prompt", "tokens", "finish_reason", "seed", "model"}


@pytest.fixture(scope="module")
def unicode_run(tmp_path_factory):
    """A tiny char model whose text is full of ``。`` line ends and a 🌸."""
    import dreamwright

    folder = tmp_path_factory.mktemp("unicode")
    corpus = folder / "poems.txt"
    corpus.write_text("春眠不觉晓。\n处处闻啼鸟🌸\n" * 150, encoding="utf-8")
    out = folder / "run"
    dreamwright.train(corpus, out, steps=30, eval_interval=30, seed=0, **TINY_MODEL)
    return out


def json_lines(text: str) -> list[dict]:
    records = [json.loads(line) for line in text.splitlines()]
    for record in records:
        assert set(record) == JSON_KEYS, record
    return records


# --------------------------------------------------------------------------- stop strings
@pytest.mark.parametrize("raw,parsed", [
    ("。\\n", "。\n"),
    ("🌸", "🌸"),
    ("a\\tb", "a\tb"),
    ("\\\\n", "\\n"),  # an escaped backslash, then a plain n
    ("C:\\x41\\u00e9", "C:\\x41\\u00e9"),  # other backslashes stay as typed
    ("ã\\", "ã\\"),
])
def test_parse_escapes(raw, parsed):
    assert parse_escapes(raw) == parsed


@given(st.text())
def test_text_without_backslashes_is_taken_literally(text):
    text = text.replace("\\", "")
    assert parse_escapes(text) == text


@pytest.mark.parametrize("stop", ["。\\n", "🌸"])
def test_unicode_stop_strings_stop(unicode_run, stop):
    proc = run_dreamwright("generate", str(unicode_run), "-p", "春", "-n", "300", "--seed", "0", "--json",
                           "--stop", stop)
    assert proc.returncode == 0, proc.stderr
    [record] = json_lines(proc.stdout)
    assert record["finish_reason"] == "stop", record
    assert record["tokens"] < 300
    assert parse_escapes(stop) not in record["text"]


# --------------------------------------------------------------------------- where the prompt comes from
def test_prompt_from_stdin(tiny_run):
    proc = run_dreamwright("generate", str(tiny_run), "-p", "-", "-n", "8", "--seed", "1", "--json",
                           input="the cat\n")
    assert proc.returncode == 0, proc.stderr
    [record] = json_lines(proc.stdout)
    assert record["prompt"] == "the cat\n"  # read as is, not the text "-"
    assert record["tokens"] == 8 and record["finish_reason"] == "length" and record["model"] == "tiny"
    assert not stderr_lines(proc)  # a named run: no note about the bundled model


def test_prompt_file_output_file_json_and_seed(tmp_path, tiny_run):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("a dog ", encoding="utf-8")
    samples = tmp_path / "samples.jsonl"
    proc = run_dreamwright("generate", str(tiny_run), "--prompt-file", str(prompt), "-n", "12", "-s", "3",
                           "--seed", "5", "--json", "-o", str(samples))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    records = json_lines(samples.read_text(encoding="utf-8"))
    assert len(records) == 3
    assert all(r["prompt"] == "a dog " and r["tokens"] == 12 for r in records)
    seeds = [r["seed"] for r in records]
    assert all(isinstance(s, int) for s in seeds) and len(set(seeds)) == 3
    # a sample's seed gives that sample again on its own; -o without --json writes prompt + text
    again = tmp_path / "again.txt"
    proc = run_dreamwright("generate", str(tiny_run), "--prompt-file", str(prompt), "-n", "12",
                           "--seed", str(seeds[2]), "-o", str(again))
    assert proc.returncode == 0, proc.stderr
    assert again.read_text(encoding="utf-8") == "a dog " + records[2]["text"] + "\n"


def test_bundled_model_is_named_on_stderr():
    proc = run_dreamwright("generate", "-n", "5", "--seed", "0")
    assert proc.returncode == 0, proc.stderr
    assert stderr_lines(proc) == ["using the bundled model shakespeare-char"]
    assert proc.stdout.strip()


def test_closed_pipe_ends_quietly(tiny_run):
    """``dreamwright generate --stream | head -c 5``: no traceback, no error line."""
    proc = subprocess.Popen([dreamwright_script(), "generate", str(tiny_run), "-n", "5000", "--stream"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert len(proc.stdout.read(5)) == 5
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and err.decode() == ""


# --------------------------------------------------------------------------- the command's own errors
def test_missing_run_points_to_models(tmp_path):
    out = tmp_path / "out.txt"
    assert_one_line_error(run_dreamwright("generate", "runs/nope", "-o", str(out)), "runs/nope", "dreamwright models")
    assert not out.exists()
    assert_one_line_error(run_dreamwright("eval", "runs/nope", __file__), "dreamwright models")


@pytest.mark.parametrize("args,needles", [
    (["--prompt-file", "nope.txt"], ["no such prompt file", "nope.txt"]),
    (["--prompt-file", "latin.txt"], ["latin.txt", "UTF-8"]),
    (["-p", "x", "--prompt-file", "prompt.txt"], ["--prompt", "--prompt-file"]),
    (["-o", "nodir/out.txt"], ["nodir", "does not exist"]),
    (["-o", "."], ["directory"]),
    (["--json", "--stream"], ["--json", "--stream"]),
])
def test_generate_errors(tmp_path, args, needles):
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "prompt.txt").write_text("the ")
    assert_one_line_error(run_dreamwright("generate", *args, cwd=tmp_path), *needles)


def test_empty_stop_string(tiny_run):
    assert_one_line_error(run_dreamwright("generate", str(tiny_run), "--stop", ""), "stop")
