"""The 近体诗 checker against hand-checked poems, and the pattern rules themselves."""

from __future__ import annotations

import pytest

from dreamwright.poetry.prosody import (
    PING,
    ZE,
    check_poem,
    line_fits,
    line_pattern,
    mandarin_tones,
    patterns,
    split_lines,
)
from tests.poetry.poetry_samples import FAMOUS

P, Z = frozenset({PING}), frozenset({ZE})


def tones(s: str) -> list[frozenset[str]]:
    return [P if c == "平" else Z for c in s]


def test_standard_patterns():
    assert [p.lines for p in patterns("五绝")][0] == ["仄仄平平仄", "平平仄仄平", "平平平仄仄", "仄仄仄平平"]
    assert line_pattern("A", 7) == "平平仄仄平平仄" and line_pattern("B", 7) == "仄仄平平仄仄平"
    assert line_pattern("C", 7) == "仄仄平平平仄仄" and line_pattern("D", 7) == "平平仄仄仄平平"
    names = {p.name for p in patterns("七绝")}
    assert names == {"平起首句入韵", "平起首句不入韵", "仄起首句入韵", "仄起首句不入韵"}
    for form in ("五绝", "七绝", "五律", "七律"):
        for pat in patterns(form):
            lines = pat.lines
            for i in range(len(lines) - 1):
                for k in range(1, len(lines[0]), 2):  # the 2nd/4th/6th characters
                    if i % 2 == 0:  # 对 inside a couplet
                        assert lines[i][k] != lines[i + 1][k], (form, pat, i, k)
                    else:  # 粘 between couplets
                        assert lines[i][k] == lines[i + 1][k], (form, pat, i, k)
            assert all(lines[i][-1] == PING for i in pat.rhyme_lines)
            assert all(line[-1] == ZE for i, line in enumerate(lines) if i not in pat.rhyme_lines)


def test_yi_san_wu_bu_lun_and_exceptions():
    assert line_fits("A", tones("平仄平平仄"))  # 1st free
    assert line_fits("C", tones("平平仄仄仄"))  # 3rd free (三仄尾 is tolerated)
    assert line_fits("A", tones("仄仄平平仄平平")[:0] or tones("仄仄仄平平平仄")) is False  # 4th is fixed
    assert line_fits("B", tones("仄平平仄平"))  # 孤平 rescued by the 3rd
    assert not line_fits("B", tones("仄平仄仄平"))  # 孤平
    assert not line_fits("B", tones("平仄仄平仄仄平"))  # 七言 孤平 sits at the 3rd and 5th
    assert line_fits("B", tones("平仄仄平平仄平"))
    assert not line_fits("D", tones("仄仄平平平"))  # 三平尾
    assert not line_fits("D", tones("平平仄仄平平平"))
    assert line_fits("D", tones("仄平仄仄仄平平"))  # 七言 1st free


def test_either_tone_character_satisfies_both(table):
    assert table.tones("看") == {PING, ZE}
    assert table.tones("思") == {PING, ZE}
    assert line_fits("D", [table.tones(c) for c in "此物最相思"])


@pytest.mark.parametrize(
    "ch, groups, tones_",
    [
        # hand-checked in rhyme/oriYunDict.json (搜韵): the simplified table's entries and nothing else
        ("暗", {"勘", "霰"}, {ZE}),  # 二十八勘去, 十七霰去 — never 覃 (闇 → 暗 merges readings)
        ("前", {"先"}, {PING}),  # 一先平 only
        ("看", {"寒", "翰"}, {PING, ZE}),  # 十四寒平, 十五翰去
        ("重", {"冬", "肿", "宋"}, {PING, ZE}),  # 二冬平, 二肿上, 二宋去
        ("思", {"支", "灰", "寘"}, {PING, ZE}),  # 四支平, 十灰平, 四寘去
    ],
)
def test_strict_table_uses_the_simplified_entries_only(table, ch, groups, tones_):
    assert table.in_primary(ch)
    assert table.groups_of(ch) == groups
    assert table.tones(ch) == tones_ == table.table_tones(ch)


def test_traditional_table_only_fills_missing_characters(tmp_path):
    import json

    from dreamwright.poetry.prosody import RhymeTable

    simp = tmp_path / "s.json"
    simp.write_text(json.dumps({"二十八勘去": "暗", "一先平": "前"}, ensure_ascii=False), encoding="utf-8")
    trad = tmp_path / "t.json"
    # 闇 (simplified by OpenCC to 暗) is a 覃 rhyme, 韆 (→ 千) a 先 one
    trad.write_text(
        json.dumps({"ping": {"下平聲部": {"下平聲十三覃": ["闇"], "下平聲一先": ["韆前"]}}}, ensure_ascii=False),
        encoding="utf-8",
    )
    t = RhymeTable.from_files(simp, trad)
    assert t.groups_of("暗") == {"勘"} and t.tones("暗") == {ZE}  # no reading added to a listed character
    assert t.groups_of("前") == {"先"}
    assert t.groups_of("闇") == {"覃"} and not t.in_primary("闇")  # filled: the simplified table lacks it
    assert t.groups_of("千") == {"先"} and t.in_table("千") and not t.in_primary("千")
    assert not t.in_table("我") and t.table_tones("我") == frozenset()  # pypinyin is the caller's last resort


def test_rusheng_needs_the_table(table):
    # 国 and 白 are 入声: 仄 in the table, 平 in Mandarin
    for ch in "国白独竹":
        assert table.tones(ch) == {ZE}
        assert mandarin_tones(ch) == {PING}
    assert line_fits("A", [table.tones(c) for c in "红豆生南国"])
    assert not line_fits("A", [mandarin_tones(c) for c in "红豆生南国"])


@pytest.mark.parametrize(
    "name, form, regulated, pattern, group",
    [
        ("静夜思", "五绝", False, None, "下平七阳"),
        ("登鹳雀楼", "五绝", True, "仄起首句不入韵", "下平十一尤"),
        ("相思", "五绝", True, "仄起首句不入韵", "上平四支"),
        ("早发白帝城", "七绝", True, "平起首句入韵", "上平十五删"),
        ("出塞", "七绝", True, "平起首句入韵", "上平十五删"),
        ("枫桥夜泊", "七绝", True, "仄起首句入韵", "下平一先"),
        ("春望", "五律", True, "仄起首句不入韵", "下平十二侵"),
        ("黄鹤楼", "七律", False, None, "下平十一尤"),
    ],
)
def test_famous_poems(table, name, form, regulated, pattern, group):
    report = check_poem(FAMOUS[name], table)
    assert report.form == form and report.format_ok
    assert report.rhyme_ok and report.rhyme_group.name == group
    assert report.regulated is regulated
    assert report.tone_ok is regulated
    assert (report.pattern.name if report.pattern else None) == pattern


@pytest.mark.parametrize("name, group", [("春晓", "上十七筱"), ("江雪", "入九屑")])
def test_ze_rhymed_quatrains_are_not_regulated(table, name, group):
    report = check_poem(FAMOUS[name], table)
    assert report.rhyme_ok and report.rhyme_group.name == group  # they rhyme, in a 仄 group
    assert not report.regulated and not report.tone_ok


def test_line_breaks_and_broken_shapes(table):
    assert split_lines("日暮乡关何处是？烟波江上使人愁！") == ["日暮乡关何处是", "烟波江上使人愁"]
    assert check_poem(FAMOUS["黄鹤楼"], table).form == "七律"  # a line ending in ？ still counts
    bad = check_poem("床前明月光，疑是地上霜。举头望明月。", table)
    assert bad.form is None and not bad.format_ok
    assert not check_poem("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", table, form="七绝").format_ok
    # rhyme broken: 流 / 山 share no group
    assert not check_poem("白日依山尽，黄河入海流。欲穷千里目，更上一层山。", table).rhyme_ok


def test_unknown_tone_only_fails_fixed_positions():
    unknown = frozenset()
    assert line_fits("A", [unknown] + tones("仄平平仄"))  # free 1st position
    assert not line_fits("A", tones("仄") + [unknown] + tones("平平仄"))  # fixed 2nd position
