"""The bundled 作诗姬 model: small, float16, says how it was made, and `dreamwright poem` writes verse with it
offline that the independent checker (benchmarks/poetry_strict.py, no dreamwright code) finds regular."""

from __future__ import annotations

import json

from benchmarks.poetry_strict import SimpleTable, check

from dreamwright import bundled, runs
from dreamwright.poetry import BUNDLED_MODEL
from dreamwright.runs import load_tensors
from tests.cli.helpers import offline_env, run_dreamwright_each


def test_it_is_small_float16_and_says_how_it_was_made():
    path = bundled.find(BUNDLED_MODEL)
    assert path is not None
    assert sum(p.stat().st_size for p in path.iterdir()) <= 15_000_000
    tensors, _ = load_tensors(path / "model.safetensors")
    assert {str(t.dtype) for t in tensors.values()} == {"torch.float16"}
    config = json.loads((path / runs.CONFIG).read_text())
    assert "全唐诗" in config["trained_on"] and "dreamwright poem" in config["trained_on"]
    assert config["train"]["task"] == "poems"


def test_poem_command_writes_regulated_verse_offline_at_the_defaults(tmp_path):
    env = offline_env(tmp_path)
    table = SimpleTable.read()
    forms = ("五绝", "七绝", "五律", "七律")
    results = run_dreamwright_each(*(["poem", "--form", form, "--seed", str(seed)]
                                     for seed, form in enumerate(forms, 1)), env=env)
    for form, result in zip(forms, results, strict=True):
        assert result.returncode == 0, result.stderr
        first_words = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
        lines = [word for word in first_words if word.endswith(("，", "。"))]
        poem = "".join(lines)
        assert len(lines) == (4 if form.endswith("绝") else 8), result.stdout
        verdict = check(poem, table)
        assert verdict.ok, (form, poem, verdict.problems)
