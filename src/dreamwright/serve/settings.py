"""Server settings: limits with safe defaults, all overridable from ``dreamwright serve`` options."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Literal

from dreamwright._validate import positive_int
from dreamwright.errors import InvalidArgument

API_KEY_ENV = "DREAMWRIGHT_API_KEY"


@dataclass
class ServeSettings:
    """Everything the server needs besides the models. Validate with :meth:`validate`."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: bearer token required on /v1/* (None: no auth). The CLI also reads ``DREAMWRIGHT_API_KEY``.
    api_key: str | None = None
    #: origins allowed by CORS (empty: CORS off; ["*"]: any origin)
    cors_origins: list[str] = field(default_factory=list)
    #: longest prompt, in tokens
    max_prompt_tokens: int = 4096
    #: cap on ``max_tokens`` per request
    max_tokens: int = 2048
    #: default ``max_tokens`` when a request leaves it out (OpenAI's default)
    default_max_tokens: int = 16
    #: cap on samples per request (``n`` × number of prompts)
    max_n: int = 16
    #: largest request body accepted, in bytes
    max_body_bytes: int = 256 * 1024
    #: wall-clock limit per request, queueing included (seconds)
    request_timeout: float = 120.0
    #: rows decoded together in one batch, per model
    max_batch_rows: int = 64
    #: requests that may wait for a batch slot, per model; beyond this the server answers 429 at once
    max_queue: int = 64
    #: most candidates /v1/next-token returns
    max_top_n: int = 100
    #: seconds to wait for in-flight requests on shutdown (None: request_timeout + 5)
    graceful_timeout: float | None = None
    #: where each text model's batches are decoded: "thread" (a worker thread of the server process) or
    #: "process" (an engine core process of its own, see :mod:`dreamwright.serve.core`)
    engine: Literal["thread", "process"] = "thread"
    #: PyTorch threads of each engine core process (engine "process")
    engine_threads: int = 1

    def validate(self) -> ServeSettings:
        """Check every limit; raise :class:`InvalidArgument` naming the bad one."""
        for name in (
            "max_prompt_tokens",
            "max_tokens",
            "default_max_tokens",
            "max_n",
            "max_body_bytes",
            "max_batch_rows",
            "max_queue",
            "max_top_n",
            "engine_threads",
        ):
            positive_int(name, getattr(self, name))
        if self.engine not in ("thread", "process"):
            raise InvalidArgument(f"engine must be thread or process, got {self.engine!r}", param="engine")
        if not 0 <= int(self.port) <= 65535:
            raise InvalidArgument(f"port must be in 0..65535, got {self.port!r}", param="port")
        if not (self.request_timeout > 0 and self.request_timeout != float("inf")):
            raise InvalidArgument(
                f"request_timeout must be a positive number, got {self.request_timeout!r}",
                param="request_timeout",
            )
        if self.default_max_tokens > self.max_tokens:
            raise InvalidArgument("default_max_tokens must not exceed max_tokens", param="default_max_tokens")
        if self.max_n > self.max_batch_rows:
            raise InvalidArgument(
                f"max_n ({self.max_n}) must not exceed max_batch_rows ({self.max_batch_rows})", param="max_n"
            )
        if self.api_key is not None and not self.api_key.strip():
            raise InvalidArgument("the API key must not be empty", param="api_key")
        return self

    def replace(self, **changes: object) -> ServeSettings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def shutdown_timeout(self) -> float:
        return self.graceful_timeout if self.graceful_timeout is not None else self.request_timeout + 5


def api_key_from_env() -> str | None:
    """The API key in ``DREAMWRIGHT_API_KEY``, if set and not empty."""
    value = os.environ.get(API_KEY_ENV, "").strip()
    return value or None
