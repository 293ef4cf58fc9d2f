"""The package's import graph, read statically: no cycles, and the lower layers never import the upper ones.

Every ``import``/``from … import`` anywhere in a module counts (inside functions too), except those under
``if TYPE_CHECKING:``, which never run. A package's ``__init__`` is its own node (``dreamwright.poetry``),
separate from its modules (``dreamwright.poetry.train``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "dreamwright"
#: these never import, directly or through other modules, any of UPPER
LOWER = ("models", "decoding", "data", "tokenizers", "generation", "devices")
UPPER = ("training", "serve", "poetry", "cli")


def module_names(root: Path, package: str) -> dict[str, Path]:
    """``{dotted name: path}`` of every module under ``root/package``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Import nodes of ``tree``, skipping ``if TYPE_CHECKING:`` bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}``."""
    modules = module_names(root, package)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                if target == package or target.startswith(package + "."):
                    resolved = resolve(target)
                    if resolved and resolved != name:
                        edges.add(resolved)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, …, a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def reachable(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """``{module: the module that first imported it}`` for everything ``start`` imports, directly or not."""
    via: dict[str, str] = {}
    todo = [start]
    while todo:
        node = todo.pop()
        for nxt in graph.get(node, ()):
            if nxt not in via and nxt != start:
                via[nxt] = node
                todo.append(nxt)
    return via


def _in(module: str, layers: tuple[str, ...]) -> bool:
    return any(module == f"{PACKAGE}.{layer}" or module.startswith(f"{PACKAGE}.{layer}.") for layer in layers)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(SRC, PACKAGE)


def test_the_package_has_no_import_cycle(graph):
    assert len(graph) > 40 and "dreamwright.training.trainer" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_lower_layers_never_import_upper_ones(graph):
    lower = [m for m in graph if _in(m, LOWER)]
    for layer in ("models", "data", "generation", "decoding"):
        assert any(m.startswith(f"dreamwright.{layer}.") for m in lower), layer
    problems = []
    for module in lower:
        via = reachable(graph, module)
        for target in sorted(t for t in via if _in(t, UPPER)):
            chain = [target]
            while chain[-1] != module:
                chain.append(via[chain[-1]])
            problems.append(" -> ".join(reversed(chain)))
    assert not problems, "layering broken:\n" + "\n".join(problems)


def test_run_loading_and_the_version_sit_below_their_users(graph):
    assert "dreamwright.training.checkpoint" not in graph["dreamwright.generation.generator"]
    assert "dreamwright" not in graph["dreamwright.training.trainer"]  # the version comes from _version
    assert not _in("dreamwright.runs", UPPER) and not any(_in(t, UPPER) for t in reachable(graph, "dreamwright.runs"))


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_finds_cycles_through_function_level_and_relative_imports(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "def f():\n    from pkg.b import g\n",
        "pkg/b.py": "from . import c\n",
        "pkg/c.py": "import pkg.a\n",
        "pkg/sub/__init__.py": "from .x import y\n",
        "pkg/sub/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub import z\n",
    })
    g = import_graph(tmp_path, "pkg")
    assert g["pkg.a"] == {"pkg.b"} and g["pkg.b"] == {"pkg.c"} and g["pkg.sub"] == {"pkg.sub.x"}
    assert g["pkg.sub.x"] == set()  # TYPE_CHECKING imports never run
    assert find_cycle(g) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    _write(tmp_path, {"pkg/c.py": "import pkg\n"})  # the package's __init__ is its own node
    g = import_graph(tmp_path, "pkg")
    assert g["pkg.c"] == {"pkg"} and find_cycle(g) is None
    via = reachable(g, "pkg.a")
    assert set(via) == {"pkg.b", "pkg.c", "pkg"} and via["pkg"] == "pkg.c"


def test_the_cli_starts_without_torch():
    """``dreamwright --help`` and the decoding defaults must not pay for importing torch (seconds)."""
    import subprocess
    import sys

    code = ("import sys, dreamwright.cli, dreamwright.decoding.defaults; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_drawing_sits_below_the_cli_and_the_server(graph):
    """``dreamwright.image.draw`` (the Drawer behind ``draw``, ``load`` and the server) needs only the lower
    layers, run loading and the bundled models, and the server and ``dreamwright.load`` reach it."""
    assert "dreamwright.image.draw" in graph
    via = reachable(graph, "dreamwright.image.draw")
    # not the CLI, training or the server, nor style transfer and DeepDream (which import training's knobs)
    image_tools = {"dreamwright.image", "dreamwright.image.style", "dreamwright.image.dream",
                   "dreamwright.image.backbones", "dreamwright.image.cli"}
    upper = sorted(t for t in via if _in(t, UPPER) or t in image_tools)
    assert not upper, f"dreamwright.image.draw imports {upper}"
    assert "dreamwright.image.draw" in reachable(graph, "dreamwright.serve.app")
    assert "dreamwright.image.draw" in graph["dreamwright"]


def test_importing_the_drawer_costs_no_torch():
    """The CLI checks ``draw``'s options before loading a model: importing the module must not import torch."""
    import subprocess
    import sys

    code = "import sys, dreamwright.image.draw; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
