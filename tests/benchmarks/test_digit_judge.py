"""benchmarks/digit_judge.py on synthetic audio: its WAV reader, its MFCCs, and a tiny trained judge.

Nothing here needs the FSDD: the "digits" of the training test are tones of different pitches, written
as WAVs named in the FSDD pattern into a temporary folder.
"""

from __future__ import annotations

import json
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import digit_judge as dj  # noqa: E402


def tone(freq: float, seconds: float = 0.5, rate: int = dj.RATE, amp: float = 0.5, phase: float = 0.0):
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def test_the_wav_reader_reads_a_16_bit_file_written_with_wave(tmp_path):
    pcm = np.array([0, 1, -1, 16384, -16384, 32767, -32768, 1234], dtype="<i2")
    path = tmp_path / "x.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(11025)
        w.writeframes(pcm.tobytes())
    samples, rate = dj.read_wav(path)
    assert rate == 11025
    assert samples.dtype == np.float32
    np.testing.assert_allclose(samples, pcm / 32768.0, atol=1e-7)


def test_the_wav_reader_averages_stereo_and_round_trips_write_wav(tmp_path):
    left = np.array([1000, -2000, 3000], dtype="<i2")
    right = np.array([3000, 0, -3000], dtype="<i2")
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.stack([left, right], 1).tobytes())
    samples, _ = dj.read_wav(path)
    np.testing.assert_allclose(samples, (left.astype(float) + right) / 2 / 32768.0, atol=1e-7)

    clip = tone(440, 0.1)
    dj.write_wav(tmp_path / "mono.wav", clip, 16000)
    back, rate = dj.read_wav(tmp_path / "mono.wav")
    assert rate == 16000
    np.testing.assert_allclose(back, clip, atol=1.0 / 32767)


def test_mfcc_shape_and_frame_count():
    feats = dj.mfcc(tone(500, 1.0))
    # 8000 samples, 200-sample frames every 80: 1 + ceil((8000 - 200) / 80) = 99 frames
    assert feats.shape == (99, 13)
    assert feats.dtype == np.float32 and np.isfinite(feats).all()
    assert dj.clip_features(tone(500, 0.3), 8000).shape == (dj.WINDOW_FRAMES, 13)
    assert dj.clip_features(tone(500, 3.0), 8000).shape == (dj.WINDOW_FRAMES, 13)  # longer: cropped


@pytest.mark.parametrize("freq", [250.0, 700.0, 1500.0, 3000.0])
def test_a_pure_tone_peaks_in_the_mel_band_holding_its_frequency(freq):
    energies = dj.log_mel(tone(freq, 0.5))[5:-5].mean(0)  # steady frames only
    centres = dj.mel_to_hz(np.linspace(dj.hz_to_mel(dj.FMIN), dj.hz_to_mel(dj.FMAX), dj.MELS + 2))[1:-1]
    peak = int(energies.argmax())
    nearest = int(np.abs(centres - freq).argmin())
    assert abs(peak - nearest) <= 1, (freq, centres[peak])


def test_the_filterbank_and_dct_are_what_they_claim():
    filters = dj.mel_filterbank()
    assert filters.shape == (40, dj.NFFT // 2 + 1)
    assert (filters >= 0).all() and filters.max() <= 1.0 + 1e-12
    assert (filters.sum(1) > 0).all()  # no empty filter at 8 kHz with a 256-point FFT
    dct = dj.dct_matrix(40, 40)
    np.testing.assert_allclose(dct @ dct.T, np.eye(40), atol=1e-10)  # orthonormal


def test_silence_and_a_tone_differ_and_resampling_keeps_the_pitch():
    silence, loud = dj.mfcc(np.zeros(4000, np.float32)), dj.mfcc(tone(800, 0.5))
    assert loud[:, 0].mean() > silence[:, 0].mean() + 5  # c0 tracks log energy
    # in the tone's own band, it is far above the silent floor (log 1e-6)
    assert dj.log_mel(tone(800, 0.5))[5:-5].max(1).mean() > np.log(dj.LOG_FLOOR) + 10
    np.testing.assert_allclose(silence, np.broadcast_to(silence[0], silence.shape), atol=1e-4)  # flat floor
    assert np.abs(loud[5:-5].mean(0) - silence[0]).sum() > 50  # the whole envelope differs, not c0 alone
    # the same tone at 16 kHz, resampled to 8 kHz, gives nearly the same MFCCs
    at16 = dj.mfcc(tone(800, 0.5, rate=16000), rate=16000)
    np.testing.assert_allclose(at16[5:-5].mean(0), loud[5:-5].mean(0), atol=1.0)


def test_trimming_removes_leading_and_trailing_silence():
    clip = np.concatenate([np.zeros(4000), tone(600, 0.25), np.zeros(6000)]).astype(np.float32)
    trimmed = dj.trim(clip)
    assert 2000 - dj.FRAME <= len(trimmed) <= 2000 + 2 * dj.FRAME
    # so the same tone with different silences around it gets (almost) the same features
    a = dj.clip_features(clip, 8000)
    b = dj.clip_features(np.concatenate([tone(600, 0.25), np.zeros(1000)]).astype(np.float32), 8000)
    assert np.abs(a - b).mean() < 0.5


def test_features_ignore_loudness_but_not_content():
    rng = np.random.default_rng(3)
    clip = (tone(500, 0.4) + 0.5 * tone(1300, 0.4) + rng.normal(0, 0.02, 3200)).astype(np.float32)
    base = dj.clip_features(clip, 8000)
    np.testing.assert_allclose(dj.clip_features(clip * 0.05, 8000), base, atol=1e-3)
    assert np.abs(dj.clip_features(tone(1300, 0.4), 8000) - base).mean() > 0.5
    assert np.isfinite(dj.clip_features(np.zeros(3000, np.float32), 8000)).all()  # silence: no division by 0


FREQS = {0: 300.0, 1: 900.0, 2: 2200.0}


def write_toy_fsdd(folder: Path, indices: int = 12, speakers=("ann", "bob")) -> None:
    """Three "digits" (tones with harmonics at 300, 900 and 2200 Hz), FSDD-named; index 0–4 is test."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for digit, freq in FREQS.items():
        for s, speaker in enumerate(speakers):
            for i in range(indices):
                f = freq * (1 + 0.03 * (s - 0.5)) * rng.uniform(0.97, 1.03)
                clip = tone(f, rng.uniform(0.25, 0.6), amp=rng.uniform(0.1, 0.6), phase=rng.uniform(0, 6))
                clip = clip + 0.3 * tone(2 * f, len(clip) / dj.RATE, amp=0.3)[:len(clip)]
                clip = clip + rng.normal(0, 0.01, len(clip)).astype(np.float32)
                pad = int(rng.integers(0, 2000))
                dj.write_wav(folder / f"{digit}_{speaker}_{i}.wav", np.concatenate([np.zeros(pad), clip]))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("fsdd") / "recordings"
    write_toy_fsdd(folder)
    judge = dj.train_judge(folder, epochs=8, seed=0, log=False)
    return folder, judge


def test_the_split_follows_the_fsdd_indices(toy):
    folder, _ = toy
    split = dj.fsdd_split(folder)
    assert len(split["test"]) == 3 * 2 * 5 and len(split["train"]) == 3 * 2 * 7
    assert all(int(p.stem.split("_")[2]) < 5 for p, _ in split["test"])
    assert sorted({label for _, label in split["train"]}) == [0, 1, 2]


def test_a_judge_trained_on_toy_digits_tells_them_apart(toy):
    _, judge = toy
    info = judge.info
    assert info["train_clips"] == 42 and info["test_clips"] == 30
    assert info["test_accuracy"] >= 0.9, info
    assert set(info["test_per_digit"]) == {"0", "1", "2"}
    # fresh clips, never written to disk, at another sample rate
    for digit, freq in FREQS.items():
        assert dj.predict(judge, tone(freq, 0.4, rate=16000, amp=0.3), 16000) == digit


def test_save_and_load_round_trip_the_predictions(toy, tmp_path):
    folder, judge = toy
    weights = dj.save_judge(judge, tmp_path / "judge")
    assert weights.name == "judge.safetensors" and (tmp_path / "judge.json").is_file()
    loaded = dj.load_judge(weights)  # the .safetensors path works as well as the stem
    assert loaded.info == json.loads((tmp_path / "judge.json").read_text())
    np.testing.assert_array_equal(loaded.mean, judge.mean)
    items = dj.fsdd_split(folder)["test"]
    feats = np.stack([dj.clip_features(*dj.read_wav(p)) for p, _ in items])
    np.testing.assert_array_equal(dj.predict_features(loaded, feats), dj.predict_features(judge, feats))
    a, b = dj.score_files(judge, items), dj.score_files(dj.load_judge(tmp_path / "judge"), items)
    assert a == b and a["n"] == 30
    assert a["accuracy"] == pytest.approx(judge.info["test_accuracy"])


def test_score_files_reports_per_digit_and_confusions(toy, tmp_path):
    _, judge = toy
    items = []
    for digit, freq in FREQS.items():
        path = tmp_path / f"gen_{digit}.wav"
        dj.write_wav(path, tone(freq, 0.4))
        items.append((path, digit))
    # a clip that claims to be a 0 but is a 2: counted wrong, and shown in the confusion matrix
    dj.write_wav(tmp_path / "liar.wav", tone(FREQS[2], 0.4))
    items.append((tmp_path / "liar.wav", 0))
    report = dj.score_files(judge, items)
    assert report["n"] == 4 and report["correct"] == 3 and report["accuracy"] == 0.75
    assert report["per_digit"]["0"] == {"n": 2, "correct": 1, "accuracy": 0.5}
    assert report["confusion"][0][2] == 1
    assert [f["predicted"] for f in report["files"]] == [0, 1, 2, 2]


def test_the_cli_scores_a_manifest_and_writes_json(toy, tmp_path, capsys):
    _, judge = toy
    dj.save_judge(judge, tmp_path / "judge")
    lines = []
    for digit, freq in FREQS.items():
        dj.write_wav(tmp_path / f"c{digit}.wav", tone(freq, 0.4))
        lines.append(json.dumps({"path": f"c{digit}.wav", "label": digit}))  # relative to the manifest
    (tmp_path / "clips.jsonl").write_text("\n".join(lines) + "\n")
    dj.write_wav(tmp_path / "1_extra.wav", tone(FREQS[1], 0.4))  # its digit from its name
    dj.main(["score", "--judge", str(tmp_path / "judge"), "--manifest", str(tmp_path / "clips.jsonl"),
             "--json", str(tmp_path / "out.json"), str(tmp_path / "1_extra.wav")])
    printed = json.loads(capsys.readouterr().out)
    assert printed["n"] == 4 and printed["accuracy"] == 1.0
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["per_digit"]["1"]["n"] == 2 and len(written["files"]) == 4


def test_missing_data_and_missing_judge_fail_with_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("DREAMWRIGHT_DATA", raising=False)
    with pytest.raises(SystemExit) as e:
        dj.main(["train"])
    assert "DREAMWRIGHT_DATA" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(SystemExit) as e:
        dj.main(["train", "--data", str(tmp_path / "nowhere")])
    assert "no FSDD recordings" in str(e.value)
    monkeypatch.setenv("DREAMWRIGHT_DATA", str(tmp_path))
    with pytest.raises(SystemExit, match="no FSDD recordings"):
        dj.data_dir()
    dj.write_wav(tmp_path / "3_x.wav", tone(500, 0.2))
    with pytest.raises(SystemExit, match="no digit judge"):
        dj.main(["score", "--judge", str(tmp_path / "absent"), str(tmp_path / "3_x.wav")])
