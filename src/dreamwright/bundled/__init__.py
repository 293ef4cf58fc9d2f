"""Models that ship inside the package, so generation works right after ``pip install``.

Each bundled model is a run directory (``config.json`` + ``model.safetensors``) in this folder.
"""

from __future__ import annotations

from pathlib import Path

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
