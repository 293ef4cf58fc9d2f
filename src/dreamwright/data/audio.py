"""Audio data for WaveNet: WAV files in and out, resampling, 8-bit μ-law tokens, FSDD and folders of WAVs.

The pieces, in the order a run uses them:

- *where the files are* — :func:`audio_files` lists a corpus's :class:`AudioFile`\\ s: the built-in Free Spoken
  Digit Dataset (:func:`fsdd_files`) or a folder of ``.wav`` files (:func:`folder_files`, labelled by sub-folder);
- *what they hold* — :func:`read_wav` reads PCM WAV (8-bit unsigned, 16/24/32-bit signed, any number of channels,
  mixed down to mono) with a parser of its own: the standard library's ``wave`` of Python 3.11 refuses the
  WAVE_FORMAT_EXTENSIBLE header most 24-bit and multichannel files carry;
- *at the run's rate, as tokens* — :func:`resample` (windowed sinc) and :func:`mulaw_encode` (256 levels);
  :func:`read_clips` does all three for a list of files, skipping and naming the files it cannot read;
- *back to sound* — :func:`mulaw_decode`, :func:`wav_bytes` and :func:`write_wav` (16-bit PCM mono).

FSDD (``fsdd``, v1.0.10): 3,000 recordings ``recordings/{digit}_{speaker}_{index}.wav``, 8 kHz 16-bit mono;
index 0-4 is the upstream test split (held out). Every file is checked against the size and sha256 in the
packaged manifest (``fsdd_manifest.tsv.gz``); the files come from ``$DREAMWRIGHT_DATA/fsdd/recordings``, else the
user cache (``<cache>/data/fsdd/recordings``), else the canonical release tarball, downloaded once and unpacked
into the cache.
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import re
import tarfile
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np

from dreamwright.data import registry
from dreamwright.data.registry import RemoteFile
from dreamwright.data.split import hash_fraction
from dreamwright.errors import CorpusError, InvalidArgument

if TYPE_CHECKING:  # pragma: no cover - corpus.py imports this module to recognise folders of recordings
    from dreamwright.data.corpus import CorpusSource, EncodedCorpus

LEVELS = 256  # μ-law levels (token ids 0..255)
MU = 255
DEFAULT_RATE = 8000
RATE_RANGE = (1000, 48000)  # rates a run may use
#: share of a folder's files held out (chosen per file by a hash of its path inside the folder)
HELD_OUT_FRACTION = 0.1
#: a file list at least this long gets a progress bar
PROGRESS_FILES = 8

FSDD_VERSION = "1.0.10"
FSDD_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v{FSDD_VERSION}.tar.gz"
FSDD_DIR = "fsdd/recordings"  # inside the mirror and the cache
FSDD_TEST_INDICES = range(5)  # upstream: recordings 0-4 of each digit and speaker are the test set
_FSDD_NAME = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav")
_MANIFEST = Path(__file__).with_name("fsdd_manifest.tsv.gz")


# ---------------------------------------------------------------------------------------------- μ-law
def mulaw_encode(x: np.ndarray) -> np.ndarray:
    """Samples in [-1, 1] (clipped) → uint8 ids 0..255: ``sign(x)·log1p(μ|x|)/log1p(μ)`` rounded to 256 levels
    (0 is -1, 255 is +1, silence is 128)."""
    x = np.clip(np.nan_to_num(np.asarray(x, dtype=np.float64)), -1.0, 1.0)
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    return np.floor((y + 1.0) / 2.0 * (LEVELS - 1) + 0.5).astype(np.uint8)


def mulaw_decode(q: np.ndarray) -> np.ndarray:
    """uint8 (or integer) ids 0..255 → float32 samples in [-1, 1], the inverse of :func:`mulaw_encode`'s levels."""
    q = np.asarray(q)
    if q.size and (q.min() < 0 or q.max() >= LEVELS):
        raise InvalidArgument(f"μ-law ids must be 0 to {LEVELS - 1}, got {q.min()} to {q.max()}")
    y = 2.0 * q.astype(np.float64) / (LEVELS - 1) - 1.0
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU).astype(np.float32)


# ---------------------------------------------------------------------------------------------- WAV
class _Unreadable(Exception):
    """Why a file is not usable audio (a short reason, without the file's name)."""


_FORMAT_NAMES = {3: "IEEE float", 6: "A-law", 7: "μ-law", 0x55: "MP3"}
_PCM, _EXTENSIBLE = 1, 0xFFFE


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    """(float32 mono samples in [-1, 1], sample rate, channels in the file) of a PCM WAV file: 8-bit unsigned or
    16/24/32-bit signed, several channels averaged. Anything else raises :class:`CorpusError` naming the file."""
    try:
        return _read_wav(Path(path))
    except _Unreadable as exc:
        raise CorpusError(f"cannot read {path}: {exc}; give a PCM WAV file (8, 16, 24 or 32-bit)") from None


def decode_wav(data: bytes, name: str = "the WAV file") -> tuple[np.ndarray, int, int]:
    """:func:`read_wav` of a file's bytes (an upload); ``name`` says what they were in the error."""
    try:
        return _parse_wav(data)
    except _Unreadable as exc:
        raise CorpusError(f"cannot read {name}: {exc}; send a PCM WAV file (8, 16, 24 or 32-bit)") from None


def _read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _Unreadable(exc.strerror or exc.__class__.__name__) from None
    return _parse_wav(data)


def _parse_wav(data: bytes) -> tuple[np.ndarray, int, int]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise _Unreadable("not a WAV file (no RIFF/WAVE header)")
    fmt, pcm = _wav_chunks(data)
    tag, channels, rate, bits = fmt
    if tag != _PCM:
        name = _FORMAT_NAMES.get(tag)
        raise _Unreadable(f"not PCM (format {tag}{', ' + name if name else ''})")
    if bits not in (8, 16, 24, 32):
        raise _Unreadable(f"{bits}-bit samples (only 8, 16, 24 and 32-bit PCM are read)")
    if channels < 1 or rate < 1:
        raise _Unreadable(f"its header says {channels} channels at {rate} Hz")
    width = bits // 8
    frames = len(pcm) // (width * channels)
    pcm = pcm[: frames * width * channels]
    if bits == 8:
        samples = (np.frombuffer(pcm, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif bits == 24:
        b = np.frombuffer(pcm, np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        samples = ((value ^ 0x800000) - 0x800000).astype(np.float32) / float(1 << 23)
    else:
        samples = np.frombuffer(pcm, f"<i{width}").astype(np.float32) / float(1 << (bits - 1))
    if channels > 1:
        samples = samples.reshape(frames, channels).mean(axis=1, dtype=np.float32)
    return samples.astype(np.float32, copy=False), rate, channels


def _wav_chunks(data: bytes) -> tuple[tuple[int, int, int, int], bytes]:
    """``((format tag, channels, rate, bits), sample bytes)`` from a RIFF/WAVE file's ``fmt `` and ``data`` chunks."""
    fmt = None
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + size]
        if chunk == b"fmt ":
            if len(body) < 16:
                raise _Unreadable("truncated (its fmt chunk is cut short)")
            tag, channels, rate = int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little"), \
                int.from_bytes(body[4:8], "little")
            bits = int.from_bytes(body[14:16], "little")
            if tag == _EXTENSIBLE and len(body) >= 26:  # the sub-format GUID starts with the real tag
                tag = int.from_bytes(body[24:26], "little")
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data":
            if fmt is None:
                raise _Unreadable("no fmt chunk before its data")
            if len(body) < size:
                raise _Unreadable(f"truncated (its data chunk promises {size} bytes, the file holds {len(body)})")
            return fmt, body
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    raise _Unreadable("truncated (no data chunk)" if fmt is not None else "no fmt chunk")


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """A 16-bit PCM mono WAV file of ``samples`` (floats in [-1, 1], clipped) at ``rate`` Hz."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise InvalidArgument(f"audio samples must be one channel (a 1-D array), got shape {samples.shape}")
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 1 <= rate < 1 << 31:
        raise InvalidArgument(f"sample_rate must be a positive whole number of Hz, got {rate!r}", param="sample_rate")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm16_bytes(samples))
    return buffer.getvalue()


def pcm16_bytes(samples: np.ndarray) -> bytes:
    """``samples`` (floats in [-1, 1], clipped) as raw 16-bit little-endian PCM: a WAV's data, or the server's
    ``pcm`` format."""
    x = np.clip(np.nan_to_num(np.asarray(samples, dtype=np.float64)), -1.0, 1.0)
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2").tobytes()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write :func:`wav_bytes` to ``path`` atomically (a temporary file beside it, then renamed)."""
    path = Path(path)
    data = wav_bytes(samples, rate)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ---------------------------------------------------------------------------------------------- resampling
#: zero crossings of the sinc on each side, and the Kaiser window's shape (about 80 dB stop band)
_SINC_ZEROS = 16
_KAISER_BETA = 8.6
#: the pass band ends this far below the lower Nyquist frequency (room for the filter's transition)
_ROLLOFF = 0.94
_BLOCK = 1 << 20  # output samples × taps per block, to bound memory


def check_rate(rate: int) -> int:
    """``rate`` when a run may use it (in :data:`RATE_RANGE`), else :class:`InvalidArgument`."""
    low, high = RATE_RANGE
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not low <= rate <= high:
        raise InvalidArgument(f"sample_rate must be a whole number of Hz from {low} to {high}, got {rate!r}",
                              param="sample_rate")
    return int(rate)


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``x`` (1-D float) resampled from ``from_rate`` to ``to_rate`` Hz with a Kaiser-windowed sinc, band-limited
    below the lower Nyquist frequency; float32 of ``ceil(len(x)·to/from)`` samples (a copy when the rates agree)."""
    to_rate = check_rate(to_rate)
    if from_rate < 1:
        raise CorpusError(f"cannot resample audio recorded at {from_rate} Hz: a sample rate is at least 1 Hz")
    x = np.asarray(x, dtype=np.float32)
    if from_rate == to_rate or len(x) == 0:
        return x.copy()
    g = np.gcd(int(from_rate), to_rate)
    up, down = to_rate // g, int(from_rate) // g  # output n sits at input time n·down/up
    cutoff = _ROLLOFF * min(1.0, up / down)  # as a fraction of the input's Nyquist frequency
    half = int(np.ceil(_SINC_ZEROS / cutoff))
    taps = np.arange(-half + 1, half + 1)
    n_out = -(-len(x) * up // down)
    padded = np.concatenate([np.zeros(half, np.float32), x, np.zeros(half + 1, np.float32)])
    table = _phase_table(up, taps, cutoff, half) if up * len(taps) <= 1 << 22 else None
    out = np.empty(n_out, np.float32)
    step = max(1, _BLOCK // len(taps))
    for start in range(0, n_out, step):
        n = np.arange(start, min(start + step, n_out), dtype=np.int64)
        base, phase = np.divmod(n * down, up)
        weights = table[phase] if table is not None else _kernel(phase[:, None] / up - taps, cutoff, half)
        out[start:start + len(n)] = np.einsum("ij,ij->i", padded[base[:, None] + taps + half], weights)
    return out


def _kernel(offset: np.ndarray, cutoff: float, half: int) -> np.ndarray:
    """The low-pass filter's weight for an input sample ``offset`` input samples away, rows normalised to sum 1."""
    window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1.0 - (offset / half) ** 2, 0.0, 1.0))) / np.i0(_KAISER_BETA)
    weights = np.sinc(cutoff * offset) * window
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def _phase_table(up: int, taps: np.ndarray, cutoff: float, half: int) -> np.ndarray:
    """The filter's weights for each of the ``up`` output phases: (up, taps)."""
    return _kernel(np.arange(up)[:, None] / up - taps, cutoff, half)


# ---------------------------------------------------------------------------------------------- file lists
@dataclass(frozen=True)
class AudioFile:
    """One recording of a corpus."""

    path: Path
    label: str | None  # FSDD: the digit "0".."9"; folders: the sub-folder it lies in
    speaker: str | None  # FSDD: the speaker's name; folders: the sub-folder above the label's
    held_out: bool  # in the held-out (test) split


@functools.cache
def fsdd_manifest() -> dict[str, RemoteFile]:
    """FSDD's recordings by file name, each with its size and sha256 (from the packaged manifest)."""
    with gzip.open(_MANIFEST, "rt", encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip() and not line.startswith("#")]
    return {name: RemoteFile(f"{FSDD_DIR}/{name}", FSDD_URL, sha256, int(size)) for name, size, sha256 in rows}


def fsdd_files(*, download: bool = True) -> list[AudioFile]:
    """The Free Spoken Digit Dataset's 3,000 recordings, verified, labelled with digit and speaker; the upstream
    test split (recordings 0-4 of each digit and speaker, 300 files) held out."""
    folder = _fsdd_folder(download)
    files = []
    for name in fsdd_manifest():
        digit, speaker, index = _FSDD_NAME.fullmatch(name).groups()  # type: ignore[union-attr]
        files.append(AudioFile(folder / name, digit, speaker, int(index) in FSDD_TEST_INDICES))
    return files


def _fsdd_folder(download: bool) -> Path:
    """A folder holding every FSDD recording with the manifest's sha256: the mirror, the cache or a download."""
    manifest = fsdd_manifest()
    mirror = os.environ.get("DREAMWRIGHT_DATA")
    if mirror and (Path(mirror) / FSDD_DIR).is_dir():
        folder = Path(mirror) / FSDD_DIR
        missing = [name for name in manifest if not (folder / name).is_file()]
        if missing:
            raise CorpusError(f"{folder} lacks {missing[0]} and {len(missing) - 1} more FSDD recordings: "
                              "complete the mirror or unset DREAMWRIGHT_DATA")
        bad = _first_mismatch(folder, manifest)
        if bad is not None:
            raise CorpusError(f"{folder / bad} does not match the sha256 {manifest[bad].sha256[:12]}… of FSDD "
                              f"v{FSDD_VERSION}: replace it with the original file or unset DREAMWRIGHT_DATA")
        return folder
    cached = registry.cache_dir() / "data" / FSDD_DIR
    if all((cached / name).is_file() for name in manifest) and _first_mismatch(cached, manifest) is None:
        return cached
    if not download:
        raise CorpusError("the FSDD recordings are not cached; run once with network access")
    _download_fsdd(cached, manifest)
    return cached


def _first_mismatch(folder: Path, manifest: dict[str, RemoteFile]) -> str | None:
    """The first file (by name) of ``folder`` whose size or sha256 differs from the manifest's, or None."""
    return next((name for name, remote in manifest.items() if not registry.matches(folder / name, remote)), None)


def _download_fsdd(dest: Path, manifest: dict[str, RemoteFile]) -> None:
    """Download the FSDD release tarball and unpack its verified recordings into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix="fsdd.", suffix=".tar.gz.part")
    try:
        with os.fdopen(fd, "wb") as out:
            registry.download_into(FSDD_URL, out, f"downloading FSDD v{FSDD_VERSION}")
        _extract_recordings(Path(tmp), dest, manifest)
    except OSError as exc:
        raise CorpusError(
            f"could not download {FSDD_URL} ({exc.__class__.__name__}: {exc}); connect to the internet, or point "
            f"DREAMWRIGHT_DATA at a mirror directory holding {FSDD_DIR}"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    missing = [name for name in manifest if not (dest / name).is_file()]
    if missing:
        raise CorpusError(f"the archive {FSDD_URL} lacks recordings/{missing[0]} and {len(missing) - 1} more: "
                          "get FSDD by hand and set DREAMWRIGHT_DATA")
    bad = _first_mismatch(dest, manifest)
    if bad is not None:
        (dest / bad).unlink()
        raise CorpusError(f"recordings/{bad} of {FSDD_URL} does not match the sha256 {manifest[bad].sha256[:12]}… "
                          f"of FSDD v{FSDD_VERSION}: the archive changed upstream; get it by hand and set "
                          "DREAMWRIGHT_DATA")


def _extract_recordings(archive: Path, dest: Path, manifest: dict[str, RemoteFile]) -> None:
    """Unpack the archive's ``<top>/recordings/<name>`` files that the manifest names into ``dest``. Only the
    file's own name is used, and only a name the manifest lists, so no member can write outside ``dest``."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if not (member.isfile() and len(parts) == 3 and parts[1] == "recordings" and parts[2] in manifest):
                    continue
                source = tar.extractfile(member)
                assert source is not None  # a regular file
                fd, tmp = tempfile.mkstemp(dir=dest, prefix=parts[2] + ".", suffix=".part")
                with os.fdopen(fd, "wb") as out:
                    out.write(source.read())
                os.replace(tmp, dest / parts[2])
    except (tarfile.TarError, EOFError) as exc:
        raise CorpusError(f"{FSDD_URL} did not download as a whole .tar.gz archive ({exc}); try again, or get "
                          "FSDD by hand and set DREAMWRIGHT_DATA") from None


def wav_files(root: Path) -> list[Path]:
    """``.wav`` files (any case) under ``root``, at any depth, hidden ones left out, sorted by relative path."""
    root = Path(root)
    found = [p for p in root.rglob("*") if p.suffix.lower() == ".wav"
             and not any(part.startswith(".") for part in p.relative_to(root).parts) and p.is_file()]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def folder_files(root: Path) -> list[AudioFile]:
    """The WAV files under ``root``, labelled by the folders they lie in (see :func:`_labelled`)."""
    root = Path(root)
    files = wav_files(root)
    if not files:
        raise CorpusError(f"folder {root} has no .wav files: put WAV recordings in it (sub-folders name their "
                          "labels) or name another folder")
    return _labelled(root, files)


def _labelled(root: Path, paths: list[Path]) -> list[AudioFile]:
    """Label and split ``paths`` (files under ``root``).

    Labels come from sub-folders: ``root/x.wav`` has none, ``root/<label>/x.wav`` a label, and
    ``root/<speaker>/<label>/x.wav`` (or deeper: the last two folders) a speaker and a label. About
    :data:`HELD_OUT_FRACTION` of the files are held out by a hash of their path in the folder, so adding files
    never moves the others. With two or more files there is always a held-out file and a training file: when the
    hash holds out none (likely for small folders), the file with the smallest hash is held out; when it holds
    out all, the one with the largest stays in training.
    """
    keys = [p.relative_to(root).as_posix() for p in paths]
    scores = [hash_fraction(key) for key in keys]
    held = [score < HELD_OUT_FRACTION for score in scores]
    if len(paths) >= 2 and not any(held):
        held[int(np.argmin(scores))] = True
    if len(paths) >= 2 and all(held):
        held[int(np.argmax(scores))] = False
    files = []
    for path, key, is_held in zip(paths, keys, held, strict=True):
        folders = PurePosixPath(key).parts[:-1]
        label = folders[-1] if folders else None
        speaker = folders[-2] if len(folders) >= 2 else None
        files.append(AudioFile(path, label, speaker, is_held))
    return files


def audio_files(source: CorpusSource) -> list[AudioFile]:
    """The recordings of a resolved corpus: FSDD's, or the WAV files a folder (or single file) source lists."""
    if source.name == "fsdd" and source.root is None:
        return fsdd_files()
    paths = [*source.train_files, *(source.valid_files or [])]
    if not paths:
        raise CorpusError(f"corpus {source.name} has no .wav files: give a folder of WAV recordings")
    root = source.root or Path(os.path.commonpath([p.parent for p in paths]))
    return _labelled(root, sorted(paths, key=lambda p: p.relative_to(root).as_posix()))


# ---------------------------------------------------------------------------------------------- clips
@dataclass
class AudioClip:
    """One recording as μ-law tokens at the run's sample rate."""

    tokens: np.ndarray  # uint8 μ-law ids at the run's rate
    label: str | None
    speaker: str | None
    held_out: bool
    path: Path


@dataclass
class AudioReport:
    """What :func:`read_clips` read, and what it could not."""

    clips: list[AudioClip]
    skipped: list[tuple[Path, str]]  # (file, one-line reason)
    mixed_down: int  # stereo/multichannel files mixed down


def read_clips(files: list[AudioFile], rate: int = DEFAULT_RATE, *, progress: bool = True) -> AudioReport:
    """Each file read, mixed down to mono, resampled to ``rate`` and μ-law encoded.

    A file that cannot be read (or holds no samples) is named on stderr and skipped, and the count said at the
    end; mixing down is said once. No readable file at all raises :class:`CorpusError`."""
    from dreamwright.progress import console, progress_bar

    rate = check_rate(rate)
    report = AudioReport([], [], 0)
    most_channels = 1
    with progress_bar("reading audio", total=len(files), enabled=progress and len(files) >= PROGRESS_FILES) as bar:
        for file in files:
            try:
                samples, file_rate, channels = _read_wav(file.path)
                if len(samples) == 0:
                    raise _Unreadable("no samples")
            except _Unreadable as exc:
                report.skipped.append((file.path, str(exc)))
                console.print(f"skipped {file.path}: {exc}", markup=False, highlight=False, soft_wrap=True)
            else:
                report.mixed_down += channels > 1
                most_channels = max(most_channels, channels)
                tokens = mulaw_encode(resample(samples, file_rate, rate))
                report.clips.append(AudioClip(tokens, file.label, file.speaker, file.held_out, file.path))
            bar.advance()
    _say_what_was_left_out(report, len(files), most_channels)
    return report


def _say_what_was_left_out(report: AudioReport, n_files: int, most_channels: int) -> None:
    from dreamwright.progress import console

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    if report.mixed_down:
        kind = "stereo" if most_channels == 2 else "multichannel"
        say(f"mixed {report.mixed_down} {kind} file{'s' * (report.mixed_down != 1)} down to mono")
    if not report.clips:
        if not n_files:
            raise CorpusError("no audio files to read: give a folder of WAV recordings")
        path, reason = report.skipped[0]
        raise CorpusError(f"none of the {n_files} audio files could be read ({path}: {reason}): give PCM WAV files "
                          "(8, 16, 24 or 32-bit)")
    if report.skipped:
        say(f"skipped {len(report.skipped)} of {n_files} files: not readable PCM WAV audio")


# ---------------------------------------------------------------------------------------------- plugin hook
def _prepare_fsdd() -> tuple[list[Path], list[Path]]:
    files = fsdd_files()
    return [f.path for f in files if not f.held_out], [f.path for f in files if f.held_out]


def register_corpora() -> None:
    """Plugin hook (:mod:`dreamwright.plugins`): ``fsdd``."""
    registry.register_corpus(registry.BuiltinCorpus(
        name="fsdd",
        description=f"audio: spoken digits 0-9 (Free Spoken Digit Dataset v{FSDD_VERSION}), 3,000 WAVs by 6 speakers "
                    "at 8 kHz (held out: takes 0-4 of each digit and speaker)",
        train=(), task="audio", prepare=_prepare_fsdd,
    ))


def split_clips(encoded: EncodedCorpus, split: str, n_cond: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(condition ids, samples)`` of every clip of a run's stored split: ``<split>.bin`` holds each clip's
    ``n_cond`` condition tokens then its samples, ``<split>-clips.bin`` where each clip starts (int64)."""
    ids = encoded.array(split)
    offsets = np.fromfile(encoded.directory / f"{split}-clips.bin", dtype=np.int64)
    ends = np.append(offsets[1:], len(ids))
    return [(np.asarray(ids[s:s + n_cond], dtype=np.int64), ids[s + n_cond:e]) for s, e in zip(offsets, ends,
                                                                                                 strict=True)]
