"""The FastAPI app: wires the routers, the error handlers and the middleware around the models' engines.

Each concern lives in its own module: :mod:`dreamwright.serve.routers` (one router per endpoint group),
:mod:`dreamwright.serve.errors` (the one error type and body), :mod:`dreamwright.serve.middleware` (access
log, body limit, auth) and :mod:`dreamwright.serve.state` (what the routers share).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from dreamwright import __version__
from dreamwright.errors import InvalidArgument
from dreamwright.generation.generator import Generator
from dreamwright.serve.core import TextEngine, make_engine
from dreamwright.serve.errors import install_handlers
from dreamwright.serve.lanes import Lane
from dreamwright.serve.metrics import Metrics
from dreamwright.serve.middleware import AccessLogMiddleware, BearerAuthMiddleware, BodyLimitMiddleware
from dreamwright.serve.routers import (
    audio,
    catalog,
    chat,
    completions,
    drawing,
    images,
    next_token,
    page,
    poetry,
    tokenizer,
)
from dreamwright.serve.settings import ServeSettings
from dreamwright.serve.state import ServerState

if TYPE_CHECKING:  # pragma: no cover
    from dreamwright.image.draw import Drawer


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
    *,
    image_models: drawing.ImageModels | Mapping[str, Drawer] | None = None,
) -> FastAPI:
    """Build the FastAPI app serving ``generators`` (model id = run name, or the mapping's keys), and drawing
    with ``image_models`` (a mapping id → Drawer, and the bundled image models; default: the bundled ones)."""
    settings = (settings or ServeSettings()).validate()
    if not isinstance(image_models, drawing.ImageModels):
        image_models = drawing.ImageModels(image_models)
    # text is decoded on a worker thread, or in an engine core process of its own (settings.engine; core.py)
    engines = {name: make_engine(g, settings) for name, g in _as_dict(generators).items()}
    # one job system: text on each model's engine, everything else on a lane of its own (lanes.py)
    lanes = {"poetry": Lane("poetry", max_queue=settings.max_queue),
             "drawing": Lane("drawing", max_queue=settings.max_queue),
             "images": images.images_lane()}
    workers: list[TextEngine | Lane] = [*engines.values(), *lanes.values()]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:  # an engine core process loads its model as it starts: side by side, off the event loop
            await asyncio.gather(*(asyncio.to_thread(worker.start) for worker in workers))
            yield
        finally:
            await asyncio.gather(*(asyncio.to_thread(worker.stop) for worker in workers))

    app = FastAPI(
        title="dreamwright",
        version=__version__,
        description="Generate text with dreamwright models through an OpenAI-compatible API.",
        lifespan=lifespan,
    )
    metrics = Metrics()
    metrics.watch(engines)
    metrics.watch_lanes(lanes)
    app.state.server = ServerState(settings=settings, engines=engines, created=int(time.time()), metrics=metrics,
                                   lanes=lanes)
    app.state.settings = settings
    app.state.engines = engines
    install_handlers(app)

    for router in (catalog.router, completions.router, chat.router, next_token.router, audio.router, page.router,
                   tokenizer.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    # the 作诗姬 page and POST /v1/poems (the bundled poetry model, loaded on first use)
    app.include_router(poetry.router(lane=lanes["poetry"], timeout=settings.request_timeout))
    # drawing with GANs and VAEs: /v1/images/generations (OpenAI's shape), before the style-transfer routes, whose
    # GET /v1/images/{job_id} would otherwise take /v1/images/models
    app.include_router(drawing.router(image_models, lane=lanes["drawing"], timeout=settings.request_timeout))
    # the image page and POST /v1/images (style transfer, DeepDream; one job at a time, bounded size)
    app.include_router(images.router(lanes["images"]))

    # middleware: the last added is the outermost
    larger = {"/v1/images": images.BODY_LIMIT, "/v1/audio/spectrogram": audio.SPECTROGRAM_BODY_LIMIT}
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, larger=larger)
    if settings.api_key:
        app.add_middleware(BearerAuthMiddleware, api_key=settings.api_key)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id", "x-conditions", "x-seed", "x-sample-rate"],
        )
    app.add_middleware(AccessLogMiddleware, metrics=metrics)
    return app
