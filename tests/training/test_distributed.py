"""Data parallelism with torchrun + gloo on loopback: results do not depend on how many processes ran."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

ARGS = ["--hidden-size", "32", "--embedding-size", "16", "--seq-len", "16", "--batch-size", "8",
        "--eval-interval", "10", "--log-interval", "1", "--no-samples", "--quiet", "--seed", "5",
        "--eval-tokens", "1000", "--lr", "0.01", "--schedule", "constant", "--dropout", "0"]  # budget-independent lr


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return ([r["loss"] for r in rows if r["event"] == "train"], [r["val_loss"] for r in rows if r["event"] == "eval"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args: str, nproc: int = 2, extra: tuple[str, ...] = ()):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", *extra,
           "-m", "dreamwright", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    # the workers' own errors come first; torchrun's summary of which rank failed fills the end
    assert proc.returncode == 0, proc.stderr[:4000] + "\n[...]\n" + proc.stderr[-800:]
    return proc


def _single(*args: str):
    proc = subprocess.run([sys.executable, "-m", "dreamwright", *args, "--threads", "1"], capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_two_processes_match_one_and_resume_across_world_sizes(tmp_path, corpus_file):
    _single("train", str(corpus_file), "--out", str(tmp_path / "one"), "--steps", "30", *ARGS)
    _torchrun("train", str(corpus_file), "--out", str(tmp_path / "two"), "--steps", "30", *ARGS)
    _single("train", str(corpus_file), "--out", str(tmp_path / "accum"), "--steps", "30", "--grad-accum", "2", *ARGS)
    one, two, accum = _losses(tmp_path / "one"), _losses(tmp_path / "two"), _losses(tmp_path / "accum")
    assert len(one[0]) == 30 and len(one[1]) == 3
    for other in (two, accum):
        assert other[0] == pytest.approx(one[0], rel=1e-4, abs=1e-5)
        assert other[1] == pytest.approx(one[1], rel=1e-4, abs=1e-5)
    # (constant lr, so a shorter budget changes nothing before it ends)
    # a 2-process run stopped at step 20 and resumed with 1 process ends where the uninterrupted one did
    _torchrun("train", str(corpus_file), "--out", str(tmp_path / "resumed"), "--steps", "20", *ARGS)
    _single("train", "--resume", str(tmp_path / "resumed"), "--steps", "30", "--quiet")
    resumed = _losses(tmp_path / "resumed")
    assert resumed[0] == pytest.approx(one[0], rel=1e-4, abs=1e-5)
    # and resumed again with 2 processes for 10 more steps, matching a 40-step single-process run
    _single("train", str(corpus_file), "--out", str(tmp_path / "forty"), "--steps", "40", *ARGS)
    _torchrun("train", "--resume", str(tmp_path / "resumed"), "--steps", "40", "--quiet")
    assert _losses(tmp_path / "resumed")[0] == pytest.approx(_losses(tmp_path / "forty")[0], rel=1e-4, abs=1e-5)


@pytest.mark.slow
def test_two_node_rendezvous_over_loopback(tmp_path, corpus_file):
    """Two torchrun launchers ("nodes") meet through the c10d rendezvous on 127.0.0.1."""
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = []
    for node in (0, 1):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1",
               f"--node-rank={node}", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}",
               "--rdzv-id=dreamwright-test", "-m", "dreamwright", "train", str(corpus_file), "--out",
               str(tmp_path / "nodes"), "--steps", "10", *ARGS]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-2000:]
    _single("train", str(corpus_file), "--out", str(tmp_path / "single"), "--steps", "10", *ARGS)
    assert _losses(tmp_path / "nodes")[0] == pytest.approx(_losses(tmp_path / "single")[0], rel=1e-4, abs=1e-5)
