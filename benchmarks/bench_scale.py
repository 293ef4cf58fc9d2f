"""Benchmark for scaling out: DDP equivalence and throughput, and encoding a corpus far larger than memory.

1. Equivalence: one process with global batch B vs two gloo processes with B/2 each (same seed, same data
   order): the largest difference between their training-loss curves.
2. Throughput: tokens/s of the default char LSTM with 1 process vs 2 processes (1 thread each).
3. Large corpus: generate a text file of ``--gb`` GB, encode it (MB/s, peak RSS of the encoding process),
   encode it again (cache hit), and train a few steps on it (peak RSS).

Usage: python benchmarks/bench_scale.py [--gb 2] [--workdir /tmp/dw-scale]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

TINY = ["--hidden-size", "64", "--embedding-size", "32", "--seq-len", "64", "--batch-size", "16",
        "--log-interval", "1", "--no-samples", "--quiet", "--seed", "1", "--schedule", "constant", "--dropout", "0"]


def run(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS of its process tree in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, **(env or {})})
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return time.perf_counter() - t, max(peak, before) / 1024


def losses(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["event"] == "train"]


def tokens_per_s(run_dir: Path) -> float:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rates = [r["tokens_per_s"] for r in rows if r["event"] == "train" and r["tokens_per_s"] > 0]
    return sum(rates[len(rates) // 2:]) / max(1, len(rates[len(rates) // 2:]))


def generate_corpus(path: Path, gigabytes: float) -> None:
    rng = random.Random(0)
    words = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))) for _ in range(5000)]
    block = "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(5, 15))) + "." for _ in range(20000))
    block = (block + "\n").encode()
    target = int(gigabytes * 2**30)
    with open(path, "wb") as f:
        written = 0
        while written < target:
            f.write(block)
            written += len(block)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--workdir", default="/tmp/dw-scale")
    ap.add_argument("--corpus", default="shakespeare")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    results: dict = {}

    # 1. equivalence
    run([py, "-m", "dreamwright", "train", args.corpus, "--out", str(work / "one"), "--force", "--steps", "50",
         "--eval-interval", "50", "--threads", "1", *TINY])
    run([py, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "dreamwright", "train",
         args.corpus, "--out", str(work / "two"), "--force", "--steps", "50", "--eval-interval", "50", *TINY],
        env={"OMP_NUM_THREADS": "1"})
    a, b = losses(work / "one"), losses(work / "two")
    results["equivalence_max_abs_diff"] = max(abs(x - y) for x, y in zip(a, b, strict=True))
    results["equivalence_steps"] = len(a)

    # 2. throughput, default preset, 1 vs 2 processes with one thread each
    common = ["--steps", "60", "--eval-interval", "1000", "--no-samples", "--quiet", "--log-interval", "5"]
    run([py, "-m", "dreamwright", "train", args.corpus, "--out", str(work / "tp1"), "--force", "--threads", "1",
         *common])
    run([py, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "dreamwright", "train",
         args.corpus, "--out", str(work / "tp2"), "--force", *common], env={"OMP_NUM_THREADS": "1"})
    results["tokens_per_s_1proc"] = tokens_per_s(work / "tp1")
    results["tokens_per_s_2proc"] = tokens_per_s(work / "tp2")

    # 3. large corpus
    big = work / "big.txt"
    if not big.exists() or big.stat().st_size < args.gb * 2**30:
        generate_corpus(big, args.gb)
    size_mb = big.stat().st_size / 2**20
    cache = {"DREAMWRIGHT_CACHE": str(work / "cache")}
    subprocess.run(["rm", "-rf", str(work / "cache")], check=True)
    code = ("import sys, pathlib; from dreamwright.data.corpus import resolve_corpus, encode_corpus;"
            "encode_corpus(resolve_corpus(sys.argv[1]), pathlib.Path(sys.argv[2]))")
    secs, rss = run([py, "-c", code, str(big), str(work / "enc1")], env=cache)
    results.update(corpus_mb=size_mb, encode_s=secs, encode_mb_per_s=size_mb / secs, encode_peak_rss_mb=rss)
    secs2, _ = run([py, "-c", code, str(big), str(work / "enc2")], env=cache)
    results["encode_cached_s"] = secs2
    secs3, rss3 = run([py, "-m", "dreamwright", "train", str(big), "--out", str(work / "bigrun"), "--force",
                       "--steps", "20", "--eval-interval", "20", "--eval-tokens", "100000", "--no-samples", "--quiet"],
                      env=cache)
    results.update(train_on_big_s=secs3, train_on_big_peak_rss_mb=rss3)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
