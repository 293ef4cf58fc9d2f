"""The model in the box: generation works right after installation, with no download and no training."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import dreamwright
from dreamwright import bundled
from tests.conftest import run_cli


def test_bundled_shakespeare_model_generates_from_the_cli(tmp_path):
    proc = run_cli("generate", "--prompt", "ROMEO:", "--max-new-tokens", "200", "--seed", "1",
                   "--temperature", "0.5", cwd=tmp_path, env={"DREAMWRIGHT_DATA": str(tmp_path / "nothing")})
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith("ROMEO:") and len(text) >= 200
    words = text.split()
    common = {"the", "and", "to", "of", "i", "my", "you", "that", "a", "is", "in", "not", "me", "your", "with"}
    assert sum(w.lower().strip(",.;:!?") in common for w in words) >= 5  # reads like English, not noise


def test_bundled_model_is_good(tmp_path):
    """Its validation loss (stored when it was trained) beats the C2 3-minute target."""
    gen = dreamwright.load()
    assert gen.name == bundled.DEFAULT_MODEL
    assert gen.config["metrics"]["best_val_loss"] < 1.6
    assert "bundled" in run_cli("models", cwd=tmp_path).stdout


def test_models_lists_every_bundled_model_with_its_version(tmp_path):
    lines = run_cli("models", cwd=tmp_path).stdout.splitlines()
    for path in bundled.available():
        version = json.loads((path / "config.json").read_text(encoding="utf-8")).get("version", 1)
        assert any(line.split()[1:3] == [path.name, f"v{version}"] for line in lines), (path.name, lines)


def test_wheel_ships_the_bundled_model(tmp_path):
    root = bundled.HERE.parents[2]
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path), str(root)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("dreamwright-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("config.json", "model.safetensors"):
        assert f"dreamwright/bundled/{bundled.DEFAULT_MODEL}/{name}" in names
    assert not any("/bundled/" in n and ("trainer_state" in n or "/data/" in n) for n in names)


def test_a_model_names_the_model_it_was_fine_tuned_from_but_not_itself(tmp_path):
    def described(name: str, source: str) -> str:
        path = tmp_path / name
        path.mkdir()
        config = {"model": {"family": "rnn", "cell": "lstm", "n_layer": 1, "hidden_size": 8},
                  "trained_on": "some text", "init_from": {"name": source}}
        (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
        return bundled.describe(path)["trained_on"]

    assert described("poet", "english-char") == "some text (fine-tuned from english-char)"
    assert described("english-char", "english-char") == "some text"  # continued from its own earlier weights


def test_no_bundled_config_names_a_path_on_the_machine_that_trained_it():
    def strings(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, str):
            yield value

    for path in bundled.available():
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        absolute = [s for s in strings(config) if s.startswith("/") or s[1:3] in (":\\", ":/")]
        assert not absolute, (path.name, absolute)
