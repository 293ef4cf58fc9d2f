"""The theme planner: one keyword per line from PMI neighbours, and the writer following the plan."""

from __future__ import annotations

import json

import pytest

from dreamwright.errors import InvalidArgument, VocabularyError
from dreamwright.poetry.plan import KEYWORDS_FILE, Plan, Planner
from dreamwright.poetry.prosody import check_poem

TOY = Planner(
    {"秋风": 50, "明月": 40, "落叶": 30, "故乡": 20, "春花": 10, "风雨": 5},
    {
        "秋风": [["落叶", 2.0], ["明月", 1.0], ["春花", -1.0]],
        "明月": [["故乡", 3.0], ["秋风", 1.0]],
        "落叶": [["秋风", 2.0], ["故乡", 0.5]],
        "故乡": [["明月", 3.0], ["落叶", 0.5]],
    },
)


def test_plan_follows_pmi_and_never_repeats_a_character():
    plan = TOY.plan(4, theme="秋风", seed=0)
    assert len(plan.keywords) == 4 and plan.theme == "秋风"
    # 秋风's neighbours first; 风雨 shares 风 with the theme and is never planned
    assert "风雨" not in plan.keywords
    planned = [k for k in plan.keywords if k]
    assert all(not set(a) & set(b) for i, a in enumerate(planned) for b in planned[i + 1 :])
    assert set(k for k in plan.keywords if k) <= {"落叶", "明月", "故乡", "春花"}
    assert plan.keywords[-1] is None or plan.keywords.count(None) <= 1  # the toy table runs dry


def test_user_keywords_come_first_and_plan_is_seeded():
    plan = TOY.plan(4, keywords=["明月"], seed=3)
    assert plan.keywords[0] == "明月"
    assert "故乡" in plan.keywords  # 明月's strongest partner
    assert TOY.plan(4, keywords=["明月"], seed=3) == plan
    with pytest.raises(InvalidArgument, match="at most 4"):
        TOY.plan(4, keywords=["一", "二", "三", "四", "五"])


def test_theme_absent_from_the_statistics_uses_keywords_sharing_its_characters():
    assert TOY.stand_ins("秋思") == ["秋风"]
    assert TOY.stand_ins("明月") == ["明月"]
    with pytest.raises(InvalidArgument, match="theme '㐀'"):
        TOY.plan(4, theme="㐀")
    plan = TOY.plan(4, theme="秋思", seed=0, allowed=lambda w: w != "落叶")
    assert "落叶" not in plan.keywords


def test_shipped_statistics():
    data = json.loads(KEYWORDS_FILE.read_text(encoding="utf-8"))
    assert data["poems"] > 30_000 and "training split" in data["source"]
    planner = Planner.load()
    assert "明月" in planner.counts and "秋风" in planner.counts
    # PMI neighbours are real associations: 明月 goes with the moon's company, sorted best first
    nb = data["neighbours"]["明月"]
    assert [v for _, v in nb] == sorted((v for _, v in nb), reverse=True)
    plans = {planner.plan(4, theme="秋思", seed=s).keywords for s in range(6)}
    assert len(plans) > 1  # seeds vary the plan
    for keywords in plans:
        assert all(keywords)
        assert all(not set(a) & set(b) for i, a in enumerate(keywords) for b in keywords[i + 1 :])
    assert Plan(("秋风", None), "秋思").render() == "（主题 秋思：计划 秋风｜–）"


def test_writer_follows_the_plan(tiny):
    bonus = 40.0
    hits = total = 0
    for seed in range(4):
        (poem,) = tiny.write("五绝", theme="秋月", seed=seed, keyword_bonus=bonus, candidates=1)
        assert poem.plan is not None and len(poem.plan.keywords) == 4
        assert check_poem(poem.text, tiny.table, "五绝").regulated
        for line, kw in zip(poem.lines, poem.plan.keywords, strict=True):
            if kw:
                total += 1
                hits += all(c in line for c in kw)
        assert "主题 秋月" in poem.render(tiny.table)
        assert poem.to_dict()["plan"] == list(poem.plan.keywords)
    assert total and hits / total > 0.5  # a strong nudge puts most keywords in their line


def test_theme_errors_name_missing_characters(tiny):
    with pytest.raises(VocabularyError, match="theme characters not in the model's vocabulary: 「㐀」"):
        tiny.write("五绝", theme="㐀")
    with pytest.raises(InvalidArgument, match="no Chinese"):
        tiny.write("五绝", theme="!!")


def test_keyword_is_nudged_as_one_word():
    from dreamwright.poetry.decode import PoemWriter

    nxt = PoemWriter._next_of
    assert nxt("秋风", "", 5) == "秋"  # room for the word: start it
    assert nxt("秋风", "白日秋", 5) == "风"  # right after its first character: finish it
    assert nxt("秋风", "白日", 5) == "秋"
    assert nxt("秋风", "白日依山", 5) is None  # one slot left: no room for two characters
    assert nxt("秋风", "秋风白", 5) is None  # already written
    assert nxt("秋风", "秋日", 5) == "秋"  # the word broke off: start it again
    assert nxt("月", "白日", 5) == "月"
