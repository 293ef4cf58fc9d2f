"""Hooks that add audio runs (:mod:`dreamwright.training.audio`) to the trainer; listed in
:data:`dreamwright.plugins.PLUGINS` (importing this module is cheap: no torch)."""

from __future__ import annotations


def register_training() -> None:
    """Add the ``audio`` task and its preset."""
    from dreamwright.training import audio

    audio.register()
