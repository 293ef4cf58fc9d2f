"""The shape the code keeps: short functions, and few parameters outside the CLI's commands.

A CLI command function takes one parameter per option (typer reads them), so only its length is bounded;
everything else that needs more than a dozen inputs takes a request or plan object instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dreamwright"
MAX_LINES = 100
MAX_PARAMS = 12


def functions(root: Path):
    """``(path, node)`` for every function and method under ``root``."""
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, node


def is_cli_command(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A typer command: its parameters are declared as ``typer.Option``/``typer.Argument``."""
    args = node.args
    return any(a.annotation is not None and ("typer.Option" in ast.unparse(a.annotation)
                                             or "typer.Argument" in ast.unparse(a.annotation))
               for a in (*args.args, *args.kwonlyargs))


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    return len(names) - (1 if names and names[0] in ("self", "cls") else 0)


def test_no_function_is_longer_than_100_lines():
    long = [f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path, node in functions(SRC) if node.end_lineno - node.lineno + 1 > MAX_LINES]
    assert not long, "split these:\n" + "\n".join(long)


def test_only_cli_commands_take_more_than_12_parameters():
    wide = [f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({parameter_count(node)} parameters)"
            for path, node in functions(SRC) if parameter_count(node) > MAX_PARAMS and not is_cli_command(node)]
    assert not wide, "give these a request or plan object:\n" + "\n".join(wide)


def test_the_checks_see_what_they_should():
    """The walk finds the CLI commands and measures a known function, so an empty pass means something."""
    found = {(path.name, node.name): node for path, node in functions(SRC)}
    assert is_cli_command(found["cli.py", "generate"]) and is_cli_command(found["cli.py", "poem"])
    assert parameter_count(found["cli.py", "generate"]) > MAX_PARAMS  # one parameter per option
    assert not is_cli_command(found["devices.py", "resolve_device"])
    assert parameter_count(found["devices.py", "resolve_device"]) == 1
