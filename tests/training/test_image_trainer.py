"""Image runs through the one trainer: GAN and VAE steps, grids, plots, exact resume and the errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

import dreamwright
from dreamwright import runs
from dreamwright.errors import CorpusError, InvalidArgument
from dreamwright.training import checkpoint as ckpt
from tests.cli.helpers import assert_one_line_error, run_dreamwright
from tests.conftest import metrics_events

TINY_IMAGES = dict(size=28, width=8, batch_size=16, quiet=True, threads=1)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMWRIGHT_CACHE", str(tmp_path / "cache"))


def write_shapes(root, n_per_class: int = 40, labelled: bool = True):
    """Filled squares and hollow ones (rings) on black, 32×32, in one sub-folder per class (or all in one)."""
    rng = np.random.default_rng(0)
    for i in range(n_per_class):
        for name, filled in (("squares", True), ("rings", False)):
            pixels = np.zeros((32, 32), np.uint8)
            x, y = rng.integers(4, 16, size=2)
            pixels[y:y + 12, x:x + 12] = 250
            if not filled:
                pixels[y + 3:y + 9, x + 3:x + 9] = 0
            folder = root / name if labelled else root
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(folder / f"{name}-{i}.png")
    return root


@pytest.fixture
def shapes(tmp_path):
    return write_shapes(tmp_path / "shapes")


def _state(run_dir):
    return ckpt.load_trainer_state(run_dir / ckpt.TRAINER_STATE)


def test_conditional_gan_run_writes_grids_plot_metrics_and_a_drawable_model(tmp_path, shapes):
    out = tmp_path / "gan"
    result = dreamwright.train(shapes, out, model="dcgan", conditional=True, steps=8, eval_interval=4, seed=1,
                               log_interval=1, **TINY_IMAGES)
    assert result.steps == 8 and "draw" in str(result)
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-000004.png", "step-000008.png"]
    grid = Image.open(out / "samples" / "step-000008.png")
    assert grid.mode == "RGB" and grid.size == (8 * 30 + 2, 8 * 30 + 2)  # 8×8 pictures of 28 px, 2 px apart
    train = metrics_events(out, "train")
    assert [r["step"] for r in train] == list(range(1, 9))
    for record in train:  # both players' losses, and D's verdicts in (0, 1)
        assert record["loss"] == pytest.approx(record["d_loss"] + record["g_loss"])
        assert 0 < record["d_real"] < 1 and 0 < record["d_fake"] < 1
    assert [r["step"] for r in metrics_events(out, "grid")] == [4, 8]
    assert (out / "loss.png").stat().st_size > 1000
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "image" and config["model"]["conditional"] is True
    assert config["data"]["classes"] == ["rings", "squares"] and config["data"]["size"] == 28
    model, _ = runs.load_image_run(out)
    pictures = model.draw(4, labels=1, generator=torch.Generator().manual_seed(0))
    assert pictures.shape == (4, 3, 28, 28) and 0 <= float(pictures.min()) and float(pictures.max()) <= 1


def test_gan_weights_that_draw_are_the_moving_average(tmp_path, shapes):
    out = tmp_path / "gan"
    dreamwright.train(shapes, out, model="dcgan", steps=6, eval_interval=6, seed=2, ema=0.9, **TINY_IMAGES)
    saved, _ = ckpt.load_tensors(out / ckpt.WEIGHTS)
    state = _state(out)
    name = "generator.net.0.0.weight"
    torch.testing.assert_close(saved[name], state.extra[f"ema.{name.removeprefix('generator.')}"])
    assert not torch.equal(saved[name], state.model[name])  # the live weights moved on from the average


def test_gan_run_resumes_bit_exactly(tmp_path, shapes):
    settings = dict(model="dcgan", conditional=True, eval_interval=3, seed=4, log_interval=1, **TINY_IMAGES)
    dreamwright.train(shapes, tmp_path / "straight", steps=9, **settings)
    dreamwright.train(shapes, tmp_path / "stopped", steps=3, **settings)
    dreamwright.train(resume=tmp_path / "stopped", steps=9, quiet=True)
    straight, resumed = _state(tmp_path / "straight"), _state(tmp_path / "stopped")
    assert straight.meta["step"] == resumed.meta["step"] == 9
    for part in ("model", "extra"):
        a, b = getattr(straight, part), getattr(resumed, part)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key
    assert straight.other_optimizers["discriminator"]["state"].keys() == \
        resumed.other_optimizers["discriminator"]["state"].keys()
    losses = lambda run: {r["step"]: r["loss"] for r in metrics_events(run, "train")}  # noqa: E731
    assert losses(tmp_path / "straight") == losses(tmp_path / "stopped")


def test_killed_vae_run_resumes_to_the_uninterrupted_result(tmp_path, shapes):
    args = dict(model="vae", steps=40, eval_interval=5, log_interval=1, seed=5, latent_size=4, **TINY_IMAGES)
    dreamwright.train(shapes, tmp_path / "straight", **args)
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "dreamwright", "train", str(shapes), "--out", str(killed), "--model", "vae",
               "--steps", "40", "--eval-interval", "5", "--log-interval", "1", "--seed", "5", "--latent-size", "4",
               "--size", "28", "--width", "8", "--batch-size", "16", "--threads", "1", "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        metrics = killed / "metrics.jsonl"
        lines = metrics.read_text().splitlines() if metrics.exists() else []
        evaluated = any(line.endswith("}") and json.loads(line).get("event") == "eval" for line in lines)
        if evaluated and (killed / ckpt.TRAINER_STATE).exists():
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert _state(killed).meta["step"] < 40
    dreamwright.train(resume=killed, quiet=True)
    a, b = _state(tmp_path / "straight"), _state(killed)
    for key in a.model:
        assert torch.equal(a.model[key], b.model[key]), key
    evals = lambda run: [(r["step"], r["val_loss"]) for r in metrics_events(run, "eval")]  # noqa: E731
    assert evals(killed) == evals(tmp_path / "straight")


def test_vae_run_logs_the_elbo_terms_and_keeps_its_best_weights(tmp_path, shapes):
    out = tmp_path / "vae"
    result = dreamwright.train(shapes, out, model="vae", steps=30, eval_interval=10, seed=0, latent_size=4,
                               log_interval=1, lr=3e-3, **TINY_IMAGES)
    train = metrics_events(out, "train")
    for record in train:
        assert record["loss"] == pytest.approx(record["reconstruction"] + record["kl"], rel=1e-5)
        assert record["kl"] >= 0
    evals = metrics_events(out, "eval")
    assert evals[-1]["val_loss"] < evals[0]["val_loss"]  # it learns
    best = min(evals, key=lambda r: r["val_loss"])
    assert result.best_step == best["step"] and result.best_val_loss == pytest.approx(best["val_loss"])
    _, meta = ckpt.load_tensors(out / ckpt.WEIGHTS)
    assert int(meta["step"]) == best["step"]
    assert len(list((out / "samples").iterdir())) == 3


def test_labels_reach_the_conditional_discriminator(tmp_path, shapes, monkeypatch):
    """A conditional run feeds each real picture's own label to D, and draws its fakes with the same labels."""
    from dreamwright.models.dcgan import DCGAN

    seen = []
    original = DCGAN.discriminate

    def spy(self, pictures, labels=None):
        if self.training:
            seen.append((pictures.mean(dim=(1, 2, 3)).detach(), None if labels is None else labels.clone()))
        return original(self, pictures, labels)

    monkeypatch.setattr(DCGAN, "discriminate", spy)
    dreamwright.train(shapes, tmp_path / "gan", model="dcgan", conditional=True, steps=2, eval_interval=2,
                      samples=False, **TINY_IMAGES)
    brightness, labels = seen[0]  # the first call judges a real batch
    assert labels is not None and set(labels.tolist()) == {0, 1}
    squares = labels == 1  # filled squares are brighter than rings
    assert brightness[squares].mean() > brightness[~squares].mean()
    assert torch.equal(seen[1][1], labels)  # the fakes of that step carry the same labels


def test_conditional_on_unlabelled_pictures_is_refused(tmp_path):
    folder = write_shapes(tmp_path / "flat", labelled=False)
    with pytest.raises(InvalidArgument, match="needs labelled pictures"):
        dreamwright.train(folder, tmp_path / "run", model="dcgan", conditional=True, steps=1, **TINY_IMAGES)
    assert not (tmp_path / "run").exists()


def test_models_and_data_of_the_other_kind_are_refused(tmp_path, shapes, corpus_file):
    with pytest.raises(InvalidArgument, match="draws pictures"):
        dreamwright.train(corpus_file, tmp_path / "a", model="dcgan", steps=1)
    with pytest.raises(InvalidArgument, match="is a set of pictures"):
        dreamwright.train(shapes, tmp_path / "b", model="lstm", steps=1)
    with pytest.raises(InvalidArgument, match="size is the side of the pictures"):
        dreamwright.train(corpus_file, tmp_path / "c", size=28, steps=1)


# ------------------------------------------------------------------ the installed command
def test_cli_trains_a_folder_of_your_own_pictures(tmp_path, shapes):
    proc = run_dreamwright("train", str(shapes), "--model", "dcgan", "--size", "28", "--width", "8", "--steps",
                           "2", "--eval-interval", "2", "--batch-size", "16", "-o", str(tmp_path / "run"),
                           env={"DREAMWRIGHT_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "samples" / "step-000002.png").is_file()
    header = " ".join(proc.stderr.split())
    assert "pictures of 28×28×3, 2 classes" in header and "draw with" in header


@pytest.mark.parametrize(("args", "needles"), [
    (["--size", "30"], ("dcgan cannot produce 30×30", "28, 32, 64")),
    (["--conditional"], ("labelled pictures", "sub-folder per class")),
    (["--model", "gru"], ("is a set of pictures", "dcgan or vae")),
    (["--precision", "bf16"], ("fp32",)),
])
def test_cli_image_errors_are_one_line(tmp_path, args, needles):
    folder = write_shapes(tmp_path / "flat", n_per_class=10, labelled=False)
    proc = run_dreamwright("train", str(folder), "--steps", "1", "-o", str(tmp_path / "run"), *args,
                           env={"DREAMWRIGHT_CACHE": str(tmp_path / "cache")})
    assert_one_line_error(proc, *needles)
    assert not (tmp_path / "run").exists()


def test_cli_folder_without_readable_pictures_is_one_line(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"not a png")
    (folder / "b.jpg").write_bytes(b"")
    proc = run_dreamwright("train", str(folder), "--model", "dcgan", "-o", str(tmp_path / "run"),
                           env={"DREAMWRIGHT_CACHE": str(tmp_path / "cache")})
    assert_one_line_error(proc, "no readable image", str(folder))


def test_too_few_pictures_for_one_batch_is_refused(tmp_path):
    folder = write_shapes(tmp_path / "few", n_per_class=3)
    with pytest.raises(CorpusError, match="fewer than one batch of 16"):
        dreamwright.train(folder, tmp_path / "run", model="dcgan", steps=1, **TINY_IMAGES)
