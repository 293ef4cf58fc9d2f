"""Bad requests get OpenAI-shaped errors with the right 4xx status (real server, plain HTTP)."""

from __future__ import annotations

import httpx
import pytest


def post(server, body, path="/v1/completions", **kw) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=30, **kw)


def assert_error(r: httpx.Response, status: int, param: str | None = None, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str) and err["type"]
    if param is not None:
        assert err["param"] == param, err
    if code is not None:
        assert err["code"] == code, err
    return err


def test_unknown_model(live_server):
    err = assert_error(
        post(live_server, {"model": "gpt-4", "prompt": "the"}), 404, "model", "model_not_found"
    )
    assert "tiny" in err["message"]  # says which models exist
    assert_error(post(live_server, {"model": "nope", "context": "the"}, "/v1/next-token"), 404, "model")
    assert_error(httpx.get(live_server.url + "/v1/models/nope", timeout=10), 404)


def test_model_ids_are_never_paths(live_server, tiny_run):
    # the run's real directory is not a model id; only the names loaded at start are
    for model in (str(tiny_run), "../tiny", "/etc/passwd", tiny_run.parent.name, "./tiny"):
        assert_error(post(live_server, {"model": model, "prompt": "the"}), 404, "model")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -0.5),
        ("temperature", "hot"),
        ("top_p", 0),
        ("top_p", 1.5),
        ("top_k", 0),
        ("n", 0),
        ("max_tokens", 0),
        ("max_tokens", -3),
        ("repetition_penalty", 0),
        ("stop", ""),
        ("stop", ["a", ""]),
        ("seed", "x"),
        ("stream", "maybe"),
        ("logprobs", 6),
        ("logprobs", -1),
        ("frequency_penalty", 0.5),
        ("best_of", 4),
        ("prompt", 7),
        ("prompt", []),
        ("unknown", "ignore"),
        ("surprise", 1),
    ],
)
def test_invalid_parameters(live_server, field, value):
    r = post(live_server, {"model": "tiny", "prompt": "the", field: value})
    err = assert_error(r, 400, field)
    assert err["type"] == "invalid_request_error"


def test_same_messages_as_the_cli(live_server):
    from dreamwright.decoding import SamplingParams
    from dreamwright.errors import InvalidArgument

    with pytest.raises(InvalidArgument) as cli:
        SamplingParams(temperature=-0.5)
    err = assert_error(post(live_server, {"model": "tiny", "prompt": "the", "temperature": -0.5}), 400)
    assert err["message"] == str(cli.value)


def test_prompt_out_of_vocabulary(live_server):
    err = assert_error(
        post(live_server, {"model": "tiny", "prompt": "the €uro #"}), 400, "prompt", "unknown_token"
    )
    assert "€" in err["message"]
    # `unknown: skip` drops the pieces instead
    r = post(live_server, {"model": "tiny", "prompt": "the €uro", "unknown": "skip", "max_tokens": 3})
    assert r.status_code == 200
    assert r.json()["usage"]["prompt_tokens"] == len("the uro")
    assert_error(
        post(live_server, {"model": "tiny", "context": "€"}, "/v1/next-token"),
        400,
        "context",
        "unknown_token",
    )


def test_max_tokens_over_cap(live_server):
    err = assert_error(
        post(live_server, {"model": "tiny", "prompt": "the", "max_tokens": 100_000}),
        400,
        "max_tokens",
        "max_tokens_exceeded",
    )
    assert "2048" in err["message"]


def test_n_over_cap(live_server):
    assert_error(post(live_server, {"model": "tiny", "prompt": "the", "n": 17}), 400, "n")
    assert_error(post(live_server, {"model": "tiny", "prompt": ["the"] * 5, "n": 4}), 400, "n")


def test_prompt_too_long(live_server):
    err = assert_error(
        post(live_server, {"model": "tiny", "prompt": "the " * 1100}),
        400,
        "prompt",
        "context_length_exceeded",
    )
    assert "4096" in err["message"]


def test_body_too_large(live_server):
    big = {"model": "tiny", "prompt": "a" * 300_000}
    assert_error(post(live_server, big), 413, code="request_too_large")

    def chunks():  # no Content-Length: the limit holds while reading
        yield b'{"model": "tiny", "prompt": "'
        for _ in range(300):
            yield b"a" * 1000
        yield b'"}'

    r = httpx.post(
        live_server.url + "/v1/completions",
        content=chunks(),
        timeout=30,
        headers={"content-type": "application/json"},
    )
    assert_error(r, 413, code="request_too_large")


def test_malformed_json(live_server):
    r = httpx.post(
        live_server.url + "/v1/completions",
        content=b'{"prompt": ',
        timeout=10,
        headers={"content-type": "application/json"},
    )
    assert_error(r, 400, code="invalid_json")
    r = httpx.post(
        live_server.url + "/v1/completions",
        content=b"[1, 2]",
        timeout=10,
        headers={"content-type": "application/json"},
    )
    assert_error(r, 400)


def test_unknown_route_and_method(live_server):
    assert_error(httpx.get(live_server.url + "/v1/chat/nothing", timeout=10), 404)
    assert_error(httpx.get(live_server.url + "/v1/completions", timeout=10), 405)


def test_next_token_parameters(live_server):
    assert_error(
        post(live_server, {"model": "tiny", "context": "the", "temperature": -1}, "/v1/next-token"),
        400,
        "temperature",
    )
    assert_error(
        post(live_server, {"model": "tiny", "context": "the", "top_n": 0}, "/v1/next-token"), 400, "top_n"
    )
    assert_error(
        post(live_server, {"model": "tiny", "context": "the", "top_n": 1000}, "/v1/next-token"), 400, "top_n"
    )
