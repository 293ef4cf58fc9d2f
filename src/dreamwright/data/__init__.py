"""Corpora: the built-in registry, text streaming, and encoding to memory-mapped token arrays."""

from dreamwright.data.corpus import CorpusSource, EncodedCorpus, encode_corpus, iter_text, resolve_corpus
from dreamwright.data.registry import BUILTIN_CORPORA, BuiltinCorpus, RemoteFile, fetch, register_corpus

__all__ = [
    "BUILTIN_CORPORA",
    "BuiltinCorpus",
    "CorpusSource",
    "EncodedCorpus",
    "RemoteFile",
    "encode_corpus",
    "fetch",
    "iter_text",
    "register_corpus",
    "resolve_corpus",
]
