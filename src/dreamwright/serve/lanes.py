"""One job system for the work that is not decoded token by token: poems, couplets, drawings, spectrograms,
style transfer and DeepDream.

Text generation runs on each model's :class:`~dreamwright.serve.engine.Engine`, which batches tokens. Everything
else is a :class:`Task`, queued on a :class:`Lane` — a bounded queue served by worker threads — with the same rules
as the engine's jobs:

- **admission**: a full queue answers at once with :class:`QueueFull` (429 with ``Retry-After``);
- **deadlines**: a task that waited or ran past its time limit ends with :class:`RequestTimeout`;
- **cancellation**: a client that disconnects cancels its task; a running task stops at its next
  :meth:`Task.check` (long work calls it from its progress callback);
- **metrics**: every task is counted by kind and outcome, and timed;
- **shutdown**: :meth:`Lane.stop` cancels what waits and what runs, and joins the workers.

Lanes are separate threads, so a long image job never holds back text: the text engine keeps its own worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

log = logging.getLogger("dreamwright.serve")


class QueueFull(Exception):
    """A waiting queue is full; the request should be answered with 429 and ``Retry-After: retry_after``."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EngineClosed(Exception):
    """The server is shutting down."""


class RequestTimeout(Exception):
    """A request ran past its time limit."""


class Cancelled(Exception):
    """The task was cancelled (its client went away)."""


class CoreLost(EngineClosed):
    """A model's engine process stopped unexpectedly: its requests, and new ones, are answered 503."""


class _Cancellable(Protocol):
    @property
    def cancelled(self) -> bool: ...


Item = TypeVar("Item", bound=_Cancellable)


def enqueue(waiting: deque[Item], item: Item, limit: int, *, closed: bool, full: str, retry_after: int = 1) -> None:
    """Append ``item`` to the bounded queue ``waiting`` (the caller holds its lock): :class:`EngineClosed` once
    its owner stopped, :class:`QueueFull` when ``limit`` items still wait after the cancelled ones are dropped."""
    if closed:
        raise EngineClosed("the server is shutting down")
    if len(waiting) >= limit:
        live = [x for x in waiting if not x.cancelled]
        waiting.clear()
        waiting.extend(live)
        if len(waiting) >= limit:
            raise QueueFull(full, retry_after=retry_after)
    waiting.append(item)


@dataclass(eq=False)
class Task:
    """One piece of work: ``fn(task)`` runs on a lane's worker and may call :meth:`check` and :meth:`progress`."""

    kind: str
    fn: Callable[[Task], Any]
    deadline: float = float("inf")
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    done: int = 0
    total: int | None = None
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    _cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Ask the task to stop (thread-safe); a queued task never starts."""
        self._cancelled.set()

    def check(self) -> None:
        """Raise :class:`Cancelled` or :class:`RequestTimeout` when the task should stop now."""
        if self._cancelled.is_set():
            raise Cancelled(f"the {self.kind} task was cancelled")
        if time.monotonic() > self.deadline:
            raise RequestTimeout("the request ran past the server's time limit")

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress (``done`` of ``total`` steps) and stop here if the task should stop."""
        self.done = done
        if total is not None:
            self.total = total
        self.check()


#: ``on_finish(kind, outcome, seconds)``: outcome is ok, error, cancelled, timeout or rejected
FinishObserver = Callable[[str, str, float], None]


def outcome_of(exc: BaseException | None) -> str:
    """How a task or job ended, as the metrics count it."""
    if exc is None:
        return "ok"
    if isinstance(exc, (Cancelled, EngineClosed)):
        return "cancelled"
    if isinstance(exc, RequestTimeout):
        return "timeout"
    return "error"


def execute(task: Task, on_finish: FinishObserver | None) -> None:
    """Run ``task`` on this thread (unless it was cancelled or timed out while it waited) and settle it."""
    task.started = time.monotonic()
    try:
        task.check()
        result = task.fn(task)
    except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the task
        if outcome_of(exc) == "error" and not _user_error(exc):
            log.exception("%s task failed", task.kind)
        settle(task, on_finish, exc=exc)
    else:
        settle(task, on_finish, result=result)


def settle(task: Task, on_finish: FinishObserver | None, *, result: Any = None,
           exc: BaseException | None = None) -> None:
    """Give ``task``'s waiter its result or error, and report how it ended."""
    if on_finish is not None:
        on_finish(task.kind, outcome_of(exc), time.monotonic() - (task.started or task.submitted))
    if task.future.set_running_or_notify_cancel():
        if exc is None:
            task.future.set_result(result)
        else:
            task.future.set_exception(exc)


async def wait_for(task: Task, disconnected: Callable[[], Awaitable[Any]] | None = None,
                   grace: float = 5.0) -> Any:
    """``task``'s result, awaited on this event loop. When ``disconnected()`` (an awaitable that returns when
    the client goes away) finishes first, cancel the task and raise :class:`Cancelled`; when the task runs
    ``grace`` seconds past its deadline without stopping, cancel it and raise :class:`RequestTimeout`."""
    result = asyncio.wrap_future(task.future)
    gone = asyncio.ensure_future(disconnected()) if disconnected is not None else None
    timeout = None if task.deadline == float("inf") else max(task.deadline - time.monotonic(), 0) + grace
    try:
        done, _ = await asyncio.wait({result} | ({gone} if gone else set()), timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if result in done:
            return result.result()
        task.cancel()
        result.cancel()  # nobody will read its outcome now
        if gone is not None and gone in done:
            raise Cancelled(f"the client went away; the {task.kind} task was cancelled")
        raise RequestTimeout("the request ran past the server's time limit")
    finally:
        if gone is not None:
            gone.cancel()


class Lane:
    """A bounded queue of :class:`Task` served by ``workers`` threads, first come first served."""

    def __init__(self, name: str, *, workers: int = 1, max_queue: int = 16, retry_after: int = 1,
                 nice: int = 0) -> None:
        self.name = name
        #: how much lower the workers' OS priority is than the server's (Linux: per thread, and inherited by the
        #: compute threads they start), so long work takes the CPU only when the text engine leaves it idle
        self.nice = nice
        self.workers = workers
        self.max_queue = max_queue
        self.retry_after = retry_after
        self._cond = threading.Condition()
        self._waiting: deque[Task] = deque()
        self._running: set[Task] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.on_finish: FinishObserver | None = None

    # ------------------------------------------------------------------ any thread
    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def running(self) -> int:
        return len(self._running)

    def start(self) -> None:
        """Start the workers (idempotent)."""
        with self._cond:
            if self._threads:
                return
            self._stopping = False
            self._threads = [threading.Thread(target=self._work, name=f"dreamwright-{self.name}-{i}", daemon=True)
                             for i in range(self.workers)]
            for thread in self._threads:
                thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every queued and running task and join the workers."""
        with self._cond:
            self._stopping = True
            waiting, self._waiting = list(self._waiting), deque()
            for task in self._running:
                task.cancel()
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        closed = EngineClosed("the server is shutting down")
        for task in waiting:
            task.cancel()
            settle(task, self.on_finish, exc=closed)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))

    def submit_task(self, kind: str, fn: Callable[[Task], Any], *, timeout: float = float("inf")) -> Task:
        """Queue ``fn`` as a task of ``kind``; raise :class:`QueueFull` at once when the queue is full, and
        :class:`EngineClosed` once the lane was stopped (until it is started again)."""
        if not self._threads and not self._stopping:
            self.start()
        task = Task(kind, fn, deadline=time.monotonic() + timeout)
        with self._cond:
            try:
                enqueue(self._waiting, task, self.max_queue, closed=self._stopping,
                        full=f"the {self.name} queue is full", retry_after=self.retry_after)
            except QueueFull:
                if self.on_finish is not None:
                    self.on_finish(kind, "rejected", 0.0)
                raise
            self._cond.notify()
        return task

    # ------------------------------------------------------------------ workers
    def _next(self) -> Task | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                while self._waiting:
                    task = self._waiting.popleft()
                    if task.cancelled:
                        settle(task, self.on_finish, exc=Cancelled(f"the {task.kind} task was cancelled"))
                        continue
                    self._running.add(task)
                    return task
                self._cond.wait()

    def _work(self) -> None:
        if self.nice:
            try:
                server = os.getpriority(os.PRIO_PROCESS, 0)
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), server + self.nice)
            except (AttributeError, OSError):  # not Linux, or not allowed: run at the server's priority
                log.debug("lane %s runs at the server's priority", self.name)
        while (task := self._next()) is not None:
            try:
                execute(task, self.on_finish)
            finally:
                with self._cond:
                    self._running.discard(task)


def _user_error(exc: BaseException) -> bool:
    from dreamwright.errors import DreamwrightError

    return isinstance(exc, DreamwrightError)
