"""Build the training text of the bundled ``english-char`` base model from the data registry.

    DREAMWRIGHT_DATA=../shared/data python scripts/build_english_corpus.py build/english.txt

The text is WikiText-2's training split turned back into running text, followed by tiny Shakespeare:

- WikiText-2's tokenization is undone (``@-@`` → ``-``, ``@,@`` → ``,``, ``@.@`` → ``.``, no space before
  ``, . ; : ! ? ) 's n't``, none after ``(``, quotes joined to their words); headings (`` = Title = ``) are
  dropped; sentences that contain ``<unk>`` are dropped (half of WikiText-2's paragraphs have one, and a
  base model should not learn to write ``<unk>``); characters outside printable ASCII are folded to ASCII
  (``é`` → ``e``, ``–`` → ``-``) or dropped, so the vocabulary is small and common to most English texts.
  Two remnants are left as they are, because the bundled model was trained on this text: WikiText's
  ``don 't`` and a possessive before punctuation (``the player 's.``), about 330 times in 5.4 MB.
- Case and punctuation are kept. PTB is left out (lowercased, no punctuation, numbers replaced by ``N``).
- Nietzsche is never used: it is the evaluation text of ``benchmarks/bench_finetune.py``.

``scripts/train_bundled.py start english-char`` runs this and then ``dreamwright train`` with the base model's settings.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from pathlib import Path

from dreamwright.data.registry import fetch, lookup

_FOLD = str.maketrans({"–": "-", "—": "-", "−": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...",
                       "×": "x", "\ufeff": ""})
_RULES = [
    (re.compile(r" @([-,.])@ "), r"\1"),
    (re.compile(r" ([,.;:!?)\]}%])"), r"\1"),
    (re.compile(r"([(\[{$]) "), r"\1"),
    (re.compile(r" ('s|'re|'ve|'m|'ll|'d|n't|') "), r"\1 "),
    (re.compile(r"\s+"), " "),
]
_QUOTED = re.compile(r'" ([^"]*?) "')
_SENTENCE_END = re.compile(r"(?<=[.!?]) ")


def to_ascii(text: str) -> str:
    """Printable ASCII (and newlines): typographic marks folded, accents stripped, the rest dropped."""
    text = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in text if c == "\n" or " " <= c <= "~")


def detokenize(line: str) -> str:
    """One WikiText paragraph as running text (sentences with ``<unk>`` dropped); "" when nothing is left."""
    text = _QUOTED.sub(r'"\1"', line.strip())
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if "<unk>" not in s]
    return to_ascii(" ".join(sentences)).strip()


def wikitext_paragraphs(path: Path) -> list[str]:
    """The paragraphs of a WikiText ``.tokens`` file, headings dropped."""
    out = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("="):
            continue
        text = detokenize(stripped)
        if len(text) >= 40:
            out.append(text)
    return out


def corpus_file(name: str, index: int = 0) -> Path:
    """A file of a built-in corpus (from ``$DREAMWRIGHT_DATA`` or the cache, checked against its sha256)."""
    corpus = lookup(name)
    assert corpus is not None, name
    return fetch(corpus.train[index])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="where to write the text (UTF-8)")
    args = parser.parse_args(argv)
    wiki = "\n".join(wikitext_paragraphs(corpus_file("wikitext-2")))
    shakespeare = to_ascii(corpus_file("shakespeare").read_text(encoding="utf-8"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Shakespeare first: the held-out tail (the last 10%) is then WikiText prose
    args.out.write_text(shakespeare.rstrip("\n") + "\n\n" + wiki + "\n", encoding="utf-8")
    print(f"{args.out}: {args.out.stat().st_size:,} bytes ({len(shakespeare):,} of Shakespeare, "
          f"{len(wiki):,} of WikiText-2)", file=sys.stderr)


if __name__ == "__main__":
    main()
