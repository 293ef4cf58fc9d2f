"""Running a typer app the dreamwright way: user errors as one line and exit 2, never a traceback.

Works with click-based typer (< 0.22) and with typer's own vendored parser (typer >= 0.22, no click):
the exception types are taken from what ``typer`` itself exports. The house rules for every command,
plugins' included, are applied here, once: flags read as flags in ``--help`` (no ``<bool>``), a command
that needs arguments and gets none prints its help, and errors name CLI options, not Python arguments.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import shlex
import sys
import typing
from collections.abc import Iterator
from typing import Annotated, Any

import click
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


# --------------------------------------------------------------------------- house rules
def walk_commands(command: Any) -> Iterator[Any]:
    """``command`` and all its sub-commands, depth first."""
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from walk_commands(sub)


def _show_flags_without_a_type() -> None:
    """typer >= 0.22 prints a value type after every option, flags too (``--stream <bool>``); flags take no value.

    Its options (the ``--help`` typer adds included) all render their type column through
    ``TyperOption.display_type_rich``, so that one method decides it; older typer has no such column.
    """
    option = getattr(getattr(typer, "core", None), "TyperOption", None)
    shows_type = getattr(option, "display_type_rich", None)
    if shows_type is None or getattr(shows_type, "skips_flags", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if self.is_flag and not self.count else shows_type(self, ctx)

    display_type_rich.skips_flags = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich


def apply_house_rules(command: Any) -> Any:
    """Apply the rules every dreamwright command follows to a built command tree; returns it."""
    _show_flags_without_a_type()
    for cmd in walk_commands(command):
        if any(param.required for param in cmd.params):
            cmd.no_args_is_help = True  # no arguments at all: the help, not "missing argument"
    return command


def build_command(app: typer.Typer) -> Any:
    """The command tree of ``app`` as the installed ``dreamwright`` runs it (house rules applied)."""
    return apply_house_rules(typer.main.get_command(app))


# --------------------------------------------------------------------------- options from dataclass fields
#: rich help markup would read "[default: …]" as a style tag; typer's own default notes look like that
_DEFAULT_NOTE = "\\" if getattr(typer.core, "DEFAULT_MARKUP_MODE", None) == "rich" else ""


def with_default(help_text: str, default: str | None) -> str:
    """``help_text`` with typer's ``[default: …]`` note, for a default that the option's own value is not."""
    return f"{help_text}  {_DEFAULT_NOTE}[default: {default}]" if default else help_text


def knob_option(knob: dataclasses.Field, hint: Any, by_preset: set[str]) -> inspect.Parameter:
    """The command option of a :func:`~dreamwright.training.config.knob` field (None: not given), for ``train``,
    ``style`` and ``dream``; ``by_preset`` names the fields whose default a preset decides."""
    kind = next((arg for arg in typing.get_args(hint) if arg is not type(None)), hint)
    default = knob.metadata["shown_default"]
    if default is None and knob.name in by_preset:
        default = "the preset's"
    elif default is None and kind is bool and "/" in (knob.metadata["flag"] or ""):
        default = knob.metadata["flag"].split("/")[0 if knob.default else 1].lstrip("-")
    elif default is None and knob.default is not None and kind is not bool:
        default = str(knob.default)
    help_text = with_default(knob.metadata["help"], default)
    decls = [knob.metadata["flag"]] if knob.metadata["flag"] else []
    option = typer.Option(*decls, help=help_text, show_default=False)
    return inspect.Parameter(knob.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[kind | None, option])



# --------------------------------------------------------------------------- CLI spelling of errors
def invoked_command(root: Any, argv: list[str]) -> Any:
    """The (sub-)command that ``argv`` runs."""
    command = root
    for arg in argv:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            if arg.startswith("-"):
                continue  # an option of the group (--version), before the command's name
            break
        command = sub
    return command


def option_spellings(command: Any) -> dict[str, tuple[str, str | None]]:
    """Python parameter name → (the option that sets it, its negative form if any): num_samples → --num-samples."""
    spellings = {}
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option" or param.name is None:
            continue
        longs = [opt for opt in param.opts if opt.startswith("--")] or list(param.opts)
        negative = next((opt for opt in getattr(param, "secondary_opts", ()) if opt.startswith("--")), None)
        spellings[param.name] = (longs[0], negative)
    return spellings


_SETTING = re.compile(r"(?<![\w-])([a-z_][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|[^\s,;)]+)")
_QUOTED_NAME = re.compile(r"`([a-z_][a-z0-9_]*)`")


def cli_wording(exc: DreamwrightError, spellings: dict[str, tuple[str, str | None]]) -> str:
    """The message of ``exc`` with Python argument names respelled as CLI options (see :mod:`dreamwright.errors`)."""
    message = str(exc)

    def setting(match: re.Match[str]) -> str:
        name, value = match[1], match[2]
        if name not in spellings:
            return match[0]
        flag, negative = spellings[name]
        if value in ("True", "False"):
            return flag if value == "True" else (negative or match[0])
        if value[:1] in "'\"":
            value = value[1:-1]
        return f"{flag} {shlex.quote(value)}"

    message = _SETTING.sub(setting, message)
    message = _QUOTED_NAME.sub(lambda m: spellings[m[1]][0] if m[1] in spellings else m[0], message)
    param = exc.param
    if param in spellings and re.match(rf"{re.escape(param)}\b", message):
        message = spellings[param][0] + message[len(param):]
    return message


def _current_command() -> Any:
    """The command being run, or None outside one. Newer typer releases carry their own copy of click, whose
    context is not click's, so both are asked."""
    for getter in (getattr(typer.main, "get_current_context", None), click.get_current_context):
        context = getter(silent=True) if getter is not None else None
        if context is not None:
            return context.command
    return None


def report_error(exc: DreamwrightError) -> int:
    """Print ``exc`` as one ``error:`` line in the words of the command being run; its exit code.

    For commands that catch their own errors (they also run on bare typer apps, outside :func:`run_typer_app`).
    """
    command = _current_command()
    message = cli_wording(exc, option_spellings(command)) if command is not None else str(exc)
    typer.echo(f"error: {message}", err=True)
    return exc.exit_code


def run_typer_app(app: typer.Typer, argv: list[str] | None, prog_name: str) -> None:
    """Run ``app`` and exit: 0, the command's own code, 2 for user errors, 130 on Ctrl-C.

    A command run without the arguments it needs prints its help on stdout and exits 0.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    command = build_command(app)
    try:
        result = command(args=args, prog_name=prog_name, standalone_mode=False)
    except DreamwrightError as exc:
        typer.echo(f"error: {cli_wording(exc, option_spellings(invoked_command(command, args)))}", err=True)
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
