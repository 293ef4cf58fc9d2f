"""Character-level tokenizer: one id per Unicode code point seen in the corpus."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from dreamwright.tokenizers.base import Tokenizer, _PieceDecoder, register_tokenizer, unknown_message


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@register_tokenizer
class CharTokenizer(Tokenizer):
    kind = "char"
    piece = "character"

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: list[str] = sorted(set(chars))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self._sorted_codepoints = np.array([ord(c) for c in self.chars], dtype=np.uint32)

    @classmethod
    def fit(cls, chunks: Iterable[str], **options: Any) -> CharTokenizer:
        seen: set[int] = set()
        for chunk in chunks:
            seen.update(np.unique(_codepoints(chunk)).tolist())
        return cls(chr(c) for c in seen)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    @property
    def default_prompt(self) -> str:  # type: ignore[override]
        return "\n" if "\n" in self.index else self.chars[0]

    def unknown_pieces(self, text: str) -> list[str]:
        return [c for c in text if c not in self.index]

    def encode(self, text: str, *, unknown: str = "error") -> list[int]:
        missing = sorted(set(self.unknown_pieces(text)))
        if missing and unknown == "error":
            raise unknown_message(self.piece, missing)
        return [self.index[c] for c in text if c in self.index]

    def encode_chunk(self, text: str) -> np.ndarray:
        cps = _codepoints(text)
        pos = np.searchsorted(self._sorted_codepoints, cps)
        pos = np.minimum(pos, len(self.chars) - 1)
        known = self._sorted_codepoints[pos] == cps
        return pos[known]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def stream_decoder(self) -> _PieceDecoder:
        return _PieceDecoder(self)

    def token_text(self, token_id: int) -> str:
        return self.chars[token_id]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        return cls(data["chars"])
