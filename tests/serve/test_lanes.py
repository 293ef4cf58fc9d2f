"""The one job system: lanes queue, refuse, time out, cancel, count and stop their tasks (serve/lanes.py)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from dreamwright.serve.lanes import Cancelled, EngineClosed, Lane, QueueFull, RequestTimeout, Task, wait_for


def blocker(release: threading.Event, started: threading.Event | None = None):
    """A task that runs until ``release`` is set, checking for cancellation as long work does."""

    def fn(task: Task) -> str:
        if started is not None:
            started.set()
        while not release.wait(0.01):
            task.check()
        return "released"

    return fn


@pytest.fixture()
def lane():
    outcomes: list[tuple[str, str]] = []
    lane = Lane("test", max_queue=2, retry_after=7)
    lane.on_finish = lambda kind, outcome, seconds: outcomes.append((kind, outcome))
    lane.outcomes = outcomes  # type: ignore[attr-defined]
    yield lane
    lane.stop()


def test_tasks_run_in_order_and_return_their_results(lane):
    order: list[int] = []
    tasks = [lane.submit_task("n", lambda task, i=i: order.append(i) or i * i) for i in range(2)]
    assert [t.future.result(10) for t in tasks] == [0, 1]
    assert order == [0, 1] and lane.outcomes == [("n", "ok"), ("n", "ok")]


def test_a_full_queue_refuses_at_once_with_its_retry_after(lane):
    release, started = threading.Event(), threading.Event()
    running = lane.submit_task("block", blocker(release, started))
    assert started.wait(10)
    queued = [lane.submit_task("wait", lambda task: "ran") for _ in range(2)]
    with pytest.raises(QueueFull) as refused:
        lane.submit_task("wait", lambda task: "ran")
    assert refused.value.retry_after == 7 and ("wait", "rejected") in lane.outcomes
    release.set()
    assert running.future.result(10) == "released" and [t.future.result(10) for t in queued] == ["ran", "ran"]


def test_a_cancelled_task_never_runs_and_a_running_one_stops_at_its_next_check(lane):
    release, started = threading.Event(), threading.Event()
    running = lane.submit_task("block", blocker(release, started))
    assert started.wait(10)
    ran = threading.Event()
    queued = lane.submit_task("queued", lambda task: ran.set())
    queued.cancel()
    running.cancel()  # release is never set: only the cancellation can end it
    with pytest.raises(Cancelled):
        running.future.result(10)
    with pytest.raises(Cancelled):
        queued.future.result(10)
    assert not ran.is_set()
    assert ("block", "cancelled") in lane.outcomes and ("queued", "cancelled") in lane.outcomes


def test_deadlines_end_waiting_and_running_tasks(lane):
    release, started = threading.Event(), threading.Event()
    first = lane.submit_task("slow", blocker(release, started), timeout=0.3)
    assert started.wait(10)
    ran = threading.Event()
    late = lane.submit_task("late", lambda task: ran.set(), timeout=0.1)
    with pytest.raises(RequestTimeout):
        first.future.result(10)  # it checks its deadline while it runs
    with pytest.raises(RequestTimeout):
        late.future.result(10)  # it waited past its own: it never starts
    assert not ran.is_set() and ("slow", "timeout") in lane.outcomes and ("late", "timeout") in lane.outcomes


def test_a_client_that_goes_away_cancels_its_task(lane):
    release, started = threading.Event(), threading.Event()

    async def main() -> None:
        gone = asyncio.Event()
        waiter = asyncio.ensure_future(wait_for(lane.submit_task("block", blocker(release, started)), gone.wait))
        await asyncio.to_thread(started.wait, 10)
        gone.set()
        with pytest.raises(Cancelled):
            await waiter

    asyncio.run(main())
    assert wait_until(lambda: ("block", "cancelled") in lane.outcomes)
    assert lane.running == 0


def test_stop_cancels_everything_and_joins_the_workers():
    lane = Lane("stopping", max_queue=4)
    release, started = threading.Event(), threading.Event()
    running = lane.submit_task("block", blocker(release, started))
    assert started.wait(10)
    queued = lane.submit_task("queued", lambda task: "ran")
    threads = list(lane._threads)
    lane.stop(timeout=10)
    assert not any(t.is_alive() for t in threads)
    with pytest.raises(Cancelled):
        running.future.result(0)
    with pytest.raises(EngineClosed):
        queued.future.result(0)
    with pytest.raises(EngineClosed):
        lane.submit_task("after", lambda task: None)


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_a_lane_with_nice_runs_its_work_at_a_lower_priority():
    import os

    lane = Lane("low", nice=5)
    try:
        seen = lane.submit_task("probe", lambda task: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        assert seen.future.result(10) == min(os.getpriority(os.PRIO_PROCESS, 0) + 5, 19)
    finally:
        lane.stop()
