"""C2: tiny Shakespeare, validation loss (nats/char, full context) after N minutes of CPU training.

Split as nanoGPT splits it: first 90 % of the characters train, last 10 % validate. For each preset and
each budget a fresh run trains for that many wall-clock minutes; the final weights (or, with
``--eval-interval``, the checkpoint that scored best in training) are then scored on the whole validation
split with full context (carried state for an LSTM; for a GPT, windows of ``block_size`` every half block,
so each character after the first window sees at least half a block).

Also measured, on the last GPT run: generation speed with and without the key/value cache (batch 1 and
64), training throughput in tokens/s and as a fraction of this machine's fp32 matmul rate, and a bf16
autocast step-time check. Run under the shared lock::

    flock /tmp/dreamwright-bench.lock python benchmarks/bench_c2.py --minutes 3 10 --presets char-gpt-small
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import dreamwright
from dreamwright.data.corpus import EncodedCorpus
from dreamwright.training.evaluate import score_tokens


def matmul_gflops(n: int = 1024, repeats: int = 20, dtype: torch.dtype = torch.float32) -> float:
    """Measured dense matrix-multiply rate of this machine (GFLOP/s) at ``dtype``."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return repeats * 2 * n**3 / (time.perf_counter() - t0) / 1e9


def mean_train_rate(run_dir: Path) -> float:
    """Average training tokens/s logged in the run's metrics (ignoring the first, warming-up record)."""
    rates = [r["tokens_per_s"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
             if r.get("event") == "train" and r.get("tokens_per_s")]
    rates = rates[1:] or rates
    return sum(rates) / max(len(rates), 1)


def score_run(run_dir: Path, max_tokens: int | None) -> dict[str, float]:
    gen = dreamwright.load(run_dir, device="cpu")
    enc = EncodedCorpus.open(run_dir / "data")
    t0 = time.perf_counter()
    s = score_tokens(gen.model, enc.array("valid"), chars=enc.chars("valid"), streams=8 if gen.model.stateful
                     else 32, seq_len=512, max_tokens=max_tokens)
    return {"val_loss": s.loss, "val_bpc": s.bpc, "scored_tokens": s.tokens,
            "score_s": time.perf_counter() - t0}


def generation_speed(run_dir: Path, tokens: int, batches: tuple[int, ...],
                     big_batch_tokens: int) -> list[dict[str, float]]:
    """Tokens/s of the same model generating with and without its cache; also whether the tokens match.
    Batches above 1 generate ``big_batch_tokens`` per sample (re-running the window 64 times is slow)."""
    gen = dreamwright.load(run_dir, device="cpu")
    out = []
    for batch in batches:
        tokens = tokens if batch == 1 else big_batch_tokens
        texts = {}
        for cache in (True, False):
            gen.model.use_cache = cache
            t0 = time.perf_counter()
            texts[cache] = gen.generate("ROMEO:", max_new_tokens=tokens, num_samples=batch, temperature=0.8,
                                        seed=7)
            dt = time.perf_counter() - t0
            out.append({"batch": batch, "cache": cache, "tokens": tokens, "seconds": dt,
                        "tokens_per_s": batch * tokens / dt})
        gen.model.use_cache = True
        out[-1]["identical"] = texts[True] == texts[False]
    return out


def bf16_check(preset_args: dict, steps: int = 2, batch: int = 8) -> dict[str, float]:
    """Seconds per training step (fp32 vs bf16 autocast) of the preset's model on random tokens."""
    from dreamwright.models import build_model

    torch.manual_seed(0)
    model = build_model(preset_args["model"], 65, **preset_args["model_args"])
    T = min(preset_args.get("seq_len", 128), model.context_limit or 128)
    x, y = torch.randint(0, 65, (batch, T)), torch.randint(0, 65, (batch, T))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    result = {}
    for name, enabled in (("fp32", False), ("bf16", True)):
        times = []
        for _ in range(steps + 1):
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
                logits, _ = model(x, None)
            loss = F.cross_entropy(logits.float().reshape(-1, 65), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t0)
        result[f"{name}_s_per_step"] = min(times[1:])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["char-gpt-small", "char-lstm-small"])
    ap.add_argument("--minutes", nargs="+", type=float, default=[3, 10, 30])
    ap.add_argument("--out", type=Path, default=Path("runs/bench-c2"))
    ap.add_argument("--eval-tokens", type=int, default=None,
                    help="cap on validation tokens scored (default all)")
    ap.add_argument("--gen-tokens", type=int, default=150,
                    help="tokens per sample in the generation benchmark")
    ap.add_argument("--gen-tokens-batched", type=int, default=48,
                    help="tokens per sample when generating 64 samples at once")
    ap.add_argument("--eval-interval", type=int, default=10**9,
                    help="steps between validations on --select-tokens characters; the best checkpoint is the "
                    "one scored (default: only at the end, i.e. the final weights)")
    ap.add_argument("--select-tokens", type=int, default=5000,
                    help="validation characters scored at each in-training evaluation")
    ap.add_argument("--no-extras", action="store_true",
                    help="skip generation speed, throughput and bf16 checks")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    os.environ.setdefault("DREAMWRIGHT_DATA", "/work/shared/data")
    from dreamwright.training.config import preset_overrides

    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
               f"{torch.__version__}, {torch.get_num_threads()} threads, no GPU")
    results: dict = {"machine": machine, "fp32_matmul_gflops": matmul_gflops(), "runs": []}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    print(f"machine: {machine}; fp32 matmul {results['fp32_matmul_gflops']:.1f} GFLOP/s", flush=True)
    print("| preset | params | minutes | steps | val nats/char (full context) | train tok/s |", flush=True)
    print("|---|---|---|---|---|---|", flush=True)
    last_gpt = None
    for preset in args.presets:
        for minutes in args.minutes:
            run_dir = args.out / f"{preset}-{minutes:g}min"
            r = dreamwright.train("shakespeare", run_dir, force=True, preset=preset, minutes=minutes,
                                  samples=False, quiet=True, eval_interval=args.eval_interval,
                                  eval_tokens=args.select_tokens,
                                  valid_fraction=0.1)
            score = score_run(run_dir, args.eval_tokens)
            cfg = json.loads((run_dir / "config.json").read_text())
            row = {"preset": preset, "minutes": minutes, "steps": r.steps,
                   "params": cfg["metrics"]["parameters"], "train_tokens_per_s": mean_train_rate(run_dir),
                   **score}
            results["runs"].append(row)
            print(f"| {preset} | {row['params'] / 1e6:.2f}M | {minutes:g} | {r.steps} | "
                  f"{score['val_loss']:.4f} | {row['train_tokens_per_s']:.0f} |", flush=True)
            if cfg["model"]["name"] == "gpt":
                last_gpt = (run_dir, row, preset)
    if last_gpt is not None and not args.no_extras:
        run_dir, row, preset = last_gpt
        model = dreamwright.load(run_dir).model
        achieved = row["train_tokens_per_s"] * 3 * model.flops_per_token() / 1e9  # forward + backward ≈ 3×
        results["throughput"] = {"tokens_per_s": row["train_tokens_per_s"], "gflops": achieved,
                                 "fraction_of_matmul": achieved / results["fp32_matmul_gflops"]}
        print(f"throughput {row['train_tokens_per_s']:.0f} tok/s ≈ {achieved:.2f} GFLOP/s = "
              f"{100 * achieved / results['fp32_matmul_gflops']:.1f}% of fp32 matmul", flush=True)
        results["bf16_matmul_gflops"] = matmul_gflops(512, 5, torch.bfloat16)
        results["bf16_check"] = bf16_check(preset_overrides(preset), steps=1, batch=4)
        print(f"bf16 matmul {results['bf16_matmul_gflops']:.2f} GFLOP/s; step times {results['bf16_check']}",
              flush=True)
        results["generation"] = generation_speed(run_dir, args.gen_tokens, (1, 64), args.gen_tokens_batched)
        print("| batch | cache | tokens/s | seconds |\n|---|---|---|---|")
        for g in results["generation"]:
            same = f" identical: {g['identical']}" if "identical" in g else ""
            print(f"| {g['batch']} | {'yes' if g['cache'] else 'no'} | {g['tokens_per_s']:.0f} | "
                  f"{g['seconds']:.1f} |{same}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
