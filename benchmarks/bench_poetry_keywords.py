"""How often a planned keyword of 作诗姬 actually appears in its line, for classical and out-of-corpus words.

    PYTHONPATH=src python benchmarks/bench_poetry_keywords.py [--n 50] [--form 五绝]

For each setting (a ``theme`` or user ``keywords``) it writes ``n`` poems (seeds 0..n-1) at 作诗姬's default
settings (``dreamwright.poetry.defaults``; rhyme and tones strict) and judges them from the poem's text and its
plan's keywords alone, with plain string tests (no code of the planner or the writer is used to judge):

- *word in line*: the keyword is a substring of the line it was planned for;
- *chars in line*: every character of the keyword occurs in that line (in any order, not necessarily adjacent);
- *anywhere*: the keyword is a substring of the whole poem;
- *theme in poem*: for a theme, the share of poems that contain the theme itself (as a substring).

Lines the user's ``keywords`` were put on (*given*) and lines the planner filled (*planned*) are counted
apart. Prints a Markdown table; the seconds per poem include planning and decoding.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import time
from dataclasses import dataclass, field

import torch

#: classical themes first, then words the Tang corpus lacks ("out of corpus")
CLASSICAL_THEMES = ["春", "月", "山", "秋", "酒", "思乡", "秋思"]
OUT_OF_CORPUS_THEMES = ["量子", "手机"]
#: (label, options of ``PoemWriter.write``)
SETTINGS: list[tuple[str, dict[str, str]]] = (
    [(f"theme {t}", {"theme": t}) for t in CLASSICAL_THEMES]
    + [("keywords 明月,故乡", {"keywords": "明月,故乡"})]
    + [(f"theme {t} (out of corpus)", {"theme": t}) for t in OUT_OF_CORPUS_THEMES]
    + [(f"keywords {k} (out of corpus)", {"keywords": k}) for k in ("量子", "量子,电脑,手机,网络")]
)


@dataclass
class Tally:
    """Hits of one kind of line (given or planned) in one setting."""

    lines: int = 0
    word: int = 0
    chars: int = 0
    anywhere: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, keyword: str, line: str, poem: str) -> None:
        self.lines += 1
        self.word += keyword in line
        self.chars += all(ch in line for ch in keyword)
        self.anywhere += keyword in poem


def poem_lines(text: str) -> list[str]:
    """The lines of a poem's text, split at its punctuation."""
    return [line for line in re.split(r"[，。！？；、,.!?;\s]+", text) if line]


def given_keywords(options: dict[str, str]) -> list[str]:
    """The user's keywords of a setting, as typed (comma-separated)."""
    return [k for k in options.get("keywords", "").split(",") if k]


def measure(writer, form: str, options: dict[str, str], n: int) -> tuple[Tally, Tally, int, float]:
    """Given and planned keyword hits over ``n`` poems, how many poems contain the theme, and the seconds
    per poem."""
    given, planned = Tally(), Tally()
    with_theme = 0
    n_given = len(given_keywords(options))
    t0 = time.perf_counter()
    for seed in range(n):
        (poem,) = writer.write(form, seed=seed, **options)
        with_theme += options.get("theme", "\0") in poem.text
        lines = poem_lines(poem.text)
        plan = poem.to_dict()["plan"]
        for i, (keyword, line) in enumerate(zip(plan, lines, strict=True)):
            if keyword:
                (given if i < n_given else planned).add(keyword, line, poem.text)
    return given, planned, with_theme, (time.perf_counter() - t0) / n


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}" if whole else "–"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", default=None, help="poetry run directory (default: the bundled tang-poetry)")
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--form", default="五绝")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    from dreamwright.poetry import load_writer
    from dreamwright.poetry.defaults import DEFAULT_CANDIDATES, DEFAULT_TEMPERATURE

    writer = load_writer(a.run_dir)
    rows = []
    for label, options in SETTINGS:
        given, planned, with_theme, per = measure(writer, a.form, options, a.n)
        theme = pct(with_theme, a.n) if "theme" in options else "–"
        for kind, tally in (("given", given), ("planned", planned)):
            if tally.lines:
                rows.append((label, kind, tally, theme, per))
                print(f"{label} {kind}: {pct(tally.word, tally.lines)}% of {tally.lines} lines", file=sys.stderr)
    print(f"\nmachine: {platform.machine()}, {torch.get_num_threads()} torch thread(s); {a.form}, "
          f"n = {a.n} poems per setting, {DEFAULT_CANDIDATES} candidates, temperature {DEFAULT_TEMPERATURE}")
    print("\n| setting | keywords | lines | word in its line % | chars in its line % | word anywhere % "
          "| theme in poem % | s / poem |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, kind, t, theme, per in rows:
        print(f"| {label} | {kind} | {t.lines} | {pct(t.word, t.lines)} | {pct(t.chars, t.lines)} | "
              f"{pct(t.anywhere, t.lines)} | {theme} | {per:.3f} |")


if __name__ == "__main__":
    main()
