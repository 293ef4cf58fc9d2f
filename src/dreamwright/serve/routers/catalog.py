"""``GET /healthz`` (and ``/health``), ``GET /metrics`` and the models: ``GET /v1/models``, ``GET /v1/models/{id}``
(an audio model's card carries its conditions, the labels and speakers ``/v1/audio/speech`` takes)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from dreamwright.generation.generator import Generator
from dreamwright.generation.speech import is_audio
from dreamwright.serve.errors import ERROR_RESPONSES
from dreamwright.serve.schemas import Health, ModelCard, ModelList
from dreamwright.serve.state import Server

router = APIRouter()


def _family(g: Generator) -> str | None:
    model = g.config.get("model")
    name = model.get("name") if isinstance(model, dict) else None
    return name or getattr(g.model, "family", None)


def _card(name: str, g: Generator, created: int) -> ModelCard:
    return ModelCard(
        id=name,
        created=created,
        family=_family(g),
        tokenizer=getattr(g.tokenizer, "kind", None),
        vocab_size=g.model.vocab_size,
        parameters=g.model.num_parameters(),
        conditions=getattr(g.tokenizer, "conditions", None) if is_audio(g) else None,
        sample_rate=getattr(g.tokenizer, "sample_rate", None) if is_audio(g) else None,
    )


@router.get("/healthz", response_model=Health, tags=["server"])
@router.get("/health", response_model=Health, tags=["server"])
async def healthz(server: Server) -> Health:
    """Liveness: the loaded models and the current load (``/health`` and ``/healthz`` are the same)."""
    engines = server.engines
    return Health(
        models=list(engines),
        active_rows=sum(e.active_rows for e in engines.values()),
        waiting=sum(e.waiting for e in engines.values()),
    )


@router.get("/metrics", tags=["server"], response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
async def metrics(server: Server) -> Response:
    """Prometheus metrics: requests by route and status, tokens, queue depth, active rows, latencies."""
    from dreamwright.serve.metrics import CONTENT_TYPE

    return Response(server.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/v1/models", response_model=ModelList, responses=ERROR_RESPONSES, tags=["openai"])
async def list_models(server: Server) -> ModelList:
    """The models loaded at start (id = the run's name)."""
    return ModelList(data=[_card(name, e.generator, server.created) for name, e in server.engines.items()])


@router.get("/v1/models/{model_id}", response_model=ModelCard, responses=ERROR_RESPONSES, tags=["openai"])
async def get_model(model_id: str, server: Server) -> ModelCard:
    """One loaded model."""
    name, engine = server.engine_for(model_id)
    return _card(name, engine.generator, server.created)
