"""The μ-law tokenizer: audio as a token stream of 256 levels, plus one token per condition value.

Ids ``0 … 255`` are the 8-bit μ-law levels of :mod:`dreamwright.data.audio` (128 is silence); after them
come the condition tokens, kind by kind (``label`` then ``speaker`` for spoken digits). Every clip is stored
as its condition tokens, one per kind, then its samples — so a WaveNet (or any language model) reads what to
say before it says it. A corpus without labels or speakers gets the single condition ``clip=clip``: the
token that starts every clip.

As text (for training logs and the text endpoints) a condition reads ``<label=3>`` and samples read as a
sparkline of their loudness; :meth:`MuLawTokenizer.encode` reads conditions back from ``label=3 speaker=x``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from dreamwright.errors import InvalidArgument
from dreamwright.tokenizers.base import Tokenizer, _PieceDecoder, register_tokenizer

LEVELS = 256
SILENCE = 128
_BARS = "▁▂▃▄▅▆▇█"


@register_tokenizer
class MuLawTokenizer(Tokenizer):
    kind = "mulaw"
    piece = "sample"

    def __init__(self, conditions: dict[str, list[str]], sample_rate: int) -> None:
        self.conditions = {kind: [str(v) for v in values] for kind, values in conditions.items()} or \
            {"clip": ["clip"]}
        self.sample_rate = int(sample_rate)
        self.names = [f"{kind}={value}" for kind, values in self.conditions.items() for value in values]
        self.index = {name: LEVELS + i for i, name in enumerate(self.names)}

    @classmethod
    def fit(cls, chunks: Iterable[str], **options: Any) -> MuLawTokenizer:
        raise InvalidArgument("the μ-law tokenizer is built from an audio corpus, not fitted on text")

    @property
    def vocab_size(self) -> int:
        return LEVELS + len(self.names)

    @property
    def n_cond(self) -> int:
        """Condition tokens at the start of every clip (one per kind)."""
        return len(self.conditions)

    def condition_ids(self, **chosen: str | None) -> list[int]:
        """The condition tokens of a clip: ``label="3", speaker="jackson"``. A kind left out (or None) must
        have one value only; an unknown kind or value is refused with the valid ones."""
        for kind in chosen:
            if kind not in self.conditions and chosen[kind] is not None:
                raise InvalidArgument(f"this model was not conditioned on a {kind}; it knows "
                                      f"{self.describe_conditions()}", param=kind)
        ids = []
        for kind, values in self.conditions.items():
            value = chosen.get(kind)
            if value is None:
                if len(values) > 1:
                    raise InvalidArgument(f"choose a {kind}: one of {', '.join(values)}", param=kind)
                value = values[0]
            if str(value) not in values:
                raise InvalidArgument(f"this model has no {kind} {value!r}; choose one of {', '.join(values)}",
                                      param=kind)
            ids.append(self.index[f"{kind}={value}"])
        return ids

    def describe_conditions(self) -> str:
        return "; ".join(f"{kind}: {', '.join(values)}" for kind, values in self.conditions.items())

    def encode(self, text: str, *, unknown: str = "error") -> list[int]:
        """Condition tokens from ``label=3 speaker=jackson`` (the way text prompts reach an audio model)."""
        chosen: dict[str, str] = {}
        for part in text.split():
            kind, sep, value = part.partition("=")
            if not sep:
                if unknown == "skip":
                    continue
                raise InvalidArgument(f"an audio model reads conditions such as label=3, got {part!r}",
                                      param="prompt")
            chosen[kind] = value
        return self.condition_ids(**chosen)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.token_text(int(i)) for i in ids)

    def stream_decoder(self) -> _PieceDecoder:
        return _PieceDecoder(self)

    def token_text(self, token_id: int) -> str:
        if token_id >= LEVELS:
            return f"<{self.names[token_id - LEVELS]}>"
        loudness = abs(token_id - SILENCE + 0.5) / SILENCE
        return _BARS[min(len(_BARS) - 1, int(loudness * len(_BARS)))]

    @property
    def default_prompt(self) -> str:  # type: ignore[override]
        return ""

    def samples(self, ids: Iterable[int]) -> np.ndarray:
        """The μ-law levels among ``ids`` (condition tokens dropped)."""
        arr = np.asarray(list(ids), dtype=np.int64)
        return arr[arr < LEVELS].astype(np.uint8)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "conditions": self.conditions, "sample_rate": self.sample_rate}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MuLawTokenizer:
        return cls(data["conditions"], data["sample_rate"])

    def dtype(self) -> np.dtype:
        return np.dtype(np.uint16)
