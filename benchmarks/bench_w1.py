"""W1: word-level Penn Treebank — test perplexity and wall time of ``ptb-small`` and ``ptb-tied``.

Trains each preset on ``ptb.train.txt`` (validating on ``ptb.valid.txt``), then scores ``ptb.test.txt``
with the state carried through the whole text in one stream, as ``ptb_word_lm`` does. The recipes run 13
epochs; ``--epochs`` or ``--minutes`` cut them short (the results then say so). Run under the shared lock::

    flock /tmp/dreamwright-bench.lock python benchmarks/bench_w1.py --presets ptb-small ptb-tied
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import dreamwright
from dreamwright.data.corpus import encode_text_file, resolve_corpus
from dreamwright.training.evaluate import score_tokens
from dreamwright.training.plots import read_metrics

PTB_TRAIN_TOKENS = 929_589  # words of ptb.train.txt, <eos> included


def read_config(run_dir: Path) -> dict:
    return json.loads((run_dir / "config.json").read_text())


def steps_per_epoch(cfg: dict) -> int:
    return PTB_TRAIN_TOKENS // (cfg["train"]["batch_size"] * cfg["train"]["seq_len"])


def plot_validation(out: Path, presets: list[str], image: Path, target: float = 115.0) -> None:
    """Validation perplexity against epoch for each preset's run, with the ptb-small target drawn in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for preset in presets:
        run_dir = out / preset
        per_epoch = steps_per_epoch(read_config(run_dir))
        evals = [r for r in read_metrics(run_dir / "metrics.jsonl") if r.get("event") == "eval"]
        ax.plot([r["step"] / per_epoch for r in evals], [r["val_perplexity"] for r in evals], marker="o",
                markersize=3, label=preset)
    ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target:g} (test)")
    ax.set_ylim(80, 300)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation perplexity")
    ax.set_title("Penn Treebank, word level")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(image)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["ptb-small", "ptb-tied"])
    ap.add_argument("--epochs", type=float, default=None, help="override the recipe's epochs")
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock cap per run")
    ap.add_argument("--eval-tokens", type=int, default=None, help="cap on validation tokens per evaluation")
    ap.add_argument("--eval-interval", type=int, default=None, help="steps between validations")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-w1"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None, help="draw validation perplexity per epoch to this PNG")
    ap.add_argument("--plot-only", action="store_true", help="only redraw --plot from the runs in --out")
    args = ap.parse_args()
    os.environ.setdefault("DREAMWRIGHT_DATA", "/work/shared/data")
    if args.plot_only:
        if args.plot is None:
            ap.error("--plot-only needs --plot PATH.png to say where the figure goes")
        missing = [p for p in args.presets if not (args.out / p / "metrics.jsonl").exists()]
        if missing:
            ap.error(f"no run for {', '.join(missing)} in {args.out}; train it first or pass --out")
        plot_validation(args.out, args.presets, args.plot)
        return
    test_file = resolve_corpus("ptb").test_files[0]
    rows = []
    print("| preset | params | epochs run | wall time | valid ppl | test ppl |", flush=True)
    print("|---|---|---|---|---|---|", flush=True)
    for preset in args.presets:
        run_dir = args.out / preset
        t0 = time.perf_counter()
        r = dreamwright.train("ptb", run_dir, force=True, preset=preset, epochs=args.epochs,
                              minutes=args.minutes, eval_tokens=args.eval_tokens,
                              eval_interval=args.eval_interval, samples=False, quiet=True)
        wall = time.perf_counter() - t0
        gen = dreamwright.load(run_dir, device="cpu")
        encoded = encode_text_file(test_file, gen.tokenizer)
        test = score_tokens(gen.model, encoded.ids, chars=encoded.chars, streams=1, seq_len=256)
        cfg = read_config(run_dir)
        row = {"preset": preset, "params": cfg["metrics"]["parameters"], "steps": r.steps,
               "epochs": r.steps / steps_per_epoch(cfg), "wall_s": wall, "valid_ppl": r.val_perplexity,
               "test_ppl": test.perplexity, "test_bpc": test.bpc}
        rows.append(row)
        print(f"| {preset} | {row['params'] / 1e6:.2f}M | {row['epochs']:.2f} | {wall / 60:.1f} min | "
              f"{r.val_perplexity:.1f} | {test.perplexity:.1f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.plot:
        plot_validation(args.out, args.presets, args.plot)


if __name__ == "__main__":
    main()
