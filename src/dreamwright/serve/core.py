"""The engine core in its own process: the model steps in a child process, so the server's event loop keeps its GIL.

Under load the event loop (HTTP, JSON, Server-Sent Events) and the engine's per-step Python work contend for one
GIL. As vLLM splits its API server from its EngineCore, :class:`ProcessEngine` (the server side) starts a
:class:`CoreEngine` in a child process (the ``spawn`` context), which loads the model itself and batches the jobs:

- the server tokenizes the prompts, counts admission (a full queue answers 429 at once), sends each job as a
  :class:`Submit` and, when its client goes away, a :class:`Cancel`;
- the core runs the in-process :class:`~dreamwright.serve.engine.Engine`'s loop unchanged and, after every turn of
  it, sends ONE :class:`StepReport`: every job's new events (text, log-probabilities, finishes, errors), the jobs
  that left the queue, the rows it decodes, and what the metrics count;
- a reader thread on the server hands each job its events on its event loop
  (:func:`~dreamwright.serve.engine.hand_over`, as the in-process engine does).

Tasks (the temperature lens, scored prompts, speech) run on the server, on a :class:`~dreamwright.serve.lanes.Lane`
with the server's own copy of the model. When the child dies, every pending and every new request gets a 503.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import logging
import multiprocessing
import pickle
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import torch

from dreamwright.decoding import SamplingParams
from dreamwright.generation.generator import Generator
from dreamwright.serve.engine import EndEvent, Engine, ErrorEvent, Event, Job, hand_over
from dreamwright.serve.lanes import CoreLost, EngineClosed, FinishObserver, Lane, Task, enqueue

if TYPE_CHECKING:  # pragma: no cover
    from dreamwright.serve.settings import ServeSettings

log = logging.getLogger("dreamwright.serve")


# ---------------------------------------------------------------------- messages
@dataclass(frozen=True)
class CoreSpec:
    """What the child needs to load its model (not the model itself): the run, the model id, the device."""

    run_dir: str
    name: str
    device: str
    max_batch_rows: int
    max_queue: int
    #: PyTorch threads in the child (on a small machine, leave the server a core of its own)
    threads: int = 1


@dataclass(frozen=True)
class Submit:
    """A job, as the core needs it: token ids, sampling, limits, and its time left and age in seconds."""

    id: int
    prompts: list[list[int]]
    params: SamplingParams
    max_tokens: int
    n: int
    stops: tuple[str, ...]
    seed: int | None
    stream: bool
    logprobs: int | None
    kind: str
    time_left: float
    age: float

    @classmethod
    def of(cls, job: Job) -> Submit:
        now = time.monotonic()
        return cls(job.id, [list(p) for p in job.prompts], job.params, job.max_tokens, job.n, tuple(job.stops),
                   job.seed, job.stream, job.logprobs, job.kind, job.deadline - now, now - job.submitted)

    def job(self) -> Job:
        """The core's copy of the job (same id)."""
        now = time.monotonic()
        return Job(prompts=self.prompts, params=self.params, max_tokens=self.max_tokens, n=self.n, stops=self.stops,
                   seed=self.seed, stream=self.stream, logprobs=self.logprobs, kind=self.kind, id=self.id,
                   deadline=now + self.time_left, submitted=now - self.age)


@dataclass(frozen=True)
class Cancel:
    """Stop job ``id`` (its client went away): the core drops its rows before its next step."""

    id: int


@dataclass(frozen=True)
class Stop:
    """Fail what is left and exit."""


@dataclass(frozen=True)
class Ready:
    """The core has loaded its model and takes jobs."""


@dataclass(frozen=True)
class Failed:
    """The core could not load its model."""

    message: str


@dataclass
class StepReport:
    """One turn of the core's loop, in one message: each job's new events, the jobs that left the queue
    (admitted, timed out or cancelled), the rows being decoded, and the metrics' observations."""

    events: list[tuple[int, list[Event]]] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    active_rows: int = 0
    #: ``(seconds, rows)`` per decoding step
    steps: list[tuple[float, int]] = field(default_factory=list)
    #: seconds from queueing to the first token, per job
    first_tokens: list[float] = field(default_factory=list)
    #: ``(kind, outcome, seconds)`` per job that ended
    finished: list[tuple[str, str, float]] = field(default_factory=list)


#: the longest the core holds back a report that carries only metrics (steps, the rows being decoded)
QUIET_REPORT_SECONDS = 0.05


# ---------------------------------------------------------------------- the child
class CoreEngine(Engine):
    """The in-process engine's loop, run on a child process's main thread; it reports to the server through
    ``outbox`` (one :class:`StepReport` per turn) instead of handing events to event loops."""

    def __init__(self, generator: Generator, outbox: Connection, *, max_batch_rows: int, max_queue: int) -> None:
        super().__init__(generator, max_batch_rows=max_batch_rows, max_queue=max_queue)
        self.outbox = outbox
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()  # the reader thread adds to the report too
        self._next = StepReport()
        self._last_report = 0.0
        self._outgoing: queue.SimpleQueue[StepReport | None] = queue.SimpleQueue()
        self.on_step = lambda seconds, rows: self._next.steps.append((seconds, rows))
        self.on_first_token = lambda seconds: self._next.first_tokens.append(seconds)
        self.on_finish = lambda kind, outcome, seconds: self._next.finished.append((kind, outcome, seconds))

    def start(self) -> None:
        """Nothing to start: the loop runs on the child's main thread (:meth:`serve`)."""

    def serve(self, inbox: Connection) -> None:
        """Read messages on a thread of their own and run the loop here until told to stop."""
        threading.Thread(target=self._listen, args=(inbox,), name="dreamwright-core-inbox", daemon=True).start()
        sender = threading.Thread(target=self._send_reports, name="dreamwright-core-outbox", daemon=True)
        sender.start()
        try:
            self._run()
        finally:
            self._outgoing.put(None)
            sender.join(timeout=10)

    def _send_reports(self) -> None:
        """Pickle and send the reports in order, on a thread of their own: pickling overlaps the model's step
        (which runs without the GIL) and a full pipe holds up this thread, not the decoding."""
        while (report := self._outgoing.get()) is not None:
            try:
                self.outbox.send(report)
            except (OSError, ValueError):  # the server went away
                self._halt()
                return

    def _listen(self, inbox: Connection) -> None:
        while True:
            try:
                message = inbox.recv()
            except (EOFError, OSError):  # the server went away
                message = Stop()
            if isinstance(message, Submit):
                self._accept(message)
            elif isinstance(message, Cancel):
                job = self._jobs.pop(message.id, None)
                if job is not None:
                    job.cancel()
                    with self._cond:
                        self._cond.notify()
            elif isinstance(message, Stop):
                self._halt()
                return

    def _accept(self, message: Submit) -> None:
        job = message.job()
        self._jobs[job.id] = job
        try:
            self.submit(job)
        except EngineClosed as exc:  # stopping; the server fails what is left once the core exits
            self._jobs.pop(job.id, None)
            with self._lock:
                self._next.events.append((job.id, [ErrorEvent(exc), EndEvent()]))
                self._next.left.append(job.id)

    def _admit_locked(self) -> list[Job]:
        before = list(self._waiting)
        admitted = super()._admit_locked()
        self._next.left += [job.id for job in before[: len(before) - len(self._waiting)]]  # taken from the left
        return admitted

    def hand_over(self, events: dict[Job, list[Event]]) -> None:
        """Add the events to this turn's report."""
        for job, evs in events.items():
            self._next.events.append((job.id, [_portable(ev) for ev in evs]))
            if evs and isinstance(evs[-1], EndEvent):
                self._jobs.pop(job.id, None)

    def _turn_done(self) -> None:
        with self._lock:
            # a turn with nothing for any client (a non-streamed job mid-way) waits for the next one, up to
            # QUIET_REPORT_SECONDS: a message per step would cost the server a wake-up per token
            news = self._next.events or self._next.left or self._next.finished or self._next.first_tokens
            if not news and not self._stopping and time.monotonic() - self._last_report < QUIET_REPORT_SECONDS:
                return
            report, self._next = self._next, StepReport()
            self._last_report = time.monotonic()
        report.active_rows = len(self.decoder.rows)
        self._outgoing.put(report)


def _portable(event: Event) -> Event:
    """``event``, with an error that cannot cross the pipe replaced by a RuntimeError saying what it was."""
    if isinstance(event, ErrorEvent):
        try:
            pickle.dumps(event.error)
        except Exception:  # noqa: BLE001 - any error that does not pickle
            return ErrorEvent(RuntimeError(f"{type(event.error).__name__}: {event.error}"))
    return event


def _core_main(spec: CoreSpec, inbox: Connection, outbox: Connection) -> None:
    """The child process: load the model, say so, and serve until told to stop (or until the server goes away)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server stops the core
    try:
        torch.set_num_threads(spec.threads)
        generator = Generator.load(spec.run_dir, device=spec.device)
        generator.name = spec.name
        core = CoreEngine(generator, outbox, max_batch_rows=spec.max_batch_rows, max_queue=spec.max_queue)
    except BaseException as exc:  # noqa: BLE001 - reported to the server, which fails to start
        outbox.send(Failed(f"{type(exc).__name__}: {exc}"))
        return
    # the loop makes many short-lived objects (a report and its events per turn); the model and its tables are
    # long-lived: move them out of the collector's way and collect the young generation less often
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    outbox.send(Ready())
    core.serve(inbox)
    outbox.close()


# ---------------------------------------------------------------------- the server side
class ProcessEngine:
    """The server's side of an engine core in a child process, with the interface of
    :class:`~dreamwright.serve.engine.Engine` that the routers use (submit, submit_task, call, start, stop,
    active_rows, waiting, and the metrics' observers)."""

    def __init__(self, generator: Generator, *, max_batch_rows: int = 64, max_queue: int = 64, threads: int = 1,
                 start_timeout: float = 300.0) -> None:
        if generator.run_dir is None:
            raise ValueError(f"{generator.name} was not loaded from a run directory; the core cannot load it")
        self.generator = generator
        self.model = generator.model
        self.max_batch_rows = max_batch_rows
        self.max_queue = max_queue
        self.start_timeout = start_timeout
        self.spec = CoreSpec(str(generator.run_dir), generator.name, str(generator.device), max_batch_rows,
                             max_queue, threads)
        self._lock = threading.Lock()
        self._waiting: deque[Job] = deque()  # submitted, not yet taken from the core's queue
        self._jobs: dict[int, Job] = {}  # submitted, not yet ended
        self._process: multiprocessing.process.BaseProcess | None = None
        self._to_core: Connection | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: str | None = None
        self._closed = True  # not started, or stopped
        self._lost = False  # the core died
        self._active_rows = 0
        self.steps = 0
        self.tokens = 0
        self.on_step: Callable[[float, int], None] | None = None
        self.on_first_token: Callable[[float], None] | None = None
        self.on_finish: FinishObserver | None = None
        # tasks run here, on the server's copy of the model
        self._lane = Lane(f"{generator.name}-tasks", max_queue=max_queue)
        self._lane.on_finish = self._task_finished

    # ------------------------------------------------------------------ public, any thread
    @property
    def pid(self) -> int | None:
        """The core process's id (None when it is not running)."""
        return self._process.pid if self._process is not None else None

    @property
    def active_rows(self) -> int:
        return self._active_rows

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def start(self) -> None:
        """Start the core process and wait until it has loaded its model (idempotent)."""
        with self._lock:
            if self._process is not None:
                return
            context = multiprocessing.get_context("spawn")
            core_in, to_core = context.Pipe(duplex=False)
            from_core, core_out = context.Pipe(duplex=False)
            process = context.Process(target=_core_main, args=(self.spec, core_in, core_out),
                                      name=f"dreamwright-core-{self.generator.name}", daemon=True)
            process.start()
            core_in.close()  # the child's ends: closed here, so the pipe ends when the child does
            core_out.close()
            self._process, self._to_core = process, to_core
            self._ready.clear()
            self._failure, self._closed, self._lost = None, False, False
            self._reader = threading.Thread(target=self._read, args=(from_core,),
                                            name=f"dreamwright-core-reader-{self.generator.name}", daemon=True)
            self._reader.start()
        self._lane.start()
        if not self._ready.wait(self.start_timeout) or self._failure or self._lost:
            why = self._failure or ("it exited" if self._lost else f"it took over {self.start_timeout:g} s")
            self.stop()
            raise RuntimeError(f"the engine core for {self.generator.name} did not start: {why}")

    def stop(self, timeout: float = 10.0) -> None:
        """Tell the core to stop (it fails what is left), wait for it, then terminate and kill it if it hangs;
        join the reader and the task lane. Nothing started here is left running."""
        with self._lock:
            self._closed = True
            process, to_core, reader = self._process, self._to_core, self._reader
            self._process = self._to_core = self._reader = None
        if process is not None and to_core is not None:
            with contextlib.suppress(OSError, ValueError):
                to_core.send(Stop())
            process.join(timeout)
            for end in (process.terminate, process.kill):
                if process.is_alive():
                    end()
                    process.join(5)
            to_core.close()
        if reader is not None:
            reader.join(timeout)
        self._lane.stop(timeout)

    def submit(self, job: Job) -> None:
        """Queue a job: :class:`QueueFull` at once when the queue is full, 503 errors when the core is gone."""
        job.remaining = job.rows
        job.submitted = time.monotonic()
        with self._lock:
            if self._lost:
                raise self._lost_error()
            enqueue(self._waiting, job, self.max_queue, closed=self._closed,
                    full=f"the queue for {self.generator.name} is full")
            self._jobs[job.id] = job
            job.on_cancel = self._cancel
            try:
                assert self._to_core is not None
                self._to_core.send(Submit.of(job))
            except (OSError, ValueError):
                self._waiting.remove(job)
                del self._jobs[job.id]
                raise self._lost_error() from None

    def submit_task(self, kind: str, fn: Callable[[Task], Any], *, timeout: float = float("inf")) -> Task:
        """Queue ``fn(task)`` on this side's task lane (with this side's copy of the model)."""
        return self._lane.submit_task(kind, _inference(fn), timeout=timeout)

    def call(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
        """Run ``fn()`` on the task lane; its future."""
        return self.submit_task("call", lambda task: fn()).future

    # ------------------------------------------------------------------ internals
    def _cancel(self, job: Job) -> None:
        """A job's ``on_cancel``: tell the core, unless the job has ended already."""
        with self._lock:
            if self._jobs.pop(job.id, None) is None:
                return
            with contextlib.suppress(ValueError):
                self._waiting.remove(job)
            with contextlib.suppress(OSError, ValueError, AttributeError):
                self._to_core.send(Cancel(job.id))  # type: ignore[union-attr]

    def _lost_error(self) -> CoreLost:
        return CoreLost(f"the engine process of {self.generator.name} stopped; restart the server")

    def _task_finished(self, kind: str, outcome: str, seconds: float) -> None:
        if self.on_finish is not None:
            self.on_finish(kind, outcome, seconds)

    def _read(self, conn: Connection) -> None:
        """The reader thread: take the core's messages until its pipe closes."""
        try:
            while True:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    break
                if isinstance(message, StepReport):
                    self._take(message)
                elif isinstance(message, Ready):
                    self._ready.set()
                elif isinstance(message, Failed):
                    self._failure = message.message
                    self._ready.set()
        finally:
            conn.close()
            self._core_gone()

    def _take(self, report: StepReport) -> None:
        """Hand one turn's events to their jobs, and report its metrics."""
        events: dict[Job, list[Event]] = {}
        with self._lock:
            self._active_rows = report.active_rows
            if report.left:
                left = set(report.left)
                kept = [job for job in self._waiting if job.id not in left]
                self._waiting.clear()
                self._waiting.extend(kept)
            for job_id, evs in report.events:
                job = self._jobs.get(job_id)
                if job is None:  # cancelled here already
                    continue
                if isinstance(evs[-1], EndEvent):
                    del self._jobs[job_id]
                events.setdefault(job, []).extend(evs)
        for seconds, rows in report.steps:
            self.steps += 1
            self.tokens += rows
            if self.on_step is not None:
                self.on_step(seconds, rows)
        if self.on_first_token is not None:
            for seconds in report.first_tokens:
                self.on_first_token(seconds)
        if self.on_finish is not None:
            for kind, outcome, seconds in report.finished:
                self.on_finish(kind, outcome, seconds)
        hand_over(events)

    def _core_gone(self) -> None:
        """The core's pipe closed: fail what it left; when it was not told to stop, it died, and every new
        request gets a 503 too."""
        with self._lock:
            died = not self._closed
            self._lost = self._lost or died
            jobs = list(self._jobs.values())
            self._jobs.clear()
            self._waiting.clear()
            self._active_rows = 0
            exitcode = self._process.exitcode if self._process is not None else None
        self._ready.set()
        if died:
            log.error("the engine process of %s stopped (exit code %s); its requests fail with 503",
                      self.generator.name, exitcode)
            error: EngineClosed = self._lost_error()
        else:
            error = EngineClosed("the server is shutting down")
        if self.on_finish is not None:
            now = time.monotonic()
            for job in jobs:
                self.on_finish(job.kind, "error" if died else "cancelled", now - job.submitted)
        hand_over({job: [ErrorEvent(error), EndEvent()] for job in jobs})


def _inference(fn: Callable[[Task], Any]) -> Callable[[Task], Any]:
    """``fn``, run in inference mode (as the in-process engine's worker runs tasks)."""

    def run(task: Task) -> Any:
        with torch.inference_mode():
            return fn(task)

    return run


#: what serves a text model: the in-process engine or the server's side of an engine process
TextEngine = Engine | ProcessEngine


def make_engine(generator: Generator, settings: ServeSettings) -> TextEngine:
    """The engine ``settings.engine`` asks for. A model built in memory (the core could not load it) and an
    audio model (it speaks through tasks only, so a core process would sit idle) get the in-process engine."""
    if settings.engine == "process" and generator.run_dir is not None and generator.tokenizer.kind != "mulaw":
        return ProcessEngine(generator, max_batch_rows=settings.max_batch_rows, max_queue=settings.max_queue,
                             threads=settings.engine_threads)
    return Engine(generator, max_batch_rows=settings.max_batch_rows, max_queue=settings.max_queue)
