"""``dreamwright serve``: the command registered on the main CLI."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from dreamwright.serve.settings import API_KEY_ENV, ServeSettings

_DEFAULTS = ServeSettings()
_FLAGS = {  # settings field -> option, longest first so no name is replaced inside another
    "max_prompt_tokens": "--max-prompt-tokens",
    "engine_threads": "--engine-threads",
    "max_body_bytes": "--max-body-bytes",
    "max_batch_rows": "--max-batch",
    "request_timeout": "--timeout",
    "max_tokens": "--max-tokens",
    "max_queue": "--queue-size",
    "max_n": "--max-n",
    "port": "--port",
}


def serve(
    runs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Run directories to serve (NAME=RUN_DIR sets the model id; default: the bundled model).",
            show_default=False,
        ),
    ] = None,
    image_model: Annotated[
        list[str] | None,
        typer.Option(
            "--image-model",
            help="Image run or bundled image model to draw with at /v1/images/generations (repeatable; "
            "NAME=RUN_DIR sets its id; the first is the default). The bundled image models are always there too.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you set an API key.")
    ] = _DEFAULTS.host,
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = _DEFAULTS.port,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=API_KEY_ENV, show_envvar=True, help="Require 'Authorization: Bearer KEY' on /v1/*."
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            help="Allow browser pages from this origin (repeatable; '*' for any). CORS is off by default."
        ),
    ] = None,
    max_tokens: Annotated[
        int, typer.Option(help="Largest max_tokens a request may ask for.")
    ] = _DEFAULTS.max_tokens,
    max_prompt_tokens: Annotated[
        int, typer.Option(help="Longest prompt, in tokens.")
    ] = _DEFAULTS.max_prompt_tokens,
    max_n: Annotated[int, typer.Option(help="Most samples per request (n × prompts).")] = _DEFAULTS.max_n,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body.")] = _DEFAULTS.max_body_bytes,
    timeout: Annotated[
        float, typer.Option(help="Seconds a request may take, queueing included.")
    ] = _DEFAULTS.request_timeout,
    max_batch: Annotated[
        int, typer.Option(help="Rows decoded together per model.")
    ] = _DEFAULTS.max_batch_rows,
    queue_size: Annotated[
        int, typer.Option(help="Requests that may wait per model; more get 429.")
    ] = _DEFAULTS.max_queue,
    engine: Annotated[
        str,
        typer.Option(help="thread: decode each text model on a thread of the server (the faster on 2 cores); "
                     "process: in an engine process of its own, so the model's steps and the HTTP work do not "
                     "share one interpreter lock."),
    ] = _DEFAULTS.engine,
    engine_threads: Annotated[
        int, typer.Option(help="PyTorch threads of each engine process (--engine process).")
    ] = _DEFAULTS.engine_threads,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda | cuda:N.")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for PyTorch.")] = None,
    log_level: Annotated[str, typer.Option(help="debug | info | warning | error.")] = "info",
) -> None:
    """Serve models over an OpenAI-compatible HTTP API, with a web page that shows what temperature does (and
    draws with GANs and VAEs)."""
    from dreamwright.errors import InvalidArgument
    from dreamwright.serve.server import run

    _set_up(log_level, threads)
    if engine not in ("thread", "process"):
        raise InvalidArgument(f"--engine must be thread or process, got {engine!r}", param="engine")
    settings = ServeSettings(
        host=host,
        port=port,
        api_key=api_key,
        cors_origins=list(cors_origin or []),
        max_tokens=max_tokens,
        max_prompt_tokens=max_prompt_tokens,
        max_n=min(max_n, max_batch) if max_n == _DEFAULTS.max_n and max_batch >= 1 else max_n,
        max_body_bytes=max_body_bytes,
        request_timeout=timeout,
        max_batch_rows=max_batch,
        max_queue=queue_size,
        default_max_tokens=max(1, min(_DEFAULTS.default_max_tokens, max_tokens)),
        engine=engine,  # type: ignore[arg-type]  # validated below
        engine_threads=engine_threads,
    )
    try:
        settings.validate()
    except InvalidArgument as exc:  # name the command-line option, not the settings field
        message = str(exc)
        for field, flag in _FLAGS.items():
            message = message.replace(field, flag)
        raise InvalidArgument(message, param=exc.param) from None
    run(runs, settings, device=device, image_models=image_model)


def _set_up(log_level: str, threads: int | None) -> None:
    """Logging at ``--log-level`` to stderr, and ``--threads`` PyTorch threads in the server process."""
    from dreamwright._validate import positive_int
    from dreamwright.errors import InvalidArgument

    level = getattr(logging, log_level.upper(), None)
    if log_level.lower() not in ("debug", "info", "warning", "error") or not isinstance(level, int):
        raise InvalidArgument(f"--log-level must be debug, info, warning or error, got {log_level!r}")
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    if threads is not None:
        import torch

        torch.set_num_threads(positive_int("threads", threads))


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the main ``dreamwright`` command."""
    app.command("serve")(serve)
