"""Fluency of 作诗姬 poems judged by a reference model of another family, with distinct-2 and the copy rate.

    PYTHONPATH=src python benchmarks/bench_poetry_fluency.py --ref RUN --data runs/tang-data [--n 200]

``RUN`` is a reference language model trained on the *training split only* of the prepared corpus ``--data``
(e.g. a small GPT when the generator is a GRU: ``dreamwright train runs/tang-data --task poems --preset
char-gpt-small --out RUN``). For each form it scores, as per-character perplexity under the reference model
(the ``【form】`` tag given, characters the reference lacks not scored — as validation is scored):

- ``n`` real held-out poems of the form (``random.Random(0)`` shuffle of the validation split);
- ``n`` constrained poems (rhyme and tones strict, seeds 0..n-1) for each ``--candidates`` and
  ``--temperatures`` setting.

and prints the ratio generated / real beside distinct-2 (distinct in-line character bigrams / all), the
share of generated lines found verbatim in the training split, and the share of poems that pass every rule
of the independent checker ``poetry_strict.py`` (strict %). ``--run-dir`` may be repeated, as ``LABEL=PATH``,
to put generators side by side (e.g. the bundled model before and after retraining).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_poetry import distinct2  # noqa: E402
from poetry_strict import SimpleTable, check  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ref", required=True, help="reference model run directory (trained on the training split)")
    p.add_argument("--data", default="runs/tang-data")
    p.add_argument("--run-dir", action="append", default=None,
                   help="generator, PATH or LABEL=PATH; repeat to compare (default: the bundled tang-poetry)")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--forms", default="五绝,七绝,五律,七律")
    p.add_argument("--candidates", default="1,8", help="comma-separated --candidates settings to compare")
    p.add_argument("--temperatures", default=None,
                   help="comma-separated sampling temperatures to compare (default: the writer's)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    from dreamwright.generation.generator import Generator
    from dreamwright.poetry import load_writer
    from dreamwright.poetry.data import TRAIN_FILE, VALID_FILE, read_corpus
    from dreamwright.poetry.prosody import split_lines
    from dreamwright.poetry.train import poem_loss

    data = Path(a.data)
    train_lines = {line for _, text in read_corpus(data / TRAIN_FILE) for line in split_lines(text)}
    valid = read_corpus(data / VALID_FILE)
    ref = Generator.load(a.ref, device="cpu")
    table = SimpleTable.read()
    writers = []
    for spec in a.run_dir or ["bundled"]:
        label, _, path = spec.rpartition("=") if "=" in spec else (spec, "", spec)
        writers.append((label, load_writer(None if path == "bundled" else path)))

    def ppl(form: str, texts: list[str]) -> float:
        return math.exp(poem_loss(ref.model, [(form, t) for t in texts], ref.tokenizer, "cpu"))

    def strict(texts: list[str]) -> float:
        return 100 * sum(check(t, table).ok for t in texts) / max(len(texts), 1)

    def copy(texts: list[str]) -> float:
        lines = [line for t in texts for line in split_lines(t)]
        return 100 * sum(line in train_lines for line in lines) / max(len(lines), 1)

    candidates = [int(x) for x in a.candidates.split(",")]
    temperatures = [float(x) for x in a.temperatures.split(",")] if a.temperatures else [None]
    rows = []
    for form in a.forms.split(","):
        real = [t for f, t in valid if f == form]
        random.Random(0).shuffle(real)
        real = real[: a.n]
        base = ppl(form, real)
        real_d2 = distinct2([split_lines(t) for t in real])
        rows.append((form, f"real held-out poems ({len(real)})", base, 1.0, real_d2, 1.0, copy(real), strict(real),
                     None))
        settings = [(label, writer, c, t) for label, writer in writers for c in candidates for t in temperatures]
        for label, writer, c, temperature in settings:
            t0 = time.perf_counter()
            extra = {} if temperature is None else {"temperature": temperature}
            texts = [writer.write(form, seed=s, candidates=c, **extra)[0].text for s in range(a.n)]
            per = (time.perf_counter() - t0) / a.n
            value = ppl(form, texts)
            name = f"{label}, " if len(writers) > 1 else "constrained, "
            name += f"{c} candidate{'s' if c > 1 else ''}" + (f", T {temperature:g}" if temperature else "")
            d2 = distinct2([split_lines(t) for t in texts])
            rows.append((form, name, value, value / base, d2, d2 / real_d2, copy(texts), strict(texts), per))
        print(f"{form} done", file=sys.stderr)
    print(f"\nreference model: {a.ref}; n = {a.n} per row\n")
    print("| form | poems | strict % | reference ppl / char | ratio to real | distinct-2 | × real | copy % "
          "| s / poem |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for form, label, value, ratio, d2, d2_ratio, cp, ok, per in rows:
        speed = f"{per:.3f}" if per is not None else "–"
        print(f"| {form} | {label} | {ok:.1f} | {value:.1f} | {ratio:.2f} | {d2:.3f} | {d2_ratio:.2f} | {cp:.1f} | "
              f"{speed} |")


if __name__ == "__main__":
    main()
