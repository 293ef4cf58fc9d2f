import json
import math
import os
import subprocess
import sys

import pytest
import torch

import dreamwright
from dreamwright import runs
from dreamwright.errors import CheckpointError, InvalidArgument
from dreamwright.training import checkpoint as ckpt
from tests.conftest import TINY_MODEL, kill_after_eval, metrics_events


def _evals(run_dir):
    return metrics_events(run_dir, "eval")


def _train_losses(run_dir):
    return {r["step"]: r["loss"] for r in metrics_events(run_dir, "train")}


@pytest.mark.parametrize("cell", ["simplernn", "lstm", "gru"])
def test_each_cell_learns(tmp_path, corpus_file, cell):
    result = dreamwright.train(corpus_file, tmp_path / cell, model=cell, steps=80, eval_interval=20, lr=1e-2,
                               seed=0, **TINY_MODEL)
    evals = _evals(tmp_path / cell)
    assert [e["step"] for e in evals] == [20, 40, 60, 80]
    vocab = len(json.loads((tmp_path / cell / "config.json").read_text())["tokenizer"]["chars"])
    assert evals[-1]["val_loss"] < evals[0]["val_loss"]
    assert result.best_val_loss < 0.75 * math.log(vocab)  # well below a uniform guess
    assert (tmp_path / cell / "loss.png").stat().st_size > 1000
    assert result.val_bpc == pytest.approx(result.best_val_loss / math.log(2), rel=1e-6)


def test_run_directory_contents_and_reload(tiny_run):
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["format"] == "dreamwright-run" and config["model"]["name"] == "lstm"
    assert config["train"]["steps"] == 40 and config["metrics"]["best_val_loss"] > 0
    assert (tiny_run / "data" / "train.bin").stat().st_size == config["corpus"]["train_tokens"]  # uint8
    gen = dreamwright.load(tiny_run)
    assert gen.model.vocab_size == gen.tokenizer.vocab_size


def test_killed_and_resumed_run_matches_uninterrupted(tmp_path, corpus_file):
    common = dict(steps=300, eval_interval=20, log_interval=1, seed=3, dropout=0.1, n_layer=2)
    dreamwright.train(corpus_file, tmp_path / "straight", **common, **TINY_MODEL)
    straight = _train_losses(tmp_path / "straight")

    killed = tmp_path / "killed"
    args = [sys.executable, "-m", "dreamwright", "train", str(corpus_file), "--out", str(killed), "--steps", "300",
            "--eval-interval", "20", "--log-interval", "1", "--seed", "3", "--dropout", "0.1", "--n-layer", "2",
            "--hidden-size", "32", "--embedding-size", "16", "--seq-len", "32", "--batch-size", "8",
            "--no-samples", "--eval-tokens", "2000", "--threads", "1", "--quiet"]
    kill_after_eval(args, killed, 100)
    partial = max(_train_losses(killed))
    assert partial < 300

    dreamwright.train(resume=killed, quiet=True)
    resumed = _train_losses(killed)
    assert sorted(resumed) == sorted(straight) == list(range(1, 301))
    for step in straight:
        assert resumed[step] == pytest.approx(straight[step], rel=1e-5, abs=1e-6), step
    assert _evals(killed)[-1]["val_loss"] == pytest.approx(_evals(tmp_path / "straight")[-1]["val_loss"], rel=1e-5)


def test_interrupted_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    good = {"w": torch.arange(6.0).reshape(2, 3)}
    ckpt.atomic_save_tensors(path, good, {"step": "1"})

    def broken_save(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\x00" * 17)  # half-written file
        raise OSError("disk full")

    monkeypatch.setattr(runs, "save_file", broken_save)  # run I/O lives in dreamwright.runs
    with pytest.raises(OSError):
        ckpt.atomic_save_tensors(path, {"w": torch.zeros(2, 3)}, {"step": "2"})
    tensors, meta = ckpt.load_tensors(path)
    assert torch.equal(tensors["w"], good["w"]) and meta["step"] == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp files left behind


def test_existing_run_directory_needs_force_or_resume(tmp_path, corpus_file):
    out = tmp_path / "run"
    dreamwright.train(corpus_file, out, steps=5, eval_interval=5, **TINY_MODEL)
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(InvalidArgument, match="resume="):
        dreamwright.train(corpus_file, out, steps=5, **TINY_MODEL)
    assert (out / "model.safetensors").read_bytes() == before
    dreamwright.train(corpus_file, out, force=True, steps=5, eval_interval=5, seed=9, **TINY_MODEL)
    assert (out / "model.safetensors").exists()


def test_force_never_deletes_a_foreign_directory(tmp_path, corpus_file):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(InvalidArgument, match="not a dreamwright run"):
        dreamwright.train(corpus_file, out, force=True, steps=5, **TINY_MODEL)
    assert (out / "holiday.jpg").read_bytes() == b"precious"


def test_resume_extends_budget_and_rejects_architecture_changes(tmp_path, corpus_file):
    out = tmp_path / "run"
    dreamwright.train(corpus_file, out, steps=10, eval_interval=10, **TINY_MODEL)
    result = dreamwright.train(resume=out, steps=20, quiet=True)
    assert result.steps == 20
    with pytest.raises(InvalidArgument, match="cannot change"):
        dreamwright.train(resume=out, hidden_size=64, quiet=True)


def test_resume_of_non_run_directory(tmp_path):
    with pytest.raises(CheckpointError, match="not a dreamwright run directory"):
        dreamwright.train(resume=tmp_path, quiet=True)


def test_seeded_training_is_reproducible(tmp_path, corpus_file):
    a = dreamwright.train(corpus_file, tmp_path / "a", steps=15, eval_interval=15, seed=4, **TINY_MODEL)
    b = dreamwright.train(corpus_file, tmp_path / "b", steps=15, eval_interval=15, seed=4, **TINY_MODEL)
    assert a.best_val_loss == b.best_val_loss


def test_memory_mapped_training_data(tmp_path, corpus_file):
    out = tmp_path / "run"
    dreamwright.train(corpus_file, out, steps=2, eval_interval=2, **TINY_MODEL)
    meta = json.loads((out / "data" / "meta.json").read_text())
    text = corpus_file.read_text()
    assert meta["train_chars"] + meta["valid_chars"] == len(text)
    assert meta["valid_chars"] == len(text) - int(len(text) * 0.9)
    assert os.path.getsize(out / "data" / "valid.bin") == meta["valid_tokens"]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_trains_and_resumes(tmp_path, corpus_file, precision):
    out = tmp_path / precision
    result = dreamwright.train(corpus_file, out, steps=30, eval_interval=15, lr=1e-2, precision=precision,
                               **TINY_MODEL)
    evals = _evals(out)
    assert math.isfinite(result.best_val_loss) and evals[-1]["val_loss"] < evals[0]["val_loss"] + 0.05
    assert dreamwright.train(resume=out, steps=40, quiet=True).steps == 40


@pytest.mark.parametrize("cell", ["simplernn", "lstm", "gru"])
def test_single_step_path_matches_the_fused_kernel(cell):
    from dreamwright.models import build_model

    torch.manual_seed(0)
    model = build_model(cell, 11, hidden_size=24, embedding_size=8, n_layer=2).eval()
    tokens = torch.randint(0, 11, (3, 7))
    with torch.no_grad():
        full, full_state = model(tokens, None)  # the fused kernel over the whole sequence
        logits, state = model(tokens[:, :1], None)
        steps = [logits]
        for t in range(1, 7):
            logits, state = model(tokens[:, t:t + 1], state)  # the per-token path
            steps.append(logits)
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)
    for a, b in zip(model.state_tensors(state).values(), model.state_tensors(full_state).values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_train_shows_its_options_in_its_signature():
    """help(dreamwright.train) lists the knobs, not ``**options``, and ``import dreamwright`` stays light."""
    import inspect
    import sys

    import dreamwright

    params = inspect.signature(dreamwright.train).parameters
    for name in ("corpus", "out", "resume", "minutes", "steps", "lr", "batch_size", "model", "hidden_size", "seed"):
        assert name in params, name
    assert params["valid_fraction"].default == 0.1
    code = "import sys, dreamwright; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
