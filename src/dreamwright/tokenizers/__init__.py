"""Tokenizers: text ↔ integer ids. ``char`` (default), ``word``, and ``bpe`` (Hugging Face tokenizers); ``mulaw``
turns audio into tokens."""

from dreamwright.tokenizers import (  # noqa: F401  (registers them)
    audio,  # noqa: F401  (registers mulaw)
    bpe,  # noqa: F401  (registers bpe)
    char,
    word,
)
from dreamwright.tokenizers.base import (
    TOKENIZERS,
    Tokenizer,
    register_tokenizer,
    tokenizer_class,
    tokenizer_from_dict,
)

__all__ = ["TOKENIZERS", "Tokenizer", "register_tokenizer", "tokenizer_class", "tokenizer_from_dict"]
