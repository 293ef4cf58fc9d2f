"""Corpora: resolve a user's corpus argument, stream its text, and encode it once to a memory-mapped array.

Text files may be gzip-, bzip2- or xz-compressed (recognised by their first bytes, read transparently), and
``encoding="auto"`` detects each file's encoding with charset-normalizer.

The encoded corpus is two flat files of token ids (``train.bin``, ``valid.bin``; uint8/16/32 by vocabulary
size) plus ``meta.json``. Training reads them through ``numpy.memmap``, so memory does not grow with
corpus size, and encoding streams the text in chunks, so it never holds the whole corpus either.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import itertools
import json
import lzma
import os
import shutil
import sys
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from dreamwright.data import registry
from dreamwright.errors import CorpusError
from dreamwright.tokenizers import Tokenizer, tokenizer_class
from dreamwright.tokenizers.base import unknown_message

CHUNK_BYTES = 1 << 22
#: corpora larger than this are encoded in parallel worker processes
PARALLEL_BYTES = 64 << 20
#: ``encoding="auto"`` looks at this much of each file's (decompressed) start
DETECT_BYTES = 1 << 20
#: first bytes of the compressed formats read transparently -> (name, opener)
_COMPRESSED = (
    (b"\x1f\x8b", "gzip", gzip.open),
    (b"BZh", "bzip2", bz2.open),
    (b"\xfd7zXZ\x00", "xz", lzma.open),
)
#: what a folder corpus reads
TEXT_PATTERNS = ("*.txt", "*.txt.gz", "*.txt.bz2", "*.txt.xz")
_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def compression_of(path: Path) -> str | None:
    """``"gzip"``, ``"bzip2"`` or ``"xz"`` when ``path`` is compressed that way (by its first bytes), else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}") from None
    if head.startswith(b"PK\x03\x04"):
        raise CorpusError(f"{path} is a zip archive, not text: unzip it and give the folder or a .txt file in it")
    return next((name for magic, name, _ in _COMPRESSED if head.startswith(magic)), None)


def open_text_bytes(path: Path) -> IO[bytes]:
    """``path`` opened for reading bytes, decompressed on the fly when it is gzip, bzip2 or xz."""
    kind = compression_of(path)
    opener = next((fn for _, name, fn in _COMPRESSED if name == kind), open)
    try:
        return opener(path, "rb")  # type: ignore[operator]
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read(f: IO[bytes], n: int, path: Path) -> bytes:
    try:
        return f.read(n)
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:  # gzip.BadGzipFile is an OSError
        raise CorpusError(
            f"{path} is a corrupt or truncated {compression_of(path) or 'file'} ({exc}); get a good copy"
        ) from None


def text_size(path: Path) -> int:
    """Bytes of text in ``path``: its size, or for gzip the uncompressed size its trailer records."""
    size = path.stat().st_size
    if size > 18 and compression_of(path) == "gzip":
        with open(path, "rb") as f:
            f.seek(-4, os.SEEK_END)
            return max(int.from_bytes(f.read(4), "little"), size)  # the trailer holds the size mod 2**32
    return size


def detect_encoding(path: Path, sample_bytes: int = DETECT_BYTES) -> str:
    """The text encoding of ``path`` (decompressed) from its start: a byte-order mark, else UTF-8 when the
    bytes are valid UTF-8, else charset-normalizer's best guess."""
    with open_text_bytes(path) as f:
        sample = _read(f, sample_bytes + 1, path)
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if len(sample) > sample_bytes:  # cut at a line end so that no multi-byte character is cut in two
        sample = sample[: sample.rfind(b"\n", 0, sample_bytes) + 1] or sample[:sample_bytes]
    try:
        sample.decode("utf-8")
        return "utf-8"  # ASCII or valid UTF-8: other encodings almost never look like that by chance
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise CorpusError(
            f"{path} does not look like text in any encoding that --encoding auto knows; "
            "if it is text, pass --encoding with its name"
        )
    return best.encoding


@dataclass
class CorpusSource:
    """Where a corpus's text lives: training files and, when the corpus has them, valid/test files."""

    name: str
    train_files: list[Path]
    valid_files: list[Path] | None = None
    test_files: list[Path] | None = None
    default_tokenizer: str = "char"
    task: str = "text"  # how training reads it (a task of dreamwright.training.tasks)
    #: the folder the corpus was given as (or a single file's folder); None for built-in corpora
    root: Path | None = None


def resolve_corpus(source: str | os.PathLike[str]) -> CorpusSource:
    """A file, a folder of ``.txt`` files (or of pair files, or of ``.wav`` recordings), or a built-in corpus name."""
    path = Path(source).expanduser()
    if path.is_file():
        name = path.name
        for suffix in (".gz", ".bz2", ".xz"):
            name = name.removesuffix(suffix)
        if path.suffix.lower() == ".wav":  # a recording (dreamwright.data.audio)
            return CorpusSource(path.stem, [path], task="audio", root=path.parent)
        pairs = path.suffix.lower() in (".tsv", ".jsonl")  # input → reply pairs (dreamwright.data.pairs)
        return CorpusSource(Path(name).stem, [path], task="pairs" if pairs else "text")
    if path.is_dir():
        files = sorted({p for pattern in TEXT_PATTERNS for p in path.rglob(pattern) if p.is_file()})
        if not files:
            return _pair_or_audio_folder(path)
        return CorpusSource(path.name, files, root=path)
    builtin = registry.lookup(str(source))
    if builtin is not None and builtin.prepare is not None:
        train, valid = builtin.prepare()
        return CorpusSource(builtin.name, train, valid, None, builtin.default_tokenizer, builtin.task)
    if builtin is not None:
        fetch = registry.fetch
        return CorpusSource(
            builtin.name,
            [fetch(f) for f in builtin.train],
            [fetch(builtin.valid)] if builtin.valid else None,
            [fetch(builtin.test)] if builtin.test else None,
            builtin.default_tokenizer,
            builtin.task,
        )
    names = ", ".join(sorted(registry.BUILTIN_CORPORA))
    raise CorpusError(
        f"no such file, folder or built-in corpus: {source!s} (give a path to a UTF-8 text file, "
        f"a folder of .txt or .wav files, or one of: {names})"
    )


def _pair_or_audio_folder(path: Path) -> CorpusSource:
    """A folder without ``.txt`` files: pair files, else ``.wav`` recordings, else an error."""
    pairs = _pair_folder(path)
    if pairs is not None:
        return pairs
    from dreamwright.data.audio import wav_files

    recordings = wav_files(path)
    if recordings:
        return CorpusSource(path.name, recordings, task="audio", root=path)
    raise CorpusError(
        f"folder {path} has no .txt or .wav files: put .txt files (or .txt.gz) or WAV recordings in it or name a file"
    )


def _pair_folder(path: Path) -> CorpusSource | None:
    """A folder of ``.tsv``/``.jsonl`` pair files; ``valid.*`` files in it are the held-out split."""
    files = sorted(p for suffix in (".tsv", ".jsonl") for p in path.glob(f"*{suffix}") if p.is_file())
    if not files:
        return None
    valid = [p for p in files if p.stem == "valid"]
    return CorpusSource(path.name, [p for p in files if p not in valid], valid or None, task="pairs", root=path)


#: written between files in document mode (ASCII record separator on a line of its own)
END_OF_DOCUMENT = "\n\x1e\n"


def iter_text(
    paths: list[Path], *, encoding: str = "utf-8", lower: bool = False, chunk_bytes: int = CHUNK_BYTES,
    separator: str | None = None,
) -> Iterator[str]:
    """Decode files chunk by chunk; a decoding error names the file and byte offset.

    Compressed files (gzip, bzip2, xz) are decompressed on the fly; ``encoding="auto"`` detects each file's
    encoding (:func:`detect_encoding`). ``separator`` (document mode) is yielded between files.
    """
    auto = encoding == "auto"
    if not auto:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise CorpusError(
                f"unknown text encoding {encoding!r}: use a Python codec name such as utf-8, or auto"
            ) from None
    for number, path in enumerate(paths):
        if separator and number:
            yield separator
        file_encoding = detect_encoding(path) if auto else encoding
        decoder = codecs.getincrementaldecoder(file_encoding)(errors="strict")
        offset = 0
        with open_text_bytes(path) as f:
            while True:
                block = _read(f, chunk_bytes, path)
                final = not block
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(block, final=final)
                except UnicodeDecodeError as exc:
                    bad = max(offset - pending + exc.start, 0)
                    raise CorpusError(_decode_error(path, file_encoding, auto, exc.object[exc.start], bad)) from None
                offset += len(block)
                if text:
                    yield text.lower() if lower else text
                if final:
                    break


def _decode_error(path: Path, encoding: str, detected: bool, byte: int, offset: int) -> str:
    where = f"byte 0x{byte:02x} at offset {offset}"
    if compression_of(path):
        where += " of the decompressed text"
    if detected:
        return (
            f"{path} is not valid {encoding} (the encoding --encoding auto guessed from its start): {where}; "
            "pass --encoding with the file's real encoding"
        )
    return (
        f"{path} is not valid {encoding}: {where}; if it is text in another encoding, pass --encoding auto "
        "to detect it (or the encoding's name, e.g. --encoding gb18030)"
    )


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


def _file_digest(path: Path) -> str:
    """sha256 of a file's content, remembered by (path, size, mtime) so a second run need not re-read it."""
    index_path = registry.cache_dir() / "encoded" / "digests.json"
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, json.JSONDecodeError):
        index = {}
    if key not in index:
        index[key] = registry.sha256_of(path)
        try:
            index_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = index_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(index))
            os.replace(tmp, index_path)
        except OSError:
            pass  # the cache is an optimisation only
    return index[key]


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


_worker_tokenizer: Tokenizer | None = None


def _init_worker(tokenizer: Tokenizer) -> None:
    global _worker_tokenizer
    _worker_tokenizer = tokenizer


def _encode_in_worker(chunk: str) -> np.ndarray:
    assert _worker_tokenizer is not None
    return _worker_tokenizer.encode_chunk(chunk)


def _encoded_chunks(tokenizer: Tokenizer, tagged: Iterator[tuple[str, str]], workers: int):
    """Yield ``(split, characters, ids)`` chunk by chunk, in order.

    With ``workers`` > 1 the chunks are encoded in worker processes, a bounded number in flight.
    """
    if workers <= 1:
        for split, chunk in tagged:
            yield split, len(chunk), tokenizer.encode_chunk(chunk)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(tokenizer,)) as pool:
        pending: deque = deque()
        for split, chunk in tagged:
            pending.append((split, len(chunk), pool.submit(_encode_in_worker, chunk)))
            if len(pending) >= 2 * workers:
                split_, n, future = pending.popleft()
                yield split_, n, future.result()
        while pending:
            split_, n, future = pending.popleft()
            yield split_, n, future.result()


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
    documents: bool = False,
    workers: int | None = None,
    cache: bool = True,
) -> tuple[Tokenizer, EncodedCorpus]:
    """Fit a tokenizer (unless given) and write the corpus as token arrays into ``out_dir``.

    The text is streamed in chunks (never held whole), encoded in parallel worker processes for large corpora,
    and the result is cached under the user cache dir keyed by the files' content hashes and the tokenizer
    settings, so a second run on the same corpus starts at once (the arrays are hard-linked into ``out_dir``).
    """
    separator = END_OF_DOCUMENT if documents else None
    total_bytes = sum(text_size(p) for p in source.train_files + (source.valid_files or []))
    cached_dir = None
    if cache:
        cached_dir = _cache_dir(source, {
            "tokenizer": tokenizer.to_dict() if tokenizer is not None else tokenizer_kind,
            "options": tokenizer_options or {}, "lower": lower, "encoding": encoding,
            "valid_fraction": None if source.valid_files else valid_fraction, "documents": documents,
        })
        found = _open_cached(cached_dir, out_dir, source)
        if found is not None:
            return found

    def stream(paths: list[Path]) -> Iterator[str]:
        return iter_text(paths, encoding=encoding, lower=lower, separator=separator)

    total_chars = 0
    if tokenizer is None or source.valid_files is None:
        tokenizer, total_chars = _fit_and_count(source, stream, tokenizer, tokenizer_kind, tokenizer_options or {},
                                                valid_fraction, total_bytes)
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if total_bytes > PARALLEL_BYTES else 1
    if source.valid_files:
        tagged: Iterator[tuple[str, str]] = itertools.chain(
            (("train", c) for c in stream(source.train_files)),
            (("valid", c) for c in stream(source.valid_files)),
        )
    else:
        split_at = int(total_chars * (1.0 - valid_fraction))
        tagged = _split_stream(stream(source.train_files), split_at, None if tokenizer.kind == "char" else "\n")
    encoded = _write_arrays(source, out_dir, tokenizer, tagged, total_bytes, workers, documents)
    if cached_dir is not None:
        _store_in_cache(out_dir, cached_dir, tokenizer)
    return tokenizer, encoded


def _cache_dir(source: CorpusSource, settings: dict[str, Any]) -> Path:
    """Where the corpus encoded with ``settings`` is cached: keyed by its files' content and the settings."""
    key_material = json.dumps({
        "format": 1, "train": [_file_digest(p) for p in source.train_files],
        "valid": [_file_digest(p) for p in source.valid_files or []], **settings,
    }, sort_keys=True, default=str)
    return registry.cache_dir() / "encoded" / hashlib.sha256(key_material.encode()).hexdigest()[:32]


def _open_cached(cached_dir: Path, out_dir: Path, source: CorpusSource) -> tuple[Tokenizer, EncodedCorpus] | None:
    """The cached encoding linked into ``out_dir``, or None when there is none."""
    if not ((cached_dir / "meta.json").is_file() and (cached_dir / "tokenizer.json").is_file()):
        return None
    from dreamwright.tokenizers import tokenizer_from_dict

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("train.bin", "valid.bin", "meta.json"):
        _link_or_copy(cached_dir / name, out_dir / name)
    cached = EncodedCorpus.open(out_dir)
    cached.meta["corpus"] = source.name
    return tokenizer_from_dict(json.loads((cached_dir / "tokenizer.json").read_text())), cached


def _fit_and_count(source: CorpusSource, stream: Callable[[list[Path]], Iterator[str]], tokenizer: Tokenizer | None,
                   tokenizer_kind: str, tokenizer_options: dict[str, Any], valid_fraction: float,
                   total_bytes: int) -> tuple[Tokenizer, int]:
    """The tokenizer (fitted unless given) and the training files' characters (for the split), in one pass
    (two when the tokenizer fits on the training split only)."""
    from dreamwright.progress import progress_bar

    total_chars = 0

    def counted(paths: list[Path]) -> Iterator[str]:
        nonlocal total_chars
        with progress_bar(f"reading {source.name}", total=total_bytes, unit="B") as bar:
            for chunk in stream(paths):
                total_chars += len(chunk)
                bar.advance(len(chunk))
                yield chunk

    fit_files = source.train_files
    cls = tokenizer_class(tokenizer_kind) if tokenizer is None else None
    if cls is not None and source.valid_files is None and getattr(cls, "fit_train_split", False):
        # count first, then fit on the training split only (cut where the split cuts)
        for _ in counted(fit_files):
            pass
        cut = int(total_chars * (1.0 - valid_fraction))
        tagged_fit = _split_stream(stream(fit_files), cut, None if tokenizer_kind == "char" else "\n")
        train_only = itertools.takewhile(lambda tagged: tagged[0] == "train", tagged_fit)
        tokenizer = cls.fit((chunk for _, chunk in train_only), **tokenizer_options)
    elif cls is not None:
        tokenizer = cls.fit(counted(fit_files), **tokenizer_options)
    else:
        for _ in counted(fit_files):
            pass
    if total_chars == 0:
        raise CorpusError(f"corpus {source.name} is empty: give it some text")
    assert tokenizer is not None
    return tokenizer, total_chars


def _write_arrays(source: CorpusSource, out_dir: Path, tokenizer: Tokenizer, tagged: Iterator[tuple[str, str]],
                  total_bytes: int, workers: int, documents: bool) -> EncodedCorpus:
    """Encode the ``(split, text)`` chunks into ``train.bin``/``valid.bin`` and ``meta.json`` in ``out_dir``."""
    from dreamwright.progress import progress_bar

    out_dir.mkdir(parents=True, exist_ok=True)
    dtype = tokenizer.dtype()
    writers = {s: _ArrayWriter(out_dir / f"{s}.bin", dtype) for s in ("train", "valid")}
    chars = {"train": 0, "valid": 0}
    try:
        with progress_bar(f"encoding {source.name}", total=total_bytes, unit="B") as bar:
            for split, n_chars, ids in _encoded_chunks(tokenizer, tagged, workers):
                writers[split].write(ids)
                chars[split] += n_chars
                bar.advance(n_chars)
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
        "documents": documents,
    }
    if meta["train_tokens"] == 0:
        raise CorpusError(f"corpus {source.name} is empty: give it some text")
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    return EncodedCorpus(out_dir, meta)


def _store_in_cache(out_dir: Path, cached_dir: Path, tokenizer: Tokenizer) -> None:
    """Hard-link a freshly encoded corpus into the cache (built aside, then renamed into place)."""
    try:
        cached_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cached_dir.parent, prefix=".building-"))
        for name in ("train.bin", "valid.bin", "meta.json"):
            _link_or_copy(out_dir / name, tmp / name)
        (tmp / "tokenizer.json").write_text(json.dumps(tokenizer.to_dict(), ensure_ascii=False))
        try:
            os.rename(tmp, cached_dir)
        except OSError:  # another process cached it first
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
        pass  # the cache is an optimisation only


class EncodedFile(NamedTuple):
    """A whole file encoded for scoring (``dreamwright eval``)."""

    ids: np.ndarray
    #: characters the scored tokens stand for (dropped characters excluded)
    chars: int
    #: pieces outside the vocabulary and how often each occurs
    unknown: Counter[str]
    #: True when those pieces were dropped (character models); word models read them as ``<unk>``
    dropped: bool


def encode_text_file(path: Path, tokenizer: Tokenizer, *, encoding: str = "utf-8", lower: bool = False,
                     unknown: str = "error") -> EncodedFile:
    """Token ids of a whole file (for ``dreamwright eval``); ``unknown="error"`` raises naming the file and the
    pieces the vocabulary lacks, ``"skip"`` drops them (character models) or reads them as ``<unk>`` (word)."""
    ids: list[np.ndarray] = []
    n_chars = 0
    missing: Counter[str] = Counter()
    for chunk in iter_text([path], encoding=encoding, lower=lower):
        missing.update(tokenizer.unknown_pieces(chunk))
        ids.append(tokenizer.encode_chunk(chunk))
        n_chars += len(chunk)
    if n_chars == 0:
        raise CorpusError(f"{path} is empty: give it some text")
    dropped = tokenizer.kind == "char"
    if missing and unknown == "error":
        raise unknown_message(tokenizer.piece, sorted(missing), where=str(path),
                              remedy="drop them" if dropped else "score them as <unk>")
    return EncodedFile(np.concatenate(ids), n_chars - (sum(missing.values()) if dropped else 0), missing, dropped)
