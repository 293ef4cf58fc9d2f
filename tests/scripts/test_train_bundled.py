"""scripts/train_bundled.py: the recipes of the bundled models and what ``start`` refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_bundled.py"
sys.path.insert(0, str(SCRIPT.parent))
import train_bundled  # noqa: E402

from dreamwright.training.checkpoint import TRAINER_STATE  # noqa: E402


def run_script(*args: str, runs: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DREAMWRIGHT_BUNDLE_RUNS": str(runs)}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120)


def english_run_from(tiny_run: Path, runs: Path) -> Path:
    """A copy of ``tiny_run`` where english-char's newest recipe keeps its run under ``runs``."""
    import shutil

    run = runs / f"english-char-v{train_bundled.RECIPES['english-char'].version}"
    shutil.copytree(tiny_run, run)
    return run


def test_a_continued_run_keeps_the_recipe_but_not_its_architecture() -> None:
    recipe = train_bundled.RECIPES["english-char"]
    flags = train_bundled.without_architecture(recipe.train)
    assert not {"--model", "--n-layer", "--hidden-size", "--embedding-size"} & set(flags)
    for kept in ("--lr", "--dropout", "--seq-len", "--batch-size", "--steps", "--seed"):
        assert flags[flags.index(kept) + 1] == recipe.train[recipe.train.index(kept) + 1]
    assert len(flags) == len(recipe.train) - 8  # four flags and their values


def assert_refused_over_a_saved_run(tmp_path: Path, recipe: str, *flags: str, says: str,
                                    version: int | None = None) -> None:
    """``start RECIPE FLAGS`` over a run directory that holds a checkpoint (of the recipe's newest version, or of
    ``version``, which the command then names) exits with ``says`` and starts nothing."""
    run = tmp_path / f"{recipe}-v{version or train_bundled.RECIPES[recipe].version}"
    if version is not None:
        flags = ("--version", str(version), *flags)
    run.mkdir()
    (run / TRAINER_STATE).write_bytes(b"")
    result = run_script("start", recipe, *flags, runs=tmp_path)
    assert result.returncode != 0
    assert says in result.stderr and "Traceback" not in result.stderr
    assert not run.with_suffix(".pid").exists()


def test_continuing_over_a_run_that_holds_a_checkpoint_is_refused(tmp_path: Path) -> None:
    assert_refused_over_a_saved_run(tmp_path, "english-char", "--continue-from", "english-char",
                                    says="holds a run already")


def test_status_of_recipes_never_started(tmp_path: Path) -> None:
    result = run_script("status", runs=tmp_path)
    assert result.returncode == 0
    expected = [f"{recipe.name} v{recipe.version}: not started" for recipe in train_bundled.ALL_RECIPES]
    assert result.stdout.splitlines() == expected
    assert {line.split()[0] for line in expected} == set(train_bundled.RECIPES)


def test_a_model_starts_its_newest_recipe_unless_an_earlier_version_is_named() -> None:
    versions = [r.version for r in train_bundled.ALL_RECIPES if r.name == "english-char"]
    assert len(versions) > 1 and versions == sorted(versions)
    assert train_bundled.recipe_for("english-char").version == versions[-1]
    assert train_bundled.recipe_for("english-char", versions[0]).version == versions[0]
    assert train_bundled.recipe_for("english-char", versions[0]).train != train_bundled.RECIPES["english-char"].train


def test_an_unknown_version_is_one_line_naming_the_known_ones(tmp_path: Path) -> None:
    result = run_script("start", "english-char", "--version", "99", runs=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    known = ", ".join(str(r.version) for r in train_bundled.ALL_RECIPES if r.name == "english-char")
    assert result.stderr.strip() == f"english-char has no version 99 recipe; its versions: {known}"
    assert not list(tmp_path.iterdir())


def test_a_new_peak_learning_rate_replaces_the_recipes() -> None:
    flags = train_bundled.without_architecture(train_bundled.RECIPES["tang-poetry"].train)
    lowered = train_bundled.with_flag(flags, "--lr", "1e-3")
    assert lowered.count("--lr") == 1 and lowered[lowered.index("--lr") + 1] == "1e-3"
    assert len(lowered) == len(flags) and lowered[-2:] == flags[-2:]
    assert train_bundled.with_flag(["--seed", "0"], "--lr", "5e-4") == ["--seed", "0", "--lr", "5e-4"]


def test_a_new_learning_rate_for_a_run_that_resumes_is_refused(tmp_path: Path) -> None:
    assert_refused_over_a_saved_run(tmp_path, "tang-poetry", "--lr", "1e-3", says="applies to a new run only")


def test_bf16_is_kept_on_a_gpu_and_dropped_only_where_the_cpu_emulates_it() -> None:
    import torch

    assert train_bundled.bf16_is_slow("cuda") is False
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert train_bundled.bf16_is_slow("cpu") is (not native)


def test_status_names_the_best_evaluation_in_nats_and_bits_per_character(tmp_path: Path) -> None:
    run = tmp_path / "tang-poetry-v2"
    run.mkdir()
    rows = [{"event": "eval", "step": 500, "val_loss": 4.5, "val_bpc": 6.49},
            {"event": "eval", "step": 1000, "val_loss": 4.25, "val_bpc": 6.131},
            {"event": "eval", "step": 1500, "val_loss": 4.3, "val_bpc": 6.2},
            {"event": "train", "step": 1510, "loss": 4.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_script("status", "tang-poetry", runs=tmp_path)
    assert result.returncode == 0
    budget = int(train_bundled.RECIPES["tang-poetry"].steps)
    assert result.stdout.strip() == (f"tang-poetry v2: step 1,510 of {budget:,}, best validation 4.2500 nats "
                                     f"(6.131 bpc) at step 1,000, stopped ({run})")



def test_a_refusal_for_an_earlier_version_names_the_command_for_that_version(tmp_path: Path) -> None:
    first = next(r for r in train_bundled.ALL_RECIPES if r.name == "english-char").version
    assert_refused_over_a_saved_run(tmp_path, "english-char", "--continue-from", "english-char", version=first,
                                    says=f"`start english-char --version {first}` resumes it")


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a finished one that nobody has reaped yet does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_anneal_trains_a_copy_with_its_schedule_ended_and_leaves_the_run_as_it_was(tmp_path: Path, tiny_run) -> None:
    import time

    recipe = train_bundled.RECIPES["english-char"]
    run = english_run_from(tiny_run, tmp_path)
    before = (run / TRAINER_STATE).read_bytes()
    step = train_bundled.checkpoint_step(run)
    result = run_script("anneal", "english-char", "--minutes", "0.05", "--threads", "1", runs=tmp_path)
    assert result.returncode == 0, result.stderr
    copy = tmp_path / f"{run.name}-annealed-{step}"
    assert str(copy) in result.stdout
    pid = int(copy.with_suffix(".pid").read_text())
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():  # Linux schedules by session: the run's session yields to every other one
        assert autogroup.read_text().split()[-1] == "19", autogroup.read_text()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.2)
    assert (run / TRAINER_STATE).read_bytes() == before  # the original run is untouched
    assert train_bundled.checkpoint_step(copy) > step
    trained = [r for r in map(json.loads, (copy / "metrics.jsonl").read_text().splitlines())
               if r.get("event") == "train" and r["step"] > step]
    assert trained and trained[-1]["lr"] < trained[0]["lr"]  # the copy's learning rate came down
    lines = run_script("status", "english-char", runs=tmp_path).stdout.splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"english-char v{recipe.version} (annealed copy of step {step})")
    # the same checkpoint is not annealed twice, and nothing else ships under the model's name
    again = run_script("anneal", "english-char", "--minutes", "0.05", runs=tmp_path)
    assert again.returncode != 0 and "annealed already" in again.stderr and "Traceback" not in again.stderr
    other = run_script("bundle", "english-char", "--run", str(tiny_run), runs=tmp_path)
    assert other.returncode != 0 and "is not english-char's run" in other.stderr and "Traceback" not in other.stderr


def test_anneal_needs_minutes_and_a_checkpoint(tmp_path: Path) -> None:
    result = run_script("anneal", "english-char", runs=tmp_path)
    assert result.returncode != 0 and "anneal needs --minutes" in result.stderr and "Traceback" not in result.stderr
    result = run_script("anneal", "english-char", "--minutes", "5", runs=tmp_path)
    assert result.returncode != 0 and "holds no checkpoint" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_a_run_resumed_for_some_minutes_gets_more_of_its_budget_not_a_second_total(tmp_path: Path) -> None:
    recipe = train_bundled.RECIPES["english-char"]
    assert train_bundled.resume_args(recipe, tmp_path, None) == ["--resume", str(tmp_path), "--steps", recipe.steps]
    assert train_bundled.resume_args(recipe, tmp_path, 20.0) == ["--resume", str(tmp_path), "--more-minutes", "20.0"]


def test_start_with_wait_returns_only_once_the_run_has_ended(tmp_path: Path, tiny_run) -> None:
    run = english_run_from(tiny_run, tmp_path)
    step = train_bundled.checkpoint_step(run)
    result = run_script("start", "english-char", "--minutes", "0.05", "--threads", "1", "--wait", runs=tmp_path)
    assert result.returncode == 0, result.stderr
    pid = int(run.with_suffix(".pid").read_text())
    assert not alive(pid)  # the command returned after the run, not beside it
    assert train_bundled.checkpoint_step(run) > step
    assert "resumed in" in result.stdout and "dreamwright train" not in result.stdout.splitlines()[0]
    assert result.stdout.splitlines()[-1] in run.with_suffix(".log").read_text()  # the log's end is shown


def test_start_with_wait_exits_with_one_line_when_the_run_fails(tmp_path: Path, tiny_run) -> None:
    run = english_run_from(tiny_run, tmp_path)
    step = train_bundled.checkpoint_step(run)
    result = run_script("start", "english-char", "--minutes", "0.05", "--device", "no-such-device", "--wait",
                        runs=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("the run ended with status")
    assert "Traceback" not in result.stderr
    assert train_bundled.checkpoint_step(run) == step  # nothing trained, nothing lost
