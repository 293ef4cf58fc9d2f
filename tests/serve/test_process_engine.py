"""The engine core in its own process: the same answers as the in-process engine, bounded admission,
cancellation that reaches the child, a clean stop, and 503s when the child dies."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import threading
import time

import httpx
import pytest

from dreamwright.decoding import SamplingParams
from dreamwright.serve.core import ProcessEngine
from dreamwright.serve.engine import DoneEvent, EndEvent, Engine, Job, QueueFull, TextEvent
from tests.serve.test_engine import run_jobs
from tests.serve.test_server import wait_until

TIMEOUT = 30.0


def endless(loop: asyncio.AbstractEventLoop, **fields) -> Job:
    return Job(prompts=[[0]], params=SamplingParams(), max_tokens=1_000_000, loop=loop, queue=asyncio.Queue(),
               **fields)


@pytest.fixture(scope="module")
def core(tiny_generator):
    """One engine core process for the tests that only submit jobs."""
    engine = ProcessEngine(tiny_generator, max_batch_rows=16, max_queue=8)
    engine.start()
    yield engine
    engine.stop()


def test_same_output_as_the_thread_engine(core, tiny_generator):
    specs = [
        {"prompts": ["ROMEO: "], "temperature": 0, "max_tokens": 30},
        {"prompts": ["the ", "a quick "], "n": 3, "temperature": 1.2, "top_k": 5, "max_tokens": 17, "seed": 7},
        {"prompts": ["JULIET: "], "seed": 11, "max_tokens": 25, "stops": ["."], "logprobs": 2},
    ]
    thread = Engine(tiny_generator, max_batch_rows=16, max_queue=8)
    try:
        expected = run_jobs(thread, specs)
    finally:
        thread.stop()
    assert run_jobs(core, specs) == expected
    assert core.waiting == 0 and core.active_rows == 0


def test_streaming_pieces_make_the_text(core, tiny_generator):
    async def main():
        job = Job(prompts=[tiny_generator.encode_prompt("ROMEO: ")], params=SamplingParams(0.8), max_tokens=40,
                  seed=3, stream=True, loop=asyncio.get_running_loop(), queue=asyncio.Queue())
        core.submit(job)
        pieces, done = [], None
        while True:
            events = await asyncio.wait_for(job.queue.get(), TIMEOUT)
            pieces += [ev.text for ev in events if isinstance(ev, TextEvent)]
            done = next((ev for ev in events if isinstance(ev, DoneEvent)), done)
            if isinstance(events[-1], EndEvent):
                return pieces, done

    pieces, done = asyncio.run(main())
    assert len(pieces) > 1 and "".join(pieces) == done.text
    assert done.completion_tokens == 40 and done.finish_reason == "length"


def test_cancel_reaches_the_child_and_frees_its_row(core):
    finished: list[tuple[str, str]] = []
    core.on_finish = lambda kind, outcome, seconds: finished.append((kind, outcome))

    async def main():
        job = endless(asyncio.get_running_loop(), stream=True)
        core.submit(job)
        await asyncio.wait_for(job.queue.get(), TIMEOUT)  # decoding
        assert core.active_rows == 1
        job.cancel()

    try:
        asyncio.run(main())
        assert wait_until(lambda: core.active_rows == 0, TIMEOUT), core.active_rows
        assert wait_until(lambda: ("completion", "cancelled") in finished, TIMEOUT), finished
    finally:
        core.on_finish = None


def test_full_queue_is_refused_at_once(tiny_generator):
    engine = ProcessEngine(tiny_generator, max_batch_rows=1, max_queue=2)
    engine.start()

    async def main():
        loop = asyncio.get_running_loop()
        first = endless(loop, stream=True)
        engine.submit(first)
        await asyncio.wait_for(first.queue.get(), TIMEOUT)  # it holds the only row
        queued = [endless(loop), endless(loop)]
        for job in queued:
            engine.submit(job)
        started = time.monotonic()
        with pytest.raises(QueueFull) as refused:
            engine.submit(endless(loop))
        assert time.monotonic() - started < 0.5 and refused.value.retry_after == 1
        assert engine.waiting == 2
        queued[0].cancel()
        engine.submit(endless(loop))  # room again
        for job in (first, *queued):
            job.cancel()

    try:
        asyncio.run(main())
    finally:
        engine.stop()


def test_stop_leaves_no_process_or_thread(tiny_generator):
    threads = set(threading.enumerate())
    engine = ProcessEngine(tiny_generator)
    engine.start()
    pid = engine.pid
    assert pid is not None and any(p.pid == pid for p in multiprocessing.active_children())

    async def main():
        job = endless(asyncio.get_running_loop())
        engine.submit(job)
        await asyncio.sleep(0.2)
        await asyncio.to_thread(engine.stop)
        events = await asyncio.wait_for(job.queue.get(), TIMEOUT)  # it was failed, not left hanging
        assert isinstance(events[-1], EndEvent)

    asyncio.run(main())
    assert engine.pid is None and all(p.pid != pid for p in multiprocessing.active_children())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone and reaped
    assert wait_until(lambda: set(threading.enumerate()) <= threads, 5), set(threading.enumerate()) - threads


@pytest.fixture(scope="module")
def servers(tiny_generator, thread_server):
    """The same model served with the thread engine and with the process engine."""
    with thread_server(tiny_generator, max_tokens=100_000) as thread, \
            thread_server(tiny_generator, engine="process", max_tokens=100_000) as process:
        assert isinstance(process.app.state.engines["tiny"], ProcessEngine)
        yield thread, process


def test_logprobs_echo_and_next_token_match(servers):
    thread, process = servers
    body = {"model": "tiny", "prompt": "ROMEO: ", "max_tokens": 12, "seed": 5, "logprobs": 3, "echo": True}
    answers = [httpx.post(s.url + "/v1/completions", json=body, timeout=TIMEOUT).json() for s in servers]
    assert answers[0]["choices"] == answers[1]["choices"] and answers[0]["usage"] == answers[1]["usage"]
    assert answers[1]["choices"][0]["text"].startswith("ROMEO: ")
    lens = {"model": "tiny", "context": "the ", "temperature": 0.7, "top_n": 5}
    candidates = [httpx.post(s.url + "/v1/next-token", json=lens, timeout=TIMEOUT).json()["candidates"]
                  for s in servers]
    assert candidates[0] == candidates[1] and len(candidates[1]) == 5


def test_streamed_text_matches(servers):
    body = {"model": "tiny", "prompt": "JULIET: ", "max_tokens": 20, "seed": 9, "stream": True}
    texts = []
    for s in servers:
        with httpx.stream("POST", s.url + "/v1/completions", json=body, timeout=TIMEOUT) as r:
            lines = [line for line in r.iter_lines() if line.startswith("data: {")]
        texts.append("".join(json.loads(line[6:])["choices"][0]["text"] for line in lines))
    assert texts[0] == texts[1] and texts[1]


def test_a_killed_core_answers_503(tiny_generator, thread_server):
    # pending requests and new ones get a one-line 503, not a hang
    with thread_server(tiny_generator, engine="process", max_tokens=1_000_000) as srv:
        engine = srv.app.state.engines["tiny"]
        body = {"model": "tiny", "prompt": "the ", "max_tokens": 1_000_000}
        with httpx.Client(timeout=TIMEOUT) as client:
            results: list[httpx.Response] = []
            pending = threading.Thread(target=lambda: results.append(client.post(srv.url + "/v1/completions",
                                                                                 json=body)))
            pending.start()
            assert wait_until(lambda: engine.active_rows == 1, TIMEOUT)
            os.kill(engine.pid, signal.SIGKILL)
            pending.join(TIMEOUT)
            later = client.post(srv.url + "/v1/completions", json={**body, "max_tokens": 3})
        for r in (*results, later):
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "engine_unavailable" and "\n" not in r.text
        assert len(results) == 1
        pid = engine.pid
    assert all(p.pid != pid for p in multiprocessing.active_children())
