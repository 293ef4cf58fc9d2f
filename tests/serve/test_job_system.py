"""Every request kind goes through the one job system: a client that leaves cancels its work, a full queue
answers 429 with ``Retry-After``, ``/metrics`` counts jobs by kind and outcome, and shutdown stops every worker."""

from __future__ import annotations

import re
import threading
import time

import httpx
import numpy as np
import pytest

from dreamwright.data.audio import wav_bytes
from tests.audio_helpers import RATE
from tests.serve.test_lanes import blocker, wait_until


@pytest.fixture(scope="module")
def server(audio_generator, tiny_generator, thread_server):
    with thread_server({"tiny": tiny_generator, "digits": audio_generator}, max_queue=2) as s:
        yield s


def jobs_count(url: str, kind: str, outcome: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    found = re.search(rf'^dreamwright_jobs_total\{{kind="{kind}",outcome="{outcome}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def runner_of(server, runner: str):
    state = server.app.state.server
    return state.engines[runner] if runner in state.engines else state.lanes[runner]


WAV = wav_bytes(np.zeros(800, dtype=np.float32), RATE)

#: kind → (the lane or engine it runs on, the request)
REQUESTS = {
    "completion": ("tiny", dict(url="/v1/completions", json={"prompt": "the ", "max_tokens": 5})),
    "chat": ("tiny", dict(url="/v1/chat/completions",
                          json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})),
    "next_token": ("tiny", dict(url="/v1/next-token", json={"context": "the ", "temperature": 1.0})),
    "speech": ("digits", dict(url="/v1/audio/speech", json={"model": "digits", "input": "3", "seconds": 0.05})),
    "poem": ("poetry", dict(url="/v1/poems", json={"form": "五绝", "seed": 1})),
    "couplet": ("poetry", dict(url="/v1/couplets", json={"upper": "春风又绿江南岸"})),
    "drawing": ("drawing", dict(url="/v1/images/generations", json={"prompt": "", "n": 1})),
    "spectrogram": ("drawing", dict(url="/v1/audio/spectrogram", content=WAV,
                                    headers={"content-type": "audio/wav"})),
}


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_a_client_that_leaves_cancels_its_waiting_work(server, kind):
    runner_name, request = REQUESTS[kind]
    release, started = threading.Event(), threading.Event()
    runner_of(server, runner_name).submit_task("block", blocker(release, started))  # keep its worker busy
    assert started.wait(10)
    before = jobs_count(server.url, kind, "cancelled")
    try:
        with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes the connection
            httpx.request("POST", server.url + request["url"], timeout=0.5,
                          **{k: v for k, v in request.items() if k != "url"})
        # the server notices the disconnect while the work still waits, and drops it
        time.sleep(0.2)
    finally:
        release.set()
    assert wait_until(lambda: jobs_count(server.url, kind, "cancelled") == before + 1, 15)
    assert jobs_count(server.url, kind, "ok") == 0  # it never ran


def test_running_speech_stops_when_its_client_leaves(server):
    before = jobs_count(server.url, "speech", "cancelled")
    with pytest.raises(httpx.ReadTimeout):  # 10 s of audio: about 80,000 steps of the random model
        httpx.post(server.url + "/v1/audio/speech", json={"model": "digits", "input": "3", "seconds": 10},
                   timeout=1.0)
    assert wait_until(lambda: jobs_count(server.url, "speech", "cancelled") == before + 1, 30)
    r = httpx.post(server.url + "/v1/audio/speech", json={"model": "digits", "input": "3", "seconds": 0.05},
                   timeout=60)
    assert r.status_code == 200 and jobs_count(server.url, "speech", "ok") >= 1


@pytest.mark.parametrize("kind", ["poem", "drawing", "speech", "completion"])
def test_a_full_queue_answers_429_with_retry_after(server, kind):
    runner_name, request = REQUESTS[kind]
    runner = runner_of(server, runner_name)
    release, started = threading.Event(), threading.Event()
    runner.submit_task("block", blocker(release, started))
    assert started.wait(10)
    fillers = [runner.submit_task("fill", lambda task: None) for _ in range(2)] if kind != "completion" else []
    waiting: list[threading.Thread] = []
    try:
        if kind == "completion":  # the engine's own queue holds text jobs: fill it with two requests
            for _ in range(2):
                t = threading.Thread(target=httpx.request, args=("POST", server.url + request["url"]),
                                     kwargs={"json": request["json"], "timeout": 30}, daemon=True)
                t.start()
                waiting.append(t)
            assert wait_until(lambda: runner.waiting == 2, 10)
        r = httpx.request("POST", server.url + request["url"], timeout=30,
                          **{k: v for k, v in request.items() if k != "url"})
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "queue_full" and int(r.headers["retry-after"]) >= 1
    finally:
        release.set()
    for filler in fillers:
        filler.future.result(10)
    for t in waiting:
        t.join(30)


def test_shutdown_stops_every_engine_and_lane(tiny_generator, thread_server):
    with thread_server({"tiny": tiny_generator}) as srv:
        state = srv.app.state.server
        assert httpx.post(srv.url + "/v1/completions", json={"prompt": "a", "max_tokens": 2}, timeout=30).is_success
        workers = [state.engines["tiny"]._thread, *(t for lane in state.lanes.values() for t in lane._threads)]
        assert len(workers) == 1 + len(state.lanes) and all(t.is_alive() for t in workers)
        release, started = threading.Event(), threading.Event()
        running = state.lanes["images"].submit_task("dream", blocker(release, started))
        assert started.wait(10)
    assert not any(t.is_alive() for t in workers)
    assert running.future.exception(0) is not None  # cancelled by the shutdown, not left running
    assert not [t.name for t in threading.enumerate() if t in workers]


def _poll(client, job_id: str, statuses: tuple[str, ...], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/images/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(f"image job {job_id} never reached {statuses}: {job}")


@pytest.fixture()
def images_client(tiny_generator):
    from fastapi.testclient import TestClient

    from dreamwright.serve import create_app
    from tests.serve.test_images_api import _png_url

    with TestClient(create_app({"tiny": tiny_generator})) as client:
        client.long_dream = {"mode": "dream", "content": _png_url(), "size": 256, "steps": 50, "octaves": 4}
        yield client


def test_an_image_job_is_cancelled_by_delete_and_by_nobody_asking(images_client, monkeypatch):
    from dreamwright.serve.routers import images

    client = images_client
    job = client.post("/v1/images", json=client.long_dream).json()
    _poll(client, job["id"], ("running",))
    assert client.delete(f"/v1/images/{job['id']}").status_code == 200
    cancelled = _poll(client, job["id"], ("cancelled", "done", "error"))
    assert cancelled["status"] == "cancelled" and cancelled["result"] is None
    # a job whose page went away (no status request for ABANDONED_AFTER seconds) stops at its next step
    monkeypatch.setattr(images, "ABANDONED_AFTER", 0.5)
    job = client.post("/v1/images", json=client.long_dream).json()
    time.sleep(3)
    assert _poll(client, job["id"], ("cancelled", "done", "error"))["status"] == "cancelled"
    metrics = client.get("/metrics").text
    assert 'dreamwright_jobs_total{kind="dream",outcome="cancelled"} 2.0' in metrics
    assert client.delete("/v1/images/img-nope").status_code == 404
