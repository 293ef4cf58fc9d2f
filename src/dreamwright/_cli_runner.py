"""Running a typer app the dreamwright way: user errors as one line and exit 2, never a traceback."""

from __future__ import annotations

import sys

import click
import typer

from dreamwright.errors import DreamwrightError


def run_typer_app(app: typer.Typer, argv: list[str] | None, prog_name: str) -> None:
    """Run ``app`` and exit: 0, the command's own code, 2 for user errors, 130 on Ctrl-C."""
    try:
        result = app(args=argv, prog_name=prog_name, standalone_mode=False)
    except DreamwrightError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as exc:
        typer.echo(f"error: {exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
