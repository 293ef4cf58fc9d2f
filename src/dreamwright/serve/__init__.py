"""Serve models over an OpenAI-compatible HTTP API, with a web page that shows what temperature does.

``dreamwright serve RUN_DIR`` (CLI) or :func:`run` (Python) start the server; :func:`create_app` builds the
FastAPI app for embedding or testing.
"""

from __future__ import annotations

from dreamwright.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app", "load_generators", "run"]


def create_app(generators, settings: ServeSettings | None = None, *, image_models=None):
    """The FastAPI app serving ``generators`` (a Generator, a list, or a mapping id → Generator), drawing with
    ``image_models`` (a mapping id → :class:`~dreamwright.image.draw.Drawer`) and the bundled image models."""
    from dreamwright.serve.app import create_app as _create_app

    return _create_app(generators, settings, image_models=image_models)


def load_generators(runs=None, *, device: str | None = None):
    """Load run directories (``NAME=RUN_DIR`` renames one); the bundled model when ``runs`` is empty."""
    from dreamwright.serve.server import load_generators as _load

    return _load(runs, device=device)


def run(runs=None, settings: ServeSettings | None = None, *, device: str | None = None, **options) -> None:
    """Load ``runs`` and serve them until interrupted (Ctrl-C / SIGTERM finish in-flight requests first)."""
    from dreamwright.serve.server import run as _run

    _run(runs, settings, device=device, **options)
