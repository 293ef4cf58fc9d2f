"""``POST /v1/next-token``: the temperature lens (the next token's candidates before and after reweighting)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from dreamwright._validate import positive_int
from dreamwright.errors import InvalidArgument
from dreamwright.generation import SamplingParams
from dreamwright.serve.errors import ERROR_RESPONSES
from dreamwright.serve.jobs import run_task
from dreamwright.serve.schemas import Candidate, NextTokenRequest, NextTokenResponse
from dreamwright.serve.state import Server

router = APIRouter()


@router.post("/v1/next-token", response_model=NextTokenResponse, responses=ERROR_RESPONSES, tags=["dreamwright"])
async def next_token(body: NextTokenRequest, request: Request, server: Server) -> NextTokenResponse:
    """The temperature lens: the next token's top candidates, before and after reweighting by T."""
    settings = server.settings
    name, engine = server.engine_for(body.model)
    generator = engine.generator
    SamplingParams(temperature=body.temperature)
    positive_int("top_n", body.top_n)
    if body.top_n > settings.max_top_n:
        raise InvalidArgument(f"top_n must be at most {settings.max_top_n}", param="top_n")
    ids = server.encode(generator, body.context, body.unknown, "context")
    request.state.log = {"model": name, "prompt_tokens": len(ids)}
    rows = await run_task(
        engine,
        "next_token",
        lambda task: generator.next_token_distribution(
            body.context, body.temperature, min(body.top_n, generator.model.vocab_size), body.unknown
        ),
        settings.request_timeout,
        request,
    )
    return NextTokenResponse(
        model=name,
        temperature=body.temperature,
        context_tokens=len(ids),
        candidates=[Candidate(**r) for r in rows],
    )
