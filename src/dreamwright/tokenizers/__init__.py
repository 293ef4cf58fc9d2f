"""Tokenizers: text ↔ integer ids. ``char`` (default), ``word``, and ``bpe`` (Hugging Face tokenizers)."""

from dreamwright.tokenizers import char, word  # noqa: F401  (registers them)
from dreamwright.tokenizers import bpe  # noqa: F401  (registers bpe)
from dreamwright.tokenizers.base import (
    TOKENIZERS,
    Tokenizer,
    register_tokenizer,
    tokenizer_class,
    tokenizer_from_dict,
)

__all__ = ["TOKENIZERS", "Tokenizer", "register_tokenizer", "tokenizer_class", "tokenizer_from_dict"]
