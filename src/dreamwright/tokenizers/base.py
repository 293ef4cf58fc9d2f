"""The tokenizer interface every tokenizer implements, and the tokenizer registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from dreamwright.errors import InvalidArgument, VocabularyError


class Tokenizer(ABC):
    """Maps text to integer ids and back. Stateless after :meth:`fit`; serialisable to JSON."""

    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def fit(cls, chunks: Iterable[str], **options: Any) -> Tokenizer:
        """Learn a vocabulary from text chunks (a stream: a corpus need not fit in memory)."""

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def encode(self, text: str, *, unknown: str = "error") -> list[int]:
        """Ids of ``text``. ``unknown='error'`` raises on out-of-vocabulary pieces, ``'skip'`` drops them."""

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str: ...

    @abstractmethod
    def token_text(self, token_id: int) -> str:
        """How one token reads on its own (for displays such as the temperature lens)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description, stored in a run's config.json."""

    @classmethod
    @abstractmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokenizer: ...

    def encode_chunk(self, text: str) -> np.ndarray:
        """Ids of a corpus chunk as an array (tokenizers override with a faster path)."""
        return np.asarray(self.encode(text, unknown="skip"), dtype=np.int64)

    def stream_decoder(self) -> StreamDecoder:
        """An object turning ids into text one at a time (holds back incomplete characters)."""
        return StreamDecoder(self)

    #: text fed to the model when the user gives no prompt
    default_prompt: str = "\n"

    def dtype(self) -> np.dtype:
        """Smallest unsigned integer type that holds every id."""
        if self.vocab_size <= 256:
            return np.dtype(np.uint8)
        if self.vocab_size <= 65536:
            return np.dtype(np.uint16)
        return np.dtype(np.uint32)


class StreamDecoder:
    """Incremental decoding for any tokenizer: decode all ids so far and emit what is new.

    Text ending in U+FFFD (an incomplete UTF-8 sequence from a byte-level tokenizer) is held back.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.emitted = 0

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd"):
            return ""
        new, self.emitted = text[self.emitted:], len(text)
        return new


class _PieceDecoder:
    """Fast incremental decoding for tokenizers whose tokens decode independently."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def push(self, token_id: int) -> str:
        return self.tokenizer.token_text(token_id)


def unknown_message(kind: str, pieces: list[str]) -> VocabularyError:
    shown = ", ".join(repr(p) for p in pieces[:10]) + (" …" if len(pieces) > 10 else "")
    return VocabularyError(
        f"the prompt has {len(pieces)} {kind}(s) the model never saw: {shown}; "
        "remove them or pass --unknown skip to drop them",
        param="prompt",
    )


TOKENIZERS: dict[str, type[Tokenizer]] = {}


def register_tokenizer(cls: type[Tokenizer]) -> type[Tokenizer]:
    TOKENIZERS[cls.kind] = cls
    return cls


def tokenizer_class(kind: str) -> type[Tokenizer]:
    try:
        return TOKENIZERS[kind]
    except KeyError:
        raise InvalidArgument(
            f"unknown tokenizer {kind!r}; choose one of: {', '.join(sorted(TOKENIZERS))}", param="tokenizer"
        ) from None


def tokenizer_from_dict(data: dict[str, Any]) -> Tokenizer:
    return tokenizer_class(data["kind"]).from_dict(data)
