"""Operations: ``/metrics`` (parsed with prometheus_client's own parser), ``/health`` and ``X-Request-ID``."""

from __future__ import annotations

import re
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of ``/metrics`` by (name, sorted labels)."""
    r = httpx.get(url + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_metrics_move_with_requests(live_server):
    url = live_server.url
    before = scrape(url)
    for _ in range(2):
        r = httpx.post(url + "/v1/completions", json={"model": "tiny", "prompt": "the ", "max_tokens": 7}, timeout=30)
        assert r.status_code == 200
    r = httpx.post(url + "/v1/chat/completions", timeout=30,
                   json={"model": "tiny", "messages": [{"role": "user", "content": "the"}], "max_tokens": 5})
    assert r.status_code == 200
    chat_tokens = r.json()["usage"]["completion_tokens"]
    assert httpx.get(url + "/v1/models/nope", timeout=10).status_code == 404
    after = scrape(url)

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("dreamwright_requests_total", route="/v1/completions", method="POST", status="200") == 2
    assert moved("dreamwright_requests_total", route="/v1/chat/completions", method="POST", status="200") == 1
    assert moved("dreamwright_requests_total", route="/v1/models/{model_id}", method="GET", status="404") == 1
    assert moved("dreamwright_generated_tokens_total", model="tiny") == 2 * 7 + chat_tokens
    assert moved("dreamwright_time_to_first_token_seconds_count", model="tiny") == 3
    assert moved("dreamwright_time_to_first_token_seconds_sum", model="tiny") > 0
    steps = moved("dreamwright_token_latency_seconds_count", model="tiny")
    assert chat_tokens <= steps <= 2 * 7 + chat_tokens  # one step per token at most, fewer when batched
    assert after[("dreamwright_token_latency_seconds_bucket", (("le", "+Inf"), ("model", "tiny")))] == after[
        ("dreamwright_token_latency_seconds_count", (("model", "tiny"),))
    ]
    # idle now: nothing waits and nothing is decoded
    assert after[("dreamwright_queue_depth", (("model", "tiny"),))] == 0
    assert after[("dreamwright_active_rows", (("model", "tiny"),))] == 0


def test_health_and_request_id(live_server):
    url = live_server.url
    health = httpx.get(url + "/health", timeout=10)
    assert health.status_code == 200 and health.json() == httpx.get(url + "/healthz", timeout=10).json()
    assert health.json()["models"] == ["tiny"]
    # an incoming id is echoed (and logged) ...
    r = httpx.post(url + "/v1/completions", json={"model": "tiny", "prompt": "the", "max_tokens": 2},
                   headers={"X-Request-ID": "trace-42.abc"}, timeout=30)
    assert r.headers["x-request-id"] == "trace-42.abc"
    # ... errors too; one that does not look like an id is replaced by a fresh one
    r = httpx.get(url + "/v1/models/nope", headers={"X-Request-ID": "bad id\twith spaces"}, timeout=10)
    assert r.status_code == 404 and re.fullmatch(r"[0-9a-f]{16}", r.headers["x-request-id"])
    fresh = {httpx.get(url + "/health", timeout=10).headers["x-request-id"] for _ in range(2)}
    assert len(fresh) == 2
    # the access log line carries it (written just after the response; give the log reader a moment)
    deadline = time.monotonic() + 10
    while not (lines := [line for line in live_server.log if "trace-42.abc" in line]):
        assert time.monotonic() < deadline, "the request id never reached the access log"
        time.sleep(0.05)
    assert '"path": "/v1/completions"' in lines[0]
