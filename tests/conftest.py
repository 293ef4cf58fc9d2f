"""Shared fixtures: small corpora the tests write themselves, and tiny trained runs."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# timing on a shared 2-core machine is not what these tests are about
settings.register_profile("dreamwright", deadline=None)
settings.load_profile("dreamwright")

# keep the tests' encoded-corpus cache out of the user's cache directory
# a relative mirror path (as in the README's test command) must survive subprocesses started elsewhere
if os.environ.get("DREAMWRIGHT_DATA"):
    os.environ["DREAMWRIGHT_DATA"] = os.path.abspath(os.environ["DREAMWRIGHT_DATA"])
_TMP = os.environ.get("TMPDIR", "/tmp")
os.environ.setdefault("DREAMWRIGHT_CACHE", os.path.join(_TMP, f"dw-test-cache-{os.getpid()}"))

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "to", "red", "big", "house", "and", "then"]
TINY_MODEL = dict(hidden_size=32, embedding_size=16, seq_len=32, batch_size=8, samples=False, quiet=True,
                  eval_tokens=2000, threads=1)


def make_text(n_lines: int = 400, seed: int = 0) -> str:
    """A small structured text: short sentences from a tiny vocabulary (a model can learn it quickly)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        n = rng.randint(3, 8)
        lines.append(" ".join(rng.choice(WORDS) for _ in range(n)) + ".")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, corpus_file) -> Path:
    """A tiny char-level LSTM trained for a few steps (shared by generation and CLI tests)."""
    import dreamwright

    out = tmp_path_factory.mktemp("runs") / "tiny"
    dreamwright.train(corpus_file, out, steps=40, eval_interval=20, seed=0, **TINY_MODEL)
    return out


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120, env: dict | None = None):
    """Run ``python -m dreamwright ARGS`` in a subprocess; returns the CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "dreamwright", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=full_env)


def metrics_events(run_dir, event: str) -> list[dict]:
    """The ``event`` lines ("train", "eval", ...) of a run's metrics.jsonl."""
    import json

    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["event"] == event]


def kill_after_eval(args: list[str], run_dir: Path, step: int, timeout: float = 120) -> None:
    """Start ``args`` (a training command writing ``run_dir``) and SIGKILL it once it has evaluated at ``step``
    or later (its checkpoint written); asserts it was still running."""
    import json
    import signal
    import time

    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    metrics = Path(run_dir) / "metrics.jsonl"
    while time.time() < deadline:
        if metrics.exists() and any(json.loads(line).get("event") == "eval" and json.loads(line)["step"] >= step
                                    for line in metrics.read_text().splitlines() if line.endswith("}")):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"


@pytest.fixture(scope="session")
def echo_bot_run(tmp_path_factory) -> Path:
    """A tiny seq2seq chatbot (``say pink`` → ``pink pink!``; tests/chatbot.py), trained once per session."""
    from tests.chatbot import train_echo_bot

    return train_echo_bot(tmp_path_factory.mktemp("echo-bot"))


#: a tiny WaveNet for audio tests (receptive field 16 samples)
TINY_WAVENET = dict(model="wavenet", residual_channels=8, dilation_channels=8, skip_channels=16, max_dilation=8,
                    dilation_cycles=1, seq_len=200, batch_size=4, samples=False, quiet=True, threads=1,
                    eval_interval=10, log_interval=1, lr=1e-2, schedule="constant", warmup_steps=0)


def write_tones(root: Path, labels=("0", "1", "2"), speakers=("ann", "bob"), per=6, rate: int = 8000) -> Path:
    """``root/<speaker>/<label>/k.wav``: short tones whose pitch is the label and whose loudness is the speaker."""
    import numpy as np

    from dreamwright.data.audio import write_wav

    for s, speaker in enumerate(speakers):
        for label in labels:
            for k in range(per):
                t = np.arange(int(rate * (0.08 + 0.01 * k))) / rate
                tone = (0.3 + 0.3 * s) * np.sin(2 * np.pi * 250 * (1 + int(label)) * t)
                (root / speaker / label).mkdir(parents=True, exist_ok=True)
                write_wav(root / speaker / label / f"{k}.wav", tone.astype(np.float32), rate)
    return root


@pytest.fixture(scope="session")
def tone_folder(tmp_path_factory) -> Path:
    return write_tones(tmp_path_factory.mktemp("tones") / "tones")


@pytest.fixture(scope="session")
def audio_run(tmp_path_factory, tone_folder) -> Path:
    """A tiny WaveNet trained for a few steps on the tones (shared by the audio CLI and generation tests)."""
    import dreamwright

    out = tmp_path_factory.mktemp("runs") / "tones-wavenet"
    dreamwright.train(tone_folder, out, steps=30, seed=0, **TINY_WAVENET)
    return out
