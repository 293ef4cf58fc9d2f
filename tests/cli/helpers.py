"""Running the installed ``dreamwright`` console script, and what every CLI error must look like."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def dreamwright_script() -> str:
    """The ``dreamwright`` console script installed next to this Python (``pip install -e .`` puts it there)."""
    sibling = Path(sys.executable).with_name("dreamwright")
    found = str(sibling) if sibling.is_file() else shutil.which("dreamwright")
    if found is None:
        raise AssertionError("the dreamwright console script is not installed; run `pip install -e .` first")
    return found


def run_dreamwright(*args: str, input: str | None = None, cwd: Path | None = None, timeout: float = 120,
                    env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``dreamwright ARGS`` in a subprocess (text mode, UTF-8); returns the CompletedProcess.
    ``env`` is laid over this process's environment; a name set to None is removed from it."""
    merged = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    full_env = {name: value for name, value in merged.items() if value is not None}
    return subprocess.run([dreamwright_script(), *args], input=input, capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, timeout=timeout, env=full_env)


def run_dreamwright_each(*commands: Sequence[str], cwd: Path | None = None, timeout: float = 120,
                         env: dict | None = None) -> list[subprocess.CompletedProcess]:
    """Run independent ``dreamwright`` commands (each a list of arguments) side by side, one per CPU core: most of
    each one's time is starting Python and PyTorch. Their CompletedProcesses, in the order given."""
    workers = max(1, min(len(commands), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda args: run_dreamwright(*args, cwd=cwd, timeout=timeout, env=env), commands))


def offline_env(tmp_path: Path) -> dict[str, str | None]:
    """An environment as after a plain install with no network: an empty cache, no data mirror, and a proxy
    that refuses every connection."""
    return {"DREAMWRIGHT_CACHE": str(tmp_path / "empty-cache"), "DREAMWRIGHT_DATA": None,
            "HTTPS_PROXY": "http://127.0.0.1:9"}


def stderr_lines(proc: subprocess.CompletedProcess) -> list[str]:
    """The non-blank lines the command wrote to stderr."""
    return [line for line in proc.stderr.splitlines() if line.strip()]


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str, code: int = 2) -> None:
    """Exit ``code``, no traceback, and exactly one ``error: …`` line on stderr containing every needle."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = stderr_lines(proc)
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
