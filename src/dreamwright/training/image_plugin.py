"""Hooks that add image runs (GANs and VAEs, :mod:`dreamwright.training.images`) to the trainer.

Listed in :data:`dreamwright.plugins.PLUGINS`: importing this module is cheap (no torch); its
``register_training`` hook imports the image trainer, which registers itself in
:data:`dreamwright.training.trainer.TRAINERS`.
"""

from __future__ import annotations


def register_training() -> None:
    """Make the ``image`` kind of run trainable."""
    import dreamwright.training.images  # noqa: F401  (registers ImageTrainer on import)
