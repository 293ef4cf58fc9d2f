"""Old code against new, side by side on one machine: generation, serving and poems per second.

    python benchmarks/bench_side_by_side.py --old 89c3557 [--rounds 5] [--parts gen,serve,poetry]

Checks the ``--old`` commit out into a scratch git worktree (or takes ``--old`` as a checked-out tree) and
runs every measurement as a subprocess with ``PYTHONPATH`` at either tree's ``src/``, alternating old and new
round by round so that both see the same machine load. Generation and poems are timed in process CPU time (one
PyTorch thread), which another job on the machine inflates far less than wall time; serving is wall time.
Poems are measured with one candidate each and with the default number (8). Reports the median of each figure and the
ratio new/old (> 1: the new code is faster).
Generation and poems use the bundled models; serving runs ``benchmarks/bench_serve.py`` against each tree's
``dreamwright serve``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GEN = r"""
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
import dreamwright
gen = dreamwright.load()
out = {}
for batch, n in ((1, 400), (64, 200)):
    gen.generate("ROMEO:", max_new_tokens=20, temperature=0.5, num_samples=batch, seed=0)
    best = 0.0
    for _ in range(3):
        t = time.process_time()
        gen.generate("ROMEO:", max_new_tokens=n, temperature=0.5, num_samples=batch, seed=0)
        best = max(best, batch * n / (time.process_time() - t))
    out[f"generate batch {batch} (chars/s)"] = best
print(json.dumps(out))
"""

POEMS = r"""
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
from dreamwright.poetry import load_writer
import pypinyin  # noqa: F401  (imported lazily by the checker the first time; a one-time cost kept out of the timing)
writer = load_writer()
try:  # one candidate per poem, and the default number the newer code keeps the best of
    from dreamwright.poetry import DEFAULT_CANDIDATES
    settings = [(f" -c {c}", {"candidates": c}, n) for c, n in ((1, 50), (DEFAULT_CANDIDATES, 30))]
except ImportError:  # older than candidates: one per poem
    settings = [("", {}, 50)]
out = {}
for form in ("五绝", "七绝"):
    for label, options, n in settings:
        writer.write(form, num_samples=2, seed=0, **options)
        t = time.process_time()
        writer.write(form, num_samples=n, seed=1, **options)
        out[f"poems {form}{label} (poems/s)"] = n / (time.process_time() - t)
print(json.dumps(out))
"""


def worktree(ref: str) -> Path:
    """The tree of ``ref``: a checkout of it, made once in a scratch git worktree (or ``ref`` itself when it
    is a directory)."""
    if Path(ref).is_dir():
        return Path(ref)
    path = Path(tempfile.gettempdir()) / f"dreamwright-old-{ref}"
    if not path.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref], check=True,
                       capture_output=True)
    return path


def measure(tree: Path, part: str, threads: int, seconds: float) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    if part == "serve":
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            bench = [sys.executable, str(ROOT / "benchmarks" / "bench_serve.py"), "--seconds", str(seconds),
                     "--threads", str(threads), "--kinds", "completions", "--no-core", "--json", f.name]
            subprocess.run(bench, env=env, check=True, capture_output=True)
            levels = json.load(open(f.name))
        levels = levels.get("levels", levels) if isinstance(levels, dict) else levels
        return {f"serve {lv['clients']} clients (tokens/s)": lv["tokens"] / lv["seconds"] for lv in levels}
    code = GEN if part == "gen" else POEMS
    done = subprocess.run([sys.executable, "-c", code, str(threads)], env=env, check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="git ref (or checked-out tree) of the code to compare against")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--parts", default="gen,serve,poetry")
    ap.add_argument("--threads", type=int, default=1, help="PyTorch threads per measurement [1]")
    ap.add_argument("--serve-seconds", type=float, default=8.0)
    args = ap.parse_args(argv)
    trees = {"old": worktree(args.old), "new": ROOT}
    results: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    for part in args.parts.split(","):
        for r in range(args.rounds):
            for side in (("old", "new") if r % 2 == 0 else ("new", "old")):
                for key, value in measure(trees[side], part, args.threads, args.serve_seconds).items():
                    results[side].setdefault(key, []).append(value)
            print(f"{part}: round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{args.threads} thread(s) per measurement; medians of {args.rounds} alternating rounds; "
          f"old = {args.old}\n")
    print("| measurement | old | new | new / old |")
    print("| --- | --- | --- | --- |")
    for key, old in results["old"].items():
        o, n = statistics.median(old), statistics.median(results["new"][key])
        print(f"| {key} | {o:,.1f} | {n:,.1f} | {n / o:.2f}× |")


if __name__ == "__main__":
    main()
