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
    """``(path, node, option aliases)`` for every function and method under ``root``; the aliases are the
    module's names for ``Annotated[..., typer.Option(...)]`` types."""
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {target.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                   for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                   if isinstance(target, ast.Name) and node.value is not None and _declares_option(node.value)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, node, aliases


def _declares_option(expr: ast.expr) -> bool:
    text = ast.unparse(expr)
    return "typer.Option" in text or "typer.Argument" in text


def is_cli_command(node: ast.FunctionDef | ast.AsyncFunctionDef, aliases: set[str] = frozenset()) -> bool:
    """A typer command: its parameters are declared as ``typer.Option``/``typer.Argument`` (or as a module-level
    alias of one)."""
    args = node.args
    return any(a.annotation is not None and (_declares_option(a.annotation) or ast.unparse(a.annotation) in aliases)
               for a in (*args.args, *args.kwonlyargs))


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    return len(names) - (1 if names and names[0] in ("self", "cls") else 0)


def test_no_function_is_longer_than_100_lines():
    long = [f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path, node, _ in functions(SRC) if node.end_lineno - node.lineno + 1 > MAX_LINES]
    assert not long, "split these:\n" + "\n".join(long)


def test_only_cli_commands_take_more_than_12_parameters():
    wide = [f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({parameter_count(node)} parameters)"
            for path, node, aliases in functions(SRC)
            if parameter_count(node) > MAX_PARAMS and not is_cli_command(node, aliases)]
    assert not wide, "give these a request or plan object:\n" + "\n".join(wide)


def test_the_checks_see_what_they_should():
    """The walk finds the CLI commands and measures a known function, so an empty pass means something."""
    found = {(path.parent.name, path.name, node.name): (node, aliases) for path, node, aliases in functions(SRC)}
    for key in [("dreamwright", "cli.py", "generate"), ("poetry", "cli.py", "poem"), ("image", "cli.py", "style")]:
        assert is_cli_command(*found[key]), key
    assert parameter_count(found["dreamwright", "cli.py", "generate"][0]) > MAX_PARAMS  # one per option
    assert not is_cli_command(*found["dreamwright", "devices.py", "resolve_device"])
    assert parameter_count(found["dreamwright", "devices.py", "resolve_device"][0]) == 1
