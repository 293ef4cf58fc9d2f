"""Audio through the installed command: training on WAV folders, speaking to a WAV, and every error in one line."""

from __future__ import annotations

import shutil
import wave

import numpy as np

from tests.cli.helpers import assert_one_line_error, run_dreamwright, run_dreamwright_each, stderr_lines
from tests.conftest import write_tones
from tests.data.test_audio import pcm_wav

TINY = ["--model", "wavenet", "--residual-channels", "4", "--dilation-channels", "4", "--skip-channels", "4",
        "--max-dilation", "2", "--dilation-cycles", "1", "--seq-len", "50", "--batch-size", "2", "--steps", "2",
        "--eval-interval", "2", "--threads", "1", "--no-samples"]


def read_wav(path):
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.readframes(w.getnframes())


def test_generate_writes_a_wav_and_its_spectrogram_and_a_seed_repeats_it(audio_run, tmp_path):
    out, png = tmp_path / "one.wav", tmp_path / "one.png"
    proc = run_dreamwright("generate", str(audio_run), "--label", "1", "--speaker", "ann", "--seconds", "0.1",
                           "--seed", "5", "-o", str(out), "--spectrogram", str(png))
    assert proc.returncode == 0, proc.stderr
    rate, channels, width, frames = read_wav(out)
    assert (rate, channels, width, len(frames)) == (8000, 1, 2, 2 * 800)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "label 1, speaker ann; seed 5" in proc.stderr
    again = tmp_path / "again.wav"
    run_dreamwright("generate", str(audio_run), "--label", "1", "--speaker", "ann", "--seconds", "0.1", "--seed",
                    "5", "-o", str(again))
    assert again.read_bytes() == out.read_bytes()
    samples = np.frombuffer(frames, dtype="<i2")
    assert samples.std() > 0  # not silence: the tiny model learnt tones


def test_several_samples_get_numbered_files_and_an_unnamed_speaker_is_drawn(audio_run, tmp_path):
    proc = run_dreamwright("generate", str(audio_run), "--label", "2", "--seconds", "0.05", "-s", "2", "-o",
                           str(tmp_path / "x.wav"))
    assert proc.returncode == 0, proc.stderr
    assert read_wav(tmp_path / "x-1.wav")[0] == read_wav(tmp_path / "x-2.wav")[0] == 8000
    assert "speaker ann" in proc.stderr or "speaker bob" in proc.stderr


def test_speaking_errors_are_one_line(audio_run, tiny_run, tmp_path):
    out = str(tmp_path / "x.wav")
    audio, text = str(audio_run), str(tiny_run)
    expected = [
        (["generate", audio, "--label", "7", "-o", out], ("no label '7'", "0, 1, 2")),
        (["generate", audio, "--speaker", "zed", "-o", out], ("no speaker 'zed'", "ann, bob")),
        *((["generate", audio, "--seconds", seconds, "-o", out], ("seconds must be in (0, 60]",))
          for seconds in ("0", "-1", "100000")),
        (["generate", audio, "--label", "1"], ("audio model", "-o clip.wav")),
        (["generate", text, "-o", out], ("text model", "not a WAV")),
        (["generate", text, "--label", "3"], ("text model", "--label")),
    ]
    procs = run_dreamwright_each(*(command for command, _ in expected))
    for proc, (_, needles) in zip(procs, expected, strict=True):
        assert_one_line_error(proc, *needles)


def test_training_names_skips_and_counts_bad_files_and_mixes_stereo_down_once(tmp_path):
    root = write_tones(tmp_path / "voices", labels=("0", "1"), speakers=("ann",), per=5)
    (root / "ann" / "0" / "broken.wav").write_bytes(b"RIFF not really a wav")
    (root / "ann" / "1" / "float.wav").write_bytes(pcm_wav(np.zeros(400, dtype=np.int32), bits=32, tag=3))
    stereo = (np.random.default_rng(0).integers(-3000, 3000, size=(800, 2))).astype(np.int16)
    for k in range(2):
        (root / "ann" / "1" / f"stereo{k}.wav").write_bytes(pcm_wav(stereo))
    proc = run_dreamwright("train", str(root), *TINY, "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = stderr_lines(proc)
    assert any("broken.wav" in line for line in lines) and any("float.wav" in line and "PCM" in line
                                                               for line in lines)
    assert any("skipped 2 of 14 files" in line for line in lines), proc.stderr
    assert sum("stereo" in line for line in lines) == 1


def test_training_errors_are_one_line(tmp_path, tone_folder):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("no sound here")
    junk = tmp_path / "junk"
    (junk / "x").mkdir(parents=True)
    (junk / "x" / "a.wav").write_bytes(b"nothing")
    shutil.copy(junk / "x" / "a.wav", junk / "x" / "b.wav")
    silent, slow, unreadable = run_dreamwright_each(
        ["train", str(empty), *TINY, "--out", str(tmp_path / "a")],
        ["train", str(tone_folder), *TINY, "--sample-rate", "100", "--out", str(tmp_path / "b")],
        ["train", str(junk), *TINY, "--out", str(tmp_path / "c")])
    assert_one_line_error(silent, ".wav")
    assert_one_line_error(slow, "sample-rate")
    lines = stderr_lines(unreadable)  # each file named as it is skipped, then one error line
    assert unreadable.returncode == 2 and "Traceback" not in unreadable.stderr
    assert [line.startswith("skipped ") for line in lines] == [True, True, False]
    assert lines[-1].startswith("error: none of the 2 audio files could be read")


def test_eval_scores_an_audio_model_in_bits_per_sample(audio_run, tone_folder, corpus_file):
    proc = run_dreamwright("eval", str(audio_run), str(tone_folder))
    assert proc.returncode == 0, proc.stderr
    assert "36 clips" in proc.stdout and "bits/sample" in proc.stdout
    bits = float(proc.stdout.split(",")[-1].split()[0])
    assert 0 < bits < 8
    assert_one_line_error(run_dreamwright("eval", str(audio_run), str(corpus_file)), "audio model", "not on text")
