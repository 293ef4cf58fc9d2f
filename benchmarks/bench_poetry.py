"""Benchmark of the 作诗姬 poetry model: form, acrostic, rhyme, tones, diversity, copying, perplexity, speed.

    PYTHONPATH=src python benchmarks/bench_poetry.py [--run-dir DIR] [--data runs/tang-data] [--n 200]

For each form it generates ``n`` poems per setting — free char-RNN sampling (no constraints), form only,
form + rhyme + tones (strict), and the same with a random 4- or 8-character acrostic — and scores ``n``
real held-out poems of the form as the reference row. Rhyme and tone compliance use the 平水韵 table
(:func:`dreamwright.poetry.prosody.check_poem`). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import sys
import time
from pathlib import Path

import torch

from dreamwright.poetry import load_writer, rhyme_table
from dreamwright.poetry.data import TRAIN_FILE, VALID_FILE, prepare, read_corpus
from dreamwright.poetry.prosody import FORMS, check_poem, split_lines


def distinct2(poems: list[list[str]]) -> float:
    """Distinct bigrams / all bigrams, inside lines, over a set of poems."""
    grams = [line[i : i + 2] for lines in poems for line in lines for i in range(len(line) - 1)]
    return len(set(grams)) / max(len(grams), 1)


def score(texts: list[str], form: str, table, train_lines: set[str], heads: list[str] | None = None) -> dict:
    """Metrics of a list of poems (as text) for ``form``."""
    reports = [check_poem(t, table, form) for t in texts]
    n = len(texts)
    valid = [r for r in reports if r.format_ok]
    lines = [line for r in valid for line in r.lines]
    row = {
        "n": n,
        "format": 100 * len(valid) / n,
        "rhyme": 100 * sum(r.format_ok and r.rhyme_ok for r in reports) / n,
        "tones": 100 * sum(r.format_ok and r.tone_ok for r in reports) / n,
        "regulated": 100 * sum(r.format_ok and r.regulated for r in reports) / n,
        "distinct2": distinct2([r.lines for r in valid]),
        "copy": 100 * sum(line in train_lines for line in lines) / max(len(lines), 1),
    }
    if heads is not None:
        ok = sum(
            r.format_ok and "".join(line[0] for line in r.lines) == h
            for r, h in zip(reports, heads, strict=True)
        )
        row["acrostic"] = 100 * ok / n
    return row


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", default=None, help="poetry run directory (default: the bundled tang-poetry)")
    p.add_argument(
        "--data", default="runs/tang-data", help="prepared corpus (made by `poetry prepare` if missing)"
    )
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--forms", default=",".join(FORMS))
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    data = Path(a.data)
    if not (data / TRAIN_FILE).is_file():
        print(prepare(data).summary(), file=sys.stderr)
    train = read_corpus(data / TRAIN_FILE)
    valid = read_corpus(data / VALID_FILE)
    train_lines = {line for _, text in train for line in split_lines(text)}
    table = rhyme_table()
    writer = load_writer(a.run_dir)
    writer.prepare_tables()

    # validation perplexity per poem character (the tag is given, not scored)
    from dreamwright.poetry.train import poem_loss

    loss = poem_loss(writer.model, valid, writer.tokenizer, writer.device)
    print(f"validation: {len(valid):,} held-out poems, perplexity per character {math.exp(loss):.1f}")
    rng = random.Random(0)
    head_pool = [text[0] for _, text in train if text[0] in writer.index]
    rows = []
    for form in a.forms.split(","):
        length, n_lines = FORMS[form]
        ref = [t for f, t in valid if f == form]
        rng.shuffle(ref)
        rows.append(
            (form, "real held-out poems (reference)", score(ref[: a.n], form, table, train_lines), None)
        )
        t0 = time.perf_counter()
        free = [writer.free_sample(form, temperature=a.temperature, seed=s) for s in range(a.n)]
        rows.append(
            (
                form,
                "free sampling, no constraints",
                score(free, form, table, train_lines),
                (time.perf_counter() - t0) / a.n,
            )
        )
        for label, opts in (
            ("form only (rhyme off, tones off)", {"rhyme": "off", "tones": "off"}),
            ("form + rhyme + tones strict", {}),
            ("acrostic + form + rhyme + tones strict", {"acrostic": True}),
        ):
            heads = ["".join(rng.choice(head_pool) for _ in range(n_lines)) for _ in range(a.n)]
            t0 = time.perf_counter()
            texts = []
            failures = 0
            for s in range(a.n):
                kw = dict(opts)
                if kw.pop("acrostic", False):
                    kw["acrostic"] = heads[s]
                try:
                    (poem,) = writer.write(form, seed=s, temperature=a.temperature, **kw)
                    texts.append(poem.text)
                except Exception as exc:  # noqa: BLE001 - a failure counts against the row
                    failures += 1
                    texts.append("")
                    print(f"{form} {label} seed {s}: {exc}", file=sys.stderr)
            per = (time.perf_counter() - t0) / a.n
            row = score(texts, form, table, train_lines, heads if "acrostic" in opts else None)
            row["failures"] = failures
            rows.append((form, label, row, per))
        print(f"{form} done", file=sys.stderr)

    print()
    print(
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s), "
        f"CPU only (no GPU); n = {a.n} poems per row; temperature {a.temperature}"
    )
    print()
    print("| form | setting | format % | acrostic % | rhyme % | tones % | distinct-2 | copy % | s / poem |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for form, label, r, per in rows:
        acro = f"{r['acrostic']:.1f}" if "acrostic" in r else "–"
        speed = f"{per:.3f}" if per is not None else "–"
        print(
            f"| {form} | {label} | {r['format']:.1f} | {acro} | {r['rhyme']:.1f} | {r['tones']:.1f} | "
            f"{r['distinct2']:.3f} | {r['copy']:.1f} | {speed} |"
        )


if __name__ == "__main__":
    main()
