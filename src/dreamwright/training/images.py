"""Image runs through the one trainer: a GAN's two players or a VAE's bound, on an image set.

:class:`ImageTrainer` is the :class:`~dreamwright.training.trainer.Trainer` with what differs for pictures:
the batches (uint8 pictures and their labels, a pure function of ``(epoch, index)``), the step, the
evaluation, the samples and the checkpoint's extra state. The loop, the budget, the progress bar,
``metrics.jsonl``, Ctrl-C and exact resume are the text trainer's own.

- **GAN** (``dcgan``): per step, ``d_steps`` discriminator updates on the real batch and fresh noise, then
  one generator update (the non-saturating loss of Goodfellow et al.); real pictures are scored against
  ``1 − label_smoothing``. A conditional GAN draws its fakes with the real batch's labels. An exponential
  moving average of the generator's weights (``ema``) is what draws: its batch-norm statistics are
  recomputed on fixed noise before each evaluation ("standing statistics"), so they fit its weights. A
  GAN's losses do not say when its pictures are best, so every evaluation keeps the latest weights.
- **VAE** (``vae``): the negative ELBO, with its reconstruction and KL terms logged; the best checkpoint
  is the one with the lowest negative ELBO on (up to :data:`EVAL_IMAGES` of) the test split.

At each evaluation an 8×8 grid of pictures drawn from the same fixed noise (and, for a conditional
model, the same classes: 0, 1, … in reading order) goes to ``samples/step-NNNNNN.png``.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dreamwright._version import __version__
from dreamwright.data.images import ImageDataset, ImageSplit, load_images
from dreamwright.devices import resolve_device
from dreamwright.errors import CheckpointError, CorpusError, InvalidArgument
from dreamwright.models import build_model
from dreamwright.models.image import ImageModel, picture_grid
from dreamwright.progress import console
from dreamwright.training import checkpoint as ckpt
from dreamwright.training.config import TrainConfig
from dreamwright.training.optim import make_optimizer, make_schedule
from dreamwright.training.plots import Curve, plot_loss_curve
from dreamwright.training.trainer import DATA_DIR, LOSS_PLOT, TRAINERS, Trainer, TrainResult

#: the sample grid of each evaluation: 8×8 pictures
GRID = 64
#: test pictures an evaluation scores (at most)
EVAL_IMAGES = 2000
#: batches of fixed noise that set the moving-average generator's batch-norm statistics
STANDING_BATCHES = 8
SAMPLES_DIR = "samples"
DATASET_FILE = "dataset.json"


@dataclass
class ImageScore:
    """An evaluation of an image model: ``loss`` (what picks the best checkpoint) and its named terms."""

    loss: float
    terms: dict[str, float] = field(default_factory=dict)


class ImageBatches:
    """Batches of one split: a fresh permutation per epoch, seeded by ``(seed, epoch)``; the last partial
    batch is dropped. Rows are pure functions of ``(epoch, index)``, so a resumed run reads what it would have."""

    def __init__(self, split: ImageSplit, batch_size: int, seed: int) -> None:
        if len(split) < batch_size:
            raise CorpusError(f"the training split has {len(split)} pictures, fewer than one batch of "
                              f"{batch_size}; lower batch_size or add pictures")
        self.split, self.batch_size, self.seed = split, batch_size, seed
        self.seq_len = 1
        self.steps_per_epoch = len(split) // batch_size
        self._epoch, self._order = -1, np.arange(0)

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if epoch != self._epoch:
            self._epoch, self._order = epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.split))
        rows = np.sort(self._order[index * self.batch_size:(index + 1) * self.batch_size])
        pixels, labels = self.split.batch(rows)
        return torch.from_numpy(pixels), None if labels is None else torch.from_numpy(labels)


def _dataset_record(dataset: ImageDataset, corpus: str) -> dict[str, Any]:
    meta = json.loads((dataset.directory / "meta.json").read_text(encoding="utf-8"))
    return {"name": dataset.name, "source": corpus, "classes": list(dataset.class_names), "size": dataset.size,
            "channels": dataset.channels, "train_images": len(dataset.train), "test_images": len(dataset.test),
            "fingerprint": meta.get("fingerprint")}


class ImageTrainer(Trainer):
    """One image run (a GAN or a VAE) in one run directory."""

    unit = "images"

    def __init__(self, config: TrainConfig, run_dir: Path, dataset: ImageDataset, *, quiet: bool = False) -> None:
        self.config, self.run_dir, self.dataset, self.quiet = config, run_dir, dataset, quiet
        if config.threads:
            torch.set_num_threads(config.threads)
        self.rank, self.world = 0, 1
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.model: ImageModel = build_model(config.model, size=dataset.size, channels=dataset.channels,
                                             num_classes=len(dataset.class_names), **config.model_args)
        self.model.to(self.device)
        self.is_gan = hasattr(self.model, "discriminator")
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=False)
        self.source = ImageBatches(dataset.train, config.batch_size, config.seed)
        if self.is_gan:
            self.optimizer = make_optimizer(self.model.generator, config)
            self.d_optimizer = make_optimizer(self.model.discriminator, config)
            self.ema = {name: t.detach().clone() for name, t in self.model.generator.state_dict().items()}
        else:
            self.optimizer = make_optimizer(self.model, config)
            self.ema = {}
        self.schedule = make_schedule(config)
        self.step_terms: dict[str, float] = {}
        self._start_counters()
        fixed = torch.Generator().manual_seed(config.seed)
        self.grid_noise = torch.randn(GRID, self.model.latent_size, generator=fixed)
        self.grid_labels = torch.arange(GRID) % self.model.num_classes if self.model.conditional else None

    # ------------------------------------------------------------------ a new run, and a resumed one
    @classmethod
    def start(cls, config: TrainConfig, run_dir: Path, *, quiet: bool = False) -> ImageTrainer:
        dataset = load_images(config.corpus, size=config.size)
        if config.model_args.get("conditional") and not dataset.labelled:
            raise InvalidArgument(f"--conditional needs labelled pictures, and {config.corpus} has no labels (a folder "
                                  "has them when its images lie in one sub-folder per class)", param="conditional")
        trainer = cls(config, run_dir, dataset, quiet=quiet)
        ckpt.atomic_write_json(run_dir / DATA_DIR / DATASET_FILE, _dataset_record(dataset, config.corpus))
        return trainer

    @classmethod
    def resume(cls, run_dir: Path, *, quiet: bool = False, **overrides: Any) -> ImageTrainer:
        config = cls.resumed_config(run_dir, overrides)
        try:
            recorded = json.loads((run_dir / DATA_DIR / DATASET_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            raise CheckpointError(f"{run_dir}/{DATA_DIR}/{DATASET_FILE} is missing or damaged; the run cannot "
                                  "resume") from None
        dataset = load_images(config.corpus, size=config.size)
        if _dataset_record(dataset, config.corpus)["fingerprint"] != recorded.get("fingerprint"):
            raise CheckpointError(f"the pictures of {config.corpus} changed since {run_dir} started, so it cannot "
                                  "resume exactly; start a new run")
        trainer = cls(config, run_dir, dataset, quiet=quiet)
        trainer._load_state(run_dir / ckpt.TRAINER_STATE)
        return trainer

    # ------------------------------------------------------------------ one step
    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer, self.d_optimizer] if self.is_gan else [self.optimizer]

    def _train_step(self, x: torch.Tensor, y: torch.Tensor | None, autocast) -> float:
        pixels = self.model.inputs(x.to(self.device))
        labels = None if y is None or not self.model.conditional else y.to(self.device)
        terms = self._gan_step(pixels, labels) if self.is_gan else self._vae_step(pixels)
        self.step_terms = terms
        return terms["loss"]

    def _gan_step(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        c, model, n = self.config, self.model, len(real)
        real_target = torch.full((n,), 1.0 - c.label_smoothing, device=self.device)
        zeros, ones = torch.zeros(n, device=self.device), torch.ones(n, device=self.device)
        for _ in range(c.d_steps):
            fake = model.generate(torch.randn(n, model.latent_size, device=self.device), labels).detach()
            real_logits = model.discriminate(real, labels)
            fake_logits = model.discriminate(fake, labels)
            d_loss = (F.binary_cross_entropy_with_logits(real_logits, real_target)
                      + F.binary_cross_entropy_with_logits(fake_logits, zeros))
            self.d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_optimizer.step()
        fake = model.generate(torch.randn(n, model.latent_size, device=self.device), labels)
        g_loss = F.binary_cross_entropy_with_logits(model.discriminate(fake, labels), ones)
        self.optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizer.step()
        self._update_ema()
        d, g = d_loss.item(), g_loss.item()
        return {"loss": d + g, "d_loss": d, "g_loss": g,
                "d_real": torch.sigmoid(real_logits).mean().item(), "d_fake": torch.sigmoid(fake_logits).mean().item()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        """Move the average toward the generator's weights; early on (step < ~10/(1−ema)) it follows faster,
        so that it is not the mean of untrained weights."""
        if not self.config.ema:
            return
        decay = min(self.config.ema, (1 + self.step) / (10 + self.step))
        for name, value in self.model.generator.state_dict().items():
            average = self.ema[name]
            if average.is_floating_point():
                average.lerp_(value, 1.0 - decay)
            else:
                average.copy_(value)

    def _vae_step(self, pixels: torch.Tensor) -> dict[str, float]:
        elbo = self.model.elbo(pixels)
        loss = elbo.negative.mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return {"loss": loss.item(), "reconstruction": elbo.reconstruction.mean().item(), "kl": elbo.kl.mean().item()}

    # ------------------------------------------------------------------ evaluation
    def drawing_model(self) -> ImageModel:
        """The model that draws, in eval mode: for a GAN with ``ema``, a copy whose generator holds the moving
        average with batch-norm statistics recomputed for it on fixed noise."""
        if not (self.is_gan and self.config.ema):
            self.model.eval()
            return self.model
        model = copy.deepcopy(self.model)
        model.generator.load_state_dict(self.ema)
        batch_norms = [m for m in model.generator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for module in batch_norms:
            module.reset_running_stats()
            module.momentum = None  # a plain average over the batches below
        noise = torch.Generator().manual_seed(self.config.seed + 1)
        model.train()
        with torch.no_grad():
            for i in range(STANDING_BATCHES):
                z = torch.randn(GRID, model.latent_size, generator=noise).to(self.device)
                labels = (torch.arange(GRID) + i) % model.num_classes if model.conditional else None
                model.generator(z, None if labels is None else labels.to(self.device))
        for module in batch_norms:
            module.momentum = 0.1
        return model.eval()

    @torch.no_grad()
    def evaluate(self) -> ImageScore:
        rng_state = torch.get_rng_state()
        model = self.drawing_model()
        self._drawer = model
        test = self.dataset.test if len(self.dataset.test) else self.dataset.train
        rows = np.arange(min(len(test), EVAL_IMAGES))
        pixels, labels = test.batch(rows)
        x = model.inputs(torch.from_numpy(pixels).to(self.device))
        generator = torch.Generator().manual_seed(self.config.seed + 2)
        if self.is_gan:
            score = self._score_gan(model, x, None if labels is None else torch.from_numpy(labels).to(self.device),
                                    generator)
        else:
            totals = [model.elbo(x[i:i + 256], generator=generator) for i in range(0, len(x), 256)]
            reconstruction = float(torch.cat([t.reconstruction for t in totals]).mean())
            kl = float(torch.cat([t.kl for t in totals]).mean())
            score = ImageScore(reconstruction + kl, {"val_reconstruction": reconstruction, "val_kl": kl})
        torch.set_rng_state(rng_state)
        self.model.train()
        return score

    def _score_gan(self, model: ImageModel, real: torch.Tensor, labels: torch.Tensor | None,
                   generator: torch.Generator) -> ImageScore:
        """The discriminator's loss and mean verdicts on held-out real pictures and as many fresh fakes."""
        if not model.conditional:
            labels = None
        real_p, fake_p, loss = [], [], 0.0
        for i in range(0, len(real), 256):
            chunk = real[i:i + 256]
            chunk_labels = None if labels is None else labels[i:i + 256]
            z = torch.randn(len(chunk), model.latent_size, generator=generator).to(self.device)
            real_logits = model.discriminate(chunk, chunk_labels)
            fake_logits = model.discriminate(model.generate(z, chunk_labels), chunk_labels)
            loss += float(F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits), reduction="sum")
                          + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits),
                                                               reduction="sum"))
            real_p.append(torch.sigmoid(real_logits))
            fake_p.append(torch.sigmoid(fake_logits))
        return ImageScore(loss / len(real), {"val_d_real": float(torch.cat(real_p).mean()),
                                             "val_d_fake": float(torch.cat(fake_p).mean())})

    def improved(self, score: ImageScore) -> bool:  # type: ignore[override]
        return True if self.is_gan else score.loss < self.best_val_loss - 1e-6

    def eval_record(self, score: ImageScore) -> dict[str, Any]:  # type: ignore[override]
        return {"val_loss": score.loss, **score.terms}

    def eval_line(self, score: ImageScore) -> str:  # type: ignore[override]
        if self.is_gan:
            t = score.terms
            return (f"held-out: D loss {score.loss:.3f}, D(real) {t['val_d_real']:.2f}, "
                    f"D(fake) {t['val_d_fake']:.2f}")
        return f"test −ELBO {score.loss:.2f} nats/picture (KL {score.terms['val_kl']:.2f})"

    def show_samples(self, log) -> None:
        """The 8×8 grid from the fixed noise, as ``samples/step-NNNNNN.png``."""
        from PIL import Image

        model = getattr(self, "_drawer", None) or self.drawing_model()
        with torch.no_grad():
            labels = None if self.grid_labels is None else self.grid_labels.to(self.device)
            pictures = model.decode(self.grid_noise.to(self.device), labels)
        grid = picture_grid(pictures)
        path = self.run_dir / SAMPLES_DIR / f"step-{self.step:06d}.png"
        image = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
        ckpt.atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
        if log is not None:
            log.write(json.dumps({"event": "grid", "step": self.step, "path": f"{SAMPLES_DIR}/{path.name}"}) + "\n")
        if not self.quiet:
            console.print(f"[dim]--- samples: {path}[/]")
        self.model.train()

    def best_tensors(self) -> dict[str, torch.Tensor]:
        model = getattr(self, "_drawer", None) or self.drawing_model()
        return ckpt.model_tensors(model)

    # ------------------------------------------------------------------ what the run records
    def describe_data(self) -> str:
        d = self.dataset
        classes = f", {len(d.class_names)} classes" if d.class_names else ", no labels"
        return (f"{d.name}: {len(d.train):,} training / {len(d.test):,} test pictures of "
                f"{d.size}×{d.size}×{d.channels}{classes}")

    def progress_info(self, loss_ema: float, rate: float) -> str:
        t = self.step_terms
        losses = (f"D {t['d_loss']:.2f}  G {t['g_loss']:.2f}" if self.is_gan and t
                  else f"−ELBO {loss_ema:.1f}")
        return f"{losses}  {rate:.0f} pictures/s"

    def plot(self, metrics_path: Path) -> None:
        if self.is_gan:
            curves = (Curve("train", "d_loss", "discriminator"), Curve("train", "g_loss", "generator"))
            ylabel = "loss (nats / picture)"
        else:
            curves = (Curve("train", "reconstruction", "reconstruction"), Curve("train", "kl", "KL"),
                      Curve("eval", "val_loss", "test −ELBO", marker=True))
            ylabel = "nats / picture"
        plot_loss_curve(metrics_path, self.run_dir / LOSS_PLOT, title=self.run_dir.name, curves=curves,
                        ylabel=ylabel)

    def write_config(self) -> None:
        s = self.last_score
        ckpt.write_config(self.run_dir, {
            "dreamwright_version": __version__,
            "kind": "image",
            "model": {"name": self.config.model, **self.model.config()},
            "data": {k: v for k, v in _dataset_record(self.dataset, self.config.corpus).items() if k != "fingerprint"},
            "train": self.config.to_dict(),
            "metrics": {
                "steps": self.step, "epochs": self.epoch, "elapsed_s": round(self.elapsed, 2),
                "best_val_loss": None if math.isinf(self.best_val_loss) else self.best_val_loss,
                "best_step": self.best_step, "last_val_loss": None if s is None else s.loss,
                **({} if s is None else s.terms), "parameters": self.model.num_parameters(),
            },
        })

    def _save_state(self, stream_state: dict[str, torch.Tensor]) -> None:
        meta = {"step": self.step, "epoch": self.epoch, "index": self.index, "elapsed": self.elapsed,
                "best_val_loss": self.best_val_loss, "best_step": self.best_step, "bad_evals": self.bad_evals,
                "schedule": self.schedule.state_dict(), "world": 1}
        others = {"discriminator": self.d_optimizer} if self.is_gan else {}
        ckpt.save_trainer_state(self.run_dir / ckpt.TRAINER_STATE, self.model, self.optimizer, {}, meta,
                                other_optimizers=others, extra={f"ema.{k}": v for k, v in self.ema.items()})

    def _load_state(self, path: Path) -> None:
        saved = ckpt.load_trainer_state(path)
        ckpt.load_model_weights(self.model, saved.model, path)
        self.optimizer.load_state_dict(saved.optimizer)
        if self.is_gan:
            self.d_optimizer.load_state_dict(saved.other_optimizers["discriminator"])
            for name in self.ema:
                self.ema[name].copy_(saved.extra[f"ema.{name}"])
        torch.set_rng_state(saved.rng)
        self._restore_counters(saved.meta)

    def _result(self, stop_reason: str) -> TrainResult:
        return ImageTrainResult(self.run_dir, self.step, self.best_val_loss, self.best_step, math.nan, math.nan,
                                stop_reason, family=self.model.family)


@dataclass
class ImageTrainResult(TrainResult):
    family: str = "dcgan"

    def __str__(self) -> str:
        grids = f"{self.run_dir}/{SAMPLES_DIR}/"
        if self.family == "vae":
            return (f"{self.run_dir}: best test −ELBO {self.best_val_loss:.2f} nats/picture at step "
                    f"{self.best_step}; sample grids in {grids}")
        return (f"{self.run_dir}: {self.steps} steps; sample grids in {grids}; draw with "
                f"`dreamwright draw {self.run_dir}`")


TRAINERS["image"] = ImageTrainer
