"""``POST /v1/completions``: OpenAI's completions endpoint, answered as JSON or as Server-Sent Events.

A request becomes an engine :class:`~dreamwright.serve.engine.Job`; the engine's thread decodes it and
delivers events (``text``, ``done``, ``error``, ``end``) to the job's asyncio queue, which this module
turns into a response.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from dreamwright._validate import positive_int
from dreamwright.errors import InvalidArgument
from dreamwright.generation import Generator, SamplingParams
from dreamwright.serve.engine import Engine, EngineClosed, Job, QueueFull, RequestTimeout
from dreamwright.serve.errors import ERROR_RESPONSES, APIError, from_exception
from dreamwright.serve.schemas import CompletionChoice, CompletionRequest, CompletionResponse, Usage
from dreamwright.serve.state import Server, ServerState

MAX_STOPS = 8

router = APIRouter()


class _ClientGone(Exception):
    """The client closed the connection."""


def build_job(body: CompletionRequest, generator: Generator, server: ServerState) -> Job:
    """Validate a request against the server's limits and turn it into a job for the engine."""
    settings = server.settings
    prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
    if not prompts:
        raise InvalidArgument("prompt must not be an empty list", param="prompt")
    max_tokens = settings.default_max_tokens if body.max_tokens is None else body.max_tokens
    positive_int("max_tokens", max_tokens)
    if max_tokens > settings.max_tokens:
        raise APIError(
            400,
            f"max_tokens is {max_tokens}; this server allows at most {settings.max_tokens}",
            param="max_tokens",
            code="max_tokens_exceeded",
        )
    positive_int("n", body.n)
    if body.n * len(prompts) > settings.max_n:
        raise APIError(
            400,
            f"n × number of prompts is {body.n * len(prompts)}; this server allows at most {settings.max_n}",
            param="n",
            code="invalid_value",
        )
    stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if any(not s for s in stops):
        raise InvalidArgument("stop strings must not be empty", param="stop")
    if len(stops) > MAX_STOPS:
        raise InvalidArgument(f"at most {MAX_STOPS} stop strings are allowed", param="stop")
    unsupported = [
        ("logprobs", body.logprobs not in (None, 0)),
        ("best_of", body.best_of not in (None, body.n)),
        ("frequency_penalty", body.frequency_penalty not in (None, 0)),
        ("presence_penalty", body.presence_penalty not in (None, 0)),
        ("logit_bias", bool(body.logit_bias)),
        ("suffix", bool(body.suffix)),
    ]
    for name, bad in unsupported:
        if bad:
            raise APIError(400, f"{name} is not supported by dreamwright", param=name, code="unsupported")
    params = SamplingParams(
        temperature=1.0 if body.temperature is None else body.temperature,
        top_k=body.top_k,
        top_p=body.top_p,
        repetition_penalty=1.0 if body.repetition_penalty is None else body.repetition_penalty,
    )
    ids = [server.encode(generator, p, body.unknown, "prompt") for p in prompts]
    limit = getattr(generator.model, "context_limit", None)
    if limit is not None and max(map(len, ids)) + max_tokens > limit:
        raise APIError(
            400,
            f"prompt tokens + max_tokens exceed the model's context of {limit}",
            param="max_tokens",
            code="context_length_exceeded",
        )
    seed = None if body.seed is None else body.seed % (2**63)
    return Job(
        prompts=ids, params=params, max_tokens=max_tokens, n=body.n, stops=stops, seed=seed, stream=body.stream
    )


def start(job: Job, engine: Engine, request_timeout: float) -> None:
    """Give ``job`` an event queue on this event loop and a deadline, and queue it (429/503 at once)."""
    job.loop = asyncio.get_running_loop()
    job.queue = asyncio.Queue()
    job.deadline = time.monotonic() + request_timeout
    try:
        engine.submit(job)
    except (QueueFull, EngineClosed) as exc:
        raise from_exception(exc) from None


async def wait_disconnect(request: Request) -> None:
    """Return when the client disconnects."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def next_events(job: Job, gone: asyncio.Future) -> list[tuple]:
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
        raise _ClientGone()
    raise RequestTimeout("the request ran past the server's time limit")


@router.post(
    "/v1/completions",
    response_model=CompletionResponse,
    tags=["openai"],
    responses={
        **ERROR_RESPONSES,
        200: {
            "description": "A completion, or with `stream: true` Server-Sent "
            "Events of completion chunks ending with `data: [DONE]`.",
            "content": {"text/event-stream": {}},
        },
    },
)
async def completions(body: CompletionRequest, request: Request, server: Server) -> Any:
    """OpenAI's completions endpoint (``top_k``, ``repetition_penalty`` and ``unknown`` are extras)."""
    name, engine = server.engine_for(body.model)
    job = build_job(body, engine.generator, server)
    prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
    prompt_tokens = sum(len(p) for p in job.prompts)
    request.state.log = {
        "model": name,
        "choices": job.rows,
        "max_tokens": job.max_tokens,
        "stream": body.stream,
        "prompt_tokens": prompt_tokens,
    }
    completion_id = f"cmpl-{uuid.uuid4().hex}"
    now = int(time.time())
    start(job, engine, server.settings.request_timeout)
    gone = asyncio.ensure_future(wait_disconnect(request))
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = _Stream(completion_id, now, name, include_usage)
        return StreamingResponse(
            stream.events(job, gone, prompts if body.echo else None, prompt_tokens, request),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    texts: dict[int, str] = {}
    reasons: dict[int, str] = {}
    tokens = 0
    try:
        while True:
            events = await next_events(job, gone)
            for ev in events:
                if ev[0] == "done":
                    _, choice, text, reason, n_tokens = ev
                    texts[choice] = (prompts[choice // job.n] + text) if body.echo else text
                    reasons[choice] = reason
                    tokens += n_tokens
                elif ev[0] == "error":
                    raise from_exception(ev[1])
            if any(ev[0] == "end" for ev in events):
                break
    except _ClientGone:
        request.state.log["disconnected"] = True
        return Response(status_code=499)
    finally:
        job.cancel()
        gone.cancel()
    request.state.log["completion_tokens"] = tokens
    return CompletionResponse(
        id=completion_id,
        created=now,
        model=name,
        choices=[CompletionChoice(index=i, text=texts[i], finish_reason=reasons[i]) for i in sorted(texts)],
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=tokens, total_tokens=prompt_tokens + tokens),
    )


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"


class _Stream:
    """Server-Sent Events framing of one streamed completion."""

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool) -> None:
        self.completion_id, self.created, self.model = completion_id, created, model
        self.include_usage = include_usage

    def chunk(self, choices: list[dict], usage: dict | None = None) -> str:
        data: dict[str, Any] = {
            "id": self.completion_id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            data["usage"] = usage
        return _sse(data)

    @staticmethod
    def choice(index: int, text: str, reason: str | None = None) -> dict:
        return {"index": index, "text": text, "logprobs": None, "finish_reason": reason}

    async def events(
        self, job: Job, gone: asyncio.Future, echo: list[str] | None, prompt_tokens: int, request: Request
    ) -> AsyncIterator[str]:
        """The event stream: text chunks, one final chunk per choice, usage (if asked) and ``[DONE]``."""
        tokens = 0
        try:
            if echo is not None:
                yield "".join(self.chunk([self.choice(i, echo[i // job.n])]) for i in range(job.rows))
            while True:
                events = await next_events(job, gone)
                out = []
                for ev in events:
                    if ev[0] == "text":
                        out.append(self.chunk([self.choice(ev[1], ev[2])]))
                    elif ev[0] == "done":
                        tokens += ev[4]
                        out.append(self.chunk([self.choice(ev[1], "", ev[3])]))
                    elif ev[0] == "error":
                        out.append(_sse(from_exception(ev[1]).body()))
                        request.state.log["error"] = type(ev[1]).__name__
                        yield "".join(out)
                        return
                    elif ev[0] == "end":
                        if self.include_usage:
                            usage = {
                                "prompt_tokens": prompt_tokens,
                                "completion_tokens": tokens,
                                "total_tokens": prompt_tokens + tokens,
                            }
                            out.append(self.chunk([], usage))
                        out.append("data: [DONE]\n\n")
                        yield "".join(out)
                        return
                if out:
                    yield "".join(out)
        except _ClientGone:
            request.state.log["disconnected"] = True
        except RequestTimeout as exc:
            yield _sse(from_exception(exc).body())
        finally:
            job.cancel()
            gone.cancel()
            request.state.log["completion_tokens"] = tokens
