"""The benchmark's independent compliance check (benchmarks/poetry_strict.py) on hand-checked poems."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.poetry.poetry_samples import FAMOUS

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "poetry_strict.py"


@pytest.fixture(scope="module")
def strict():
    spec = importlib.util.spec_from_file_location("poetry_strict", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_shares_no_code_with_the_decoders_prosody():
    import ast

    tree = ast.parse(PATH.read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported and not any(m.startswith("dreamwright") for m in imported)


def test_regulated_poems_pass_and_broken_ones_fail(strict):
    table = strict.SimpleTable.read()
    for name in ("登鹳雀楼", "相思", "早发白帝城", "枫桥夜泊", "春望"):
        verdict = strict.check(FAMOUS[name], table)
        assert verdict.ok, (name, verdict.problems)
    # 静夜思 breaks 粘/对 and the alternation of its 2nd/4th characters
    problems = strict.check(FAMOUS["静夜思"], table).problems
    assert any(p.startswith("粘") for p in problems) and any(p.startswith("alternation") for p in problems)
    # issue 15's example: 暗 is only 仄 (勘/霰), so it cannot rhyme with 南
    problems = strict.check("春草此生坠，夏花帆行暗。秋风不见月，冬起舞张南。", table).problems
    assert any("暗" in p for p in problems) and any("share no 平 group" in p for p in problems)
    # a line-1 ending that is only 平 must rhyme too: 前 (先) with 流/楼 (尤) fails
    assert not strict.check("白日依山前，黄河入海流。欲穷千里目，更上一层楼。", table).ok
    assert strict.check("一二三", table).problems == ["shape: not 4 or 8 lines of 5 or 7 characters"]


def test_table_entries(strict):
    table = strict.SimpleTable.read()
    assert table.tones("暗") == {"仄"} and table.tones("前") == {"平"}
    assert table.tones("看") == {"平", "仄"} and table.one_tone("看") is None
    assert table.ping_groups("思") == {"四支", "十灰"}
