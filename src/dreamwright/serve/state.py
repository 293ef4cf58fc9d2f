"""What the routers share: the settings and the loaded models' engines, kept in ``app.state.server``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from dreamwright.errors import VocabularyError
from dreamwright.generation.generator import Generator
from dreamwright.serve.core import TextEngine
from dreamwright.serve.errors import APIError
from dreamwright.serve.lanes import Lane
from dreamwright.serve.settings import ServeSettings


@dataclass
class ServerState:
    """The server's settings, its engines by model id (in load order), its start time, its metrics, and the
    lanes that run everything else (poetry, drawing, images; see :mod:`dreamwright.serve.lanes`)."""

    settings: ServeSettings
    engines: dict[str, TextEngine]
    created: int
    metrics: Any = None  # a dreamwright.serve.metrics.Metrics
    lanes: dict[str, Lane] = field(default_factory=dict)

    def engine_for(self, model: str | None) -> tuple[str, TextEngine]:
        """The model id and engine a request names (the first loaded when it names none); 404 otherwise."""
        if model is None:
            name = next(iter(self.engines))
            return name, self.engines[name]
        if model not in self.engines:
            raise APIError(
                404,
                f"the model {model!r} does not exist; available: {', '.join(self.engines)}",
                param="model",
                code="model_not_found",
            )
        return model, self.engines[model]

    def encode(self, generator: Generator, prompt: str | list[tuple[str, str]], unknown: str,
               param: str) -> list[int]:
        """Token ids of request field ``param``, within the server's prompt limit: a text prompt (a seq2seq
        model's input) or a conversation of ``(role, content)`` messages (:meth:`Generator.encode_chat`)."""
        check_text_model(generator)
        try:
            ids = (generator.encode_prompt(prompt, unknown) if isinstance(prompt, str)
                   else generator.encode_chat(prompt, unknown))
        except VocabularyError as exc:
            exc.param = param
            raise
        return self.within_limit(ids, param)

    def token_ids(self, generator: Generator, ids: list[int], param: str) -> list[int]:
        """Request field ``param`` given as token ids: checked against the vocabulary and the prompt limit."""
        check_text_model(generator)
        if not ids:
            raise APIError(400, f"{param} must not be an empty list of token ids", param=param, code="invalid_value")
        vocab = generator.tokenizer.vocab_size
        bad = next((t for t in ids if not 0 <= t < vocab), None)
        if bad is not None:
            raise APIError(400, f"{param} has token id {bad}, outside the vocabulary of {vocab} (0..{vocab - 1})",
                           param=param, code="invalid_value")
        return self.within_limit(ids, param)

    def within_limit(self, ids: list[int], param: str) -> list[int]:
        """``ids``, or a 400 when they are more than the server's prompt limit."""
        limit = self.settings.max_prompt_tokens
        if len(ids) > limit:
            raise APIError(
                400,
                f"{param} has {len(ids)} tokens; this server accepts at most {limit}",
                param=param,
                code="context_length_exceeded",
            )
        return ids


def check_text_model(generator: Generator) -> None:
    """A 400 when ``generator`` is an audio model (it reads no text)."""
    if generator.tokenizer.kind == "mulaw":
        raise APIError(400, f"{generator.name} is an audio model: it speaks rather than writes; use POST "
                       "/v1/audio/speech", param="model", code="wrong_model_kind")


def server_state(request: Request) -> ServerState:
    """The :class:`ServerState` of the app serving ``request``."""
    return request.app.state.server


#: a route parameter annotated with this receives the server's state
Server = Annotated[ServerState, Depends(server_state)]
