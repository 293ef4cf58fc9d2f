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
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from dreamwright.generation.generator import Generator, held_back
from dreamwright.generation.sampling import SamplingParams, next_token_logits, repetition_filter

log = logging.getLogger("dreamwright.serve")


class QueueFull(Exception):
    """The model's waiting queue is full; the request should be answered with 429."""


class EngineClosed(Exception):
    """The engine is shutting down."""


class RequestTimeout(Exception):
    """A request ran past its time limit."""


@dataclass(eq=False)
class Job:
    """One request: ``n`` rows for each prompt, sharing sampling parameters, limits and a deadline.

    The worker delivers lists of events to ``queue`` on ``loop``:
    ``("text", choice, piece)`` (streaming jobs only), ``("done", choice, full_text, finish_reason,
    completion_tokens)``, ``("error", exception)`` and, last, ``("end",)``.
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
    cancelled: bool = False
    remaining: int = 0
    rng: torch.Generator | None = field(default=None, repr=False)

    @property
    def rows(self) -> int:
        return len(self.prompts) * self.n

    def cancel(self) -> None:
        """Stop generating for this request (thread-safe: the worker checks it before every step)."""
        self.cancelled = True


class _Row:
    __slots__ = ("job", "choice", "decoder", "stops", "text", "emitted", "tokens", "finish_reason")

    def __init__(self, job: Job, choice: int, decoder: Any) -> None:
        self.job = job
        self.choice = choice
        self.decoder = decoder
        self.stops = job.stops
        self.text = ""
        self.emitted = 0
        self.tokens = 0
        self.finish_reason: str | None = None


def _choose(
    logits: torch.Tensor, params: SamplingParams, u: torch.Tensor, seen: torch.Tensor | None
) -> torch.Tensor:
    """One token per row: greedy at temperature 0, else inverse-CDF sampling with the uniforms ``u``.

    Drawing with per-row uniforms (rather than ``torch.multinomial`` over the batch) keeps a seeded
    request's samples independent of whichever other requests share its batch.
    """
    penalised = seen if params.repetition_penalty != 1.0 else None
    if params.temperature == 0:
        if penalised is not None:
            logits = repetition_filter(logits.float(), penalised, params.repetition_penalty)
        return logits.argmax(dim=-1)
    probs = torch.softmax(next_token_logits(logits, params, penalised), dim=-1)
    cdf = probs.cumsum(dim=-1)
    target = (u * cdf[:, -1]).unsqueeze(-1)
    return torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp_(max=probs.size(-1) - 1)


class Engine:
    """Batches the requests for one model on a worker thread."""

    def __init__(self, generator: Generator, *, max_batch_rows: int = 64, max_queue: int = 64) -> None:
        self.generator = generator
        self.model = generator.model
        self.max_batch_rows = max_batch_rows
        self.max_queue = max_queue
        self._cond = threading.Condition()
        self._waiting: deque[Job] = deque()
        self._calls: deque[tuple[Callable[[], Any], concurrent.futures.Future]] = deque()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._rng = torch.Generator(device=generator.device)
        self._rng.manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)
        # the running batch
        self._rows: list[_Row] = []
        self._state: Any = None
        self._logits: torch.Tensor | None = None
        self._seen: torch.Tensor | None = None
        self._groups: list[tuple[SamplingParams, torch.Tensor | None]] = []
        self._draws: list[tuple[torch.Generator, torch.Tensor | None, int]] = []
        # counters
        self.steps = 0
        self.tokens = 0

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
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    @property
    def active_rows(self) -> int:
        return len(self._rows)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(self, job: Job) -> None:
        """Queue a job; raise :class:`QueueFull` at once when the queue is full."""
        self.start()
        job.remaining = job.rows
        if job.seed is not None:
            job.rng = torch.Generator(device=self.generator.device)
            job.rng.manual_seed(job.seed)
        with self._cond:
            if self._stopping:
                raise EngineClosed("the server is shutting down")
            if len(self._waiting) >= self.max_queue:
                self._waiting = deque(j for j in self._waiting if not j.cancelled)
                if len(self._waiting) >= self.max_queue:
                    raise QueueFull(f"the queue for {self.generator.name} is full")
            self._waiting.append(job)
            self._cond.notify()

    def call(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
        """Run ``fn`` on the worker thread between two steps (the model is only ever used there)."""
        self.start()
        fut: concurrent.futures.Future = concurrent.futures.Future()
        with self._cond:
            if self._stopping:
                raise EngineClosed("the server is shutting down")
            if len(self._calls) >= self.max_queue:
                raise QueueFull(f"the queue for {self.generator.name} is full")
            self._calls.append((fn, fut))
            self._cond.notify()
        return fut

    # ------------------------------------------------------------------ worker
    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                with self._cond:
                    while not (self._waiting or self._calls or self._rows or self._stopping):
                        self._cond.wait()
                    if self._stopping:
                        break
                    calls = list(self._calls)
                    self._calls.clear()
                    admitted = self._admit_locked()
                for fn, fut in calls:
                    if fut.set_running_or_notify_cancel():
                        try:
                            fut.set_result(fn())
                        except BaseException as exc:  # noqa: BLE001 - handed to the caller
                            fut.set_exception(exc)
                try:
                    if admitted:
                        self._prefill(admitted)
                    if self._rows:
                        self._step()
                except Exception as exc:  # a bug or an out-of-memory: fail the batch, keep serving
                    log.exception("generation failed")
                    self._fail_all(exc)
            self._shutdown()

    def _admit_locked(self) -> list[Job]:
        admitted: list[Job] = []
        rows = len(self._rows)
        now = time.monotonic()
        while self._waiting:
            job = self._waiting[0]
            if job.cancelled:
                self._waiting.popleft()
                continue
            if now > job.deadline:
                self._waiting.popleft()
                self._deliver(
                    {job: [("error", RequestTimeout("the request timed out waiting in the queue")), ("end",)]}
                )
                continue
            if rows + job.rows > self.max_batch_rows:
                break
            self._waiting.popleft()
            admitted.append(job)
            rows += job.rows
        return admitted

    def _prefill(self, jobs: list[Job]) -> None:
        """Read the new prompts (each distinct prompt once, one forward per length) and join the batch."""
        model, device = self.model, self.generator.device
        unique: dict[tuple[int, ...], int] = {}
        row_prompt: list[int] = []
        new_rows: list[_Row] = []
        for job in jobs:
            for p, prompt in enumerate(job.prompts):
                key = tuple(prompt)
                u = unique.setdefault(key, len(unique))
                for j in range(job.n):
                    row_prompt.append(u)
                    new_rows.append(_Row(job, p * job.n + j, self.generator.tokenizer.stream_decoder()))
        by_len: dict[int, list[tuple[int, ...]]] = {}
        for key in unique:
            by_len.setdefault(len(key), []).append(key)
        order: list[int] = []
        states, last = [], []
        for keys in by_len.values():
            logits, state = model(torch.tensor(keys, device=device), None)
            states.append(state)
            last.append(logits[:, -1])
            order.extend(unique[k] for k in keys)
        position = {u: i for i, u in enumerate(order)}
        index = torch.tensor([position[u] for u in row_prompt], device=device)
        state = model.concat_states(states) if len(states) > 1 else states[0]
        state = model.select_state(state, index)
        logits = torch.cat(last).index_select(0, index)
        seen = torch.zeros(len(new_rows), model.vocab_size, dtype=torch.bool, device=device)
        keys = list(unique)
        for i, u in enumerate(row_prompt):
            seen[i, list(keys[u])] = True
        if self._rows:
            self._state = model.concat_states([self._state, state])
            self._logits = torch.cat([self._logits, logits])
            self._seen = torch.cat([self._seen, seen])
        else:
            self._state, self._logits, self._seen = state, logits, seen
        self._rows.extend(new_rows)
        self._regroup()

    def _regroup(self) -> None:
        """Recompute which rows share sampling parameters and which random stream each row draws from."""
        device = self.generator.device
        groups: dict[SamplingParams, list[int]] = {}
        draws: dict[int, tuple[torch.Generator, list[int]]] = {}
        for i, row in enumerate(self._rows):
            groups.setdefault(row.job.params, []).append(i)
            rng = row.job.rng or self._rng
            draws.setdefault(id(rng), (rng, []))[1].append(i)
        n = len(self._rows)
        self._groups = [
            (p, None if len(idx) == n else torch.tensor(idx, device=device)) for p, idx in groups.items()
        ]
        self._draws = [
            (rng, None if len(idx) == n else torch.tensor(idx, device=device), len(idx))
            for rng, idx in draws.values()
        ]

    def _step(self) -> None:
        now = time.monotonic()
        events: dict[Job, list[tuple]] = {}
        dropped = [i for i, r in enumerate(self._rows) if r.job.cancelled or now > r.job.deadline]
        if dropped:
            for i in dropped:
                job = self._rows[i].job
                if not job.cancelled and job not in events:
                    events[job] = [
                        ("error", RequestTimeout("the request ran past the server's time limit")),
                        ("end",),
                    ]
                    job.cancel()
            gone = set(dropped)
            self._keep([i for i in range(len(self._rows)) if i not in gone])
            self._deliver(events)
            events = {}
            if not self._rows:
                return
        rows, logits = self._rows, self._logits
        device = self.generator.device
        u = torch.empty(len(rows), device=device)
        for rng, idx, k in self._draws:
            if idx is None:
                u = torch.rand(k, generator=rng, device=device)
            else:
                u[idx] = torch.rand(k, generator=rng, device=device)
        seen = self._seen
        if len(self._groups) == 1:
            tok = _choose(logits, self._groups[0][0], u, seen)
        else:
            tok = torch.empty(len(rows), dtype=torch.long, device=device)
            for params, idx in self._groups:
                tok[idx] = _choose(logits[idx], params, u[idx], seen[idx])
        if any(p.repetition_penalty != 1.0 for p, _ in self._groups):
            seen[torch.arange(len(rows), device=device), tok] = True
        self.steps += 1
        self.tokens += len(rows)
        finished = []
        for i, t in enumerate(tok.tolist()):
            row = rows[i]
            job = row.job
            row.tokens += 1
            row.text += row.decoder.push(t)
            if row.stops:
                cut = min((row.text.find(s) for s in row.stops if s in row.text), default=-1)
                if cut >= 0:
                    row.text, row.finish_reason = row.text[:cut], "stop"
            if row.finish_reason is None and row.tokens >= job.max_tokens:
                row.finish_reason = "length"
            if job.stream:
                safe = len(row.text)
                if row.finish_reason is None and row.stops:
                    safe -= held_back(row.text, row.stops)
                if safe > row.emitted:
                    events.setdefault(job, []).append(("text", row.choice, row.text[row.emitted : safe]))
                    row.emitted = safe
            if row.finish_reason is not None:
                finished.append(i)
                evs = events.setdefault(job, [])
                evs.append(("done", row.choice, row.text, row.finish_reason, row.tokens))
                job.remaining -= 1
                if job.remaining == 0:
                    evs.append(("end",))
        self._deliver(events)
        if finished:
            done = set(finished)
            keep = [i for i in range(len(rows)) if i not in done]
            self._keep(keep)
            if not self._rows:
                return
            tok = tok.index_select(0, torch.tensor(keep, device=device))
        out, self._state = self.model(tok[:, None], self._state)
        self._logits = out[:, -1]

    def _keep(self, keep: list[int]) -> None:
        """Keep only the rows ``keep`` of the batch."""
        if not keep:
            self._rows, self._state, self._logits, self._seen = [], None, None, None
            self._groups, self._draws = [], []
            return
        index = torch.tensor(keep, device=self.generator.device)
        self._rows = [self._rows[i] for i in keep]
        self._state = self.model.select_state(self._state, index)
        self._logits = self._logits.index_select(0, index)
        self._seen = self._seen.index_select(0, index)
        self._regroup()

    def _deliver(self, events: dict[Job, list[tuple]]) -> None:
        """Hand each job its events on its event loop (one wake-up per loop per step)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Queue, list[tuple]]]] = {}
        for job, evs in events.items():
            if job.loop is not None and job.queue is not None:
                by_loop.setdefault(job.loop, []).append((job.queue, evs))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_put_all, items)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                for job in events:
                    if job.loop is loop:
                        job.cancel()

    def _fail_all(self, exc: BaseException) -> None:
        jobs = {row.job: [("error", exc), ("end",)] for row in self._rows}
        self._rows, self._state, self._logits, self._seen = [], None, None, None
        self._groups, self._draws = [], []
        self._deliver(jobs)

    def _shutdown(self) -> None:
        closed = EngineClosed("the server is shutting down")
        with self._cond:
            waiting = list(self._waiting)
            self._waiting.clear()
            calls = list(self._calls)
            self._calls.clear()
        self._fail_all(closed)
        self._deliver({job: [("error", closed), ("end",)] for job in waiting})
        for _, fut in calls:
            fut.set_exception(closed)


def _put_all(items: list[tuple[asyncio.Queue, list[tuple]]]) -> None:
    for queue, evs in items:
        queue.put_nowait(evs)
