"""Benchmark: fine-tuning a base model (the bundled ``english-char``) versus training from scratch, on small corpora.

The corpora are the first 50 KB and 150 KB of Nietzsche (a text the base models never saw), lowercased as in the
books, with the last 10% of each held out (the default split). For every size and budget (1, 2 and 5 minutes)
the script trains

- ``scratch``: ``dreamwright train CUT --lower --minutes M`` (the default preset), and
- ``fine-tuned from BASE``: the same with ``--init-from BASE`` (the ``finetune`` preset's defaults), for every
  ``--base`` (repeat it, as ``LABEL=NAME_OR_PATH``, to put two base models side by side),

and reports the best validation bits per character of each (full context, the trainer's own figure), the
zero-shot figure of each base on the same held-out text, and samples at T=0.5 from the 2-minute models.

The runs of one cell (size and budget) go one after the other, or with ``--parallel`` at the same time, one
process and ``--threads`` threads each, so that two bases compared on one 2-core machine see the same load.

Usage: DREAMWRIGHT_DATA=../shared/data nice -n 5 python benchmarks/bench_finetune.py [--budgets 2,1,5]
           [--sizes 50,150] [--base english-char | --base v1=OLD_DIR --base v2=english-char] [--no-scratch]
           [--parallel] [--threads 1] [--out build/bench_finetune]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import time
from concurrent.futures import ProcessPoolExecutor
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
    encoded = encode_text_file(held_out, gen.tokenizer, unknown="skip")
    return score_tokens(gen.model, encoded.ids, chars=encoded.chars, device=gen.device).bpc


def sample(run: Path) -> str:
    gen = dreamwright.load(run, device="cpu")
    return PROMPT + gen.generate(PROMPT, max_new_tokens=300, temperature=0.5, seed=0)[0]


def train_one(corpus: Path, run: Path, minutes: float, threads: int, base: str | None) -> dict:
    """One training run (in this process or a worker): its figures as plain data."""
    torch.set_num_threads(threads)
    extra = {"init_from": base} if base else {}
    t = time.perf_counter()
    res = dreamwright.train(corpus, run, force=True, lower=True, minutes=minutes, samples=False, quiet=True,
                            threads=threads, **extra)
    return {"bpc": res.val_bpc, "best_step": res.best_step, "steps": res.steps, "stop": res.stop_reason,
            "seconds": time.perf_counter() - t}


def parse_bases(specs: list[str]) -> dict[str, str]:
    """``LABEL=NAME_OR_PATH`` (or just a name, its own label) for each ``--base``."""
    return dict(spec.split("=", 1) if "=" in spec else (spec, spec) for spec in specs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="2,1,5", help="minutes, comma-separated, run in this order")
    parser.add_argument("--sizes", default="50,150", help="KB of Nietzsche, comma-separated")
    parser.add_argument("--base", action="append", help="model to fine-tune from, NAME_OR_PATH or LABEL=NAME_OR_PATH; "
                        "repeat to compare (default: english-char)")
    parser.add_argument("--no-scratch", action="store_true", help="leave out the from-scratch runs")
    parser.add_argument("--parallel", action="store_true", help="run the runs of one cell at the same time")
    parser.add_argument("--threads", type=int, default=1,
                        help="1 is steadier than 2 on a shared CPU (a stalled second thread stalls both)")
    parser.add_argument("--out", type=Path, default=Path("build/bench_finetune"))
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    bases = parse_bases(args.base or ["english-char"])
    modes = ([] if args.no_scratch else ["scratch"]) + list(bases)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    corpus = lookup("nietzsche")
    assert corpus is not None
    text_path = fetch(corpus.train[0])
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads, "
          f"{'parallel' if args.parallel else 'one after the other'}; bases {bases}")
    rows, samples, cuts, zero_shot = [], {}, {}, {}
    for kb in sizes:
        path, held_out = cut(text_path, kb, args.out)
        cuts[kb] = path
        for label, base in bases.items():
            zero_shot[(kb, label)] = zero_shot_bpc(base, held_out)
            print(f"{kb} KB: {label} before fine-tuning: {zero_shot[(kb, label)]:.3f} bpc on the held-out 10%",
                  flush=True)
    pool = (ProcessPoolExecutor(len(modes), mp_context=multiprocessing.get_context("spawn"))
            if args.parallel else None)
    for minutes in budgets:  # in the order given: the budget that matters most can go first
        for kb in sizes:
            jobs = {mode: (cuts[kb], args.out / f"{kb}k-{minutes:g}min-{mode}", minutes, args.threads,
                           bases.get(mode)) for mode in modes}
            if pool:
                futures = {mode: pool.submit(train_one, *job) for mode, job in jobs.items()}
                result = {mode: f.result() for mode, f in futures.items()}
            else:
                result = {mode: train_one(*job) for mode, job in jobs.items()}
            for mode, r in result.items():
                print(f"  {kb} KB, {minutes:g} min, {mode:>12}: {r['bpc']:.3f} bpc (best at step {r['best_step']} "
                      f"of {r['steps']}, {r['stop']}, {r['seconds']:.0f} s)", flush=True)
                if minutes == 2:
                    samples[(kb, mode)] = sample(jobs[mode][1])
            rows.append({"kb": kb, "minutes": minutes, "runs": result,
                         "base_zero_shot": {label: zero_shot[(kb, label)] for label in bases}})
    if pool:
        pool.shutdown()
    head = [f"{label} as is" for label in bases] + (["from scratch (steps)"] if "scratch" in modes else [])
    head += [f"fine-tuned from {label} (steps)" for label in bases]
    print("\n| corpus | budget | " + " | ".join(head) + " |")
    print("| --- | --- |" + " --- |" * len(head))
    for r in sorted(rows, key=lambda r: (r["kb"], r["minutes"])):
        cells = [f"{r['base_zero_shot'][label]:.3f}" for label in bases]
        cells += [f"{r['runs'][m]['bpc']:.3f} ({r['runs'][m]['steps']:,})" for m in modes]
        print(f"| {r['kb']} KB | {r['minutes']:g} min | " + " | ".join(cells) + " |")
    for (kb, mode), text in samples.items():
        print(f"\n--- {kb} KB, 2 min, {mode}, T=0.5:\n{text}")
    (args.out / "results.json").write_text(json.dumps(
        {"bases": bases, "rows": rows, "samples": {f"{kb}k {mode}": t for (kb, mode), t in samples.items()}},
        indent=2))


if __name__ == "__main__":
    main()
