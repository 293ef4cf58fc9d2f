"""Audio data: μ-law, the WAV reader and writer, resampling, folder and FSDD file lists, and reading clips."""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
import wave
from pathlib import Path

import numpy as np
import pytest

from dreamwright.data import audio, registry
from dreamwright.data.corpus import resolve_corpus
from dreamwright.errors import CorpusError, InvalidArgument

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMWRIGHT_CACHE", str(tmp_path / "cache"))


def pcm_wav(samples: np.ndarray, bits: int = 16, rate: int = 8000, *, tag: int = 1, extensible: bool = False) -> bytes:
    """A WAV file written by hand: ``samples`` are integers in the format's range, (frames,) or (frames, channels)."""
    samples = np.asarray(samples)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    width = bits // 8
    if bits == 8:
        data = samples.astype(np.uint8).tobytes()
    elif bits == 24:
        v = samples.astype(np.int64).reshape(-1) & 0xFFFFFF
        data = np.stack([v & 0xFF, (v >> 8) & 0xFF, v >> 16], axis=1).astype(np.uint8).tobytes()
    else:
        data = samples.astype(f"<i{width}").tobytes()
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * channels * width,
                      channels * width, bits)
    if extensible:  # cbSize, valid bits, channel mask, sub-format GUID (its first two bytes are the real tag)
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def sine(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


# ------------------------------------------------------------------------------------------ μ-law
def compand(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(audio.MU * np.abs(x)) / np.log1p(audio.MU)


def test_mulaw_round_trip_stays_in_its_bin():
    x = np.linspace(-1, 1, 200_001)
    q = audio.mulaw_encode(x)
    back = audio.mulaw_decode(q).astype(np.float64)
    half = 1 / (audio.LEVELS - 1)  # half a level's width, in the companded domain
    assert np.all(np.abs(compand(x) - compand(back)) <= half + 1e-6)

    # in the linear domain: x lies in the bin of the level it decodes to, no further from it than the bin is wide
    def expand(y):
        return np.sign(y) * np.expm1(np.abs(y) * np.log1p(audio.MU)) / audio.MU

    centre = 2.0 * q / (audio.LEVELS - 1) - 1.0
    low, high = expand(np.maximum(centre - half, -1)), expand(np.minimum(centre + half, 1))
    assert np.all((low - 1e-7 <= x) & (x <= high + 1e-7))
    assert np.all(np.abs(x - back) <= (high - low) + 1e-7)
    assert np.abs(x - back).max() < 0.033  # the widest bins, near ±1, are 2·0.0165 wide


def test_mulaw_is_monotone_and_puts_silence_and_extremes_where_expected():
    x = np.linspace(-1.5, 1.5, 50_001)
    q = audio.mulaw_encode(x)
    assert q.dtype == np.uint8
    assert np.all(np.diff(q.astype(int)) >= 0)
    assert set(np.unique(q)) == set(range(256))  # every level is used
    levels = audio.mulaw_decode(np.arange(256))
    assert levels.dtype == np.float32 and np.all(np.diff(levels) > 0)
    assert levels[0] == -1 and levels[-1] == 1
    assert audio.mulaw_encode(np.array([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]
    assert audio.mulaw_encode(np.array([-7.0, np.nan, 7.0])).tolist() == [0, 128, 255]  # clipped; NaN is silence
    assert abs(audio.mulaw_decode(np.array([128]))[0]) < 1e-4
    np.testing.assert_array_equal(audio.mulaw_encode(audio.mulaw_decode(np.arange(256))), np.arange(256))


def test_mulaw_decode_refuses_ids_outside_the_levels():
    with pytest.raises(InvalidArgument, match="0 to 255"):
        audio.mulaw_decode(np.array([0, 256]))


# ------------------------------------------------------------------------------------------ WAV
def test_wav_writer_and_reader_round_trip_16_bit(tmp_path):
    x = np.concatenate([sine(440, 8000, 0.25), [1.0, -1.0, 0.0, 2.0]]).astype(np.float32)
    path = tmp_path / "out.wav"
    audio.write_wav(path, x, 8000)
    assert path.read_bytes() == audio.wav_bytes(x, 8000)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temporary file left behind
    samples, rate, channels = audio.read_wav(path)
    assert (rate, channels, samples.dtype, len(samples)) == (8000, 1, np.float32, len(x))
    expected = np.clip(x, -1, 1 - 1 / 32768)  # +1 is the largest 16-bit sample, 32767/32768
    assert np.abs(samples - expected).max() <= 0.5 / 32768 + 1e-7  # exact up to 16-bit quantisation
    assert samples[-4:].tolist() == [32767 / 32768, -1.0, 0.0, 32767 / 32768]
    audio.write_wav(path, samples, 8000)  # a 16-bit file read and written again is the same file
    assert audio.read_wav(path)[0].tolist() == samples.tolist()
    with wave.open(str(path)) as w:  # the standard library reads it too
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 8000, len(x))
    with pytest.raises(InvalidArgument, match="sample_rate"):
        audio.wav_bytes(x, 0)
    with pytest.raises(InvalidArgument, match="one channel"):
        audio.wav_bytes(np.zeros((4, 2)), 8000)


@pytest.mark.parametrize("bits, ints, expected", [
    (8, [0, 128, 255, 64], [-1.0, 0.0, 127 / 128, -0.5]),
    (16, [-32768, 0, 32767, 16384], [-1.0, 0.0, 32767 / 32768, 0.5]),
    (24, [-(1 << 23), 0, (1 << 23) - 1, -(1 << 22)], [-1.0, 0.0, 1 - 2**-23, -0.5]),
    (32, [-(1 << 31), 0, (1 << 31) - 1, 1 << 30], [-1.0, 0.0, 1 - 2**-31, 0.5]),
])
def test_reader_reads_each_pcm_width(tmp_path, bits, ints, expected):
    path = tmp_path / f"{bits}.wav"
    path.write_bytes(pcm_wav(np.array(ints), bits, rate=22050))
    samples, rate, channels = audio.read_wav(path)
    assert (rate, channels) == (22050, 1)
    np.testing.assert_allclose(samples, expected, atol=1e-6)


def test_reader_mixes_channels_down_and_reads_the_extensible_header(tmp_path):
    stereo = np.array([[1000, -1000], [2000, 0], [-4000, -4000]])
    path = tmp_path / "stereo.wav"
    path.write_bytes(pcm_wav(stereo))
    samples, _, channels = audio.read_wav(path)
    assert channels == 2
    np.testing.assert_allclose(samples, np.array([0, 1000, -4000]) / 32768, atol=1e-7)
    path.write_bytes(pcm_wav(np.array([[0, 1 << 22, -(1 << 22), 0]]), 24, extensible=True))
    samples, _, channels = audio.read_wav(path)
    assert channels == 4 and samples.tolist() == [0.0]


def test_reader_names_the_file_and_the_reason_in_one_line(tmp_path):
    cases = {
        "float.wav": (pcm_wav(np.zeros(8), 32, tag=3), r"not PCM \(format 3"),
        "alaw.wav": (pcm_wav(np.zeros(8), 16, tag=6, extensible=True), r"not PCM \(format 6"),
        "garbage.wav": (b"this is not audio at all", "not a WAV file"),
        "cut.wav": (pcm_wav(np.zeros(100))[:-40], "truncated"),
        "empty.wav": (b"", "not a WAV file"),
    }
    for name, (data, reason) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CorpusError, match=reason) as info:
            audio.read_wav(tmp_path / name)
        assert name in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CorpusError, match="missing.wav"):
        audio.read_wav(tmp_path / "missing.wav")


# ------------------------------------------------------------------------------------------ resampling
def test_resampling_keeps_a_tone_and_halves_the_length():
    x = sine(440, 16000)
    y = audio.resample(x, 16000, 8000)
    assert len(y) == len(x) // 2 and y.dtype == np.float32
    assert peak_hz(y, 8000) == pytest.approx(440, abs=2)
    assert rms(y[200:-200]) == pytest.approx(rms(x), rel=0.01)  # the pass band keeps its level
    up = audio.resample(x, 16000, 44100)
    assert len(up) == 44100 and peak_hz(up, 44100) == pytest.approx(440, abs=2)
    assert rms(up[500:-500]) == pytest.approx(rms(x), rel=0.01)
    odd = audio.resample(sine(440, 11025), 11025, 8000)
    assert len(odd) == 8000 and peak_hz(odd, 8000) == pytest.approx(440, abs=2)


def test_resampling_removes_what_the_new_rate_cannot_hold():
    x = sine(3500, 16000)  # above 2 kHz, the Nyquist frequency of 4 kHz: it would alias to 500 Hz
    y = audio.resample(x, 16000, 4000)
    assert len(y) == 4000
    attenuation_db = 20 * np.log10(rms(y[100:-100]) / rms(x))
    assert attenuation_db < -40
    naive = x[::4]  # what decimating without a filter would keep
    assert 20 * np.log10(rms(naive) / rms(x)) > -1


def test_resampling_at_the_same_rate_is_a_copy_and_rates_are_checked():
    x = sine(100, 8000, 0.1)
    y = audio.resample(x, 8000, 8000)
    np.testing.assert_array_equal(x, y)
    assert y is not x
    assert len(audio.resample(np.zeros(0), 16000, 8000)) == 0
    for bad in (999, 48001, 0, 8000.5, True):
        with pytest.raises(InvalidArgument, match="sample_rate must be a whole number of Hz from 1000 to 48000") \
                as info:
            audio.resample(x, 8000, bad)
        assert info.value.param == "sample_rate"
    with pytest.raises(CorpusError, match="0 Hz"):
        audio.resample(x, 0, 8000)


# ------------------------------------------------------------------------------------------ folders
def write_tone(path: Path, rate: int = 8000, seconds: float = 0.05) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    audio.write_wav(path, sine(300, rate, seconds), rate)
    return path


def test_folder_files_take_labels_and_speakers_from_sub_folders(tmp_path):
    for rel in ["loose.wav", "yes/a.wav", "yes/b.WAV", "alice/no/c.wav", "deep/bob/up/d.wav", ".hidden/e.wav",
                "yes/._f.wav"]:
        write_tone(tmp_path / rel)
    (tmp_path / "notes.txt.bak").write_text("ignored")
    files = {f.path.relative_to(tmp_path).as_posix(): f for f in audio.folder_files(tmp_path)}
    assert sorted(files) == ["alice/no/c.wav", "deep/bob/up/d.wav", "loose.wav", "yes/a.wav", "yes/b.WAV"]
    assert (files["loose.wav"].label, files["loose.wav"].speaker) == (None, None)
    assert (files["yes/b.WAV"].label, files["yes/b.WAV"].speaker) == ("yes", None)
    assert (files["alice/no/c.wav"].label, files["alice/no/c.wav"].speaker) == ("no", "alice")
    assert (files["deep/bob/up/d.wav"].label, files["deep/bob/up/d.wav"].speaker) == ("up", "bob")


def test_folder_split_is_stable_and_never_empty(tmp_path):
    for i in range(2):
        write_tone(tmp_path / f"{i}.wav")
    two = audio.folder_files(tmp_path)
    assert sorted(f.held_out for f in two) == [False, True]  # a small folder still has a validation file
    for i in range(2, 200):
        write_tone(tmp_path / f"{i}.wav", seconds=0.001)
    many = audio.folder_files(tmp_path)
    held = sum(f.held_out for f in many)
    assert 8 <= held <= 35
    again = {f.path: f.held_out for f in audio.folder_files(tmp_path)}
    assert again == {f.path: f.held_out for f in many}
    (tmp_path / "solo").mkdir()
    write_tone(tmp_path / "solo" / "x.wav")
    assert [f.held_out for f in audio.folder_files(tmp_path / "solo")] == [False]


def test_folder_without_wav_files_is_one_clear_line(tmp_path):
    (tmp_path / "readme.md").write_text("no audio here")
    with pytest.raises(CorpusError, match="no .wav files") as info:
        audio.folder_files(tmp_path)
    assert "\n" not in str(info.value)
    with pytest.raises(CorpusError, match=r"no \.txt or \.wav files") as info:
        resolve_corpus(tmp_path)
    assert "\n" not in str(info.value)


def test_resolve_corpus_reads_a_folder_of_wavs_or_one_wav_as_audio(tmp_path):
    folder = tmp_path / "digits"
    for rel in ["one/a.wav", "two/b.wav", "two/c.wav"]:
        write_tone(folder / rel)
    source = resolve_corpus(folder)
    assert (source.name, source.task, source.root) == ("digits", "audio", folder)
    assert sorted(p.relative_to(folder).as_posix() for p in source.train_files) == ["one/a.wav", "two/b.wav",
                                                                                    "two/c.wav"]
    files = audio.audio_files(source)
    assert [f.label for f in files] == ["one", "two", "two"] and sum(f.held_out for f in files) == 1
    single = resolve_corpus(folder / "two" / "b.wav")
    assert (single.task, single.root, single.train_files) == ("audio", folder / "two", [folder / "two" / "b.wav"])
    only = audio.audio_files(single)
    assert [(f.path, f.label, f.held_out) for f in only] == [(folder / "two" / "b.wav", None, False)]
    (folder / "words.txt").write_text("a folder with text is still a text corpus")
    assert resolve_corpus(folder).task == "text"


# ------------------------------------------------------------------------------------------ clips
def test_read_clips_resamples_encodes_and_keeps_labels(tmp_path):
    path = write_tone(tmp_path / "yes" / "a.wav", rate=16000, seconds=0.5)
    files = [audio.AudioFile(path, "yes", None, True)]
    report = audio.read_clips(files, 8000, progress=False)
    [clip] = report.clips
    assert clip.tokens.dtype == np.uint8 and len(clip.tokens) == 4000
    assert (clip.label, clip.speaker, clip.held_out, clip.path) == ("yes", None, True, path)
    decoded = audio.mulaw_decode(clip.tokens)
    assert peak_hz(decoded, 8000) == pytest.approx(300, abs=3)
    assert report.skipped == [] and report.mixed_down == 0
    with pytest.raises(InvalidArgument, match="sample_rate"):
        audio.read_clips(files, 100_000, progress=False)


def test_read_clips_names_skips_and_counts_bad_files_and_says_mixing_once(tmp_path, capsys):
    good = [write_tone(tmp_path / f"good{i}.wav") for i in range(3)]
    (tmp_path / "float.wav").write_bytes(pcm_wav(np.zeros(80), 32, tag=3))
    (tmp_path / "garbage.wav").write_bytes(os.urandom(200))
    (tmp_path / "silent.wav").write_bytes(pcm_wav(np.zeros(0, dtype=np.int16)))
    for i in range(2):
        (tmp_path / f"stereo{i}.wav").write_bytes(pcm_wav(np.full((400, 2), 1000)))
    names = ["good0", "float", "stereo0", "garbage", "good1", "silent", "stereo1", "good2"]
    files = [audio.AudioFile(tmp_path / f"{n}.wav", None, None, False) for n in names]
    report = audio.read_clips(files, progress=False)
    assert [c.path.stem for c in report.clips] == ["good0", "stereo0", "good1", "stereo1", "good2"]
    assert [(p.name, reason) for p, reason in report.skipped] == [
        ("float.wav", "not PCM (format 3, IEEE float)"),
        ("garbage.wav", "not a WAV file (no RIFF/WAVE header)"),
        ("silent.wav", "no samples"),
    ]
    assert report.mixed_down == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert f"skipped {tmp_path / 'float.wav'}: not PCM (format 3, IEEE float)" in lines
    assert sum("garbage.wav" in line for line in lines) == 1
    assert lines.count("mixed 2 stereo files down to mono") == 1
    assert lines[-1].startswith("skipped 3 of 8 files")
    assert good[0] == report.clips[0].path


def test_read_clips_with_nothing_readable_is_one_line(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF")
    with pytest.raises(CorpusError, match="none of the 1 audio files could be read") as info:
        audio.read_clips([audio.AudioFile(tmp_path / "bad.wav", None, None, False)], progress=False)
    assert "\n" not in str(info.value) and "bad.wav" in str(info.value)


# ------------------------------------------------------------------------------------------ FSDD
@pytest.fixture
def mirror(monkeypatch) -> Path:
    """The shared data mirror (CI clones the repository with ``../shared`` beside it)."""
    path = Path(os.environ.get("DREAMWRIGHT_DATA") or REPO_ROOT.parent / "shared" / "data")
    monkeypatch.setenv("DREAMWRIGHT_DATA", str(path))
    return path


def test_fsdd_from_the_mirror(mirror):
    files = audio.fsdd_files()
    assert len(files) == 3000 and all(f.path.parent == mirror / "fsdd" / "recordings" for f in files)
    assert sum(f.held_out for f in files) == 300
    assert {f.label for f in files} == {str(d) for d in range(10)}
    assert {f.speaker for f in files} == {"george", "jackson", "lucas", "nicolas", "theo", "yweweler"}
    assert all(f.held_out == (int(f.path.stem.split("_")[2]) < 5) for f in files)
    samples, rate, channels = audio.read_wav(files[0].path)
    assert (rate, channels) == (8000, 1) and len(samples) > 1000


def test_fsdd_is_a_registered_audio_corpus(mirror):
    from dreamwright import plugins

    plugins.load_corpora()
    builtin = registry.lookup("fsdd")
    assert builtin is not None and builtin.task == "audio" and "spoken digits" in builtin.description
    source = resolve_corpus("fsdd")
    assert (source.task, len(source.train_files), len(source.valid_files)) == ("audio", 2700, 300)
    assert len(audio.audio_files(source)) == 3000


def test_a_tampered_mirror_is_refused(tmp_path, monkeypatch):
    recordings = tmp_path / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    fake = fake_recordings()
    for name, data in fake.items():
        (recordings / name).write_bytes(data)
    monkeypatch.setattr(audio, "fsdd_manifest", lambda: manifest_of(fake))
    monkeypatch.setenv("DREAMWRIGHT_DATA", str(tmp_path))
    assert len(audio.fsdd_files()) == 3
    (recordings / "1_theo_7.wav").write_bytes(fake["1_theo_7.wav"][:-2] + b"xx")
    with pytest.raises(CorpusError, match="1_theo_7.wav does not match the sha256"):
        audio.fsdd_files()
    (recordings / "1_theo_7.wav").unlink()
    with pytest.raises(CorpusError, match="lacks 1_theo_7.wav"):
        audio.fsdd_files()


def fake_recordings() -> dict[str, bytes]:
    return {name: audio.wav_bytes(sine(200 + 50 * i, 8000, 0.02), 8000)
            for i, name in enumerate(["0_george_3.wav", "1_theo_7.wav", "9_lucas_49.wav"])}


def manifest_of(files: dict[str, bytes]) -> dict[str, registry.RemoteFile]:
    import hashlib

    return {name: registry.RemoteFile(f"fsdd/recordings/{name}", audio.FSDD_URL, hashlib.sha256(data).hexdigest(),
                                      len(data)) for name, data in files.items()}


def fake_tarball(path: Path, files: dict[str, bytes], extra: dict[str, bytes] | None = None) -> str:
    """A release-shaped tarball of ``files`` under ``top/recordings/`` (plus ``extra`` members as named)."""
    with tarfile.open(path, "w:gz") as tar:
        members = {f"free-spoken-digit-dataset-1.0.10/recordings/{n}": d for n, d in files.items()}
        for name, data in {**members, "free-spoken-digit-dataset-1.0.10/README.md": b"hi", **(extra or {})}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path.as_uri()


def test_fsdd_downloads_unpacks_and_verifies_into_the_cache(tmp_path, monkeypatch):
    fake = fake_recordings()
    monkeypatch.delenv("DREAMWRIGHT_DATA", raising=False)
    monkeypatch.setattr(audio, "fsdd_manifest", lambda: manifest_of(fake))
    escape = {"free-spoken-digit-dataset-1.0.10/recordings/../../../escaped.wav": b"x",
              "../0_george_3.wav": b"x", "/tmp/abs/recordings/0_george_3.wav": b"x"}
    monkeypatch.setattr(audio, "FSDD_URL", fake_tarball(tmp_path / "fsdd.tar.gz", fake, escape))
    with pytest.raises(CorpusError, match="not cached"):
        audio.fsdd_files(download=False)
    files = audio.fsdd_files()
    cached = tmp_path / "cache" / "data" / "fsdd" / "recordings"
    assert sorted(p.name for p in cached.iterdir()) == sorted(fake)  # nothing else unpacked, no .part left
    assert [f.path.parent for f in files] == [cached] * 3
    assert [(f.label, f.speaker, f.held_out) for f in files] == [("0", "george", True), ("1", "theo", False),
                                                                 ("9", "lucas", False)]
    assert not list(tmp_path.rglob("escaped.wav")) and not list(tmp_path.glob("cache/data/*.part"))
    monkeypatch.setattr(audio, "FSDD_URL", "http://127.0.0.1:9/gone.tar.gz")  # the cache needs no download
    assert len(audio.fsdd_files()) == 3


def test_fsdd_download_refuses_a_tampered_file_and_failures_are_one_line(tmp_path, monkeypatch):
    fake = fake_recordings()
    monkeypatch.delenv("DREAMWRIGHT_DATA", raising=False)
    monkeypatch.setattr(audio, "fsdd_manifest", lambda: manifest_of(fake))
    tampered = {**fake, "1_theo_7.wav": fake["1_theo_7.wav"][:-1] + b"\x01"}
    monkeypatch.setattr(audio, "FSDD_URL", fake_tarball(tmp_path / "bad.tar.gz", tampered))
    with pytest.raises(CorpusError, match="1_theo_7.wav .* does not match the sha256") as info:
        audio.fsdd_files()
    assert "\n" not in str(info.value)
    assert not (tmp_path / "cache" / "data" / "fsdd" / "recordings" / "1_theo_7.wav").exists()
    monkeypatch.setattr(audio, "FSDD_URL", fake_tarball(tmp_path / "short.tar.gz", {"0_george_3.wav": b"x"}))
    with pytest.raises(CorpusError, match="lacks recordings/"):
        audio.fsdd_files()
    (tmp_path / "broken.tar.gz").write_bytes(gzip.compress(b"not a tar archive" * 40))
    monkeypatch.setattr(audio, "FSDD_URL", (tmp_path / "broken.tar.gz").as_uri())
    with pytest.raises(CorpusError, match="whole .tar.gz"):
        audio.fsdd_files()
    monkeypatch.setattr(audio, "FSDD_URL", "http://127.0.0.1:9/fsdd.tar.gz")  # port 9: refused
    with pytest.raises(CorpusError, match="DREAMWRIGHT_DATA") as info:
        audio.fsdd_files()
    assert "\n" not in str(info.value) and not list(tmp_path.rglob("*.part"))


def test_packaged_manifest_lists_every_recording():
    manifest = audio.fsdd_manifest()
    assert len(manifest) == 3000
    assert sum(r.size for r in manifest.values()) > 20_000_000
    assert all(len(r.sha256) == 64 for r in manifest.values())
