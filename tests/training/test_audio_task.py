"""The audio task: clips led by their condition tokens, windows scored on samples only, bits per sample."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import dreamwright
from dreamwright.data.audio import split_clips
from dreamwright.data.corpus import EncodedCorpus
from dreamwright.tokenizers.audio import LEVELS
from dreamwright.training.audio import clip_rows
from dreamwright.training.tasks import IGNORE
from tests.conftest import TINY_WAVENET, kill_after_eval, metrics_events


def test_clips_are_stored_after_their_condition_tokens(audio_run):
    config = json.loads((audio_run / "config.json").read_text())
    assert config["train"]["task"] == "audio"
    tok = config["tokenizer"]
    assert tok["kind"] == "mulaw" and tok["sample_rate"] == 8000
    assert tok["conditions"] == {"label": ["0", "1", "2"], "speaker": ["ann", "bob"]}
    assert config["model"]["n_cond"] == 2 and config["model"]["predict"] == LEVELS
    meta = config["corpus"]
    assert meta["train_clips"] + meta["valid_clips"] == 36 and meta["valid_clips"] >= 1
    encoded = EncodedCorpus.open(audio_run / "data")
    clips = split_clips(encoded, "train", 2)
    assert len(clips) == meta["train_clips"]
    for cond, samples in clips:
        assert LEVELS <= cond[0] < LEVELS + 3 and LEVELS + 3 <= cond[1] < LEVELS + 5
        assert samples.max() < LEVELS and len(samples) >= 0.08 * 8000


def test_a_row_scores_samples_and_never_the_conditions():
    cond = np.array([300, 301])
    x, y = clip_rows([(cond, np.array([5, 6, 7])), (cond, np.array([9]))])
    assert x.tolist() == [[300, 301, 5, 6], [300, 301, 9, 128]]
    assert y.tolist() == [[IGNORE, 5, 6, 7], [IGNORE, 9, IGNORE, IGNORE]]


def test_a_wavenet_learns_the_tones_and_resumes_exactly(tmp_path, tone_folder):
    straight = dreamwright.train(tone_folder, tmp_path / "straight", steps=40, seed=3, **TINY_WAVENET)
    assert straight.unit == "bits/sample"
    evals = metrics_events(tmp_path / "straight", "eval")
    assert evals[-1]["val_bpc"] < 6.5 < 8.0  # uniform over 256 levels is 8 bits
    dreamwright.train(tone_folder, tmp_path / "resumed", steps=20, seed=3, **TINY_WAVENET)
    dreamwright.train(resume=tmp_path / "resumed", steps=40, quiet=True)
    a = {r["step"]: r["loss"] for r in metrics_events(tmp_path / "straight", "train")}
    b = {r["step"]: r["loss"] for r in metrics_events(tmp_path / "resumed", "train")}
    assert sorted(a) == sorted(b) == list(range(1, 41))
    assert all(b[s] == pytest.approx(a[s], rel=1e-5, abs=1e-6) for s in a)


def test_an_lstm_reads_the_same_clips(tmp_path, tone_folder):
    result = dreamwright.train(tone_folder, tmp_path / "lstm", model="lstm", hidden_size=16, embedding_size=8,
                               steps=10, seed=0, seq_len=100, batch_size=4, samples=False, quiet=True, threads=1,
                               eval_interval=10)
    assert result.unit == "bits/sample" and result.val_bpc < 8.5


def test_a_killed_wavenet_run_resumes_exactly(tmp_path, tone_folder):
    dreamwright.train(tone_folder, tmp_path / "straight", steps=60, seed=4, **TINY_WAVENET)
    killed = tmp_path / "killed"
    args = [sys.executable, "-m", "dreamwright", "train", str(tone_folder), "--out", str(killed), "--steps", "60",
            "--seed", "4", "--quiet", *(f"--{k.replace('_', '-')}={v}" for k, v in TINY_WAVENET.items()
                                       if k not in ("samples", "quiet"))]
    kill_after_eval(args + ["--no-samples"], killed, 20)
    assert max(r["step"] for r in metrics_events(killed, "train")) < 60
    dreamwright.train(resume=killed, quiet=True)
    a = {r["step"]: r["loss"] for r in metrics_events(tmp_path / "straight", "train")}
    b = {r["step"]: r["loss"] for r in metrics_events(killed, "train")}
    assert sorted(b) == list(range(1, 61))
    assert all(b[s] == pytest.approx(a[s], rel=1e-5, abs=1e-6) for s in a)
