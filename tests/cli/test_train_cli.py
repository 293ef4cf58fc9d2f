"""``dreamwright train``: its options come from the config's knobs, resume follows its own advice, and errors
name CLI options in the CLI and Python arguments in the API."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import time

import pytest

import dreamwright
from dreamwright._cli_runner import cli_wording
from dreamwright.errors import InvalidArgument
from dreamwright.training.config import ModelOptions, TrainConfig
from tests.cli.helpers import assert_one_line_error, dreamwright_script, run_dreamwright

TINY = ["--hidden-size", "16", "--embedding-size", "8", "--seq-len", "16", "--batch-size", "4",
        "--eval-interval", "5", "--no-samples", "--threads", "1"]


def test_help_lists_every_knob_with_its_default():
    text = " ".join(run_dreamwright("train", "--help", env={"COLUMNS": "200"}).stdout.split())
    knobs = [f for cls in (TrainConfig, ModelOptions) for f in dataclasses.fields(cls) if "help" in f.metadata]
    for knob in knobs:
        flag = knob.metadata["flag"] or f"--{knob.name.replace('_', '-')}"
        assert flag.split("/")[0] in text, flag
    for note in ("[default: 1337]", "[default: utf-8]", "[default: 0.1]", "[default: samples]",
                 "Peak learning rate. [default: the preset's]", "[default: runs/CORPUS-TIME]", "--more-steps"):
        assert note in text, note


@pytest.fixture(scope="module")
def tiny_cli_run(tmp_path_factory, corpus_file):
    """A 10-step run trained by the command (seed 5), and the arguments that trained it."""
    folder = tmp_path_factory.mktemp("resume")
    args = ["train", str(corpus_file), "--out", str(folder / "run"), "--steps", "10", "--seed", "5", *TINY]
    proc = run_dreamwright(*args, "--quiet")
    assert proc.returncode == 0, proc.stderr
    return folder / "run", args


def test_resume_accepts_the_command_that_advised_it(tmp_path, tiny_cli_run):
    run, args = tiny_cli_run
    advice = run_dreamwright(*args)
    assert_one_line_error(advice, f"pass --resume {run} to continue it", "--force", "--out")
    copy = tmp_path / "run"
    subprocess.run(["cp", "-r", str(run), str(copy)], check=True)
    again = [a if a != str(run) else str(copy) for a in args]
    proc = run_dreamwright(*again[:-len(TINY)], *TINY, "--steps", "15", "--resume", str(copy), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((copy / "config.json").read_text())["metrics"]["steps"] == 15


@pytest.mark.parametrize("args,needles", [
    (["--seed", "6"], ["--seed cannot change when resuming (the run has 5, you gave 6)", "--eval-interval"]),
    (["--hidden-size", "32"], ["--hidden-size cannot change", "the run has 16, you gave 32"]),
    (["--force"], ["--force would replace the run"]),
    (["--steps", "20", "--more-steps", "5"], ["--steps", "--more-steps", "not both"]),
])
def test_resume_refuses_real_changes_in_cli_words(tiny_cli_run, args, needles):
    run, _ = tiny_cli_run
    assert_one_line_error(run_dreamwright("train", "--resume", str(run), *args), *needles)


def test_resume_takes_tokenizer_auto_as_the_runs_own(tmp_path, tiny_cli_run):
    """``--tokenizer auto`` picked the run's tokenizer when it started, so repeating it is no change; naming
    another tokenizer is one."""
    run, _ = tiny_cli_run
    copy = tmp_path / "run"
    subprocess.run(["cp", "-r", str(run), str(copy)], check=True)
    proc = run_dreamwright("train", "--resume", str(copy), "--tokenizer", "auto", "--more-steps", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert_one_line_error(run_dreamwright("train", "--resume", str(copy), "--tokenizer", "word"),
                          "--tokenizer cannot change when resuming")


def test_resume_refuses_another_corpus(tmp_path, tiny_cli_run):
    run, _ = tiny_cli_run
    other = tmp_path / "other.txt"
    other.write_text("something else entirely\n" * 50)
    assert_one_line_error(run_dreamwright("train", str(other), "--resume", str(run)), "not the corpus of the run")


def test_a_finished_run_says_so_and_more_steps_extends_it(tmp_path, tiny_cli_run):
    run, _ = tiny_cli_run
    copy = tmp_path / "run"
    subprocess.run(["cp", "-r", str(run), str(copy)], check=True)
    finished = run_dreamwright("train", "--resume", str(copy), "--seed", "5")
    assert finished.returncode == 0, finished.stderr
    said = " ".join(finished.stderr.split())  # (progress goes to stderr)
    assert "is finished" in said and f"dreamwright train --resume {copy} --more-steps N" in said
    assert "done:" not in said and " nats " not in said  # no evaluation again
    more = run_dreamwright("train", "--resume", str(copy), "--more-steps", "5", "--quiet")
    assert more.returncode == 0, more.stderr
    assert json.loads((copy / "config.json").read_text())["metrics"]["steps"] == 15


def test_ctrl_c_prints_the_command_that_continues(tmp_path, corpus_file):
    run = tmp_path / "res"
    proc = subprocess.Popen([dreamwright_script(), "train", str(corpus_file), "--out", str(run), "--minutes", "2",
                             "--log-interval", "1", *TINY], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**__import__("os").environ, "COLUMNS": "200"})
    deadline = time.time() + 60
    while not (run / "metrics.jsonl").is_file() or not (run / "metrics.jsonl").read_text():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"continue with: dreamwright train --resume {run}" in " ".join((out + err).split())


def test_the_python_api_names_python_arguments(tmp_path, tiny_cli_run):
    run, _ = tiny_cli_run
    with pytest.raises(InvalidArgument, match=rf"pass resume='{run}' to continue it, force=True to replace it"):
        dreamwright.train(tiny_cli_run[1][1], run, quiet=True)
    with pytest.raises(InvalidArgument, match=r"^seed cannot change when resuming \(the run has 5, you gave 6\)"):
        dreamwright.train(resume=run, seed=6, quiet=True)
    with pytest.raises(InvalidArgument, match="^num_samples must be a positive integer"):
        dreamwright.load(run).generate("the", num_samples=0)


def test_cli_wording_respells_python_names():
    spellings = {"num_samples": ("--num-samples", None), "resume": ("--resume", None),
                 "force": ("--force", "--no-force"), "out": ("--out", None), "model": ("--model", None)}
    assert cli_wording(InvalidArgument("num_samples must be a positive integer, got 0", param="num_samples"),
                       spellings) == "--num-samples must be a positive integer, got 0"
    assert cli_wording(InvalidArgument("pass resume='my runs/x' to continue it, force=True to replace it, or "
                                       "choose another `out`"), spellings) == \
        "pass --resume 'my runs/x' to continue it, --force to replace it, or choose another --out"
    # a parameter's name in prose, and unknown names, stay as they are
    assert cli_wording(InvalidArgument("unknown model 'x'; top_k=3", param="model"), spellings) == \
        "unknown model 'x'; top_k=3"


def test_presets_table_is_aligned_and_counts_the_bundled_tang_model():
    proc = run_dreamwright("presets")
    assert proc.returncode == 0, proc.stderr
    table, _, note = proc.stdout.partition("\n\n")
    rows = table.splitlines()
    header = rows[0]
    description_at = header.index("DESCRIPTION")
    for row in rows[1:]:
        assert row[description_at - 2:description_at] == "  " and row[description_at] != " ", row
    tang = next(row.split() for row in rows if row.startswith("tang-gru "))
    from dreamwright import bundled

    vocab = json.loads((bundled.find("tang-poetry") / "config.json").read_text())["model"]["vocab_size"]
    # the preset is tang-poetry v1's shape (1,226,036 parameters over its 4,532 characters, as v2's vocabulary)
    assert tang[2] == f"{vocab:,}" == "4,532" and tang[1] == "1.23M"
    assert "VOCAB" in note and "10,000: PTB's words" in note


def test_presets_count_the_image_models_for_grey_28_pixel_pictures():
    from dreamwright.models import build_model

    proc = run_dreamwright("presets")
    assert proc.returncode == 0, proc.stderr
    rows = {row.split()[0]: row.split() for row in proc.stdout.partition("\n\n")[0].splitlines()[1:]}
    for name in ("dcgan", "vae"):
        assert rows[name][2] == "images"
        assert rows[name][1] == f"{build_model(name).num_parameters() / 1e6:.2f}M"
    assert "28×28 grey pictures" in proc.stdout
