"""The optional parts of dreamwright that add to the core's registries — the one place that names them.

The generic registries (corpora in :mod:`dreamwright.data.registry`, training tasks in
:mod:`dreamwright.training.tasks`, presets in :mod:`dreamwright.training.presets`, the CLI's commands)
never import their plugins. Instead each plugin package listed here defines hooks, and whoever is about
to look a name up loads them first:

- ``register_corpora()`` — built-in corpora; cheap (no torch), for ``dreamwright corpora``;
- ``register_training()`` — training tasks and presets, for ``dreamwright train`` and ``dreamwright presets``;
- in ``<package>.cli``, ``register(app)`` — CLI commands (see :func:`cli_modules`).

A plugin that is not installed (its package missing) is skipped.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

#: plugin packages, in the order their hooks run
PLUGINS: tuple[str, ...] = ("dreamwright.poetry", "dreamwright.training.image_plugin", "dreamwright.data.pairs",
                            "dreamwright.training.pairs_plugin", "dreamwright.data.audio",
                            "dreamwright.training.audio_plugin")
#: modules with ``register(app)`` that add commands to the ``dreamwright`` CLI
CLI_MODULES: tuple[str, ...] = ("dreamwright.image.cli", "dreamwright.poetry.cli", "dreamwright.serve.cli")

_done: set[tuple[str, str]] = set()


def optional_import(name: str) -> ModuleType | None:
    """``import name``, or None when that module (not one it imports) is missing."""
    try:
        return import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def _run(hook: str) -> None:
    for name in PLUGINS:
        if (name, hook) in _done:
            continue
        module = optional_import(name)
        if module is not None and hasattr(module, hook):
            getattr(module, hook)()
        _done.add((name, hook))


def load_corpora() -> None:
    """Register every plugin's corpora (once per process)."""
    _run("register_corpora")


def load() -> None:
    """Register everything the plugins add to the core: corpora, training tasks and presets (once)."""
    load_corpora()
    _run("register_training")


def cli_modules() -> list[ModuleType]:
    """The installed CLI plugin modules."""
    return [m for m in map(optional_import, CLI_MODULES) if m is not None]
