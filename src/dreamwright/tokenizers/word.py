"""Word-level tokenizer: whitespace-separated words, newline as ``<eos>``, top-N vocabulary + ``<unk>``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from dreamwright.tokenizers.base import Tokenizer, register_tokenizer, unknown_message

EOS = "<eos>"
UNK = "<unk>"


def words_of(text: str) -> list[str]:
    """Split text into words, one ``<eos>`` for every newline."""
    out: list[str] = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        out.extend(line.split())
        if i < len(lines) - 1:
            out.append(EOS)
    return out


@register_tokenizer
class WordTokenizer(Tokenizer):
    kind = "word"
    piece = "word"
    default_prompt = "\n"

    def __init__(self, words: list[str]) -> None:
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def fit(cls, chunks: Iterable[str], vocab_size: int | None = None, **options: Any) -> WordTokenizer:
        counts: Counter[str] = Counter()
        for chunk in chunks:
            counts.update(words_of(chunk))
        counts.pop(EOS, None)
        counts.pop(UNK, None)
        limit = None if vocab_size is None else max(vocab_size - 2, 0)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return cls([EOS, UNK] + sorted(w for w, _ in ranked))

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def unknown_pieces(self, text: str) -> list[str]:
        return [w for w in words_of(text) if w not in self.index]

    def encode(self, text: str, *, unknown: str = "error") -> list[int]:
        missing = sorted(set(self.unknown_pieces(text)))
        if missing and unknown == "error":
            raise unknown_message(self.piece, missing)
        return [self.index[w] for w in words_of(text) if w in self.index]

    def encode_chunk(self, text: str) -> np.ndarray:
        unk = self.index[UNK]
        return np.fromiter((self.index.get(w, unk) for w in words_of(text)), dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        out: list[str] = []
        for i in ids:
            w = self.words[i]
            if w == EOS:
                out.append("\n")
            else:
                if out and out[-1] != "\n":
                    out.append(" ")
                out.append(w)
        return "".join(out)

    def token_text(self, token_id: int) -> str:
        w = self.words[token_id]
        return "\n" if w == EOS else " " + w

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "words": self.words}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WordTokenizer:
        return cls(data["words"])
