"""The data of the conversing benchmarks: a built-in pair corpus, and the same pairs with the inputs blanked.

A model trained on the blanked copy is a **reply-only language model** with the seq2seq model's own
architecture, data, split, order and token budget: the only thing it lacks is the input. Comparing their
held-out reply perplexity measures how much the seq2seq model reads the question.

    python benchmarks/converse_data.py tang-couplets /work/runs-bench/blind-couplets
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dreamwright import plugins
from dreamwright.data.corpus import resolve_corpus
from dreamwright.data.pairs import Pair, read_pairs, write_jsonl


def blank_inputs(corpus: str, out: Path) -> tuple[Path, Path]:
    """``out/train.jsonl`` and ``out/valid.jsonl``: ``corpus``'s pairs with empty inputs."""
    plugins.load_corpora()
    source = resolve_corpus(corpus)
    files = []
    for split, paths in (("train", source.train_files), ("valid", source.valid_files or [])):
        pairs = [Pair("", p.reply) for path in paths for p in read_pairs(path).pairs]
        write_jsonl(out / f"{split}.jsonl", pairs)
        files.append(out / f"{split}.jsonl")
    return files[0], files[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    print(*blank_inputs(args.corpus, args.out))


if __name__ == "__main__":
    main()
