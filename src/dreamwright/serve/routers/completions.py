"""``POST /v1/completions``: OpenAI's completions endpoint, answered as JSON or as Server-Sent Events.

A request becomes an engine :class:`~dreamwright.serve.engine.Job`; the engine's thread decodes it and
delivers events (``text``, ``done``, ``error``, ``end``) to the job's asyncio queue, which this module
turns into a response.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from dreamwright.errors import InvalidArgument
from dreamwright.generation import Generator
from dreamwright.serve.engine import Job, TokenLogprob
from dreamwright.serve.errors import ERROR_RESPONSES, APIError
from dreamwright.serve.jobs import (
    STREAM_HEADERS,
    ClientGone,
    EventStream,
    collect,
    launch,
    new_job,
    stop_list,
    unsupported,
)
from dreamwright.serve.schemas import (
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    CompletionResponse,
    Usage,
)
from dreamwright.serve.state import Server, ServerState

#: OpenAI's limit on ``logprobs`` for completions
MAX_LOGPROBS = 5

router = APIRouter()


def build_job(body: CompletionRequest, generator: Generator, server: ServerState) -> Job:
    """Validate a request against the server's limits and turn it into a job for the engine."""
    prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
    if not prompts:
        raise InvalidArgument("prompt must not be an empty list", param="prompt")
    stops = stop_list(body.stop, generator.stops(None))  # a seq2seq model's reply ends at EOS
    unsupported([
        ("best_of", body.best_of not in (None, body.n)),
        ("frequency_penalty", body.frequency_penalty not in (None, 0)),
        ("presence_penalty", body.presence_penalty not in (None, 0)),
        ("logit_bias", bool(body.logit_bias)),
        ("suffix", bool(body.suffix)),
    ])
    if body.logprobs is not None:
        if not 0 <= body.logprobs <= MAX_LOGPROBS:
            raise InvalidArgument(f"logprobs must be in 0..{MAX_LOGPROBS}, got {body.logprobs}", param="logprobs")
        if body.echo:
            raise APIError(400, "logprobs with echo (the prompt's log-probabilities) is not supported by dreamwright",
                           param="logprobs", code="unsupported")
    ids = [server.encode(generator, p, body.unknown, "prompt") for p in prompts]
    return new_job(server, generator, ids, body, stops=stops, max_tokens=body.max_tokens, logprobs=body.logprobs)


def completion_logprobs(entries: list[TokenLogprob] | None) -> CompletionLogprobs | None:
    """OpenAI's completions ``logprobs`` object (``top_logprobs`` is a ``{token: logprob}`` per token)."""
    if entries is None:
        return None
    return CompletionLogprobs(
        tokens=[e.token for e in entries],
        token_logprobs=[e.logprob for e in entries],
        top_logprobs=[dict(e.top) for e in entries],
        text_offset=[e.offset for e in entries],
    )


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
    launched = launch(body, request, server, build_job)
    name, job, gone, now, prompt_tokens = (launched.model, launched.job, launched.gone, launched.created,
                                           launched.prompt_tokens)
    prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
    completion_id = f"cmpl-{uuid.uuid4().hex}"
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = _Stream(completion_id, now, name, include_usage, prompt_tokens, prompts if body.echo else None)
        return StreamingResponse(stream.events(job, gone, request), media_type="text/event-stream",
                                 headers=STREAM_HEADERS)
    try:
        done = await collect(job, gone)
    except ClientGone:
        request.state.log["disconnected"] = True
        return Response(status_code=499)
    request.state.log["completion_tokens"] = done.tokens
    return CompletionResponse(
        id=completion_id,
        created=now,
        model=name,
        choices=[
            CompletionChoice(
                index=i,
                text=(prompts[i // job.n] + text) if body.echo else text,
                logprobs=completion_logprobs(done.logprobs.get(i, []) if job.logprobs is not None else None),
                finish_reason=done.reasons[i],
            )
            for i, text in sorted(done.texts.items())
        ],
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=done.tokens,
                    total_tokens=prompt_tokens + done.tokens),
    )


class _Stream(EventStream):
    """Completion chunks: ``{"text", "logprobs", "finish_reason"}`` per choice."""

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool, prompt_tokens: int,
                 echo: list[str] | None) -> None:
        super().__init__(completion_id, created, model, include_usage, prompt_tokens)
        self.echo = echo

    def opening(self, job: Job) -> list[str]:
        if self.echo is None:
            return []
        return [self.chunk([self.text_choice(i, self.echo[i // job.n], None)]) for i in range(job.rows)]

    def text_choice(self, index: int, text: str, logprobs: list[TokenLogprob] | None) -> dict:
        lp = completion_logprobs(logprobs)
        return {"index": index, "text": text, "logprobs": lp and lp.model_dump(), "finish_reason": None}

    def final_choice(self, index: int, reason: str, logprobs: list[TokenLogprob] | None) -> dict:
        lp = completion_logprobs(logprobs) if logprobs else None
        return {"index": index, "text": "", "logprobs": lp and lp.model_dump(), "finish_reason": reason}
