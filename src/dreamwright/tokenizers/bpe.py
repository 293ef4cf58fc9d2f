"""Byte-level BPE (``--tokenizer bpe --vocab-size N``), trained with the Hugging Face ``tokenizers`` library.

Byte-level means every text can be encoded (no unknown tokens): the 256 byte symbols are always in the
vocabulary and merges are learned on top of them, GPT-2 style. The trained tokenizer's own JSON is kept
inside :meth:`to_dict`, so a run directory's config.json is all that is needed to reload it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from dreamwright.errors import InvalidArgument
from dreamwright.tokenizers.base import Tokenizer, register_tokenizer

DEFAULT_VOCAB_SIZE = 1024


def _hf():
    try:
        import tokenizers
    except ImportError:  # pragma: no cover - a declared dependency
        raise InvalidArgument("--tokenizer bpe needs the `tokenizers` package: pip install tokenizers") \
            from None
    return tokenizers


@register_tokenizer
class BPETokenizer(Tokenizer):
    kind = "bpe"
    default_prompt = "\n"
    #: fit on the training split only (byte-level BPE never meets an unknown piece in the validation text)
    fit_train_split = True

    def __init__(self, hf_tokenizer: Any) -> None:
        self.hf = hf_tokenizer
        self._pieces: list[str] | None = None

    @classmethod
    def fit(cls, chunks: Iterable[str], vocab_size: int | None = None, **options: Any) -> BPETokenizer:
        """Learn merges from a stream of text chunks until the vocabulary has ``vocab_size`` entries."""
        hf = _hf()
        size = DEFAULT_VOCAB_SIZE if vocab_size is None else int(vocab_size)
        alphabet = hf.pre_tokenizers.ByteLevel.alphabet()
        if size < len(alphabet):
            raise InvalidArgument(f"a byte-level BPE vocabulary needs at least {len(alphabet)} entries "
                                  f"(the 256 bytes), got --vocab-size {size}", param="vocab_size")
        tok = hf.Tokenizer(hf.models.BPE())
        tok.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = hf.decoders.ByteLevel()
        trainer = hf.trainers.BpeTrainer(vocab_size=size, min_frequency=2, initial_alphabet=alphabet,
                                         show_progress=False, special_tokens=[])
        tok.train_from_iterator(chunks, trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def encode(self, text: str, *, unknown: str = "error") -> list[int]:
        return list(self.hf.encode(text).ids)  # byte-level: nothing is ever unknown

    def encode_chunk(self, text: str) -> np.ndarray:
        return np.asarray(self.hf.encode(text).ids, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        return self.hf.decode([int(i) for i in ids])

    def token_text(self, token_id: int) -> str:
        if self._pieces is None:
            self._pieces = [self.hf.decode([i]) for i in range(self.vocab_size)]
        return self._pieces[token_id]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "vocab_size": self.vocab_size, "hf_tokenizer": self.hf.to_str()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BPETokenizer:
        return cls(_hf().Tokenizer.from_str(data["hf_tokenizer"]))
