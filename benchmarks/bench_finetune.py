"""Benchmark: fine-tuning the bundled ``english-char`` model versus training from scratch, on small corpora.

The corpora are the first 50 KB and 150 KB of Nietzsche (a text the base model never saw), lowercased as in the
books, with the last 10% of each held out (the default split). For every size and budget (1, 2 and 5 minutes)
the script trains, one after the other on the same CPU,

- ``scratch``: ``dreamwright train CUT --lower --minutes M`` (the default preset), and
- ``fine-tune``: the same with ``--init-from english-char`` (the ``finetune`` preset's defaults),

and reports the best validation bits per character of each (full context, the trainer's own figure), the
zero-shot figure of the base model on the same held-out text, and samples at T=0.5 from the 2-minute models.

Usage: DREAMWRIGHT_DATA=../shared/data nice -n 5 python benchmarks/bench_finetune.py [--budgets 2,1,5]
           [--sizes 50,150] [--base english-char] [--threads 1] [--out build/bench_finetune]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import dreamwright
from dreamwright.data.corpus import encode_text_file
from dreamwright.data.registry import fetch, lookup
from dreamwright.training.evaluate import score_tokens

PROMPT = "the truth is "


def cut(text_path: Path, kilobytes: int, out_dir: Path) -> tuple[Path, Path]:
    """The first ``kilobytes`` KB of the text (whole characters) and its held-out last 10%, lowercased."""
    data = text_path.read_bytes()[: kilobytes * 1000].decode("utf-8", errors="ignore")
    path = out_dir / f"nietzsche-{kilobytes}k.txt"
    path.write_text(data, encoding="utf-8")
    held_out = out_dir / f"nietzsche-{kilobytes}k-valid.txt"
    held_out.write_text(data[int(len(data) * 0.9):].lower(), encoding="utf-8")
    return path, held_out


def zero_shot_bpc(base: str, held_out: Path) -> float:
    """The base model's bits per character on the held-out text (characters it does not know skipped)."""
    gen = dreamwright.load(base, device="cpu")
    ids, chars = encode_text_file(held_out, gen.tokenizer, unknown="skip")
    return score_tokens(gen.model, ids, chars=chars, device=gen.device).bpc


def sample(run: Path) -> str:
    gen = dreamwright.load(run, device="cpu")
    return PROMPT + gen.generate(PROMPT, max_new_tokens=300, temperature=0.5, seed=0)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="2,1,5", help="minutes, comma-separated, run in this order")
    parser.add_argument("--sizes", default="50,150", help="KB of Nietzsche, comma-separated")
    parser.add_argument("--base", default="english-char", help="model to fine-tune from")
    parser.add_argument("--threads", type=int, default=1,
                        help="1 is steadier than 2 on a shared CPU (a stalled second thread stalls both)")
    parser.add_argument("--out", type=Path, default=Path("build/bench_finetune"))
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    corpus = lookup("nietzsche")
    assert corpus is not None
    text_path = fetch(corpus.train[0])
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads; "
          f"base {args.base}")
    rows, samples, cuts = [], {}, {}
    for kb in sizes:
        path, held_out = cut(text_path, kb, args.out)
        cuts[kb] = path, zero_shot_bpc(args.base, held_out)
        print(f"{kb} KB: {args.base} before fine-tuning: {cuts[kb][1]:.3f} bpc on the held-out 10%", flush=True)
    for minutes in budgets:  # in the order given: the budget that matters most can go first
        for kb in sizes:
            path, base_bpc = cuts[kb]
            result = {}
            for mode in ("scratch", "fine-tune"):
                run = args.out / f"{kb}k-{minutes:g}min-{mode}"
                extra = {"init_from": args.base} if mode == "fine-tune" else {}
                t = time.perf_counter()
                res = dreamwright.train(path, run, force=True, lower=True, minutes=minutes, samples=False,
                                        quiet=True, threads=args.threads, **extra)
                result[mode] = res
                print(f"  {kb} KB, {minutes:g} min, {mode:>9}: {res.val_bpc:.3f} bpc (best at step {res.best_step} of "
                      f"{res.steps}, {res.stop_reason}, {time.perf_counter() - t:.0f} s)", flush=True)
                if minutes == 2:
                    samples[(kb, mode)] = sample(run)
            gain = result["scratch"].val_bpc - result["fine-tune"].val_bpc
            rows.append({"kb": kb, "minutes": minutes, "scratch": result["scratch"].val_bpc,
                         "finetune": result["fine-tune"].val_bpc, "gain": gain, "base_zero_shot": base_bpc,
                         "stop": {m: r.stop_reason for m, r in result.items()},
                         "steps": {m: r.steps for m, r in result.items()}})
    print(f"\n| corpus | budget | {args.base} as is | from scratch | fine-tuned from {args.base} | gain |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in sorted(rows, key=lambda r: (r["kb"], r["minutes"])):
        print(f"| {r['kb']} KB | {r['minutes']:g} min | {r['base_zero_shot']:.3f} | {r['scratch']:.3f} | "
              f"{r['finetune']:.3f} | {r['gain']:+.3f} |")
    for (kb, mode), text in samples.items():
        print(f"\n--- {kb} KB, 2 min, {mode}, T=0.5:\n{text}")
    (args.out / "results.json").write_text(json.dumps(
        {"rows": rows, "samples": {f"{kb}k {mode}": t for (kb, mode), t in samples.items()}}, indent=2))


if __name__ == "__main__":
    main()
