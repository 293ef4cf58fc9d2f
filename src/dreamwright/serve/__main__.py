"""``python -m dreamwright.serve [RUN_DIR ...]``: the same as ``dreamwright serve``."""

from __future__ import annotations

import typer

from dreamwright._cli_runner import run_typer_app
from dreamwright.serve.cli import serve


def main(argv: list[str] | None = None) -> None:
    """Run the ``serve`` command on its own (errors print one line and exit 2, as in the main CLI)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(serve)
    run_typer_app(app, argv, "python -m dreamwright.serve")


if __name__ == "__main__":
    main()
