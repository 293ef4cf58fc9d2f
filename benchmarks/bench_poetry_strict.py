"""Strict compliance of constrained 作诗姬 poems, judged by the independent checker in ``poetry_strict.py``.

    PYTHONPATH=src python benchmarks/bench_poetry_strict.py [--n 100] [--forms 五绝,七绝,五律,七律]

For each form it writes ``n`` poems (seeds 0..n-1) with rhyme and tones strict, without and with a random
acrostic (drawn with ``random.Random(0)`` from common line-initial characters the model knows), and prints
the share that passes every rule of ``poetry_strict.check`` with the seconds per poem. It drives whatever
``dreamwright`` is on ``PYTHONPATH``, so an older checkout is measured the same way (``--candidates`` is
passed only when given). The first few failures are printed to stderr.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from poetry_strict import SimpleTable, check  # noqa: E402

HEADS = "春夏秋冬风花雪月山水云天日江河明白青长千万一不何谁孤寒清高东西南北"
FORMS = {"五绝": 4, "七绝": 4, "五律": 8, "七律": 8}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", default=None)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--forms", default=",".join(FORMS))
    p.add_argument("--candidates", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--label", default="")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    from dreamwright.poetry import load_writer

    writer = load_writer(a.run_dir)
    table = SimpleTable.read()
    pool = [c for c in HEADS if c in writer.index]
    extra = {} if a.candidates is None else {"candidates": a.candidates}
    rows = []
    for form in a.forms.split(","):
        rng = random.Random(0)
        for setting in ("plain", "acrostic"):
            ok = failures = 0
            shown = 0
            t0 = time.perf_counter()
            for s in range(a.n):
                kw = dict(extra)
                if setting == "acrostic":
                    kw["acrostic"] = "".join(rng.choice(pool) for _ in range(FORMS[form]))
                try:
                    (poem,) = writer.write(form, seed=s, **kw)
                except Exception as exc:  # noqa: BLE001 - a failure counts against the row
                    failures += 1
                    print(f"{form} {setting} seed {s}: {exc}", file=sys.stderr)
                    continue
                verdict = check(poem.text, table)
                ok += verdict.ok
                if not verdict.ok and shown < 3:
                    shown += 1
                    print(f"{form} {setting} seed {s}: {poem.text} {verdict.problems}", file=sys.stderr)
            per = (time.perf_counter() - t0) / a.n
            rows.append((form, setting, 100 * ok / a.n, failures, per))
            print(f"{form} {setting}: {100 * ok / a.n:.1f}% ({per:.3f} s/poem)", file=sys.stderr)
    print(
        f"\n{a.label} machine: {platform.machine()}, {torch.get_num_threads()} torch thread(s); n = {a.n} per row"
    )
    print("\n| form | setting | strict % | failed requests | s / poem |")
    print("| --- | --- | ---: | ---: | ---: |")
    for form, setting, pct, fails, per in rows:
        print(f"| {form} | {setting} | {pct:.1f} | {fails} | {per:.3f} |")


if __name__ == "__main__":
    main()
