"""The FastAPI app: OpenAI-compatible completions, the temperature lens, and the web page."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from dreamwright import __version__
from dreamwright._validate import positive_int
from dreamwright.errors import DreamwrightError, InvalidArgument, VocabularyError
from dreamwright.generation.generator import Generator
from dreamwright.generation.sampling import SamplingParams
from dreamwright.serve.engine import Engine, EngineClosed, Job, QueueFull, RequestTimeout
from dreamwright.serve.middleware import AccessLogMiddleware, BearerAuthMiddleware, BodyLimitMiddleware
from dreamwright.serve.schemas import (
    Candidate,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    ErrorResponse,
    Health,
    ModelCard,
    ModelList,
    NextTokenRequest,
    NextTokenResponse,
    Usage,
)
from dreamwright.serve.settings import ServeSettings

log = logging.getLogger("dreamwright.serve")
STATIC_DIR = Path(__file__).parent / "static"
MAX_STOPS = 8
PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


class APIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


class _ClientGone(Exception):
    """The client closed the connection."""


def _from_exception(exc: BaseException) -> APIError:
    """Map errors from validation and the engine to API errors."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, QueueFull):
        return APIError(
            429, f"{exc}; retry shortly", "rate_limit_error", code="queue_full", headers={"retry-after": "1"}
        )
    if isinstance(exc, RequestTimeout):
        return APIError(504, str(exc), "timeout_error", code="timeout")
    if isinstance(exc, EngineClosed):
        return APIError(503, str(exc), "server_error", code="shutting_down")
    if isinstance(exc, VocabularyError):
        return APIError(400, str(exc), param=exc.param or "prompt", code="unknown_token")
    if isinstance(exc, DreamwrightError):
        return APIError(400, str(exc), param=exc.param, code="invalid_value")
    return APIError(500, "internal server error", "server_error")


_ERRORS = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "Invalid parameters, or prompt tokens the model does not know."),
        (401, "Missing or wrong API key (when the server requires one)."),
        (404, "Unknown model."),
        (413, "Request body too large."),
        (429, "The model's queue is full; retry shortly."),
        (504, "The request ran past the server's time limit."),
    )
}


def _family(g: Generator) -> str | None:
    model = g.config.get("model")
    name = model.get("name") if isinstance(model, dict) else None
    return name or getattr(g.model, "family", None)


def _as_dict(generators: Generator | Sequence[Generator] | Mapping[str, Generator]) -> dict[str, Generator]:
    if isinstance(generators, Generator):
        generators = [generators]
    if isinstance(generators, Mapping):
        named = dict(generators)
    else:
        named = {}
        for g in generators:
            if g.name in named:
                raise InvalidArgument(f"two models are both called {g.name!r}; name them with NAME=RUN_DIR")
            named[g.name] = g
    if not named:
        raise InvalidArgument("give at least one model to serve")
    return named


def create_app(
    generators: Generator | Sequence[Generator] | Mapping[str, Generator],
    settings: ServeSettings | None = None,
) -> FastAPI:
    """Build the FastAPI app serving ``generators`` (model id = run name, or the mapping's keys)."""
    settings = (settings or ServeSettings()).validate()
    models = _as_dict(generators)
    engines = {
        name: Engine(g, max_batch_rows=settings.max_batch_rows, max_queue=settings.max_queue)
        for name, g in models.items()
    }
    created = int(time.time())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for engine in engines.values():
            engine.start()
        try:
            yield
        finally:
            for engine in engines.values():
                await asyncio.to_thread(engine.stop)

    app = FastAPI(
        title="dreamwright",
        version=__version__,
        description="Generate text with dreamwright models through an OpenAI-compatible API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engines = engines

    # ------------------------------------------------------------------ errors
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(DreamwrightError)
    async def _dw_error(request: Request, exc: DreamwrightError) -> JSONResponse:
        return _from_exception(exc).response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        if first.get("type") == "json_invalid":
            return APIError(400, "the request body is not valid JSON", code="invalid_json").response()
        if not loc:
            return APIError(
                400, f"invalid request body: {first.get('msg', 'expected a JSON object')}"
            ).response()
        param = loc[0]
        what = "unrecognized request argument" if first.get("type") == "extra_forbidden" else first.get("msg")
        return APIError(400, f"{'.'.join(loc)}: {what}", param=param, code="invalid_value").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return APIError(exc.status_code, str(exc.detail), type_).response()

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _from_exception(exc).response()

    # ------------------------------------------------------------------ helpers
    def engine_for(model: str | None) -> tuple[str, Engine]:
        if model is None:
            name = next(iter(engines))
            return name, engines[name]
        if model not in engines:
            raise APIError(
                404,
                f"the model {model!r} does not exist; available: {', '.join(engines)}",
                param="model",
                code="model_not_found",
            )
        return model, engines[model]

    def encode(generator: Generator, text: str, unknown: str, param: str) -> list[int]:
        try:
            ids = generator.encode_prompt(text, unknown)
        except VocabularyError as exc:
            exc.param = param
            raise
        if len(ids) > settings.max_prompt_tokens:
            raise APIError(
                400,
                f"{param} has {len(ids)} tokens; this server accepts at most {settings.max_prompt_tokens}",
                param=param,
                code="context_length_exceeded",
            )
        return ids

    def build_job(body: CompletionRequest, generator: Generator) -> Job:
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
                f"n × number of prompts is {body.n * len(prompts)}; this server allows at most "
                f"{settings.max_n}",
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
        ids = [encode(generator, p, body.unknown, "prompt") for p in prompts]
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
            prompts=ids,
            params=params,
            max_tokens=max_tokens,
            n=body.n,
            stops=stops,
            seed=seed,
            stream=body.stream,
        )

    async def wait_disconnect(request: Request) -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                return

    async def next_events(job: Job, gone: asyncio.Future) -> list[tuple]:
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

    def start(job: Job, engine: Engine) -> None:
        job.loop = asyncio.get_running_loop()
        job.queue = asyncio.Queue()
        job.deadline = time.monotonic() + settings.request_timeout
        try:
            engine.submit(job)
        except (QueueFull, EngineClosed) as exc:
            raise _from_exception(exc) from None

    # ------------------------------------------------------------------ API
    @app.get("/healthz", response_model=Health, tags=["server"])
    async def healthz() -> Health:
        """Liveness: the loaded models and the current load."""
        return Health(
            models=list(engines),
            active_rows=sum(e.active_rows for e in engines.values()),
            waiting=sum(e.waiting for e in engines.values()),
        )

    @app.get("/v1/models", response_model=ModelList, responses=_ERRORS, tags=["openai"])
    async def list_models() -> ModelList:
        """The models loaded at start (id = the run's name)."""
        cards = []
        for name, g in models.items():
            cards.append(
                ModelCard(
                    id=name,
                    created=created,
                    family=_family(g),
                    tokenizer=getattr(g.tokenizer, "kind", None),
                    vocab_size=g.model.vocab_size,
                    parameters=g.model.num_parameters(),
                )
            )
        return ModelList(data=cards)

    @app.get("/v1/models/{model_id}", response_model=ModelCard, responses=_ERRORS, tags=["openai"])
    async def get_model(model_id: str) -> ModelCard:
        """One loaded model."""
        engine_for(model_id)
        return next(c for c in (await list_models()).data if c.id == model_id)

    @app.post(
        "/v1/completions",
        response_model=CompletionResponse,
        tags=["openai"],
        responses={
            **_ERRORS,
            200: {
                "description": "A completion, or with `stream: true` Server-Sent "
                "Events of completion chunks ending with `data: [DONE]`.",
                "content": {"text/event-stream": {}},
            },
        },
    )
    async def completions(body: CompletionRequest, request: Request) -> Any:
        """OpenAI's completions endpoint (``top_k``, ``repetition_penalty`` and ``unknown`` are extras)."""
        name, engine = engine_for(body.model)
        job = build_job(body, engine.generator)
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
        start(job, engine)
        gone = asyncio.ensure_future(wait_disconnect(request))
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(
                _sse(
                    job,
                    gone,
                    completion_id,
                    now,
                    name,
                    prompts if body.echo else None,
                    prompt_tokens,
                    include_usage,
                    request,
                ),
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
                        raise _from_exception(ev[1])
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
            choices=[
                CompletionChoice(index=i, text=texts[i], finish_reason=reasons[i]) for i in sorted(texts)
            ],
            usage=Usage(
                prompt_tokens=prompt_tokens, completion_tokens=tokens, total_tokens=prompt_tokens + tokens
            ),
        )

    async def _sse(
        job: Job,
        gone: asyncio.Future,
        completion_id: str,
        created_at: int,
        name: str,
        echo: list[str] | None,
        prompt_tokens: int,
        include_usage: bool,
        request: Request,
    ) -> AsyncIterator[str]:
        def chunk(choices: list[dict], usage: dict | None = None) -> str:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "text_completion",
                "created": created_at,
                "model": name,
                "choices": choices,
            }
            if include_usage:
                data["usage"] = usage
            return f"data: {json.dumps(data)}\n\n"

        def choice(index: int, text: str, reason: str | None = None) -> dict:
            return {"index": index, "text": text, "logprobs": None, "finish_reason": reason}

        tokens = 0
        try:
            if echo is not None:
                yield "".join(chunk([choice(i, echo[i // job.n])]) for i in range(job.rows))
            while True:
                events = await next_events(job, gone)
                out = []
                for ev in events:
                    if ev[0] == "text":
                        out.append(chunk([choice(ev[1], ev[2])]))
                    elif ev[0] == "done":
                        tokens += ev[4]
                        out.append(chunk([choice(ev[1], "", ev[3])]))
                    elif ev[0] == "error":
                        out.append(f"data: {json.dumps(_from_exception(ev[1]).body())}\n\n")
                        request.state.log["error"] = type(ev[1]).__name__
                        yield "".join(out)
                        return
                    elif ev[0] == "end":
                        if include_usage:
                            out.append(
                                chunk(
                                    [],
                                    {
                                        "prompt_tokens": prompt_tokens,
                                        "completion_tokens": tokens,
                                        "total_tokens": prompt_tokens + tokens,
                                    },
                                )
                            )
                        out.append("data: [DONE]\n\n")
                        yield "".join(out)
                        return
                if out:
                    yield "".join(out)
        except _ClientGone:
            request.state.log["disconnected"] = True
        except RequestTimeout as exc:
            yield f"data: {json.dumps(_from_exception(exc).body())}\n\n"
        finally:
            job.cancel()
            gone.cancel()
            request.state.log["completion_tokens"] = tokens

    @app.post("/v1/next-token", response_model=NextTokenResponse, responses=_ERRORS, tags=["dreamwright"])
    async def next_token(body: NextTokenRequest, request: Request) -> NextTokenResponse:
        """The temperature lens: the next token's top candidates, before and after reweighting by T."""
        name, engine = engine_for(body.model)
        generator = engine.generator
        SamplingParams(temperature=body.temperature)
        positive_int("top_n", body.top_n)
        if body.top_n > settings.max_top_n:
            raise InvalidArgument(f"top_n must be at most {settings.max_top_n}", param="top_n")
        ids = encode(generator, body.context, body.unknown, "context")
        request.state.log = {"model": name, "prompt_tokens": len(ids)}
        try:
            fut = engine.call(
                lambda: generator.next_token_distribution(
                    body.context, body.temperature, min(body.top_n, generator.model.vocab_size), body.unknown
                )
            )
        except (QueueFull, EngineClosed) as exc:
            raise _from_exception(exc) from None
        try:
            rows = await asyncio.wait_for(asyncio.wrap_future(fut), settings.request_timeout)
        except asyncio.TimeoutError:
            fut.cancel()
            raise _from_exception(RequestTimeout("the request ran past the server's time limit")) from None
        return NextTokenResponse(
            model=name,
            temperature=body.temperature,
            context_tokens=len(ids),
            candidates=[Candidate(**r) for r in rows],
        )

    # ------------------------------------------------------------------ web page
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # the 作诗姬 page and POST /v1/poems (the bundled poetry model, loaded on first use)
    from dreamwright.poetry.web import router as poetry_router

    app.include_router(poetry_router())

    # ------------------------------------------------------------------ middleware (last added = outermost)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.api_key:
        app.add_middleware(BearerAuthMiddleware, api_key=settings.api_key)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
            expose_headers=["x-request-id"],
        )
    app.add_middleware(AccessLogMiddleware)
    return app
