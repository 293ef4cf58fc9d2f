"""The bundled 对对子 model: `dreamwright couplet` works offline right after installation, and its 下联 keep the
rules by the independent checker (benchmarks/couplet_check.py, which shares no code with the decoder)."""

from __future__ import annotations

import json

from benchmarks.couplet_check import judge

from dreamwright import bundled, runs
from tests.cli.helpers import offline_env, run_dreamwright_each

NAME = "tang-couplet"


def test_it_is_small_and_says_how_it_was_made():
    path = bundled.find(NAME)
    assert path is not None
    assert sum(p.stat().st_size for p in path.iterdir()) <= 5_000_000
    config = json.loads((path / runs.CONFIG).read_text())
    assert "dreamwright train tang-couplets --model seq2seq" in config["trained_on"]
    assert config["model"]["name"] == "seq2seq"


def test_couplet_command_writes_a_lower_line_that_keeps_the_rules_offline(tmp_path):
    env = offline_env(tmp_path)
    uppers = ("春风又绿江南岸", "海阔凭鱼跃", "明月松间照")
    results = run_dreamwright_each(*(["couplet", upper, "--seed", str(seed)] for seed, upper in enumerate(uppers, 1)),
                                   env=env)
    for upper, result in zip(uppers, results, strict=True):
        assert result.returncode == 0, result.stderr
        lower = result.stdout.strip().splitlines()[-1].split()[-1]
        assert len(lower) == len(upper), result.stdout
        assert all(judge(upper, lower).values()), (upper, lower)
        assert all(a != b for a, b in zip(upper, lower, strict=True))
