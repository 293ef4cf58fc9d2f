"""Tokenizers: text ↔ integer ids. ``char`` (default), ``word``, and ``bpe`` (Hugging Face tokenizers)."""

from dreamwright.tokenizers import (  # noqa: F401  (registers them)
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
