"""Benchmark C1: the books' own task — Nietzsche, lowercased, last 10% of characters held out.

Measures, on this machine with ``torch.set_num_threads(threads)``:
- validation bits per character with exactly the 60 preceding characters as context (the book's window),
  over every validation position, after each training budget (default 1.5, 2, 5 and 10 minutes; one fresh
  run per budget, so each gets its own complete learning-rate schedule), plus the full-context figure;
- generation speed (400 characters at T=0.5) at batch 1 and 64 with the carried state, and the book's
  method (re-encode the 60-character window for every new character) in the same run;
- the fp32 matrix-multiply rate of this machine, and the share of it that batch-64 generation uses;
- peak resident memory of each training run (a subprocess each).

Usage: DREAMWRIGHT_DATA=../shared/data python benchmarks/bench_c1.py [--budgets 1.5,2,5,10] [--preset NAME]

Several presets side by side (each budget trained once per preset, in turn):
``--presets char-lstm-small,char-gpt-small,char-wavenet-small --budgets 5 --no-generation``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

WINDOW = 60


def window_bpc(model, ids: np.ndarray, start: int, batch: int = 1024) -> float:
    """Bits per character predicting ids[j] from exactly ids[j-60:j], for every j >= start, from zero state."""
    data = torch.from_numpy(ids.astype(np.int64))
    total, count = 0.0, 0
    positions = np.arange(max(start, WINDOW), len(ids))
    with torch.inference_mode():
        for i in range(0, len(positions), batch):
            pos = torch.from_numpy(positions[i:i + batch])
            windows = data[pos[:, None] - WINDOW + torch.arange(WINDOW)]
            logits, _ = model(windows, None)
            total += F.cross_entropy(logits[:, -1].float(), data[pos], reduction="sum").item()
            count += len(pos)
    return total / count / math.log(2)


def matmul_gflops(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def generation_speed(gen, prompt: str, batch: int, n: int = 400) -> float:
    gen.generate(prompt, max_new_tokens=20, temperature=0.5, num_samples=batch, seed=0)  # warm up
    t = time.perf_counter()
    gen.generate(prompt, max_new_tokens=n, temperature=0.5, num_samples=batch, seed=0)
    return batch * n / (time.perf_counter() - t)


def window_method_speed(gen, prompt: str, n: int = 400) -> float:
    """The book's sampling loop: re-read the last 60 characters from scratch for every new character."""
    from dreamwright.decoding import History, RowStreams, SamplingParams, choose

    ids = gen.tokenizer.encode(prompt)
    params = SamplingParams(temperature=0.5)
    streams = RowStreams()
    streams.add([0])
    t = time.perf_counter()
    with torch.inference_mode():
        for _ in range(n):
            logits, _ = gen.model(torch.tensor([ids[-WINDOW:]]), None)
            ids.append(int(choose(logits[:, -1], params, History(), streams.uniforms())[0]))
    return n / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="1.5,2,5,10", help="training minutes, comma-separated")
    parser.add_argument("--preset", default=None)
    parser.add_argument("--presets", default=None, help="comma-separated presets, trained in turn per budget")
    parser.add_argument("--no-generation", action="store_true", help="skip the generation-speed measurements")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", default="/tmp/dreamwright-c1")
    parser.add_argument("--extra", default="", help="extra `dreamwright train` options")
    parser.add_argument("--json", default=None, help="write results here")
    parser.add_argument("--generation-only", default=None, metavar="RUN",
                        help="skip training: measure generation speed of this run directory")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import dreamwright
    from dreamwright.training.evaluate import score_tokens

    rows = []
    budgets = [] if args.generation_only else [float(m) for m in args.budgets.split(",")]
    presets = args.presets.split(",") if args.presets else [args.preset]
    for minutes, preset in ((m, p) for m in budgets for p in presets):
        out = Path(args.runs) / (f"c1-{minutes:g}min" + (f"-{preset}" if args.presets else ""))
        cmd = [sys.executable, "-m", "dreamwright", "train", "nietzsche", "--lower", "--out", str(out), "--force",
               "--minutes", str(minutes), "--threads", str(args.threads), "--quiet",
               *(["--preset", preset] if preset else []), *args.extra.split()]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run(cmd, check=True)
        peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        gen = dreamwright.load(out, device="cpu")
        train_ids = np.fromfile(out / "data" / "train.bin", dtype=np.uint8)
        valid_ids = np.fromfile(out / "data" / "valid.bin", dtype=np.uint8)
        all_ids = np.concatenate([train_ids, valid_ids])
        t = time.perf_counter()
        bpc60 = window_bpc(gen.model, all_ids, len(train_ids))
        eval_s = time.perf_counter() - t
        full = score_tokens(gen.model, valid_ids, streams=1, seq_len=1000)
        evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        evals = [e for e in evals if e["event"] == "eval"]
        reach = next((e["elapsed"] for e in evals if e["val_bpc"] <= 2.23), None)
        rows.append({"minutes": minutes, "preset": preset or "default", "bpc60": bpc60, "bpc_full": full.bpc,
                     "peak_rss_mb": peak_mb,
                     "params": gen.model.num_parameters(), "first_full_context_le_2.23_s": reach,
                     "window_eval_s": eval_s})
        print(json.dumps(rows[-1]), flush=True)

    if args.no_generation:
        _table(rows, args.threads)
        if args.json:
            Path(args.json).write_text(json.dumps({"budgets": rows}, indent=2))
        return
    last = args.generation_only or Path(args.runs) / f"c1-{budgets[-1]:g}min"
    gen = dreamwright.load(last, device="cpu")
    prompt = "the philosopher, who is always in search of truth, cannot "[:WINDOW]
    speed1 = generation_speed(gen, prompt, 1)
    speed64 = generation_speed(gen, prompt, 64)
    window = window_method_speed(gen, prompt)
    peak = matmul_gflops()
    flops = gen.model.flops_per_token()
    gen_row = {"chars_per_s_batch1": speed1, "chars_per_s_batch64": speed64, "window_method_chars_per_s": window,
               "ratio_batch1_vs_window": speed1 / window, "matmul_gflops": peak, "model_flops_per_char": flops,
               "batch64_share_of_matmul": speed64 * flops / (peak * 1e9)}
    print(json.dumps(gen_row), flush=True)

    cpu = _table(rows, args.threads)
    print(f"\nGeneration (400 chars, T=0.5): batch 1 {speed1:,.0f} chars/s; batch 64 {speed64:,.0f} chars/s; "
          f"book's window method {window:,.0f} chars/s ({speed1 / window:.0f}× slower than batch 1). "
          f"Matmul {peak:.0f} GFLOP/s; model {flops / 1e6:.2f} MFLOP/char; batch 64 uses "
          f"{100 * gen_row['batch64_share_of_matmul']:.0f}% of it.")
    if args.json:
        Path(args.json).write_text(json.dumps({"budgets": rows, "generation": gen_row, "cpu": cpu}, indent=2))


def _table(rows: list[dict], threads: int) -> str:
    """Print the machine and the budgets' table; returns the CPU's name."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"\nMachine: {cpu}, {threads} threads, torch {torch.__version__}\n")
    print("| budget | preset | params | val bpc, 60-char window | val bpc, full context | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['minutes']:g} min | {r['preset']} | {r['params'] / 1e6:.2f}M | {r['bpc60']:.3f} | "
              f"{r['bpc_full']:.3f} | {r['peak_rss_mb']:.0f} MB |")
    return cpu


if __name__ == "__main__":
    main()
