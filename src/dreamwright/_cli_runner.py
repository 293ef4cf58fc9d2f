"""Running a typer app the dreamwright way: user errors as one line and exit 2, never a traceback.

Works with click-based typer (< 0.22) and with typer's own vendored parser (typer >= 0.22, no click):
the exception types are taken from what ``typer`` itself exports.
"""

from __future__ import annotations

import os
import sys

import typer

from dreamwright.errors import DreamwrightError


def _typer_error_types() -> tuple[type[Exception], ...]:
    """The base classes of the errors typer's parser raises (``TyperException`` or click's ``ClickException``)."""
    types: list[type[Exception]] = []
    base = getattr(typer, "TyperException", None)
    if isinstance(base, type):
        types.append(base)
    # BadParameter -> UsageError -> ClickException, whichever package ClickException lives in
    types += [cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException"]
    return tuple(dict.fromkeys(types))


TYPER_ERRORS = _typer_error_types()


def usage_error_line(exc: Exception) -> str:
    """One line for a typer/click usage error: its message and where to find help."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = " ".join(message.split()).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and getattr(ctx, "help_option_names", None):
        message += f" (see '{ctx.command_path} {ctx.help_option_names[-1]}')"
    return f"error: {message}"


def _quiet_broken_pipe() -> None:
    """The reader of stdout went away (``| head``): stop quietly, as shell tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run_typer_app(app: typer.Typer, argv: list[str] | None, prog_name: str) -> None:
    """Run ``app`` and exit: 0, the command's own code, 2 for user errors, 130 on Ctrl-C.

    A command run without the arguments it needs (``no_args_is_help``) prints its help on stdout and exits 0.
    """
    try:
        result = app(args=argv, prog_name=prog_name, standalone_mode=False)
    except DreamwrightError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except TYPER_ERRORS as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # click >= 8.2 and typer >= 0.22: the message is the help
            typer.echo(exc.format_message())
            sys.exit(0)
        typer.echo(usage_error_line(exc), err=True)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except BrokenPipeError:
        _quiet_broken_pipe()
        sys.exit(1)
    except OSError as exc:
        typer.echo(f"error: {exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
