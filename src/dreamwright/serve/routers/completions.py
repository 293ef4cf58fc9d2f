"""``POST /v1/completions``: OpenAI's completions endpoint, answered as JSON or as Server-Sent Events.

A request becomes an engine :class:`~dreamwright.serve.engine.Job`; the engine's thread decodes it and
delivers events (``text``, ``done``, ``error``, ``end``) to the job's asyncio queue, which this module
turns into a response. With ``echo`` and ``logprobs`` the prompt is scored first, on the engine's thread
(:func:`~dreamwright.training.evaluate.token_logprobs`): what evaluation harnesses read.
"""

from __future__ import annotations

import functools
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request

from dreamwright._validate import positive_int
from dreamwright.errors import InvalidArgument
from dreamwright.generation import Generator
from dreamwright.serve.core import TextEngine
from dreamwright.serve.engine import Job, TokenLogprob
from dreamwright.serve.errors import ERROR_RESPONSES, APIError
from dreamwright.serve.jobs import (
    EventStream,
    Finished,
    launch,
    new_job,
    respond,
    run_task,
    stop_list,
    unsupported,
    usage,
)
from dreamwright.serve.schemas import (
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    CompletionResponse,
    Usage,
)
from dreamwright.serve.state import Server, ServerState
from dreamwright.training.evaluate import TokenScores, token_logprobs

#: OpenAI's limit on ``logprobs`` for completions
MAX_LOGPROBS = 5

router = APIRouter()


@dataclass(frozen=True)
class Prompt:
    """One prompt: the text ``echo`` puts in front of its choices, and its token ids."""

    text: str
    ids: list[int]


def read_prompts(body: CompletionRequest, generator: Generator, server: ServerState) -> list[Prompt]:
    """The request's prompts: a text, a list of texts, one list of token ids or a list of them."""
    prompt = body.prompt
    items = [prompt] if isinstance(prompt, str) or (prompt and isinstance(prompt[0], int)) else list(prompt)
    if not items:
        raise InvalidArgument("prompt must not be an empty list", param="prompt")
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(Prompt(item, server.encode(generator, item, body.unknown, "prompt")))
        else:
            ids = server.token_ids(generator, list(item), "prompt")
            out.append(Prompt(generator.tokenizer.decode(ids), ids))
    return out


def scores_prompt(body: CompletionRequest) -> bool:
    """Whether the request asks for the prompt's log-probabilities (``echo`` with ``logprobs``)."""
    return body.echo and body.logprobs is not None


def check_request(body: CompletionRequest, generator: Generator) -> None:
    """Refuse what dreamwright does not do before any work is queued."""
    unsupported([
        ("best_of", body.best_of not in (None, body.n)),
        ("frequency_penalty", body.frequency_penalty not in (None, 0)),
        ("presence_penalty", body.presence_penalty not in (None, 0)),
        ("logit_bias", bool(body.logit_bias)),
        ("suffix", bool(body.suffix)),
    ])
    positive_int("n", body.n)
    if body.logprobs is not None and not 0 <= body.logprobs <= MAX_LOGPROBS:
        raise InvalidArgument(f"logprobs must be in 0..{MAX_LOGPROBS}, got {body.logprobs}", param="logprobs")
    if scores_prompt(body) and generator.conditional:
        raise APIError(400, f"{generator.name} is a seq2seq model: only a language model scores a prompt (echo "
                       "with logprobs)", param="echo", code="unsupported")
    if body.max_tokens == 0 and not scores_prompt(body):
        raise InvalidArgument("max_tokens 0 (score the prompt only) needs echo and logprobs", param="max_tokens")
    if body.max_tokens == 0 and body.stream:
        raise APIError(400, "stream with max_tokens 0 is not supported by dreamwright", param="stream",
                       code="unsupported")


def build_job(body: CompletionRequest, generator: Generator, server: ServerState, prompts: list[Prompt]) -> Job:
    """Turn a checked request into a job for the engine. A scored prompt longer than a GPT's context is
    continued from its last tokens that fit (the sliding window that scored it reads no more)."""
    stops = stop_list(body.stop, generator.stops(None))  # a seq2seq model's reply ends at EOS
    ids = [p.ids for p in prompts]
    limit = getattr(generator.model, "context_limit", None)
    keep = (limit or 0) - (server.settings.default_max_tokens if body.max_tokens is None else body.max_tokens)
    if scores_prompt(body) and limit is not None and keep > 0:
        ids = [p[-keep:] for p in ids]
    return new_job(server, generator, ids, body, stops=stops, max_tokens=body.max_tokens, logprobs=body.logprobs)


async def score_prompts(engine: TextEngine, prompts: list[Prompt], top: int, timeout: float,
                        request: Request | None = None) -> list[CompletionLogprobs]:
    """Each prompt's ``logprobs`` object, scored on the engine's thread (cancelled if the client leaves)."""
    generator = engine.generator
    scored = await run_task(
        engine, "scoring",
        lambda task: [token_logprobs(generator.model, p.ids, top=top, device=generator.device) for p in prompts],
        timeout, request)
    return [prompt_logprobs(generator.tokenizer.token_text, p.ids, s) for p, s in zip(prompts, scored, strict=True)]


def prompt_logprobs(token_text: Callable[[int], str], ids: list[int], scores: TokenScores) -> CompletionLogprobs:
    """A prompt's ``logprobs`` object: its first token has no log-probability and no alternatives (null)."""
    tokens = [token_text(t) for t in ids]
    chosen, best = scores
    top = [{token_text(t): lp for t, lp in row} for row in best] if best else [{} for _ in chosen]
    return CompletionLogprobs(tokens=tokens, token_logprobs=[None, *chosen], top_logprobs=[None, *top],
                              text_offset=list(itertools.accumulate((len(t) for t in tokens[:-1]), initial=0)))


def completion_logprobs(entries: list[TokenLogprob] | None, prompt: CompletionLogprobs | None = None,
                        shift: int = 0) -> CompletionLogprobs | None:
    """OpenAI's completions ``logprobs`` object (``top_logprobs`` is a ``{token: logprob}`` per token): the
    ``prompt``'s entries, when it was scored, then the generated tokens' (their offsets moved by ``shift``)."""
    if entries is None:
        return prompt
    return CompletionLogprobs(
        tokens=(prompt.tokens if prompt else []) + [e.token for e in entries],
        token_logprobs=(prompt.token_logprobs if prompt else []) + [e.logprob for e in entries],
        top_logprobs=(prompt.top_logprobs if prompt else []) + [dict(e.top) for e in entries],
        text_offset=(prompt.text_offset if prompt else []) + [e.offset + shift for e in entries],
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
    name, engine = server.engine_for(body.model)
    check_request(body, engine.generator)
    prompts = read_prompts(body, engine.generator, server)
    scored = (await score_prompts(engine, prompts, body.logprobs or 0, server.settings.request_timeout, request)
              if scores_prompt(body) else None)
    completion_id = f"cmpl-{uuid.uuid4().hex}"
    if body.max_tokens == 0:
        return _prompts_only(body, request, name, prompts, scored or [], completion_id)
    launched = launch(body, request, server, functools.partial(build_job, prompts=prompts))
    n = launched.job.n

    def answer(done: Finished) -> CompletionResponse:
        choices = []
        for i, text in sorted(done.texts.items()):
            prompt = prompts[i // n]
            entries = done.logprobs.get(i, []) if body.logprobs is not None else None
            choices.append(CompletionChoice(
                index=i, text=prompt.text + text if body.echo else text, finish_reason=done.reasons[i],
                logprobs=completion_logprobs(entries, scored and scored[i // n], len(prompt.text) if body.echo else 0),
            ))
        return CompletionResponse(id=completion_id, created=launched.created, model=name, choices=choices,
                                  usage=Usage(**usage(launched.prompt_tokens, done.tokens)))

    echo = [p.text for p in prompts] if body.echo else None
    return await respond(launched, body, request, completion_id, lambda *head: _Stream(*head, echo, scored), answer)


def _prompts_only(body: CompletionRequest, request: Request, name: str, prompts: list[Prompt],
                  scored: list[CompletionLogprobs], completion_id: str) -> CompletionResponse:
    """The answer to ``max_tokens: 0``: each prompt, scored, and nothing generated."""
    prompt_tokens = sum(len(p.ids) for p in prompts)
    rows = len(prompts) * body.n
    request.state.log = {"model": name, "choices": rows, "max_tokens": 0, "stream": False,
                         "prompt_tokens": prompt_tokens, "completion_tokens": 0}
    return CompletionResponse(
        id=completion_id, created=int(time.time()), model=name,
        choices=[CompletionChoice(index=i, text=prompts[i // body.n].text, logprobs=scored[i // body.n],
                                  finish_reason="length") for i in range(rows)],
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=0, total_tokens=prompt_tokens),
    )


class _Stream(EventStream):
    """Completion chunks: ``{"text", "logprobs", "finish_reason"}`` per choice (an echoed prompt first, with
    its log-probabilities when it was scored)."""

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool, prompt_tokens: int,
                 echo: list[str] | None, scored: list[CompletionLogprobs] | None = None) -> None:
        super().__init__(completion_id, created, model, include_usage, prompt_tokens)
        self.echo = echo
        self.scored = scored
        self.n = 1

    def opening(self, job: Job) -> list[str]:
        self.n = job.n
        if self.echo is None:
            return []
        return [self.chunk([self._choice(i, self.echo[i // job.n], self.scored and self.scored[i // job.n], None)])
                for i in range(job.rows)]

    def text_choice(self, index: int, text: str, logprobs: list[TokenLogprob] | None) -> dict:
        return self._choice(index, text, completion_logprobs(logprobs, shift=self._shift(index)), None)

    def final_choice(self, index: int, reason: str, logprobs: list[TokenLogprob] | None) -> dict:
        lp = completion_logprobs(logprobs, shift=self._shift(index)) if logprobs else None
        return self._choice(index, "", lp, reason)

    def _shift(self, index: int) -> int:
        """Where choice ``index``'s generated text starts in the whole choice's text."""
        return len(self.echo[index // self.n]) if self.echo is not None else 0

    @staticmethod
    def _choice(index: int, text: str, logprobs: CompletionLogprobs | None, reason: str | None) -> dict:
        return {"index": index, "text": text, "logprobs": logprobs and logprobs.model_dump(), "finish_reason": reason}
