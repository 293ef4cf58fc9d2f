"""Models that ship inside the package, so generation works right after ``pip install``.

Each bundled model is a run directory (``config.json`` + ``model.safetensors``) in this folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dreamwright.errors import CheckpointError

HERE = Path(__file__).parent
DEFAULT_MODEL = "shakespeare-char"


def available() -> list[Path]:
    """Directories of the bundled models."""
    return sorted(p for p in HERE.iterdir() if (p / "config.json").is_file() and (p / "model.safetensors").is_file())


def find(name: str) -> Path | None:
    """The bundled model called ``name``, or None."""
    path = HERE / name
    return path if path in available() else None


def default_model_dir() -> Path:
    """The model used when no run directory is given."""
    found = find(DEFAULT_MODEL)
    if found is None:
        raise CheckpointError(
            "this installation has no bundled model; give a run directory written by `dreamwright train`"
        )
    return found


def describe(path: Path) -> dict[str, Any]:
    """What ``dreamwright models`` says about a model directory: architecture, tokenizer and what it was trained on
    (``trained_on`` in its config.json, else its training corpus)."""
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
        model = config.get("model", {})
    except (OSError, json.JSONDecodeError, AttributeError):
        return {"architecture": "unreadable config.json", "trained_on": ""}
    if model.get("family") == "rnn":
        arch = f"{model.get('cell', model.get('name', '?')).upper()} {model.get('n_layer')}×{model.get('hidden_size')}"
    else:
        arch = f"{model.get('name', '?').upper()} {model.get('n_layer')}×{model.get('n_embd')}"
    tokenizer = config.get("tokenizer", {}).get("kind", "?")
    params = config.get("metrics", {}).get("parameters")
    corpus = config.get("train", {}).get("corpus") or config.get("corpus", {}).get("corpus")
    source = config.get("init_from") or {}
    trained_on = config.get("trained_on") or (f"{corpus}" if corpus else "")
    if source.get("name"):
        trained_on += f" (fine-tuned from {source['name']})"
    return {"architecture": f"{arch}, {tokenizer}" + (f", {params / 1e6:.2f}M params" if params else ""),
            "trained_on": trained_on}
