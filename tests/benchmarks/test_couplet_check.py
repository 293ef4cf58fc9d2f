"""benchmarks/couplet_check.py, the independent 对联 checker, on hand-checked pairs.

Tones read off the simplified 搜韵 table by hand: 春平 风平 又仄 绿仄(入) 江平 南平 岸仄; 明平 月仄(入) 何平 时平 照仄
我仄 还平; 花平 去仄; 吹 and 滩 both (平 and 仄); 浪 both; 坑平; 凭 and 任 both; 氢 is not in the table.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHECKER = Path(__file__).resolve().parents[2] / "benchmarks" / "couplet_check.py"
sys.path.insert(0, str(CHECKER.parent))
from couplet_check import judge, pass_rates, read_table  # noqa: E402

ALL = {"length": True, "tones": True, "ends_ping": True}


@pytest.fixture(scope="module", autouse=True)
def _mirror():
    if not os.environ.get("DREAMWRIGHT_DATA"):
        shared = Path(__file__).resolve().parents[3] / "shared" / "data"
        if not shared.is_dir():
            pytest.skip("needs DREAMWRIGHT_DATA (the data mirror with rhyme/)")
        os.environ["DREAMWRIGHT_DATA"] = str(shared)


def test_it_shares_no_code_with_dreamwright():
    tree = ast.parse(CHECKER.read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any("dreamwright" in name for name in imported), imported


def test_the_table_is_read_as_by_hand():
    tones = read_table()
    assert tones["风"] == {"平"} and tones["绿"] == {"仄"} and tones["岸"] == {"仄"}
    assert tones["吹"] == {"平", "仄"} and tones["任"] == {"平", "仄"}
    assert "氢" not in tones and len(tones) > 20_000


def test_wang_anshi_and_wrong_replies():
    assert judge("春风又绿江南岸", "明月何时照我还") == ALL
    # 花 is 平 opposite 风's 平 at the 2nd character
    assert judge("春风又绿江南岸", "明花何时照我还") == {**ALL, "tones": False}
    # 去 is 仄 opposite 岸's 仄, and the 下联 does not end 平
    assert judge("春风又绿江南岸", "明月何时照我去") == {"length": True, "tones": False, "ends_ping": False}
    assert judge("春风又绿江南岸", "明月何时照我") == {"length": False, "tones": False, "ends_ping": False}
    # trailing punctuation does not count
    assert judge("春风又绿江南岸，", "明月何时照我还。") == ALL


def test_classic_couplets():
    assert judge("风吹水面层层浪", "雨打沙滩点点坑") == ALL  # 吹 and 滩, 浪: some reading is opposite
    assert judge("两个黄鹂鸣翠柳", "一行白鹭上青天") == ALL
    assert judge("海阔凭鱼跃", "天高任鸟飞") == ALL  # 凭 and 任 both have two tones
    for upper, lower in (("海树", "山花"), ("赤日", "苍穹"), ("大陆", "长空"), ("雨", "风")):  # 声律启蒙
        assert judge(upper, lower) == ALL, (upper, lower)
    assert judge("天", "地") == {**ALL, "ends_ping": False}  # opposite, but ends 仄


def test_a_character_missing_from_the_table_fails_a_fixed_position_only():
    assert judge("春风又绿江南岸", "明氢何时照我还")["tones"] is False
    assert judge("春风又绿江南岸", "氢月何时照我还") == ALL  # the 1st character is free
    assert judge("春风又绿江南岸", "明月何时照我a") == {"length": False, "tones": False, "ends_ping": False}


def test_pass_rates_and_the_command(tmp_path):
    rows = [("春风又绿江南岸", "明月何时照我还"), ("春风又绿江南岸", "明花何时照我还"), ("天", "地"), ("雨", "风")]
    n, rates = pass_rates(rows)
    assert n == 4 and rates == {"length": 1.0, "tones": 0.75, "ends_ping": 0.75, "overall": 0.5}
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{u}\t{d}\n" for u, d in rows) + "\n", encoding="utf-8")
    out = subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "4 pairs" and lines[-1].split() == ["overall", "50.0%"]
    bad = tmp_path / "bad.tsv"
    bad.write_text("春风又绿江南岸\n", encoding="utf-8")
    out = subprocess.run([sys.executable, str(CHECKER), str(bad)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "line 1" in out.stderr and "Traceback" not in out.stderr
