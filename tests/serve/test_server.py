"""How the server behaves under load and misuse: queue limits, disconnects, auth, CORS, timeouts, shutdown."""

from __future__ import annotations

import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest


def completion(url: str, timeout: float = 60, **body) -> httpx.Response:
    return httpx.post(url + "/v1/completions", json={"model": "tiny", **body}, timeout=timeout)


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --------------------------------------------------------------------------- basics
def test_healthz_openapi_and_page(live_server):
    health = httpx.get(live_server.url + "/healthz", timeout=10).json()
    assert health["status"] == "ok" and health["models"] == ["tiny"]
    schema = httpx.get(live_server.url + "/openapi.json", timeout=10).json()
    for path in ("/v1/models", "/v1/completions", "/v1/next-token", "/healthz"):
        assert path in schema["paths"]
    props = schema["components"]["schemas"]["CompletionRequest"]["properties"]
    for name in (
        "model",
        "prompt",
        "max_tokens",
        "temperature",
        "top_p",
        "n",
        "stream",
        "stop",
        "seed",
        "top_k",
        "repetition_penalty",
    ):
        assert name in props
    assert "ErrorResponse" in schema["components"]["schemas"]
    page = httpx.get(live_server.url + "/", timeout=10)
    assert page.status_code == 200 and "temperature lens" in page.text.lower()
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/chat.js", "/static/style.css"):
        assert httpx.get(live_server.url + asset, timeout=10).status_code == 200
    assert httpx.get(live_server.url + "/static/../app.py", timeout=10).status_code == 404


def test_serve_engine_process_decodes_in_a_child_process(tiny_run, healthy, server_process):
    """`dreamwright serve --engine process` answers from an engine process of its own, and leaves none behind."""
    import os

    start, stop = server_process
    env = {k: v for k, v in os.environ.items() if k != "DREAMWRIGHT_API_KEY"}
    proc, url, _ = start([f"tiny={tiny_run}", "--port", "0", "--threads", "1", "--engine", "process"], env)
    try:
        healthy(url)
        tasks = Path(f"/proc/{proc.pid}/task")
        if not tasks.exists():
            pytest.skip("no /proc here to list the server's child processes")
        children = [pid for task in tasks.iterdir() for pid in (task / "children").read_text().split()]
        assert children, "dreamwright serve --engine process started no engine process"
        assert completion(url, prompt="the ", max_tokens=3).json()["usage"]["completion_tokens"] == 3
    finally:
        stop(proc)
    # the resource tracker and the core exit once the server's pipes close: give them a generous while
    assert wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), timeout=20), children


def test_next_token_is_the_books_formula(live_server):
    def lens(t: float, top_n: int = 100) -> list[dict]:
        r = httpx.post(
            live_server.url + "/v1/next-token",
            timeout=10,
            json={"model": "tiny", "context": "ROMEO: the", "temperature": t, "top_n": top_n},
        )
        assert r.status_code == 200, r.text
        return r.json()["candidates"]

    full = lens(0.5)  # top_n above the vocabulary: every token
    assert math.isclose(sum(c["probability"] for c in full), 1.0, abs_tol=1e-4)
    assert math.isclose(sum(c["reweighted"] for c in full), 1.0, abs_tol=1e-4)
    z = sum(c["probability"] ** 2 for c in full)  # T = 0.5: p^(1/T) = p^2
    for c in full[:5]:
        assert math.isclose(c["reweighted"], c["probability"] ** 2 / z, rel_tol=1e-3)
    top = lens(1.0, 5)
    assert len(top) == 5 and all(math.isclose(c["probability"], c["reweighted"], rel_tol=1e-5) for c in top)
    greedy = lens(0.0, 3)
    assert greedy[0]["reweighted"] == 1.0 and greedy[1]["reweighted"] == 0.0


def test_access_log_is_structured(live_server):
    completion(live_server.url, prompt="the ", max_tokens=3)
    assert wait_until(lambda: any('"completion_tokens": 3' in line for line in live_server.log), 5)
    records = [json.loads(line) for line in live_server.log if line.startswith("{")]
    entry = [r for r in records if r.get("path") == "/v1/completions" and r.get("completion_tokens") == 3][-1]
    for key in ("request_id", "method", "status", "duration_ms", "client", "model", "prompt_tokens"):
        assert key in entry
    assert entry["status"] == 200 and entry["model"] == "tiny"
    assert all("prompt" != k for r in records for k in r)  # prompts are never logged


def test_concurrent_requests_are_batched_and_seeds_hold(live_server):
    reply = completion(live_server.url, prompt="JULIET: ", max_tokens=40, seed=11, temperature=1.0).json()
    alone = reply["choices"][0]["text"]
    with ThreadPoolExecutor(8) as pool:
        futures = [
            pool.submit(
                completion,
                live_server.url,
                prompt=p,
                max_tokens=40 + i,
                seed=11 if i == 0 else i,
                temperature=[1.0, 0.5, 0.0, 1.3][i % 4],
                top_k=[None, 5][i % 2],
            )
            for i, p in enumerate(["JULIET: "] + ["ROMEO: the "] * 7)
        ]
        results = [f.result() for f in futures]
    assert all(r.status_code == 200 for r in results)
    assert results[0].json()["choices"][0]["text"] == alone  # same seed, same text, whatever shares the batch
    for i, r in enumerate(results):
        assert r.json()["usage"]["completion_tokens"] == 40 + i  # each row stops at its own limit


# --------------------------------------------------------------------------- limits
def test_full_queue_answers_429_at_once(tiny_generator, thread_server):
    # one endless row holds the only batch slot, so the two queued requests cannot finish before it is
    # cancelled: a 429 that arrives while they are still pending was answered at once, not after a generation
    with thread_server(tiny_generator, max_batch_rows=1, max_queue=2, max_n=1, max_tokens=1_000_000) as srv:
        health = lambda: httpx.get(srv.url + "/healthz", timeout=5).json()  # noqa: E731
        with httpx.Client(timeout=120) as client, ThreadPoolExecutor(2) as pool:
            with client.stream(
                "POST", srv.url + "/v1/completions", json={"prompt": "the ", "max_tokens": 1_000_000, "stream": True}
            ) as endless:
                lines = endless.iter_lines()
                while not next(lines).startswith("data: "):  # decoding: it holds the slot
                    pass
                queued = [
                    pool.submit(completion, srv.url, prompt="the ", max_tokens=400, timeout=120) for _ in range(2)
                ]
                assert wait_until(lambda: health()["waiting"] == 2, timeout=30), health()
                refused = [completion(srv.url, prompt="the ", max_tokens=400, timeout=30) for _ in range(3)]
                assert not any(f.done() for f in queued)  # the 429s came while the queue was still waiting
                load = health()
                assert load["active_rows"] == 1 and load["waiting"] == 2, load
            results = [f.result(timeout=120) for f in queued]  # the endless row is gone: the queue moves on
    for r in refused:
        assert r.status_code == 429, r.text
        error = r.json()["error"]
        assert error["type"] == "rate_limit_error" and error["code"] == "queue_full"
        assert r.headers["retry-after"] == "1"
    for r in results:
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["completion_tokens"] == 400


def test_request_time_limit(tiny_generator, thread_server):
    with thread_server(tiny_generator, request_timeout=1.0, max_tokens=1_000_000) as srv:
        t = time.monotonic()
        r = completion(srv.url, prompt="the ", max_tokens=1_000_000)
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        assert time.monotonic() - t < 30  # generous: without the limit, a million tokens take many minutes
        with httpx.stream(
            "POST",
            srv.url + "/v1/completions",
            timeout=10,
            json={"prompt": "the ", "max_tokens": 1_000_000, "stream": True},
        ) as s:
            lines = [line for line in s.iter_lines() if line.startswith("data: ")]
        assert json.loads(lines[-1][6:])["error"]["code"] == "timeout"
        assert completion(srv.url, prompt="the ", max_tokens=2).status_code == 200  # still serving


def test_client_disconnect_stops_generation(tiny_generator, thread_server):
    with thread_server(tiny_generator, max_tokens=1_000_000) as srv:
        health = lambda: httpx.get(srv.url + "/healthz", timeout=5).json()  # noqa: E731
        with httpx.Client(timeout=10) as client:
            with client.stream(
                "POST",
                srv.url + "/v1/completions",
                json={"prompt": "the ", "max_tokens": 1_000_000, "stream": True, "n": 2},
            ) as s:
                lines = s.iter_lines()  # read a few events, keeping the connection open
                got = 0
                while got < 5:
                    got += next(lines).startswith("data: ")
                assert health()["active_rows"] == 2
        # the connection is gone: the rows leave the batch within a moment, not after a million tokens
        assert wait_until(lambda: health()["active_rows"] == 0, 5), health()
        # a non-streamed request whose client gives up is dropped too
        with pytest.raises(httpx.ReadTimeout):
            completion(srv.url, prompt="the ", max_tokens=1_000_000, timeout=0.5)
        assert wait_until(lambda: health()["active_rows"] == 0, 5), health()
        r = completion(srv.url, prompt="the ", max_tokens=5)
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 5


def test_graceful_shutdown_finishes_in_flight_requests(tiny_generator, thread_server):
    with thread_server(tiny_generator, max_tokens=100_000) as srv:
        pieces: list[str] = []
        started = threading.Event()

        def stream() -> None:
            with httpx.stream(
                "POST",
                srv.url + "/v1/completions",
                timeout=60,
                json={"prompt": "the ", "max_tokens": 1500, "stream": True},
            ) as s:
                for line in s.iter_lines():
                    if line.startswith("data: "):
                        pieces.append(line[6:])
                        started.set()

        t = threading.Thread(target=stream)
        t.start()
        assert started.wait(20)
        srv.server.should_exit = True  # what SIGTERM / Ctrl-C do
        t.join(60)
        assert not t.is_alive()
        assert pieces[-1] == "[DONE]"
        text = "".join(json.loads(p)["choices"][0]["text"] for p in pieces[:-1])
        assert len(text) == 1500
        srv.thread.join(30)
        assert not srv.thread.is_alive()
        with pytest.raises(httpx.ConnectError):
            httpx.get(srv.url + "/healthz", timeout=2)


# --------------------------------------------------------------------------- auth and CORS
def test_auth_on(tiny_generator, thread_server):
    with thread_server(tiny_generator, api_key="s3cret-key", cors_origins=["http://ok.test"]) as srv:
        for headers in (
            {},
            {"authorization": "Bearer wrong"},
            {"authorization": "Basic s3cret-key"},
            {"authorization": "Bearer s3cret-keyX"},
        ):
            r = httpx.get(srv.url + "/v1/models", headers=headers, timeout=10)
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "invalid_api_key"
        r = httpx.post(srv.url + "/v1/completions", json={"prompt": "the"}, timeout=10)
        assert r.status_code == 401
        ok = httpx.get(srv.url + "/v1/models", headers={"authorization": "Bearer s3cret-key"}, timeout=10)
        assert ok.status_code == 200
        # the official client sends the key as a bearer token
        client = openai.OpenAI(base_url=srv.base_url, api_key="s3cret-key", max_retries=0, timeout=30)
        assert (
            client.completions.create(model="tiny", prompt="the", max_tokens=4).usage.completion_tokens == 4
        )
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=srv.base_url, api_key="nope", max_retries=0).models.list()
        # the health check and the page itself stay open (the page asks for the key)
        assert httpx.get(srv.url + "/healthz", timeout=10).status_code == 200
        assert httpx.get(srv.url + "/", timeout=10).status_code == 200
        # CORS, when asked for: allowed origin only
        pre = httpx.options(
            srv.url + "/v1/completions",
            timeout=10,
            headers={
                "origin": "http://ok.test",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "http://ok.test"
        bad = httpx.options(
            srv.url + "/v1/completions",
            timeout=10,
            headers={"origin": "http://evil.test", "access-control-request-method": "POST"},
        )
        assert "access-control-allow-origin" not in bad.headers


def test_auth_and_cors_off_by_default(live_server):
    r = httpx.get(live_server.url + "/v1/models", timeout=10)
    assert r.status_code == 200
    r = httpx.get(live_server.url + "/v1/models", timeout=10, headers={"origin": "http://evil.test"})
    assert "access-control-allow-origin" not in r.headers
    pre = httpx.options(
        live_server.url + "/v1/completions",
        timeout=10,
        headers={"origin": "http://evil.test", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


def test_api_key_from_environment_and_sigterm(tiny_run, healthy, server_process):
    import os
    import signal

    start, stop = server_process
    env = {**os.environ, "DREAMWRIGHT_API_KEY": "env-key"}
    proc, url, lines = start([f"tiny={tiny_run}", "--port", "0", "--threads", "1"], env)
    try:
        healthy(url)
        assert httpx.get(url + "/v1/models", timeout=10).status_code == 401
        ok = httpx.get(url + "/v1/models", timeout=10, headers={"authorization": "Bearer env-key"})
        assert ok.status_code == 200
    finally:
        status = stop(proc)
    # uvicorn shuts down gracefully, then re-raises the signal (exit status -SIGTERM)
    assert status in (0, -signal.SIGTERM)
    # the pump thread may still be reading the last lines
    assert wait_until(lambda: any("Application shutdown complete" in line for line in lines), 10), lines
    assert "env-key" not in "\n".join(lines)  # the key is never logged
