"""An independent judge of drawn Fashion-MNIST pictures: a small CNN classifier, and the Fréchet distance.

    DREAMWRIGHT_DATA=../shared/data PYTHONPATH=src python benchmarks/fashion_judge.py [--retrain] [--threads 2]

Trains (or loads) the judge and prints its accuracy on the 10,000 test pictures. The judge is plain torch,
defined here and nowhere else: it shares no model code with dreamwright, and no generator ever trains
against it. It learns from the 60,000 training pictures only (4 epochs, seed 0), so the test split stays
unseen by everything that is measured against it.

Architecture: two convolution blocks (3×3 conv → batch norm → ReLU → 2×2 max-pool; 32 then 64 channels,
28 → 14 → 7), then dropout 0.25 → a 128-unit dense layer with ReLU (the *feature* layer: its outputs are
what :func:`features` returns) → dropout 0.5 → 10 logits. Adam at 1e-3, batch 128, pixels scaled to
[0, 1] then standardised with Fashion-MNIST's mean and standard deviation.

It is cached as ``benchmarks/.cache/fashion-judge.safetensors`` (the weights) with
``fashion-judge.json`` beside it (the settings, test accuracy and training time); nothing is pickled.
:func:`load_judge` trains it when the cache is missing or was written by another version of this file.

The Fréchet distance of two feature sets is that of the Gaussians fitted to them,
‖μa − μb‖² + tr Σa + tr Σb − 2 tr (Σa^½ Σb Σa^½)^½ (Heusel et al. 2017, with this judge's features in place
of Inception-v3's, which this offline machine cannot download: it is *not* the Inception FID and its values
are on another scale). The matrix square roots come from symmetric eigen-decompositions in float64:
Σa^½ Σb Σa^½ is symmetric positive semi-definite, so no complex parts arise (the scipy ``sqrtm`` route
drops small imaginary parts instead); eigenvalues that rounding makes slightly negative are clipped to 0.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: bump when the architecture or training recipe changes: a cache of another version is retrained
VERSION = 1
CACHE = Path(__file__).resolve().parent / ".cache" / "fashion-judge.safetensors"
SEED = 0
EPOCHS = 4
BATCH = 128
LR = 1e-3
FEATURES = 128
# Fashion-MNIST's pixel mean and standard deviation on [0, 1] (training split)
MEAN, STD = 0.2860, 0.3530


class Judge(nn.Module):
    """Two conv blocks → 128 features → 10 logits, on pictures in [0, 1] of shape (N, 1, 28, 28)."""

    def __init__(self, classes: int = 10, features: int = FEATURES) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.25),
            nn.Linear(64 * 7 * 7, features), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(features, classes))

    def features(self, pictures: torch.Tensor) -> torch.Tensor:
        return self.blocks((pictures - MEAN) / STD)

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(pictures))


# ---------------------------------------------------------------------------------------------- data
def fashion_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 pictures (N, 1, 28, 28) and int64 labels of Fashion-MNIST's ``split`` ("train" or "test")."""
    from dreamwright.data.images import load_images

    part = load_images("fashion-mnist").split(split)
    return np.array(part.images), np.array(part.labels, dtype=np.int64)  # copies: the cache is read-only


def as_float(pictures: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 pictures → floats in [0, 1]; float pictures (already in [0, 1]) pass through as float32."""
    t = torch.as_tensor(pictures)
    if t.dtype == torch.uint8:
        return t.to(torch.float32) / 255.0
    return t.to(torch.float32)


# ---------------------------------------------------------------------------------------------- training
def train_judge(epochs: int = EPOCHS, seed: int = SEED, log: bool = True) -> tuple[Judge, dict]:
    """A judge trained on the whole training split; its settings, test accuracy and training time."""
    torch.manual_seed(seed)
    images, labels = fashion_split("train")
    x, y = as_float(images), torch.as_tensor(labels)
    judge = Judge()
    opt = torch.optim.Adam(judge.parameters(), lr=LR)
    order = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        judge.train()
        perm = torch.randperm(len(x), generator=order)
        total = 0.0
        for start in range(0, len(x), BATCH):
            idx = perm[start:start + BATCH]
            loss = F.cross_entropy(judge(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if log:
            print(f"epoch {epoch + 1}/{epochs}: train loss {total / len(x):.4f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    seconds = time.perf_counter() - t0
    judge.eval()
    test_images, test_labels = fashion_split("test")
    accuracy = float((predict(judge, test_images) == test_labels).mean())
    info = {"version": VERSION, "seed": seed, "epochs": epochs, "batch": BATCH, "lr": LR,
            "features": FEATURES, "train_pictures": len(x), "test_accuracy": accuracy,
            "train_seconds": round(seconds, 1), "torch": torch.__version__, "threads": torch.get_num_threads()}
    return judge, info


def save_judge(judge: Judge, info: dict, path: Path = CACHE) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in judge.state_dict().items()}
    save_file(tensors, str(path), metadata={"version": str(VERSION)})
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def read_judge(path: Path = CACHE) -> tuple[Judge, dict] | None:
    """The cached judge and its info, or None when there is none of this :data:`VERSION`."""
    from safetensors.torch import load_file

    meta = path.with_suffix(".json")
    if not (path.is_file() and meta.is_file()):
        return None
    info = json.loads(meta.read_text(encoding="utf-8"))
    if info.get("version") != VERSION:
        return None
    judge = Judge(features=info["features"])
    judge.load_state_dict(load_file(str(path)))
    return judge.eval(), info


def load_judge(path: Path = CACHE, *, retrain: bool = False) -> tuple[Judge, dict]:
    """The judge (in eval mode) and its info (``test_accuracy``, ``train_seconds``, …), trained and cached
    on first use."""
    cached = None if retrain else read_judge(path)
    if cached is not None:
        return cached
    judge, info = train_judge()
    save_judge(judge, info, path)
    return judge, info


# ---------------------------------------------------------------------------------------------- judging
@torch.no_grad()
def _batched(fn, pictures: np.ndarray | torch.Tensor, batch: int = 1000) -> np.ndarray:
    out = [fn(as_float(pictures[i:i + batch])) for i in range(0, len(pictures), batch)]
    return torch.cat(out).numpy()


def features(judge: Judge, pictures: np.ndarray | torch.Tensor, batch: int = 1000) -> np.ndarray:
    """The judge's 128 penultimate features (float64, (N, 128)) of pictures in [0, 1] (or uint8)."""
    judge.eval()
    return _batched(judge.features, pictures, batch).astype(np.float64)


def predict(judge: Judge, pictures: np.ndarray | torch.Tensor, batch: int = 1000) -> np.ndarray:
    """The judge's class (int64, (N,)) for each picture in [0, 1] (or uint8)."""
    judge.eval()
    return _batched(lambda x: judge(x).argmax(1), pictures, batch).astype(np.int64)


def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased, float64) of a feature set (N, D)."""
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2 or len(feats) < 2:
        raise ValueError(f"need a 2-D feature set of at least 2 rows, got shape {feats.shape}")
    return feats.mean(0), np.cov(feats, rowvar=False).reshape(feats.shape[1], feats.shape[1])


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (rounding negatives → 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_from_stats(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """Fréchet distance between N(mu_a, cov_a) and N(mu_b, cov_b)."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    root_a = _psd_sqrt(cov_a)
    inner = root_a @ cov_b @ root_a
    values = np.linalg.eigvalsh((inner + inner.T) / 2)
    cross = np.sqrt(np.clip(values, 0, None)).sum()
    diff = mu_a - mu_b
    return float(max(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * cross, 0.0))


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (N, D) and (M, D)."""
    return frechet_from_stats(*feature_stats(feats_a), *feature_stats(feats_b))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--retrain", action="store_true", help="train again even when a cached judge exists")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1 is fastest on a loaded 2-core machine)")
    p.add_argument("--cache", type=Path, default=CACHE)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    judge, info = load_judge(a.cache, retrain=a.retrain)
    images, labels = fashion_split("test")
    accuracy = float((predict(judge, images) == labels).mean())
    print(f"judge {a.cache}: test accuracy {100 * accuracy:.2f}% on {len(labels):,} pictures "
          f"(trained {info['epochs']} epochs on {info['train_pictures']:,} pictures in "
          f"{info['train_seconds']:.0f} s with {info['threads']} thread(s))")


if __name__ == "__main__":
    main()
