"""Continuous batching: one worker thread per model decodes every active request together.

Requests wait in a bounded queue; between two decoding steps the worker admits as many as fit in the
batch (their prompts are read in one forward pass per prompt length), so a new request joins the running
batch without waiting for the others to finish. Each step samples one token for every row, sends the new
text to the request's asyncio queue, and drops rows that are finished, cancelled (the client went away)
or out of time. The event loop never runs the model.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from dreamwright.decoding import BatchDecoder, Row, SamplingParams, resolve_seed, sample_rows
from dreamwright.generation.generator import Generator
from dreamwright.serve.lanes import (  # noqa: F401 - the engine's errors, re-exported
    EngineClosed,
    FinishObserver,
    QueueFull,
    RequestTimeout,
    Task,
    enqueue,
    execute,
    outcome_of,
    settle,
)

log = logging.getLogger("dreamwright.serve")
_job_ids = itertools.count(1)


@dataclass(frozen=True)
class TextEvent:
    """A streamed piece of choice ``choice``'s text."""

    choice: int
    text: str


@dataclass(frozen=True)
class LogprobsEvent:
    """The log-probabilities of the tokens whose text the next :class:`TextEvent` or :class:`DoneEvent` of
    ``choice`` brings."""

    choice: int
    entries: list[TokenLogprob]


@dataclass(frozen=True)
class DoneEvent:
    """Choice ``choice`` finished: its whole text, why it stopped, and how many tokens it took."""

    choice: int
    text: str
    finish_reason: str
    completion_tokens: int


@dataclass(frozen=True)
class ErrorEvent:
    """The job failed (a timeout, the server shutting down, a bug); an :class:`EndEvent` follows."""

    error: BaseException


@dataclass(frozen=True)
class EndEvent:
    """The job's last event."""


Event = TextEvent | LogprobsEvent | DoneEvent | ErrorEvent | EndEvent


@dataclass(eq=False)
class Job:
    """One request: ``n`` rows for each prompt, sharing sampling parameters, limits and a deadline.

    Choice ``c`` (prompt ``c // n``, sample ``c % n``) is seeded with ``row_seed(seed, c)``, as sample ``c`` of
    the CLI and the Python API is. The worker delivers lists of events to ``queue`` on ``loop``:
    :class:`TextEvent` (streaming jobs only), :class:`DoneEvent` per choice, :class:`ErrorEvent` and, last,
    :class:`EndEvent`. With ``logprobs`` set (see :class:`~dreamwright.decoding.Row`), a :class:`LogprobsEvent`
    comes just before the text or done event whose text those tokens make. Streaming jobs get the entries of
    the tokens whose text has been sent; a choice cut by a stop string keeps the tokens that made its text.

    ``id`` names the job across processes (:mod:`dreamwright.serve.core`); ``on_cancel(job)`` is called once,
    by the first :meth:`cancel`.
    """

    prompts: Sequence[Sequence[int]]
    params: SamplingParams
    max_tokens: int
    n: int = 1
    stops: Sequence[str] = ()
    seed: int | None = None
    stream: bool = False
    deadline: float = float("inf")
    loop: asyncio.AbstractEventLoop | None = None
    queue: asyncio.Queue | None = None
    logprobs: int | None = None
    cancelled: bool = False
    #: what the metrics count it as (completion, chat)
    kind: str = "completion"
    reported: bool = False
    submitted: float = 0.0
    remaining: int = 0
    #: per choice: logprob entries sent so far and the character offset where the next token's text starts
    lp_sent: dict[int, tuple[int, int]] = field(default_factory=dict)
    id: int = field(default_factory=lambda: next(_job_ids))
    on_cancel: Callable[[Job], None] | None = None

    @property
    def rows(self) -> int:
        return len(self.prompts) * self.n

    def cancel(self) -> None:
        """Stop generating for this request (thread-safe: the worker checks it before every step)."""
        if self.cancelled:
            return
        self.cancelled = True
        if self.on_cancel is not None:
            self.on_cancel(self)

    def decoder_rows(self) -> tuple[list[Sequence[int]], list[Row]]:
        """The prompt and the :class:`Row` of every choice, tagged ``(job, choice)``."""
        prompts = [prompt for prompt in self.prompts for _ in range(self.n)]
        # a whole (non-streamed) answer without stop strings is decoded to text once, at its end
        rows = sample_rows(self.params, resolve_seed(self.seed), self.rows, self.max_tokens, self.stops,
                           watch_text=self.stream, logprobs=self.logprobs,
                           tags=[(self, choice) for choice in range(self.rows)])
        return prompts, rows

    def take_logprobs(self, row: Row, token_text: Callable[[int], str]) -> list[TokenLogprob]:
        """The entries of ``row``'s tokens whose text has been sent since the last call.

        A token is sent once its text lies within the text sent so far; when the row has finished, the
        rest follow, except tokens after a stop string's cut (they made no text)."""
        _, choice = row.tag
        sent, offset = self.lp_sent.get(choice, (0, 0))
        done = row.finish_reason is not None
        limit = len(row.text) if done else row.watcher.emitted
        entries = []
        while sent < len(row.token_logprobs):
            token = row.tokens[sent]
            text = token_text(token)
            if done:
                if row.finish_reason == "stop" and offset >= limit:
                    break
            elif offset + len(text) > limit:
                break
            top = [(token_text(t), lp) for t, lp in row.top_logprobs[sent]] if row.top_logprobs else []
            entries.append(TokenLogprob(text, row.token_logprobs[sent], top, offset))
            sent += 1
            offset += len(text)
        self.lp_sent[choice] = (sent, offset)
        return entries


class TokenLogprob(NamedTuple):
    """One generated token's log-probability under the model (temperature 1, no filters), its likeliest
    alternatives ``(text, logprob)`` and the character offset of its text in the choice's text.

    A named tuple, not a dataclass: a reply carries one per token, and they cross the engine process's pipe,
    where a tuple pickles several times faster."""

    token: str
    logprob: float
    top: list[tuple[str, float]]
    offset: int


class Engine:
    """Batches the requests for one model on a worker thread."""

    def __init__(self, generator: Generator, *, max_batch_rows: int = 64, max_queue: int = 64) -> None:
        self.generator = generator
        self.model = generator.model
        self.max_batch_rows = max_batch_rows
        self.max_queue = max_queue
        self._cond = threading.Condition()
        self._waiting: deque[Job] = deque()
        self._tasks: deque[Task] = deque()
        self._task: Task | None = None  # the task the worker is running
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.decoder = BatchDecoder(generator.model, generator.tokenizer, generator.device)
        self.token_text: Callable[[int], str] = generator.tokenizer.token_text
        # counters, and optional observers called on the worker thread (the server's metrics)
        self.steps = 0
        self.tokens = 0
        #: ``on_step(seconds, rows)`` after each decoding step; ``on_first_token(seconds since submit)``
        self.on_step: Callable[[float, int], None] | None = None
        self.on_first_token: Callable[[float], None] | None = None
        #: ``on_finish(kind, outcome, seconds)`` when a job or task ends (see :mod:`dreamwright.serve.lanes`)
        self.on_finish: FinishObserver | None = None
        self._fresh: list[Job] = []  # jobs admitted whose first token the next step chooses

    # ------------------------------------------------------------------ public, any thread
    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        with self._cond:
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._run, name=f"dreamwright-{self.generator.name}", daemon=True
                )
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Fail what is still queued or running and stop the worker."""
        thread = self._halt()
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def _halt(self) -> threading.Thread | None:
        """Tell the worker to stop after this turn (it fails what is left); the worker thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            if self._task is not None:
                self._task.cancel()  # it stops at its next check
            return self._thread

    @property
    def _full(self) -> str:
        return f"the queue for {self.generator.name} is full"

    @property
    def active_rows(self) -> int:
        return len(self.decoder.rows)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(self, job: Job) -> None:
        """Queue a job; raise :class:`QueueFull` at once when the queue is full."""
        self.start()
        job.remaining = job.rows
        job.submitted = job.submitted or time.monotonic()  # a job from another process brings its own
        with self._cond:
            enqueue(self._waiting, job, self.max_queue, closed=self._stopping, full=self._full)
            self._cond.notify()

    def submit_task(self, kind: str, fn: Callable[[Task], Any], *, timeout: float = float("inf")) -> Task:
        """Queue ``fn(task)`` to run on the worker thread between two steps (the model is only ever used there):
        work on the model that is not token decoding, such as speaking a clip. See :mod:`dreamwright.serve.lanes`."""
        self.start()
        task = Task(kind, fn, deadline=time.monotonic() + timeout)
        with self._cond:
            enqueue(self._tasks, task, self.max_queue, closed=self._stopping, full=self._full)
            self._cond.notify()
        return task

    def call(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
        """Run ``fn()`` on the worker thread between two steps; its future."""
        return self.submit_task("call", lambda task: fn()).future

    # ------------------------------------------------------------------ worker
    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                with self._cond:
                    while not (self._waiting or self._tasks or self.decoder.rows or self._stopping):
                        self._cond.wait()
                    if self._stopping:
                        break
                    tasks = list(self._tasks)
                    self._tasks.clear()
                    admitted = self._admit_locked()
                for task in tasks:
                    if self._stopping:
                        settle(task, self.on_finish, exc=EngineClosed("the server is shutting down"))
                        continue
                    self._task = task
                    execute(task, self.on_finish)
                    self._task = None
                try:
                    if admitted:
                        self._prefill(admitted)
                    if self.decoder.rows:
                        self._step()
                except Exception as exc:  # a bug or an out-of-memory: fail the batch, keep serving
                    log.exception("generation failed")
                    self._fail_all(exc)
                self._turn_done()
            self._shutdown()
            self._turn_done()

    def _turn_done(self) -> None:
        """Called on the worker after each turn of its loop (tasks, admission, one step) and after shutdown."""

    def _admit_locked(self) -> list[Job]:
        admitted: list[Job] = []
        rows = len(self.decoder.rows)
        now = time.monotonic()
        while self._waiting:
            job = self._waiting[0]
            if job.cancelled:
                self._waiting.popleft()
                self._report(job, None)
                continue
            if now > job.deadline:
                self._waiting.popleft()
                self._deliver(
                    {job: [ErrorEvent(RequestTimeout("the request timed out waiting in the queue")), EndEvent()]}
                )
                continue
            if rows + job.rows > self.max_batch_rows:
                break
            self._waiting.popleft()
            admitted.append(job)
            rows += job.rows
        return admitted

    def _prefill(self, jobs: list[Job]) -> None:
        """Join the new jobs' rows to the running batch (each distinct prompt read once)."""
        prompts, rows = [], []
        for job in jobs:
            job_prompts, job_rows = job.decoder_rows()
            prompts += job_prompts
            rows += job_rows
        self.decoder.admit(prompts, rows)
        if self.on_first_token is not None:
            self._fresh += jobs

    def _step(self) -> None:
        now = time.monotonic()
        events: dict[Job, list[Event]] = {}
        rows = self.decoder.rows
        if any(r.tag[0].cancelled or now > r.tag[0].deadline for r in rows):
            for row in rows:
                job = row.tag[0]
                if not job.cancelled and now > job.deadline and job not in events:
                    late = RequestTimeout("the request ran past the server's time limit")
                    events[job] = [ErrorEvent(late), EndEvent()]
                    job.cancel()
            self.decoder.keep([i for i, r in enumerate(rows) if not r.tag[0].cancelled])
            for job in {r.tag[0] for r in rows if r.tag[0].cancelled} - events.keys():
                self._report(job, None)  # the client went away
            self._deliver(events)
            events = {}
            if not self.decoder.rows:
                return
        active = len(self.decoder.rows)
        started = time.perf_counter()
        step_events = self.decoder.step()
        if self.on_step is not None:
            self.on_step(time.perf_counter() - started, active)
        if self._fresh:
            now = time.monotonic()
            for job in self._fresh:
                self.on_first_token(now - job.submitted)
            self._fresh = []
        for row, piece in step_events:
            job, choice = row.tag
            evs: list[Event] = []
            if job.logprobs is not None and (job.stream or row.finish_reason is not None):
                entries = job.take_logprobs(row, self.token_text)
                if entries:
                    evs.append(LogprobsEvent(choice, entries))
            if job.stream and piece:
                evs.append(TextEvent(choice, piece))
            if row.finish_reason is not None:
                evs.append(DoneEvent(choice, row.text, row.finish_reason, len(row.tokens)))
                job.remaining -= 1
                if job.remaining == 0:
                    evs.append(EndEvent())
            if evs:  # a step that brings a job nothing does not wake its event loop
                events.setdefault(job, []).extend(evs)
        self.steps += 1
        self.tokens += active
        self._deliver(events)

    def _report(self, job: Job, events: list[Event] | None) -> None:
        """Count a job that ended (with ``events`` as its last ones, or None: cancelled), once."""
        if job.reported or self.on_finish is None:
            return
        job.reported = True
        if events is None:
            outcome = "cancelled"
        else:
            outcome = outcome_of(next((e.error for e in events if isinstance(e, ErrorEvent)), None))
        self.on_finish(job.kind, outcome, time.monotonic() - job.submitted)

    def _deliver(self, events: dict[Job, list[Event]]) -> None:
        """Count the jobs that end, and hand every job its events."""
        for job, evs in events.items():
            if evs and isinstance(evs[-1], EndEvent):
                self._report(job, evs)
        self.hand_over(events)

    def hand_over(self, events: dict[Job, list[Event]]) -> None:
        """Give each job its events: here, on its event loop (see :func:`hand_over`); the engine core in its own
        process sends them to the server instead."""
        hand_over(events)

    def _fail_all(self, exc: BaseException) -> None:
        jobs = {row.tag[0]: [ErrorEvent(exc), EndEvent()] for row in self.decoder.rows}
        self.decoder.keep([])
        self._fresh = []
        self._deliver(jobs)

    def _shutdown(self) -> None:
        closed = EngineClosed("the server is shutting down")
        with self._cond:
            waiting = list(self._waiting)
            self._waiting.clear()
            tasks = list(self._tasks)
            self._tasks.clear()
        self._fail_all(closed)
        self._deliver({job: [ErrorEvent(closed), EndEvent()] for job in waiting})
        for task in tasks:
            settle(task, self.on_finish, exc=closed)


def hand_over(events: dict[Job, list[Event]]) -> None:
    """Put each job's events on its asyncio queue, from any thread: one wake-up per event loop. A job whose loop
    has closed is cancelled (nobody is listening any more)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Queue, list[Event]]]] = {}
    for job, evs in events.items():
        if job.loop is not None and job.queue is not None:
            by_loop.setdefault(job.loop, []).append((job.queue, evs))
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_put_all, items)
        except RuntimeError:
            for job in events:
                if job.loop is loop:
                    job.cancel()


def _put_all(items: list[tuple[asyncio.Queue, list[Event]]]) -> None:
    for queue, evs in items:
        queue.put_nowait(evs)
