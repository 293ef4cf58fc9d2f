"""Run the examples of README.md and docs/*.md that are marked as checked, and compare their output.

A fenced block is checked when the line before its fence is ``<!-- checked -->`` (invisible on GitHub), or
``<!-- checked: OPTION, OPTION -->`` with the options ``server`` (a ``dreamwright serve`` is running at
127.0.0.1:8000 for the block) and ``env NAME`` (skipped unless NAME is set). See docs/contributing.md.

- ``console`` blocks: each ``$ COMMAND`` line (a trailing ``\\`` continues it) runs in bash, in a scratch
  folder, with ``dreamwright`` meaning ``sys.executable -m dreamwright``; its stdout and stderr, together, must
  equal the lines up to the next ``$`` line. ``…`` in an expected line matches any text within the line, and
  a line that is only ``...`` or ``…`` matches any number of lines. ``$ COMMAND &`` starts a server in the
  background (``--port 0`` is added to ``dreamwright serve``); the address it prints stands for
  127.0.0.1:8000 in the rest of the block.
- ``python`` blocks: with ``>>>`` lines they run under :mod:`doctest` (``...`` elides in the expected
  output); without, they must run without an error.

``DREAMWRIGHT_UPDATE_DOCS=1`` rewrites the expected outputs that differ, in place, instead of failing.
"""

from __future__ import annotations

import difflib
import doctest
import io
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

DOC_ADDRESS = "127.0.0.1:8000"
ELISION = "…"
ELIDED_LINES = ("...", "…")
UPDATE_ENV = "DREAMWRIGHT_UPDATE_DOCS"
COMMAND_TIMEOUT = 180.0
SERVER_START_TIMEOUT = 90.0

_MARKER = re.compile(r"^\s*<!--\s*checked\s*(?::(?P<options>.*?))?\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>```+)(?P<lang>[\w-]*)\s*$")
_ADDRESS = re.compile(r"http://(127\.0\.0\.1:\d+)/")


REPO_ROOT = Path(__file__).resolve().parent.parent


def display_path(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (``docs/serving.md``)."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


class MarkerError(ValueError):
    """A ``<!-- checked -->`` marker that is not right before a fence, or has an unknown option."""


@dataclass(frozen=True)
class Block:
    """One checked fenced block: where it is, its language, options and body (the fence's indent removed)."""

    path: Path
    fence_line: int  # 1-based line number of the opening fence
    ordinal: int  # index among the checked blocks of its file
    lang: str
    indent: str
    body: tuple[str, ...]
    server: bool = False
    needs_env: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{display_path(self.path)}:{self.fence_line}"

    def __str__(self) -> str:
        return self.where


@dataclass
class Command:
    """A ``$`` command of a console block, its expected output and where that output sits in the body."""

    text: str
    body_index: int  # index in Block.body of its first ``$`` line
    expected: list[str]
    output_start: int  # body indices [output_start, output_end) hold the expected output
    output_end: int


@dataclass
class Mismatch:
    """An example whose output differs: the command or source, the expected and the actual lines."""

    source: str
    line: int  # 1-based line in the markdown file
    expected: list[str]
    actual: list[str]
    replace: tuple[int, int] = (0, 0)  # body indices the actual output replaces (update mode)

    def report(self, block: Block) -> str:
        diff = difflib.unified_diff(self.expected, self.actual, "expected (docs)", "actual", lineterm="")
        return f"{display_path(block.path)}:{self.line}: {self.source}\n" + "\n".join(diff)


# ---------------------------------------------------------------------------------------------------- parsing


def _parse_options(text: str | None, where: str) -> dict:
    """``server`` and ``env NAME`` options of a marker, as Block fields."""
    server, needs_env = False, []
    for option in (o.strip() for o in (text or "").split(",")):
        if option == "server":
            server = True
        elif option.startswith("env ") and option[4:].strip():
            needs_env.append(option[4:].strip())
        elif option:
            raise MarkerError(f"{where}: unknown option {option!r} in a checked marker (server, env NAME)")
    return {"server": server, "needs_env": tuple(needs_env)}


def _fence_end(lines: list[str], start: int, ticks: str) -> int:
    """The index of the line closing the fence opened at ``start`` (``len(lines)`` when it is never closed)."""
    end = start + 1
    while end < len(lines) and lines[end].strip() != ticks:
        end += 1
    return end


def find_checked_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a markdown file whose fence follows a ``<!-- checked -->`` line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence:  # an unmarked block: nothing inside it is a marker (a markdown example of one, say)
            i = _fence_end(lines, i, fence["ticks"]) + 1
            continue
        marker = _MARKER.match(lines[i])
        if not marker:
            i += 1
            continue
        fence = _FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if fence is None or not fence["lang"]:
            raise MarkerError(f"{path.name}:{i + 1}: a checked marker must be right before a ``` fence with a language")
        indent, end = fence["indent"], _fence_end(lines, i + 1, fence["ticks"])
        body = tuple(line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[i + 2:end])
        options = _parse_options(marker["options"], f"{path.name}:{i + 1}")
        blocks.append(Block(path, i + 2, len(blocks), fence["lang"], indent, body, **options))
        i = end + 1
    return blocks


def parse_console(block: Block) -> list[Command]:
    """The ``$`` commands of a console block, continuation lines joined, each with its expected output."""
    commands: list[Command] = []
    i = 0
    while i < len(block.body):
        line = block.body[i]
        if not line.startswith("$ "):
            if not commands and line.strip():
                raise MarkerError(f"{block.where}: a checked console block starts with a `$ ` line, not {line!r}")
            i += 1
            continue
        start, text = i, line[2:]
        while text.endswith("\\") and i + 1 < len(block.body):
            i += 1
            text = text[:-1].rstrip() + " " + block.body[i].strip()
        i += 1
        output_start = i
        while i < len(block.body) and not block.body[i].startswith("$ "):
            i += 1
        expected = _trim_blank_tail([line.rstrip() for line in block.body[output_start:i]])
        commands.append(Command(text.strip(), start, expected, output_start, output_start + len(expected)))
    return commands


def is_background(command: str) -> bool:
    """``COMMAND &``: started in the background."""
    return command.endswith("&") and not command.endswith("&&")


def _trim_blank_tail(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


# --------------------------------------------------------------------------------------------------- matching


def _line_pattern(expected: str) -> str:
    return "[^\n]*".join(re.escape(part) for part in expected.split(ELISION)) + "\n"


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` equals ``expected``, with ``…`` eliding text in a line and ``...`` whole lines."""
    pattern = "".join("(?:[^\n]*\n)*?" if line.strip() in ELIDED_LINES else _line_pattern(line) for line in expected)
    return re.fullmatch(pattern, "".join(line + "\n" for line in actual)) is not None


def _line_matches(expected: str, actual: str) -> bool:
    return re.fullmatch(_line_pattern(expected), actual + "\n") is not None


def merge_output(expected: list[str], actual: list[str]) -> list[str]:
    """``actual``, keeping the expected lines (and their elisions) that still match: the update mode's output."""
    n, m = len(expected), len(actual)
    best = [[0] * (m + 1) for _ in range(n + 1)]  # most lines kept aligning expected[i:] with actual[j:]
    for i in range(n - 1, -1, -1):
        for j in range(m, -1, -1):
            if expected[i].strip() in ELIDED_LINES:
                best[i][j] = max(best[i + 1][j] + 1, best[i][j + 1] if j < m else 0)
                continue
            options = [best[i + 1][j], best[i][j + 1] if j < m else 0]
            if j < m and _line_matches(expected[i], actual[j]):
                options.append(best[i + 1][j + 1] + 1)
            best[i][j] = max(options)
    elided_lines = [line for line in expected if ELISION in line]
    merged, i, j = [], 0, 0
    while i < n or j < m:
        elided = i < n and expected[i].strip() in ELIDED_LINES
        if elided and j < m and best[i][j] == best[i][j + 1]:
            j += 1  # the elision absorbs this line
        elif elided:
            merged.append(expected[i])
            i += 1
        elif i < n and j < m and _line_matches(expected[i], actual[j]) and best[i][j] == best[i + 1][j + 1] + 1:
            merged.append(expected[i])
            i, j = i + 1, j + 1
        elif i < n and best[i][j] == best[i + 1][j]:
            i += 1  # an expected line with no counterpart: dropped
        else:
            merged.append(_reelide(actual[j], elided_lines))
            j += 1
    return merged


def _reelide(actual: str, elided_lines: list[str]) -> str:
    """``actual`` with the volatile bits an expected line elided (``"id":"cmpl-…"``) elided again."""
    for expected in elided_lines:
        parts = expected.split(ELISION)
        result, start = actual, 0
        for before, after in zip(parts, parts[1:], strict=False):
            anchor = before[-12:]
            at = result.find(anchor, start) if anchor else -1
            if at < 0:
                break
            begin = at + len(anchor)
            end = result.find(after[:1], begin) if after else len(result)
            end = len(result) if end < 0 else end
            result, start = result[:begin] + ELISION + result[end:], begin + 1
        if result != actual:
            return result
    return actual


# ---------------------------------------------------------------------------------------------------- running


def _write_bin(folder: Path) -> Path:
    """A folder with ``dreamwright`` (= ``sys.executable -m dreamwright``) and ``python``/``python3``."""
    folder.mkdir(parents=True, exist_ok=True)
    python = shlex.quote(sys.executable)
    scripts = {"dreamwright": f'exec {python} -m dreamwright "$@"', "python": f'exec {python} "$@"'}
    scripts["python3"] = scripts["python"]
    for name, line in scripts.items():
        script = folder / name
        script.write_text(f"#!/bin/sh\n{line}\n", encoding="utf-8")
        script.chmod(0o755)
    return folder


@dataclass
class Background:
    """A server started by a ``$ … &`` line: its process, the lines it printed so far and its address."""

    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    address: str | None = None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class ConsoleSession:
    """Runs a block's commands in one scratch folder, substituting the address of the block's server."""

    def __init__(self, workdir: Path, address: str | None = None) -> None:
        self.workdir = workdir
        self.address = address
        self.background: list[Background] = []
        bin_dir = _write_bin(workdir.parent / f"{workdir.name}-bin")
        inherited = {name: value for name, value in os.environ.items() if name != "DREAMWRIGHT_API_KEY"}
        self.env = {**inherited, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                    "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1", "TERM": "dumb",
                    "COLUMNS": "120"}

    def to_real(self, text: str) -> str:
        return text.replace(DOC_ADDRESS, self.address) if self.address else text

    def to_doc(self, text: str) -> str:
        return text.replace(self.address, DOC_ADDRESS) if self.address else text

    def run(self, command: str) -> list[str]:
        """The output lines (stdout and stderr together, trailing whitespace stripped) of one command."""
        if is_background(command):
            return self.start_background(command[:-1].strip())
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", self.to_real(command)], cwd=self.workdir,
                              env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              encoding="utf-8", errors="replace", timeout=COMMAND_TIMEOUT)
        return self._lines(proc.stdout)

    def _lines(self, text: str) -> list[str]:
        return _trim_blank_tail([self.to_doc(line).rstrip() for line in text.splitlines()])

    def start_background(self, command: str) -> list[str]:
        """Start a server, wait until it accepts connections; the lines it printed by then."""
        words = shlex.split(command)
        if words[:2] == ["dreamwright", "serve"] and "--port" not in words:
            command += " --port 0"
        process = subprocess.Popen(["bash", "-c", "exec " + command], cwd=self.workdir, env=self.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                   errors="replace", start_new_session=True)
        server = Background(process)
        self.background.append(server)
        printed: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_pump, args=(process.stdout, server.lines, printed), daemon=True).start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while server.address is None:
            try:
                found = _ADDRESS.search(printed.get(timeout=0.2))
                server.address = found[1] if found else None
            except queue.Empty:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"`{command}` did not start a server:\n" + "\n".join(server.lines)) from None
        _wait_accepting(server.address, deadline)
        time.sleep(0.2)  # the log lines printed with the address
        self.address = server.address
        return self._lines("\n".join(server.lines))

    def close(self) -> None:
        for server in self.background:
            server.stop()


def _pump(stream: io.TextIOBase, lines: list[str], printed: queue.Queue[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))
        printed.put(line)


def _wait_accepting(address: str, deadline: float) -> None:
    """Wait until ``HOST:PORT`` accepts a TCP connection (no HTTP request, so no request is counted)."""
    host, port = address.rsplit(":", 1)
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing accepts connections at {address}") from None
            time.sleep(0.05)


@contextmanager
def console_session(workdir: Path, address: str | None = None) -> Iterator[ConsoleSession]:
    """A :class:`ConsoleSession` whose background servers are stopped on exit."""
    session = ConsoleSession(workdir, address)
    try:
        yield session
    finally:
        session.close()


@contextmanager
def shared_server(workdir: Path) -> Iterator[str]:
    """``dreamwright serve`` (the bundled model) on a free port; yields its ``HOST:PORT``."""
    with console_session(workdir) as session:
        session.start_background("dreamwright serve")
        yield session.address


def run_console_block(block: Block, workdir: Path, address: str | None = None) -> list[Mismatch]:
    """Run every command of a console block; the ones whose output differs."""
    mismatches = []
    with console_session(workdir, address) as session:
        for command in parse_console(block):
            actual = session.run(command.text)
            if not output_matches(command.expected, actual):
                mismatches.append(Mismatch(f"$ {command.text}", block.fence_line + 1 + command.body_index,
                                           command.expected, actual, (command.output_start, command.output_end)))
    return mismatches


class _AddressChecker(doctest.OutputChecker):
    """doctest's checker, reading the server's real address as the documented one."""

    def __init__(self, address: str | None) -> None:
        self.address = address

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        got = got.replace(self.address, DOC_ADDRESS) if self.address else got
        return super().check_output(want, got, optionflags)


class _CollectingRunner(doctest.DocTestRunner):
    """A doctest runner that records each failing example instead of printing it."""

    def __init__(self, address: str | None) -> None:
        super().__init__(checker=_AddressChecker(address), optionflags=doctest.ELLIPSIS)
        self.address = address
        self.failed: list[tuple[doctest.Example, str]] = []

    def report_failure(self, out, test, example, got) -> None:
        got = got.replace(self.address, DOC_ADDRESS) if self.address else got
        self.failed.append((example, got))

    def report_unexpected_exception(self, out, test, example, exc_info) -> None:
        self.failed.append((example, "".join(traceback.format_exception(*exc_info))))


def run_python_block(block: Block, workdir: Path, address: str | None = None) -> list[Mismatch]:
    """Run a python block (doctest when it has ``>>>`` lines, plainly otherwise); the examples that differ."""
    source = "\n".join(block.body) + "\n"
    if address:
        source = source.replace(DOC_ADDRESS, address)
    cwd = Path.cwd()
    os.chdir(workdir)
    try:
        if not any(line.lstrip().startswith(">>>") for line in block.body):
            exec(compile(source, block.where, "exec"), {"__name__": "__docs__"})
            return []
        test = doctest.DocTestParser().get_doctest(source, {"__name__": "__docs__"}, block.where,
                                                    str(block.path), block.fence_line)
        runner = _CollectingRunner(address)
        with redirect_stdout(io.StringIO()):
            runner.run(test, clear_globs=True)
    finally:
        os.chdir(cwd)
    mismatches = []
    for example, got in runner.failed:
        want_start = example.lineno + example.source.count("\n")
        want = example.want.splitlines()
        mismatches.append(Mismatch(">>> " + example.source.splitlines()[0], block.fence_line + 1 + example.lineno,
                                   want, got.rstrip("\n").splitlines(), (want_start, want_start + len(want))))
    return mismatches


def run_block(block: Block, workdir: Path, address: str | None = None) -> list[Mismatch]:
    """Run a checked block of any supported language; the examples whose output differs."""
    runners = {"console": run_console_block, "python": run_python_block, "pycon": run_python_block}
    if block.lang not in runners:
        raise MarkerError(f"{block.where}: checked blocks are console or python, not {block.lang!r}")
    return runners[block.lang](block, workdir, address)


# --------------------------------------------------------------------------------------------------- updating


def update_block(block: Block, mismatches: list[Mismatch]) -> None:
    """Rewrite the expected outputs of ``mismatches`` in the block's file (found again by its ordinal)."""
    body = list(block.body)
    for mismatch in sorted(mismatches, key=lambda m: m.replace, reverse=True):
        start, end = mismatch.replace
        body[start:end] = merge_output(mismatch.expected, mismatch.actual)
    current = {b.ordinal: b for b in find_checked_blocks(block.path)}[block.ordinal]
    if current.body != block.body:
        raise AssertionError(f"{block.where} changed while the test ran; run it again")
    lines = block.path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = current.fence_line  # 0-based index of the first body line
    new = [(block.indent + line if line else line) + "\n" for line in body]
    lines[first:first + len(current.body)] = new
    block.path.write_text("".join(lines), encoding="utf-8")


def update_requested() -> bool:
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")
