"""The bundled spoken-digit WaveNet: `dreamwright generate fsdd-wavenet --label 3 -o three.wav` works offline right
after installation, and the clip it writes is a valid 8 kHz WAV that is not silence."""

from __future__ import annotations

import json
import wave

import numpy as np

from dreamwright import bundled, runs
from tests.cli.helpers import offline_env, run_dreamwright

NAME = "fsdd-wavenet"


def test_it_is_small_and_says_how_it_was_made():
    path = bundled.find(NAME)
    assert path is not None
    assert sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) <= 10_000_000
    config = json.loads((path / runs.CONFIG).read_text())
    assert "dreamwright train fsdd --model wavenet" in config["trained_on"]
    assert config["model"]["name"] == "wavenet" and config["tokenizer"]["kind"] == "mulaw"
    assert config["tokenizer"]["conditions"]["label"] == [str(d) for d in range(10)]
    assert config["metrics"]["best_val_loss"] / np.log(2) < 8.0  # better than uniform over 256 levels


def test_it_speaks_offline_through_the_installed_command(tmp_path):
    env = offline_env(tmp_path)
    out, png = tmp_path / "three.wav", tmp_path / "three.png"
    proc = run_dreamwright("generate", NAME, "--label", "3", "--seconds", "0.25", "--seed", "1", "-o", str(out),
                           "--spectrogram", str(png), env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with wave.open(str(out), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (8000, 1, 2, 2000)
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert samples.std() > 5  # not digital silence (a silent clip is all one μ-law level: std 0)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "keeps no held-out recordings" not in proc.stderr  # the bundle keeps reference recordings
    assert NAME in run_dreamwright("models", env=env).stdout
