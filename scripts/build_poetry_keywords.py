"""Build ``src/dreamwright/poetry/keywords.json``: the 作诗姬 planner's keywords and their PMI neighbours.

    DREAMWRIGHT_DATA=/work/shared/data PYTHONPATH=src python scripts/build_poetry_keywords.py [--data runs/tang-data]

Input: the *training* split of the prepared Tang corpus (``dreamwright poetry prepare``; made into ``--data``
when missing), so held-out poems never inform the plan. Deterministic: the same corpus gives the same file.

- **Keywords** are two-character words read at the word boundaries of regulated verse — characters 1–2 and 3–4
  of a 五言 line, 1–2, 3–4 and 5–6 of a 七言 one (the 2+3 and 2+2+3 rhythm) — containing no function
  character (``STOP``), seen in at least ``--min-count`` lines; the ``--size`` most frequent are kept.
- **Co-occurrence** is counted per poem (a keyword occurs in a poem if it occurs anywhere in a line of it).
  ``PMI(a, b) = log(N · n(a, b) / (n(a) · n(b)))`` over ``N`` poems; for each keyword the ``--neighbours``
  partners of highest PMI among those co-occurring in at least ``--min-pair`` poems are stored, with PMI
  rounded to 0.01.

Output: ``{"source": …, "poems": N, "keywords": {word: count}, "neighbours": {word: [[word, pmi], …]}}``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

STOP = set("不无有何之而以其所为是此已亦又也乎哉矣焉者于与自从向在如似若可未莫非皆更还复将犹应岂欲谁君我吾尔汝一")
OUT = Path(__file__).resolve().parents[1] / "src" / "dreamwright" / "poetry" / "keywords.json"


def words_of(line: str) -> list[str]:
    """The two-character words at the verse's word boundaries (see the module docstring)."""
    starts = (0, 2) if len(line) == 5 else (0, 2, 4) if len(line) == 7 else ()
    return [line[i : i + 2] for i in starts if not (set(line[i : i + 2]) & STOP)]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="runs/tang-data")
    p.add_argument("--size", type=int, default=3000)
    p.add_argument("--min-count", type=int, default=20)
    p.add_argument("--neighbours", type=int, default=24)
    p.add_argument("--min-pair", type=int, default=4)
    p.add_argument("--out", default=str(OUT))
    a = p.parse_args(argv)
    from dreamwright.poetry.data import TRAIN_FILE, prepare, read_corpus
    from dreamwright.poetry.prosody import split_lines

    data = Path(a.data)
    if not (data / TRAIN_FILE).is_file():
        print(prepare(data).summary(), file=sys.stderr)
    poems = [split_lines(text) for _, text in read_corpus(data / TRAIN_FILE)]
    counts = Counter(w for lines in poems for line in lines for w in words_of(line))
    vocab = [w for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if c >= a.min_count][: a.size]
    keep = set(vocab)
    df: Counter[str] = Counter()
    pair: Counter[tuple[str, str]] = Counter()
    for lines in poems:
        found = sorted({w for line in lines for w in words_of(line) if w in keep})
        df.update(found)
        pair.update(combinations(found, 2))
    n = len(poems)
    neighbours: dict[str, list[tuple[str, float]]] = {w: [] for w in vocab}
    for (x, y), c in pair.items():
        if c < a.min_pair or set(x) & set(y):
            continue
        pmi = math.log(n * c / (df[x] * df[y]))
        neighbours[x].append((y, pmi))
        neighbours[y].append((x, pmi))
    out = {
        "source": "the prepared 全唐诗 training split (dreamwright poetry prepare); scripts/build_poetry_keywords.py "
        f"--size {a.size} --min-count {a.min_count} --neighbours {a.neighbours} --min-pair {a.min_pair}",
        "poems": n,
        "keywords": {w: counts[w] for w in vocab},
        "neighbours": {
            w: [[y, round(v, 2)] for y, v in sorted(nb, key=lambda t: (-t[1], t[0]))[: a.neighbours]]
            for w, nb in neighbours.items()
            if nb
        },
    }
    Path(a.out).write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(vocab)} keywords, {sum(map(len, out['neighbours'].values()))} neighbour links -> {a.out}")


if __name__ == "__main__":
    main()
