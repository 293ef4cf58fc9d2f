"""The server split by concern: one error body everywhere, API wording in messages, poetry mounted by serve."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from dreamwright.serve import ServeSettings, create_app
from dreamwright.serve.errors import APIError, api_wording, error_body


@pytest.fixture(scope="module")
def client(tiny_generator):
    with TestClient(create_app({"tiny": tiny_generator}, ServeSettings(api_key="k", max_body_bytes=1000))) as c:
        c.headers["authorization"] = "Bearer k"
        yield c


def test_one_error_body_for_handlers_and_middleware(client):
    shape = set(error_body("m")["error"])
    answers = [
        client.post("/v1/completions", json={"prompt": "the", "n": 0}),  # a router's validation
        client.post("/v1/completions", json={"prompt": "the", "surprise": 1}),  # the schema's
        client.post("/v1/completions", json={"prompt": "a" * 2000}),  # the body-limit middleware
        client.post("/v1/completions", json={"prompt": "the"}, headers={"authorization": ""}),  # auth's
        client.post("/v1/poems", json={"num_samples": 99}),  # the poetry router's schema
        client.get("/v1/nothing"),  # routing
    ]
    assert [r.status_code for r in answers] == [400, 400, 413, 401, 400, 404]
    for r in answers:
        assert set(r.json()) == {"error"} and set(r.json()["error"]) == shape, r.text
    assert answers[4].json()["error"]["param"] == "num_samples"
    assert APIError(429, "full", "rate_limit_error", code="queue_full").body() == error_body(
        "full", "rate_limit_error", None, "queue_full"
    )


def test_messages_name_request_fields_not_cli_flags(client):
    err = client.post("/v1/completions", json={"prompt": "the €"}).json()["error"]
    assert err["param"] == "prompt" and "€" in err["message"]
    assert '"unknown": "skip"' in err["message"] and "--" not in err["message"]


@pytest.mark.parametrize(
    ("cli", "api"),
    [
        ("remove them or pass --unknown skip to drop them", 'remove them or send "unknown": "skip" to drop them'),
        ("remove them or pass unknown='skip' to drop them", 'remove them or send "unknown": "skip" to drop them'),
        ("--rhyme must be strict, loose or off", "rhyme must be strict, loose or off"),
        ("relax --tones/--rhyme, or change --acrostic/--start", "relax tones/rhyme, or change acrostic/start"),
        ("pass --top-k 5", 'send "top_k": "5"'),
        ("the prompt 'a--b' is fine", "the prompt 'a--b' is fine"),
    ],
)
def test_api_wording(cli, api):
    assert api_wording(cli) == api


def test_the_app_does_not_import_poetry():
    # serve mounts the poetry router; the poetry package itself loads on the first poem request
    code = "import sys, dreamwright.serve.app; print('dreamwright.poetry' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
