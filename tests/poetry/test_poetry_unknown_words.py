"""Themes and keywords the Tang statistics lack: the plan says what they stood for, the command warns in one
line on stderr, and ``/v1/poems`` returns the same warning."""

from __future__ import annotations

import json

import pytest

from dreamwright.poetry.plan import Plan, plans_warning
from tests.cli.helpers import assert_one_line_error, run_dreamwright_each, stderr_lines
from tests.poetry.test_poetry_plan import TOY


def test_plan_records_what_the_statistics_lack():
    plan = TOY.plan(4, theme="秋思", keywords=["量子", "明月"], seed=0)
    assert plan.stand_ins == ("秋风",) and plan.unknown == ("量子",)
    assert plan.render().startswith("（主题 秋思→秋风：计划 量子｜明月｜")
    warning = plan.warning()
    assert "theme 秋思 is not in the Tang corpus's keyword statistics" in warning and "秋风" in warning
    assert "keyword 量子 is not in the Tang corpus's keyword statistics: kept in the plan" in warning
    known = TOY.plan(4, theme="秋风", keywords=["明月", "月"], seed=0)  # 月 is inside a keyword
    assert known.stand_ins == () and known.unknown == () and known.warning() is None
    assert "主题 秋风：计划" in known.render()
    single = TOY.plan(4, theme="秋", seed=0)  # one character stands for its keywords without a warning
    assert single.stand_ins == ("秋风",) and single.warning() is None
    assert plans_warning([None, plan, known]) == warning and plans_warning([]) is None
    assert Plan(("甲乙",), unknown=("电脑", "手机")).warning().startswith("keywords 电脑, 手机 are not")


def test_cli_warns_about_keywords_and_themes_without_statistics():
    poem = ["poem", "--seed", "1", "--json"]
    keywords, theme, plain, known = run_dreamwright_each(
        [*poem, "--keywords", "量子,电脑,手机,网络"], [*poem, "--theme", "量子"],
        ["poem", "--seed", "1", "--theme", "量子"], [*poem, "--theme", "秋思"], timeout=300)
    assert keywords.returncode == 0, keywords.stderr
    assert stderr_lines(keywords) == ["warning: keywords 量子, 电脑, 手机, 网络 are not in the Tang corpus's keyword "
                                      "statistics: kept in the plan, but the model seldom writes a word it never "
                                      "read (2-6% of such lines in docs/poetry.md)"]
    assert json.loads(keywords.stdout)["plan"] == ["量子", "电脑", "手机", "网络"]

    assert theme.returncode == 0, theme.stderr
    (line,) = stderr_lines(theme)
    assert line.startswith("warning: theme 量子 is not in the Tang corpus's keyword statistics, so it was "
                           "planned from keywords sharing a character with it: ")
    stand_ins = line.rsplit(": ", 1)[1].split(", ")
    assert len(stand_ins) == 3 and all("子" in w or "量" in w for w in stand_ins)
    assert f"（主题 量子→{'/'.join(stand_ins)}：计划 " in plain.stdout

    assert known.returncode == 0 and stderr_lines(known) == [], known.stderr  # a keyword of the statistics


def test_cli_offers_a_variant_only_when_there_is_one():
    missing, variant = run_dreamwright_each(["poem", "--theme", "𠀀"], ["poem", "--theme", "龍"], timeout=300)
    assert_one_line_error(missing, "theme characters not in the model's vocabulary: 「𠀀」; use other characters")
    assert "variant" not in missing.stderr
    assert_one_line_error(variant, "「龍」 (try 「龙」)", "suggested simplified/traditional variant")


@pytest.fixture(scope="module")
def client():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from dreamwright.poetry import load_writer
    from dreamwright.serve.routers.poetry import router

    writer = load_writer()
    app = FastAPI()
    app.include_router(router(lambda: writer))
    return TestClient(app)


def test_server_returns_the_same_warning(client):
    r = client.post("/v1/poems", json={"keywords": "量子,电脑", "seed": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["poems"][0]["plan"][:2] == ["量子", "电脑"]
    assert body["warnings"] == ["keywords 量子, 电脑 are not in the Tang corpus's keyword statistics: kept in the "
                                "plan, but the model seldom writes a word it never read (2-6% of such lines in "
                                "docs/poetry.md)"]
    r = client.post("/v1/poems", json={"theme": "量子", "seed": 1, "num_samples": 2})
    assert r.status_code == 200 and r.json()["poems"][0]["theme"] == "量子"
    assert r.json()["warnings"][0].startswith("theme 量子 is not in the Tang corpus's keyword statistics")
    r = client.post("/v1/poems", json={"theme": "秋思", "seed": 1})
    assert r.status_code == 200 and r.json()["warnings"] == []
    r = client.post("/v1/poems", json={"theme": "𠀀"})
    assert r.status_code == 400 and "variant" not in r.json()["error"]["message"]
