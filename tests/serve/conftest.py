"""Fixtures for the server tests: a tiny model trained once, a real `dreamwright serve` subprocess, and
in-process uvicorn servers with custom limits."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

LINES = [
    "ROMEO: the cat sat on the mat, and the dog ran after the fox.",
    "JULIET: a quick brown fox jumps over the lazy dog in the sun.",
    "ROMEO: what light through yonder window breaks? it is the east.",
    "JULIET: the moon and the stars were on the hill at night.",
]
STARTUP_TIMEOUT = 90.0


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny char-level LSTM, trained once per session (a few seconds on a CPU)."""
    import dreamwright

    root = tmp_path_factory.mktemp("serve-model")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(LINES[i % len(LINES)] for i in range(400)) + "\n", encoding="utf-8")
    result = dreamwright.train(
        str(corpus),
        root / "tiny",
        steps=30,
        hidden_size=32,
        embedding_size=16,
        seq_len=32,
        batch_size=8,
        eval_interval=30,
        samples=False,
        quiet=True,
        seed=0,
        threads=1,
    )
    return Path(result.run_dir)


@pytest.fixture(scope="session")
def tiny_gpt_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny char-level GPT with a context of 32 tokens, trained for a few steps."""
    import dreamwright

    root = tmp_path_factory.mktemp("serve-gpt")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(LINES[i % len(LINES)] for i in range(200)) + "\n", encoding="utf-8")
    result = dreamwright.train(str(corpus), root / "gpt", model="gpt", n_layer=1, n_head=2, n_embd=16, block_size=32,
                               seq_len=32, batch_size=8, steps=10, eval_interval=10, samples=False, quiet=True, seed=0,
                               threads=1)
    return Path(result.run_dir)


@pytest.fixture(scope="session")
def tiny_generator(tiny_run: Path):
    from dreamwright.generation.generator import Generator

    g = Generator.load(tiny_run, device="cpu")
    g.name = "tiny"
    return g


@dataclass
class LiveServer:
    url: str
    proc: subprocess.Popen
    log: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


def _pump(stream, lines: list[str], found: queue.Queue) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))
        m = re.search(r"dreamwright serve: .* at (http://[\d.]+:\d+)/", line)
        if m:
            found.put(m.group(1))


def wait_healthy(url: str, timeout: float = STARTUP_TIMEOUT, headers: dict | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2.0, headers=headers).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server at {url} did not become healthy in {timeout} s")


def wait_for_url(proc: subprocess.Popen, found: queue.Queue, lines: list[str]) -> str:
    """The URL a starting server prints, or a failure with its output when it exits or hangs."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            return found.get(timeout=0.2)
        except queue.Empty:
            if proc.poll() is not None:
                time.sleep(0.2)  # let the pump read the last lines
                break
    proc.kill()
    raise AssertionError("the server did not start:\n" + "\n".join(lines))


def start_server_process(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str, list[str]]:
    """Start ``python -m dreamwright.serve ARGS`` (= ``dreamwright serve``) and wait for the URL it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dreamwright.serve", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    found: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stderr, lines, found), daemon=True).start()
    return proc, wait_for_url(proc, found, lines), lines


def stop_server_process(proc: subprocess.Popen) -> int:
    """SIGTERM (graceful shutdown), then its exit status; killed if it hangs."""
    proc.terminate()
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


@pytest.fixture(scope="session")
def live_server(tiny_run: Path) -> Iterator[LiveServer]:
    """``python -m dreamwright.serve tiny=RUN --port 0`` in a subprocess: default limits, no auth or CORS."""
    env = {k: v for k, v in os.environ.items() if k != "DREAMWRIGHT_API_KEY"}
    proc, url, lines = start_server_process([f"tiny={tiny_run}", "--port", "0", "--threads", "1"], env)
    server = LiveServer(url, proc, lines)
    try:
        wait_healthy(url)
        yield server
    finally:
        stop_server_process(proc)


@dataclass
class ThreadServer:
    url: str
    server: object
    thread: threading.Thread
    app: object

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


@contextlib.contextmanager
def serve_in_thread(generators, **settings) -> Iterator[ThreadServer]:
    """An in-process uvicorn server on a free loopback port, with the given ServeSettings fields."""
    import uvicorn

    from dreamwright.serve import ServeSettings, create_app

    s = ServeSettings(port=0, **settings)
    app = create_app(generators, s)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=int(s.shutdown_timeout) + 1,
    )
    server = uvicorn.Server(config)
    sock = config.bind_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the in-process server did not start")
        time.sleep(0.02)
    try:
        yield ThreadServer(url, server, thread, app)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="session")
def thread_server():
    """The :func:`serve_in_thread` context manager, for tests that need their own limits."""
    return serve_in_thread


@pytest.fixture(scope="session")
def healthy():
    """The :func:`wait_healthy` helper."""
    return wait_healthy


@pytest.fixture(scope="session")
def server_process():
    """The :func:`start_server_process` and :func:`stop_server_process` helpers."""
    return start_server_process, stop_server_process


@pytest.fixture(scope="session")
def audio_generator(tmp_path_factory: pytest.TempPathFactory):
    """A tiny random audio run (WaveNet over μ-law; labels 0…9, speakers jackson and theo), named ``digits``."""
    from dreamwright.generation.generator import Generator
    from tests.audio_helpers import make_audio_run

    return Generator.load(make_audio_run(tmp_path_factory.mktemp("audio-model") / "digits"), device="cpu")
