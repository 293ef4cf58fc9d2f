"""dreamwright: train neural language models on any text and generate in its style, and draw with GANs and VAEs."""

from __future__ import annotations

from dreamwright._version import __version__

__all__ = ["__version__", "load", "train"]


def load(path=None, *, device: str | None = None):
    """Load a run directory (or a bundled model by name; the default bundled language model when None).

    A language model comes back as a :class:`dreamwright.generation.Generator`:
    ``dreamwright.load(run).generate("ROMEO:")``; an image model (a GAN or VAE run) as a
    :class:`dreamwright.image.draw.Drawer`: ``dreamwright.load("fashion-dcgan").draw(16, label="Sneaker")``.
    """
    from dreamwright.generation.generator import Generator, resolve_model_path
    from dreamwright.runs import read_config, run_kind

    if path is not None:
        run_dir = resolve_model_path(path)
        if run_kind(read_config(run_dir)) == "image":
            from dreamwright.image.draw import Drawer

            return Drawer.load(run_dir, device=device)
    return Generator.load(path, device=device)


def __getattr__(name: str):
    # ``train`` is the trainer's own function (its signature lists every option), imported on first use so that
    # ``import dreamwright`` stays light
    if name == "train":
        from dreamwright.training.trainer import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
