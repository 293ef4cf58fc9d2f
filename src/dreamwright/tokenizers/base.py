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
    #: what one token is called in messages (``character``, ``word``)
    piece: ClassVar[str] = "token"

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

    def unknown_pieces(self, text: str) -> list[str]:
        """The pieces of ``text`` outside the vocabulary, in order, repeats included (none by default: a
        byte-level tokenizer can encode any text)."""
        return []

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


def show_pieces(pieces: list[str], limit: int = 10) -> str:
    """``'x', 'y', …``: the first ``limit`` pieces, quoted."""
    return ", ".join(repr(p) for p in pieces[:limit]) + (" …" if len(pieces) > limit else "")


def unknown_message(kind: str, pieces: list[str], *, where: str = "the prompt",
                    remedy: str = "drop them") -> VocabularyError:
    """The error for distinct ``pieces`` (of kind ``character``/``word``) missing from the vocabulary, found in
    ``where`` (the prompt, a file's name)."""
    return VocabularyError(
        f"{where} has {len(pieces)} {kind}(s) the model never saw: {show_pieces(pieces)}; "
        f"remove them or pass unknown='skip' to {remedy}",
        param="prompt" if where == "the prompt" else None,
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
