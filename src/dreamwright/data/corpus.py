"""Corpora: resolve a user's corpus argument, stream its text, and encode it once to a memory-mapped array.

The encoded corpus is two flat files of token ids (``train.bin``, ``valid.bin``; uint8/16/32 by vocabulary
size) plus ``meta.json``. Training reads them through ``numpy.memmap``, so memory does not grow with
corpus size, and encoding streams the text in chunks, so it never holds the whole corpus either.
"""

from __future__ import annotations

import codecs
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dreamwright.data import registry
from dreamwright.errors import CorpusError
from dreamwright.tokenizers import Tokenizer, tokenizer_class

CHUNK_BYTES = 1 << 22


@dataclass
class CorpusSource:
    """Where a corpus's text lives: training files and, when the corpus has them, valid/test files."""

    name: str
    train_files: list[Path]
    valid_files: list[Path] | None = None
    test_files: list[Path] | None = None
    default_tokenizer: str = "char"


def resolve_corpus(source: str | os.PathLike[str]) -> CorpusSource:
    """A file, a folder of ``.txt`` files, or a built-in corpus name."""
    path = Path(source).expanduser()
    if path.is_file():
        return CorpusSource(path.stem, [path])
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise CorpusError(f"folder {path} has no .txt files: put UTF-8 .txt files in it or name a file")
        return CorpusSource(path.name, files)
    builtin = registry.lookup(str(source))
    if builtin is not None:
        fetch = registry.fetch
        return CorpusSource(
            builtin.name,
            [fetch(f) for f in builtin.train],
            [fetch(builtin.valid)] if builtin.valid else None,
            [fetch(builtin.test)] if builtin.test else None,
            builtin.default_tokenizer,
        )
    names = ", ".join(sorted(registry.BUILTIN_CORPORA))
    raise CorpusError(
        f"no such file, folder or built-in corpus: {source!s} (give a path to a UTF-8 text file, "
        f"a folder of .txt files, or one of: {names})"
    )


def iter_text(
    paths: list[Path], *, encoding: str = "utf-8", lower: bool = False, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[str]:
    """Decode files chunk by chunk; a decoding error names the file and byte offset."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise CorpusError(f"unknown text encoding {encoding!r}: use a Python codec name such as utf-8") from None
    for path in paths:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        offset = 0
        try:
            f = open(path, "rb")
        except OSError as exc:
            raise CorpusError(f"cannot read {path}: {exc.strerror}") from None
        with f:
            while True:
                block = f.read(chunk_bytes)
                final = not block
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(block, final=final)
                except UnicodeDecodeError as exc:
                    bad = offset - pending + exc.start
                    raise CorpusError(
                        f"{path} is not valid {encoding}: byte 0x{exc.object[exc.start]:02x} at offset {max(bad, 0)}; "
                        "pass --encoding with the file's real encoding (e.g. latin-1)"
                    ) from None
                offset += len(block)
                if text:
                    yield text.lower() if lower else text
                if final:
                    break


@dataclass
class EncodedCorpus:
    """A corpus encoded to token ids, stored as memory-mapped arrays in ``directory``."""

    directory: Path
    meta: dict[str, Any]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.meta["dtype"])

    def array(self, split: str) -> np.ndarray:
        n = self.meta[f"{split}_tokens"]
        if n == 0:
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(self.directory / f"{split}.bin", dtype=self.dtype, mode="r", shape=(n,))

    def chars(self, split: str) -> int:
        return self.meta[f"{split}_chars"]

    @classmethod
    def open(cls, directory: Path) -> EncodedCorpus:
        return cls(directory, json.loads((directory / "meta.json").read_text()))


class _ArrayWriter:
    def __init__(self, path: Path, dtype: np.dtype) -> None:
        self.f = open(path, "wb")
        self.dtype = dtype
        self.tokens = 0

    def write(self, ids: np.ndarray) -> None:
        self.f.write(ids.astype(self.dtype, copy=False).tobytes())
        self.tokens += len(ids)

    def close(self) -> None:
        self.f.close()


def _split_stream(chunks: Iterator[str], split_at: int, boundary: str | None) -> Iterator[tuple[str, str]]:
    """Tag each chunk 'train' or 'valid', cutting at character ``split_at`` (moved to the next
    ``boundary`` character when given, so words are not cut in two)."""
    seen = 0
    cut_done = False
    for chunk in chunks:
        if cut_done:
            yield "valid", chunk
            continue
        end = seen + len(chunk)
        if end <= split_at:
            seen = end
            yield "train", chunk
            continue
        cut = split_at - seen
        if boundary is not None:
            nxt = chunk.find(boundary, cut)
            if nxt < 0:  # no boundary in this chunk: keep it all in train and cut in the next one
                seen = end
                split_at = end
                yield "train", chunk
                continue
            cut = nxt + 1
        cut_done = True
        if cut:
            yield "train", chunk[:cut]
        if cut < len(chunk):
            yield "valid", chunk[cut:]


def encode_corpus(
    source: CorpusSource,
    out_dir: Path,
    *,
    tokenizer: Tokenizer | None = None,
    tokenizer_kind: str = "char",
    tokenizer_options: dict[str, Any] | None = None,
    lower: bool = False,
    encoding: str = "utf-8",
    valid_fraction: float = 0.1,
) -> tuple[Tokenizer, EncodedCorpus]:
    """Fit a tokenizer (unless given) and write the corpus as token arrays into ``out_dir``."""
    from dreamwright.progress import progress_bar

    def stream(paths: list[Path]) -> Iterator[str]:
        return iter_text(paths, encoding=encoding, lower=lower)

    total_bytes = sum(p.stat().st_size for p in source.train_files + (source.valid_files or []))
    total_chars = 0
    if tokenizer is None or source.valid_files is None:
        # first pass: count characters (for the split) while fitting the vocabulary
        def counted(paths: list[Path]) -> Iterator[str]:
            nonlocal total_chars
            for chunk in stream(paths):
                total_chars += len(chunk)
                yield chunk

        fit_files = source.train_files if source.valid_files else source.train_files
        cls = tokenizer_class(tokenizer_kind) if tokenizer is None else None
        if cls is not None and source.valid_files is None and getattr(cls, "fit_train_split", False):
            # count first, then fit on the training split only (cut where the split below cuts)
            for _ in counted(fit_files):
                pass
            cut = int(total_chars * (1.0 - valid_fraction))
            tagged_fit = _split_stream(stream(fit_files), cut, None if tokenizer_kind == "char" else "\n")
            train_only = itertools.takewhile(lambda tagged: tagged[0] == "train", tagged_fit)
            tokenizer = cls.fit((chunk for _, chunk in train_only), **(tokenizer_options or {}))
        elif tokenizer is None:
            tokenizer = tokenizer_class(tokenizer_kind).fit(counted(fit_files), **(tokenizer_options or {}))
        else:
            for _ in counted(fit_files):
                pass
        if total_chars == 0:
            raise CorpusError(f"corpus {source.name} is empty: give it some text")

    out_dir.mkdir(parents=True, exist_ok=True)
    dtype = tokenizer.dtype()
    writers = {s: _ArrayWriter(out_dir / f"{s}.bin", dtype) for s in ("train", "valid")}
    chars = {"train": 0, "valid": 0}
    if source.valid_files:
        tagged: Iterator[tuple[str, str]] = (
            *(("train", c) for c in stream(source.train_files)),
            *(("valid", c) for c in stream(source.valid_files)),
        )
    else:
        split_at = int(total_chars * (1.0 - valid_fraction))
        boundary = None if tokenizer.kind == "char" else "\n"
        tagged = _split_stream(stream(source.train_files), split_at, boundary)
    try:
        with progress_bar(f"encoding {source.name}", total=total_bytes, unit="B") as bar:
            for split, chunk in tagged:
                writers[split].write(tokenizer.encode_chunk(chunk))
                chars[split] += len(chunk)
                bar.advance(len(chunk))
    finally:
        for w in writers.values():
            w.close()
    meta = {
        "corpus": source.name,
        "dtype": dtype.name,
        "train_tokens": writers["train"].tokens,
        "valid_tokens": writers["valid"].tokens,
        "train_chars": chars["train"],
        "valid_chars": chars["valid"],
    }
    if meta["train_tokens"] == 0:
        raise CorpusError(f"corpus {source.name} is empty: give it some text")
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    return tokenizer, EncodedCorpus(out_dir, meta)


def encode_text_file(path: Path, tokenizer: Tokenizer, *, encoding: str = "utf-8", lower: bool = False,
                     unknown: str = "error") -> tuple[np.ndarray, int]:
    """Token ids and character count of a whole file (for ``dreamwright eval``)."""
    ids: list[np.ndarray] = []
    n_chars = 0
    for chunk in iter_text([path], encoding=encoding, lower=lower):
        if unknown == "error":
            tokenizer.encode(chunk, unknown="error")  # raises naming the unknown pieces
        ids.append(tokenizer.encode_chunk(chunk))
        n_chars += len(chunk)
    if n_chars == 0:
        raise CorpusError(f"{path} is empty: give it some text")
    return np.concatenate(ids), n_chars
