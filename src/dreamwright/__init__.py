"""dreamwright: train neural language models on any text and generate in its style."""

from __future__ import annotations

from dreamwright._version import __version__

__all__ = ["__version__", "load", "train"]


def load(path=None, *, device: str | None = None):
    """Load a run directory (or a bundled model by name; the default bundled model when None).

    Returns a :class:`dreamwright.generation.Generator`: ``dreamwright.load(run).generate("ROMEO:")``.
    """
    from dreamwright.generation.generator import Generator

    return Generator.load(path, device=device)


def __getattr__(name: str):
    # ``train`` is the trainer's own function (its signature lists every option), imported on first use so that
    # ``import dreamwright`` stays light
    if name == "train":
        from dreamwright.training.trainer import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
