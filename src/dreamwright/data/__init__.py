"""Corpora: the built-in registry, text streaming, and encoding to memory-mapped token arrays; image sets."""

from dreamwright.data.corpus import CorpusSource, EncodedCorpus, encode_corpus, iter_text, resolve_corpus
from dreamwright.data.images import ImageDataset, ImageSplit, load_images
from dreamwright.data.registry import BUILTIN_CORPORA, BuiltinCorpus, RemoteFile, fetch, register_corpus

__all__ = [
    "BUILTIN_CORPORA",
    "BuiltinCorpus",
    "CorpusSource",
    "EncodedCorpus",
    "ImageDataset",
    "ImageSplit",
    "RemoteFile",
    "encode_corpus",
    "fetch",
    "iter_text",
    "load_images",
    "register_corpus",
    "resolve_corpus",
]
