"""After ``pip install``, ``dreamwright poem`` and ``dreamwright dream`` need no network, no mirror and no cache.

They run as the installed console script, in a fresh home with empty cache folders, ``DREAMWRIGHT_DATA`` unset
and every proxy pointing at a closed port, so any download would fail; nothing may be written to the caches.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image


def _console_script() -> str:
    script = Path(sys.executable).with_name("dreamwright")
    found = str(script) if script.is_file() else shutil.which("dreamwright")
    if found is None:
        pytest.fail("the dreamwright console script is not installed: pip install -e .")
    return found


def _run_offline(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DREAMWRIGHT_", "XDG_", "TORCH_"))}
    closed = "http://127.0.0.1:9"  # the discard port: connections are refused
    env.update(
        HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), TORCH_HOME=str(home / "torch"),
        http_proxy=closed, https_proxy=closed, HTTP_PROXY=closed, HTTPS_PROXY=closed, no_proxy="", NO_PROXY="",
        OMP_NUM_THREADS="1",
    )
    out = subprocess.run([_console_script(), *args], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert [p for p in home.rglob("*") if p.is_file()] == []  # nothing downloaded or cached
    return out


def test_poem_works_offline_with_a_fresh_cache(tmp_path):
    out = _run_offline(tmp_path / "home", "poem", "--form", "五绝", "--seed", "1")
    lines = out.stdout.splitlines()
    assert len(lines) == 5 and all(len(line.split()[0]) == 6 for line in lines[:4])  # 5 characters + ，/。
    assert "韵部" in lines[4]


def test_dream_works_offline_with_a_fresh_cache_and_says_which_backbone(tmp_path):
    image = tmp_path / "in.png"
    Image.new("RGB", (40, 30), (200, 120, 40)).save(image)
    result = tmp_path / "dream.jpg"
    out = _run_offline(
        tmp_path / "home", "dream", str(image), "-o", str(result), "--size", "32", "--octaves", "1", "--steps", "2",
        "--device", "cpu", "--seed", "0",
    )
    assert out.stderr.splitlines()[0].startswith("backbone: efficientnet-lite0 (works offline;")
    assert out.stdout.strip() == str(result)
    with Image.open(result) as written:
        assert written.format == "JPEG" and written.size == (32, 24)
