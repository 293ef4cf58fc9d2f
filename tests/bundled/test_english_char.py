"""The bundled English base model: float16 in the box, loads, writes English, never saw Nietzsche, is in the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import dreamwright
from dreamwright import bundled
from dreamwright.runs import load_tensors


def test_english_char_is_small_float16_and_writes_english():
    path = bundled.find("english-char")
    assert path is not None
    assert sum(p.stat().st_size for p in path.iterdir()) <= 15_000_000
    tensors, _ = load_tensors(path / "model.safetensors")
    assert {str(t.dtype) for t in tensors.values()} == {"torch.float16"}
    gen = dreamwright.load("english-char", device="cpu")
    assert gen.config["tokenizer"]["kind"] == "char" and {"A", "a", ".", ",", "\n"} <= set(gen.tokenizer.chars)
    text = gen.generate("The ", max_new_tokens=300, temperature=0.5, seed=0)[0]
    words = text.lower().split()
    common = {"the", "and", "of", "to", "in", "a", "was", "is", "that", "for", "as", "with", "his", "on", "by"}
    assert sum(w.strip(",.;:!?\"'") in common for w in words) >= 8, text


def test_english_char_never_saw_nietzsche():
    config = dreamwright.load("english-char", device="cpu").config
    assert "nietzsche" not in json_text(config).lower()
    assert "WikiText-2" in config["trained_on"] and "Shakespeare" in config["trained_on"]


def json_text(config: dict) -> str:
    import json

    return json.dumps({k: v for k, v in config.items() if k != "tokenizer"})


def test_wheel_ships_every_bundled_model(tmp_path):
    root = bundled.HERE.parents[2]
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path), str(root)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = zipfile.ZipFile(next(tmp_path.glob("dreamwright-*.whl"))).namelist()
    for model in bundled.available():
        for name in ("config.json", "model.safetensors"):
            assert f"dreamwright/bundled/{model.name}/{name}" in names
