"""``python -m dreamwright.serve [RUN_DIR ...]``: the same as ``dreamwright serve``."""

from __future__ import annotations

import sys

import click
import typer

from dreamwright.errors import DreamwrightError
from dreamwright.serve.cli import serve


def main(argv: list[str] | None = None) -> None:
    """Run the ``serve`` command on its own (errors print one line and exit 2, as in the main CLI)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(serve)
    try:
        app(args=argv, prog_name="python -m dreamwright.serve", standalone_mode=False)
    except DreamwrightError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        sys.exit(130)


if __name__ == "__main__":
    main()
