"""Models that ship inside the package, so generation works right after ``pip install``.

Each bundled model is a run directory (``config.json`` + ``model.safetensors``) in this folder: language
models (``kind: text``, the default) and image models (``kind: image``; a GAN ships its generator only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dreamwright.errors import CheckpointError

HERE = Path(__file__).parent
DEFAULT_MODEL = "shakespeare-char"
#: the image model ``dreamwright draw`` (and ``/v1/images/generations``) use when no run is given
DEFAULT_IMAGE_MODEL = "fashion-dcgan"
#: the buffers of a state dict (batch-norm statistics): not counted as parameters
_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def available() -> list[Path]:
    """Directories of the bundled models."""
    return sorted(p for p in HERE.iterdir() if (p / "config.json").is_file() and (p / "model.safetensors").is_file())


def find(name: str) -> Path | None:
    """The bundled model called ``name``, or None."""
    path = HERE / name
    return path if path in available() else None


def resolve(path_or_name: str | Path) -> Path | None:
    """The run directory ``path_or_name`` names (``~`` expanded), else the bundled model of that name, else None."""
    path = Path(path_or_name).expanduser()
    if path.exists():
        return path
    return find(str(path_or_name))


def default_model_dir() -> Path:
    """The model used when no run directory is given."""
    found = find(DEFAULT_MODEL)
    if found is None:
        raise CheckpointError(
            "this installation has no bundled model; give a run directory written by `dreamwright train`"
        )
    return found


def default_image_model_dir() -> Path:
    """The image model used when no run directory is given (``dreamwright draw`` with no RUN)."""
    found = find(DEFAULT_IMAGE_MODEL)
    if found is None:
        raise CheckpointError(f"this installation has no bundled image model ({DEFAULT_IMAGE_MODEL}); give an "
                              "image run directory: dreamwright draw RUN")
    return found


def kind(path: Path) -> str | None:
    """What the model in ``path`` makes, ``"text"`` or ``"image"`` (None when its config.json is unreadable)."""
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
        return str(config.get("kind", "text"))
    except (OSError, json.JSONDecodeError, AttributeError):
        return None


def image_models() -> list[Path]:
    """Directories of the bundled image models."""
    return [p for p in available() if kind(p) == "image"]


def weight_count(path: Path, *, skip: tuple[str, ...] = ("discriminator.",)) -> int | None:
    """Parameters in a safetensors file, read from its header (no torch): batch-norm statistics and the
    tensors whose names start with ``skip`` (a GAN's discriminator: drawing never uses it) left out; None
    when the file is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size)) if 0 < size < 100_000_000 else None
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict):
        return None
    total = 0
    for name, info in header.items():
        if name == "__metadata__" or name.startswith(skip) or name.rsplit(".", 1)[-1] in _BUFFERS:
            continue
        count = 1
        for side in info.get("shape", []) if isinstance(info, dict) else []:
            count *= int(side)
        total += count
    return total


def image_architecture(config: dict[str, Any], params: int | None = None) -> str:
    """An image model in a few words: ``DCGAN (conditional, 28×28, 10 classes), 1.07M params``."""
    model = config.get("model") or {}
    size = model.get("size", "?")
    details = ["conditional" if model.get("conditional") else "unconditional", f"{size}×{size}"]
    if model.get("conditional"):
        details.append(f"{model.get('num_classes')} classes")
    if model.get("channels") == 3:
        details.append("RGB")
    arch = f"{str(model.get('name', '?')).upper()} ({', '.join(details)})"
    return arch + (f", {params / 1e6:.2f}M params" if params else "")


def version_of(config: dict[str, Any]) -> int:
    """A bundled model's version under its name (``version`` in its config.json; 1 when it has none)."""
    version = config.get("version", 1)
    return version if isinstance(version, int) else 1


def describe(path: Path) -> dict[str, Any]:
    """What ``dreamwright models`` says about a model directory: its version, architecture, tokenizer (or picture
    size and classes, for an image model) and what it was trained on (``trained_on`` in its config.json, else its
    training corpus or data set)."""
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
        model = config.get("model", {})
    except (OSError, json.JSONDecodeError, AttributeError):
        return {"architecture": "unreadable config.json", "trained_on": "", "version": 1}
    if config.get("kind") == "image":
        data = config.get("data") or {}
        params = weight_count(Path(path) / "model.safetensors")
        return {"architecture": image_architecture(config, params),
                "trained_on": str(config.get("trained_on") or data.get("name") or ""), "version": version_of(config)}
    if model.get("family") == "rnn":
        arch = f"{model.get('cell', model.get('name', '?')).upper()} {model.get('n_layer')}×{model.get('hidden_size')}"
    elif model.get("family") == "seq2seq":
        arch = f"seq2seq (GRU {model.get('n_layer')}×{model.get('hidden_size')}, attention)"
    elif model.get("family") == "wavenet":
        blocks = model.get("max_dilation", 512).bit_length() * model.get("dilation_cycles", 2)
        arch = f"WaveNet {blocks} blocks × {model.get('residual_channels')} channels"
    else:
        arch = f"{model.get('name', '?').upper()} {model.get('n_layer')}×{model.get('n_embd')}"
    tokenizer = config.get("tokenizer", {}).get("kind", "?")
    if tokenizer == "mulaw":
        tokenizer = f"8-bit μ-law at {config['tokenizer'].get('sample_rate')} Hz"
    params = config.get("metrics", {}).get("parameters")
    corpus = config.get("train", {}).get("corpus") or config.get("corpus", {}).get("corpus")
    source = config.get("init_from") or {}
    trained_on = config.get("trained_on") or (f"{corpus}" if corpus else "")
    if source.get("name") and source["name"] != Path(path).name:  # a model continued from itself says so in trained_on
        trained_on += f" (fine-tuned from {source['name']})"
    return {"architecture": f"{arch}, {tokenizer}" + (f", {params / 1e6:.2f}M params" if params else ""),
            "trained_on": trained_on, "version": version_of(config)}
