"""Run directories: reading and writing them (the layer below training, generation and serving).

A run directory holds
- ``config.json``: format version, the run's ``kind`` (``text``, the default, or ``image``), model
  architecture, tokenizer vocabulary (text) or data set and class names (image, under ``data``), training
  arguments, metrics;
- ``model.safetensors``: the best weights so far (by validation loss), with step and loss in its metadata;
- ``trainer_state.safetensors``: what resuming needs (its format lives in
  :mod:`dreamwright.training.checkpoint`).

Every file is written to a temporary name in the same directory, fsynced, and renamed over the old one,
so a process killed at any moment leaves the previous checkpoint intact. Nothing is ever unpickled:
weights and state go through safetensors, metadata through JSON. :func:`load_run` turns a run directory
into a model, tokenizer and config; it needs only :mod:`dreamwright.models` and
:mod:`dreamwright.tokenizers`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from dreamwright.errors import CheckpointError, WrongKindError

FORMAT = "dreamwright-run"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary path beside ``path``, fsync it, and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    atomic_write(path, write)


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Save tensors as safetensors atomically. Shared storage (tied weights) is stored once per name."""
    plain = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(plain, tmp, metadata=metadata))


def model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's parameters and buffers, one entry per distinct tensor (tied weights once)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, t in model.state_dict(keep_vars=False).items():
        key = t.data_ptr()
        if key in seen and t.numel() > 0:
            continue
        seen.add(key)
        out[name] = t
    return out


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; a broken file raises :class:`CheckpointError`."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        return load_file(str(path)), metadata
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path} is truncated or corrupted ({str(exc).splitlines()[0][:80]}); "
            "restore it from a backup or retrain"
        ) from None


def load_model_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    # tied weights are saved once; anything else missing means the file doesn't fit the config
    tied = {n for n in missing if n.endswith("head.weight")}
    if set(missing) - tied or unexpected:
        raise CheckpointError(
            f"{source} does not match the architecture in {CONFIG} "
            f"(missing {sorted(set(missing) - tied)[:3]}, unexpected {sorted(unexpected)[:3]}); retrain the run"
        )


def read_config(run_dir: Path) -> dict[str, Any]:
    """``config.json`` of a run directory, checked to be a compatible dreamwright checkpoint."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise CheckpointError(f"no such run directory: {run_dir}")
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir} is a file, not a run directory: give the folder `dreamwright train` wrote")
    path = run_dir / CONFIG
    if not path.is_file():
        raise CheckpointError(
            f"{run_dir} is not a dreamwright run directory (no {CONFIG}); give a folder written by `dreamwright train`"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); the run directory is damaged") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a dreamwright run config; give a folder written by `dreamwright train`")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{run_dir} was written by an incompatible dreamwright (checkpoint format {version}, this version "
            f"reads {FORMAT_VERSION}); use the dreamwright version that trained it or retrain"
        )
    return config


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    atomic_write_json(Path(run_dir) / CONFIG, {"format": FORMAT, "format_version": FORMAT_VERSION, **config})


def run_kind(config: dict[str, Any]) -> str:
    """What a run's model makes: ``"text"`` (a language model) or ``"image"`` (a GAN or VAE)."""
    return str(config.get("kind", "text"))


def _weights_of(run_dir: Path) -> Path:
    weights = run_dir / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{run_dir} has no {WEIGHTS} yet: the run has not reached its first evaluation")
    return weights


def load_run(run_dir: Path, *, device: str | torch.device = "cpu"):
    """Model (in eval mode), tokenizer and config of a language-model run directory."""
    from dreamwright.models import build_model
    from dreamwright.tokenizers import tokenizer_from_dict

    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if run_kind(config) == "image":
        family = config.get("model", {}).get("name", "image model")
        raise WrongKindError(f"{run_dir} holds an image model ({family}), not a language model: draw with it "
                             f"(`dreamwright draw {run_dir}`, or dreamwright.load(...).draw())")
    weights = _weights_of(run_dir)
    try:
        tokenizer = tokenizer_from_dict(config["tokenizer"])
        model_cfg = dict(config["model"])
        name = model_cfg.pop("name")
        model_cfg.pop("family", None)
        vocab_size = model_cfg.pop("vocab_size")
        model = build_model(name, vocab_size, **model_cfg)
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{run_dir / CONFIG} is missing or has a bad field ({exc}); retrain the run") from None
    tensors, _ = load_tensors(weights)
    load_model_weights(model, tensors, weights)
    model.to(device).eval()
    return model, tokenizer, config


def load_image_run(run_dir: Path, *, device: str | torch.device = "cpu"):
    """Image model (in eval mode) and config of an image run directory (``kind: image``).

    The weights may leave out the discriminator (a bundled generator ships without it): drawing never
    needs it. Anything else missing or unexpected means the file does not fit the config.
    """
    from dreamwright.models import build_model

    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if run_kind(config) != "image":
        raise WrongKindError(f"{run_dir} holds a language model, not an image model: write with it "
                             f"(`dreamwright generate {run_dir}`)")
    weights = _weights_of(run_dir)
    try:
        model_cfg = dict(config["model"])
        name = model_cfg.pop("name")
        model_cfg.pop("family", None)
        model = build_model(name, **model_cfg)
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{run_dir / CONFIG} is missing or has a bad field ({exc}); retrain the run") from None
    tensors, _ = load_tensors(weights)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [n for n in missing if not n.startswith("discriminator.")]
    if missing or unexpected:
        raise CheckpointError(f"{weights} does not match the architecture in {CONFIG} (missing {sorted(missing)[:3]}, "
                              f"unexpected {sorted(unexpected)[:3]}); retrain the run")
    model.to(device).eval()
    return model, config
