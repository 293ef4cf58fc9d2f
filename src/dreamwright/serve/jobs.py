"""What the generating endpoints share: a request's limits checked and turned into an engine
:class:`~dreamwright.serve.engine.Job`, the job queued, its events read back, answered as JSON or streamed as
Server-Sent Events.

``/v1/completions`` and ``/v1/chat/completions`` differ only in how they make the prompt and how they shape
a choice and a chunk; :class:`EventStream` is subclassed by each for the chunks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from dreamwright._validate import positive_int
from dreamwright.decoding import DEFAULT_TEMPERATURE
from dreamwright.errors import InvalidArgument
from dreamwright.generation import Generator, SamplingParams
from dreamwright.generation.generator import stop_strings
from dreamwright.serve.core import TextEngine
from dreamwright.serve.engine import (
    DoneEvent,
    EndEvent,
    EngineClosed,
    ErrorEvent,
    Event,
    Job,
    LogprobsEvent,
    QueueFull,
    RequestTimeout,
    TextEvent,
    TokenLogprob,
)
from dreamwright.serve.errors import APIError, from_exception
from dreamwright.serve.lanes import Cancelled, Lane, Task, wait_for
from dreamwright.serve.state import ServerState

MAX_STOPS = 8
#: most alternatives a request may ask for per token (OpenAI allows 5 for completions, 20 for chat)
MAX_TOP_LOGPROBS = 20


class ClientGone(Exception):
    """The client closed the connection."""


def unsupported(fields: Sequence[tuple[str, bool]]) -> None:
    """A 400 naming the first request field that is set to something dreamwright does not do."""
    for name, bad in fields:
        if bad:
            raise APIError(400, f"{name} is not supported by dreamwright", param=name, code="unsupported")


def stop_list(stop: str | list[str] | None, extra: Sequence[str] = ()) -> list[str]:
    """The request's stop strings (checked as the CLI's and the API's are), then ``extra`` ones the server adds
    (a chat template's)."""
    stops = stop_strings(stop)
    if len(stops) > MAX_STOPS:
        raise InvalidArgument(f"at most {MAX_STOPS} stop strings are allowed", param="stop")
    return stops + [s for s in extra if s not in stops]


class SamplingBody(Protocol):
    """The sampling fields that the completions and chat request bodies share."""

    n: int
    seed: int | None
    stream: bool
    temperature: float | None
    top_p: float | None
    top_k: int | None
    repetition_penalty: float | None


def new_job(server: ServerState, generator: Generator, ids: list[list[int]], body: SamplingBody, *,
            stops: list[str], max_tokens: int | None, max_tokens_param: str = "max_tokens",
            logprobs: int | None = None, kind: str = "completion") -> Job:
    """Check a request's numbers against the server's limits and the model's context; the engine job."""
    settings = server.settings
    max_tokens = settings.default_max_tokens if max_tokens is None else max_tokens
    positive_int(max_tokens_param, max_tokens)
    if max_tokens > settings.max_tokens:
        raise APIError(400, f"{max_tokens_param} is {max_tokens}; this server allows at most {settings.max_tokens}",
                       param=max_tokens_param, code="max_tokens_exceeded")
    positive_int("n", body.n)
    if body.n * len(ids) > settings.max_n:
        raise APIError(400, f"n × number of prompts is {body.n * len(ids)}; this server allows at most "
                       f"{settings.max_n}", param="n", code="invalid_value")
    if logprobs is not None and not 0 <= logprobs <= MAX_TOP_LOGPROBS:
        raise InvalidArgument(f"logprobs must be in 0..{MAX_TOP_LOGPROBS}, got {logprobs}", param="logprobs")
    params = SamplingParams(
        temperature=DEFAULT_TEMPERATURE if body.temperature is None else body.temperature,
        top_k=body.top_k,
        top_p=body.top_p,
        repetition_penalty=1.0 if body.repetition_penalty is None else body.repetition_penalty,
    )
    limit = getattr(generator.model, "context_limit", None)
    if limit is not None and max(map(len, ids)) + max_tokens > limit:
        raise APIError(400, f"prompt tokens + {max_tokens_param} exceed the model's context of {limit}",
                       param=max_tokens_param, code="context_length_exceeded")
    seed = None if body.seed is None else body.seed % (2**63)
    return Job(prompts=ids, params=params, max_tokens=max_tokens, n=body.n, stops=stops, seed=seed,
               stream=body.stream, logprobs=logprobs, kind=kind)


def start(job: Job, engine: TextEngine, request_timeout: float) -> None:
    """Give ``job`` an event queue on this event loop and a deadline, and queue it (429/503 at once)."""
    job.loop = asyncio.get_running_loop()
    job.queue = asyncio.Queue()
    job.deadline = time.monotonic() + request_timeout
    try:
        engine.submit(job)
    except (QueueFull, EngineClosed) as exc:
        raise from_exception(exc) from None


@dataclass
class Launched:
    """A queued job and what its response needs."""

    model: str
    job: Job
    gone: asyncio.Future  # done when the client disconnects
    created: int
    prompt_tokens: int


def launch(body: Any, request: Request, server: ServerState, build) -> Launched:
    """Build ``body``'s job with ``build(body, generator, server)``, log it, queue it, and watch the client."""
    name, engine = server.engine_for(body.model)
    job = build(body, engine.generator, server)
    prompt_tokens = sum(len(p) for p in job.prompts)
    request.state.log = {"model": name, "choices": job.rows, "max_tokens": job.max_tokens, "stream": body.stream,
                         "prompt_tokens": prompt_tokens}
    start(job, engine, server.settings.request_timeout)
    return Launched(name, job, asyncio.ensure_future(wait_disconnect(request)), int(time.time()), prompt_tokens)


async def wait_disconnect(request: Request) -> None:
    """Return when the client disconnects."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def next_events(job: Job, gone: asyncio.Future) -> list[Event]:
    """The engine's next batch of events for ``job``; raise when the client left or time ran out."""
    assert job.queue is not None
    if not job.queue.empty():
        return job.queue.get_nowait()
    getter = asyncio.ensure_future(job.queue.get())
    timeout = max(job.deadline - time.monotonic(), 0) + 5.0
    done, _ = await asyncio.wait({getter, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    if gone in done:
        raise ClientGone()
    raise RequestTimeout("the request ran past the server's time limit")


@dataclass
class Finished:
    """Every choice of a job that ran to its end."""

    texts: dict[int, str] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)
    logprobs: dict[int, list[TokenLogprob]] = field(default_factory=dict)
    tokens: int = 0


async def collect(job: Job, gone: asyncio.Future) -> Finished:
    """Wait for all of ``job``'s choices (raises :class:`ClientGone`, or the job's error as an APIError)."""
    out = Finished()
    try:
        while True:
            events = await next_events(job, gone)
            for ev in events:
                if isinstance(ev, DoneEvent):
                    out.texts[ev.choice] = ev.text
                    out.reasons[ev.choice] = ev.finish_reason
                    out.tokens += ev.completion_tokens
                elif isinstance(ev, LogprobsEvent):
                    out.logprobs.setdefault(ev.choice, []).extend(ev.entries)
                elif isinstance(ev, ErrorEvent):
                    raise from_exception(ev.error)
                elif isinstance(ev, EndEvent):
                    return out
    finally:
        job.cancel()
        gone.cancel()


async def respond(launched: Launched, body: Any, request: Request, completion_id: str,
                  stream: Callable[[str, int, str, bool, int], EventStream], answer: Callable[[Finished], Any]) -> Any:
    """The one path of completions and chat once their job is queued: Server-Sent Events from
    ``stream(completion_id, created, model, include_usage, prompt_tokens)`` when ``body`` asks to stream, else
    every choice collected and shaped by ``answer``."""
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = stream(completion_id, launched.created, launched.model, include_usage, launched.prompt_tokens)
        return StreamingResponse(events.events(launched.job, launched.gone, request), media_type="text/event-stream",
                                 headers=STREAM_HEADERS)
    try:
        done = await collect(launched.job, launched.gone)
    except ClientGone:
        request.state.log["disconnected"] = True
        return Response(status_code=499)
    request.state.log["completion_tokens"] = done.tokens
    return answer(done)


def sse(data: dict[str, Any]) -> str:
    """One Server-Sent Event carrying ``data`` as JSON."""
    return f"data: {json.dumps(data)}\n\n"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


class EventStream:
    """The Server-Sent Events of one streamed job; subclasses shape the chunks.

    Events: :meth:`opening` chunks, then a chunk per piece of text and one final chunk per choice (a choice's
    log-probabilities ride on the chunk of the text they made), a usage chunk when asked, and ``[DONE]``.
    """

    object_name = "text_completion"

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool, prompt_tokens: int) -> None:
        self.completion_id, self.created, self.model = completion_id, created, model
        self.include_usage = include_usage
        self.prompt_tokens = prompt_tokens

    def chunk(self, choices: list[dict], usage: dict | None = None) -> str:
        data: dict[str, Any] = {
            "id": self.completion_id,
            "object": self.object_name,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            data["usage"] = usage
        return sse(data)

    def opening(self, job: Job) -> list[str]:
        """Chunks sent before any text (the chat role, an echoed prompt)."""
        return []

    def text_choice(self, index: int, text: str, logprobs: list[TokenLogprob] | None) -> dict:
        raise NotImplementedError

    def final_choice(self, index: int, reason: str, logprobs: list[TokenLogprob] | None) -> dict:
        raise NotImplementedError

    async def events(self, job: Job, gone: asyncio.Future, request: Request) -> AsyncIterator[str]:
        """The event stream (the caller has started ``job``)."""
        tokens = 0
        pending: dict[int, list[TokenLogprob]] = {}
        try:
            opening = self.opening(job)
            if opening:
                yield "".join(opening)
            while True:
                events = await next_events(job, gone)
                out = []
                for ev in events:
                    if isinstance(ev, LogprobsEvent):
                        pending.setdefault(ev.choice, []).extend(ev.entries)
                    elif isinstance(ev, TextEvent):
                        lp = pending.pop(ev.choice, None) if job.logprobs is not None else None
                        out.append(self.chunk([self.text_choice(ev.choice, ev.text, lp)]))
                    elif isinstance(ev, DoneEvent):
                        tokens += ev.completion_tokens
                        lp = pending.pop(ev.choice, []) if job.logprobs is not None else None
                        out.append(self.chunk([self.final_choice(ev.choice, ev.finish_reason, lp)]))
                    elif isinstance(ev, ErrorEvent):
                        out.append(sse(from_exception(ev.error).body()))
                        request.state.log["error"] = type(ev.error).__name__
                        yield "".join(out)
                        return
                    elif isinstance(ev, EndEvent):
                        if self.include_usage:
                            out.append(self.chunk([], usage(self.prompt_tokens, tokens)))
                        out.append("data: [DONE]\n\n")
                        yield "".join(out)
                        return
                if out:
                    yield "".join(out)
        except ClientGone:
            request.state.log["disconnected"] = True
        except RequestTimeout as exc:
            yield sse(from_exception(exc).body())
        finally:
            job.cancel()
            gone.cancel()
            request.state.log["completion_tokens"] = tokens


STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def run_task(runner: TextEngine | Lane, kind: str, fn: Callable[[Task], Any], timeout: float,
                   request: Request | None = None) -> Any:
    """``fn(task)`` run by ``runner``: a model's engine (on its worker, between two decoding steps) or a lane.
    429/503 at once when it cannot queue, 504 past ``timeout``, and cancelled (499) when ``request``'s client
    disconnects; long work stops at its next ``task.progress``/``task.check``."""
    try:
        task = runner.submit_task(kind, fn, timeout=timeout)
    except (QueueFull, EngineClosed) as exc:
        raise from_exception(exc) from None
    try:
        return await wait_for(task, (lambda: wait_disconnect(request)) if request is not None else None)
    except Cancelled:
        if request is not None and hasattr(request.state, "log"):
            request.state.log["disconnected"] = True
        raise APIError(499, "the client closed the request", code="client_closed") from None
    except RequestTimeout as exc:
        raise from_exception(exc) from None
