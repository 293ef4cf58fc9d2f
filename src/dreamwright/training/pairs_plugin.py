"""Plugin hook (:mod:`dreamwright.plugins`) of the ``pairs`` training task, kept apart from
:mod:`dreamwright.data.pairs` so that reading pairs never imports the trainer."""

from __future__ import annotations


def register_training() -> None:
    """The ``pairs`` training task and the ``seq2seq`` preset."""
    from dreamwright.training import pairs

    pairs.register()
