"""Every bad input to the installed ``dreamwright`` gets one actionable line on stderr, exit code 2, no traceback,
nothing lost."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.cli.helpers import assert_one_line_error, run_dreamwright, run_dreamwright_each

TINY = ["--hidden-size", "16", "--embedding-size", "8", "--seq-len", "16", "--batch-size", "4", "--steps", "2",
        "--eval-interval", "2", "--no-samples", "--quiet", "--threads", "1"]


def test_missing_corpus(tmp_path):
    assert_one_line_error(run_dreamwright("train", str(tmp_path / "nope.txt"), *TINY), "no such file", "nope.txt")


def test_empty_corpus(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    proc = run_dreamwright("train", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "run"), *TINY)
    assert_one_line_error(proc, "empty")
    assert not (tmp_path / "run").exists()


def test_corpus_shorter_than_one_sequence(tmp_path):
    (tmp_path / "short.txt").write_text("hello there\n")
    proc = run_dreamwright("train", str(tmp_path / "short.txt"), "--out", str(tmp_path / "run"), *TINY,
                           "--seq-len", "64")
    assert_one_line_error(proc, "fewer than one training sequence", "--seq-len")


def test_not_utf8_names_offset_and_encoding_option(tmp_path, corpus_file):
    data = corpus_file.read_bytes()
    bad = tmp_path / "latin.txt"
    bad.write_bytes(data[:100] + "café".encode("latin-1") + data[100:])
    proc = run_dreamwright("train", str(bad), "--out", str(tmp_path / "run"), *TINY)
    assert_one_line_error(proc, "offset 103", "--encoding")
    ok = run_dreamwright("train", str(bad), "--out", str(tmp_path / "run2"), *TINY, "--encoding", "latin-1")
    assert ok.returncode == 0, ok.stderr
    assert "é" in json.loads((tmp_path / "run2" / "config.json").read_text())["tokenizer"]["chars"]


def test_prompt_characters_outside_vocabulary(tiny_run):
    proc = run_dreamwright("generate", str(tiny_run), "--prompt", "Qx#", "-n", "5")
    assert_one_line_error(proc, "'Q'", "'#'", "--unknown skip")
    ok = run_dreamwright("generate", str(tiny_run), "--prompt", "Qx#", "-n", "5", "--unknown", "skip", "--seed", "1")
    assert ok.returncode == 0 and ok.stdout.startswith("Qx#")


@pytest.mark.parametrize("args,needle", [
    (["--temperature", "-1"], "--temperature must"),
    (["--temperature", "nan"], "--temperature must"),
    (["--top-p", "0"], "--top-p must"),
    (["--top-p", "1.5"], "--top-p must"),
    (["--top-k", "0"], "--top-k must"),
    (["--max-new-tokens", "0"], "--max-new-tokens must"),
    (["--num-samples", "-2"], "--num-samples must be a positive integer"),
    (["-s", "0"], "--num-samples must be a positive integer"),
])
def test_invalid_sampling_parameters(tiny_run, args, needle):
    """The CLI names its own options, not the Python API's argument names."""
    assert_one_line_error(run_dreamwright("generate", str(tiny_run), *args), needle)


@pytest.mark.parametrize("args,needle", [
    (["--hidden-size", "0"], "--hidden-size must"),
    (["--batch-size", "0"], "--batch-size must"),
    (["--lr", "-1"], "--lr must"),
    (["--model", "transformerxl"], "unknown model"),
])
def test_invalid_training_sizes(tmp_path, corpus_file, args, needle):
    proc = run_dreamwright("train", str(corpus_file), "--out", str(tmp_path / "run"), *TINY, *args)
    assert_one_line_error(proc, needle)


@pytest.mark.parametrize("command", ["generate", "chat", "eval", "draw"])
def test_a_wrong_model_name_is_answered_before_pytorch_loads(tmp_path, command):
    # a `torch` that cannot be imported stands first on the path: the answer must not need the real one
    fake = tmp_path / "shadow" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('torch was imported')\n")
    args = [command, "runs/nope"] + (["corpus.txt"] if command == "eval" else [])
    proc = run_dreamwright(*args, cwd=tmp_path, env={"PYTHONPATH": str(fake.parent)})
    assert_one_line_error(proc, "no such run directory or bundled model: runs/nope", "dreamwright models")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    assert_one_line_error(run_dreamwright("generate", str(tmp_path)), "not a dreamwright run directory")


def test_truncated_weights(tmp_path, tiny_run):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    assert_one_line_error(run_dreamwright("generate", str(broken)), "truncated or corrupted")


def test_incompatible_version(tmp_path, tiny_run):
    old = tmp_path / "old"
    shutil.copytree(tiny_run, old)
    config = json.loads((old / "config.json").read_text())
    config["format_version"] = 99
    (old / "config.json").write_text(json.dumps(config))
    assert_one_line_error(run_dreamwright("generate", str(old)), "incompatible", "format 99")


def test_existing_run_directory_is_not_overwritten(tmp_path, tiny_run, corpus_file):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = (run / "model.safetensors").read_bytes()
    proc = run_dreamwright("train", str(corpus_file), "--out", str(run), *TINY)
    assert_one_line_error(proc, "already exists", "--resume", "--force")
    assert (run / "model.safetensors").read_bytes() == before


def test_generate_and_eval_work(tiny_run, corpus_file):
    gen, ev = run_dreamwright_each(
        ["generate", str(tiny_run), "--prompt", "the ", "-n", "20", "--seed", "3", "--stream"],
        ["eval", str(tiny_run), str(corpus_file)])
    assert gen.returncode == 0 and gen.stdout.startswith("the ") and len(gen.stdout) >= 24
    assert ev.returncode == 0 and "bits/char" in ev.stdout and "perplexity" in ev.stdout
