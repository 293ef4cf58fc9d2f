"""The poetry page and API are part of the same server."""

from __future__ import annotations

from fastapi.testclient import TestClient

import dreamwright
from dreamwright.serve import create_app
from dreamwright.serve.settings import ServeSettings


def test_poetry_page_and_api_are_mounted(tiny_run):
    app = create_app({"tiny": dreamwright.load(tiny_run)}, ServeSettings())
    with TestClient(app) as client:
        page = client.get("/poetry")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert 'href="/poetry"' in client.get("/").text
        poem = client.post("/v1/poems", json={"form": "五绝", "seed": 1, "acrostic": "春夏秋冬"})
        assert poem.status_code == 200, poem.text
        body = poem.json()
        text = str(body)
        assert all(ch in text for ch in "春夏秋冬")


def test_couplet_api_answers_with_the_bundled_model_and_refuses_bad_input(tiny_run):
    app = create_app({"tiny": dreamwright.load(tiny_run)}, ServeSettings())
    with TestClient(app) as client:
        assert 'id="couplet-form"' in client.get("/poetry").text
        answer = client.post("/v1/couplets", json={"upper": "春风又绿江南岸", "seed": 1, "n": 2})
        assert answer.status_code == 200, answer.text
        couplets = answer.json()["couplets"]
        assert 1 <= len(couplets) <= 2
        for c in couplets:
            assert c["upper"] == "春风又绿江南岸" and len(c["lower"]) == 7 and c["lower_tones"].endswith("平")
        bad = client.post("/v1/couplets", json={"upper": "spring wind"})
        assert bad.status_code == 400 and "Chinese characters only" in bad.json()["error"]["message"]
