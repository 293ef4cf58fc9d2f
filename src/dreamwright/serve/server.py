"""Loading the models and running uvicorn."""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import re
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dreamwright.errors import InvalidArgument, WrongKindError
from dreamwright.generation.generator import Generator
from dreamwright.serve.settings import ServeSettings

if TYPE_CHECKING:  # pragma: no cover
    from dreamwright.image.draw import Drawer

log = logging.getLogger("dreamwright.serve")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _named(spec: str) -> tuple[str | None, str]:
    """``NAME=PATH`` → (NAME, PATH); anything else (a path that exists with "=" in it included) → (None, spec)."""
    name, sep, path = spec.partition("=")
    if sep and _NAME.match(name) and not Path(spec).exists():
        return name, path
    return None, spec


def load_generators(
    runs: Sequence[str | os.PathLike[str]] | None = None, *, device: str | None = None
) -> dict[str, Generator]:
    """Load each run (``NAME=RUN_DIR`` gives it another id); the bundled default model when none is given."""
    if not runs:
        g = Generator.load(None, device=device)
        return {g.name: g}
    out: dict[str, Generator] = {}
    for spec in runs:
        text = str(spec)
        name, path = _named(text)
        try:
            g = Generator.load(path, device=device)
        except WrongKindError as exc:
            if "holds an image model" not in str(exc):
                raise
            raise InvalidArgument(f"{path} holds an image model; serve it with --image-model {text}") from None
        g.name = name or g.name
        if not _NAME.match(g.name):
            raise InvalidArgument(f"{g.name!r} is not usable as a model id; name it with NAME={text}")
        if g.name in out:
            raise InvalidArgument(f"two runs are both called {g.name!r}; name one with NAME=RUN_DIR")
        out[g.name] = g
    return out


def load_drawers(specs: Sequence[str | os.PathLike[str]], *, device: str | None = None) -> dict[str, Drawer]:
    """Load each image run or bundled image model (``NAME=RUN_DIR`` gives it another id), for ``--image-model``."""
    from dreamwright.image.draw import Drawer

    out: dict[str, Drawer] = {}
    for spec in specs:
        text = str(spec)
        name, path = _named(text)
        drawer = Drawer.load(path, device=device)
        drawer.name = name or drawer.name
        if not _NAME.match(drawer.name):
            raise InvalidArgument(f"{drawer.name!r} is not usable as a model id; name it with --image-model "
                                  f"NAME={text}")
        if drawer.name in out:
            raise InvalidArgument(f"two image models are both called {drawer.name!r}; name one with "
                                  "--image-model NAME=RUN_DIR")
        out[drawer.name] = drawer
    return out


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: any free port), as uvicorn binds one; a port that is taken
    or not allowed is a one-line :class:`InvalidArgument` naming it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidArgument(_bind_failure(host, port, exc), param="port") from None
    sock.set_inheritable(True)
    return sock


def _bind_failure(host: str, port: int, exc: OSError) -> str:
    """What to tell a user whose ``--host``/``--port`` could not be bound."""
    if exc.errno == errno.EADDRINUSE:
        return (f"port {port} on {host} is already in use (is another server running?); pass another --port, "
                "or --port 0 for any free port")
    if exc.errno == errno.EACCES:
        return (f"port {port} on {host} is not allowed for this user (ports below 1024 need privileges); pass "
                "--port 1024 or above, or --port 0 for any free port")
    return f"cannot listen on --host {host} --port {port}: {exc.strerror or exc}"


def run(
    runs: Sequence[str | os.PathLike[str]] | None = None,
    settings: ServeSettings | None = None,
    *,
    device: str | None = None,
    on_ready: Callable[[str], None] | None = None,
    image_models: Sequence[str | os.PathLike[str]] | None = None,
) -> None:
    """Serve ``runs`` (and ``image_models`` to draw with; the bundled ones besides) with uvicorn until
    SIGINT/SIGTERM; in-flight requests are finished first."""
    import uvicorn

    from dreamwright.serve.app import create_app
    from dreamwright.serve.routers.drawing import ImageModels

    settings = (settings or ServeSettings()).validate()
    sock = bind_socket(settings.host, settings.port)  # before loading models: a taken port fails at once
    try:
        generators = load_generators(runs, device=device)
        drawers = ImageModels(load_drawers(image_models or [], device=device), device=device)
    except BaseException:
        sock.close()
        raise
    app = create_app(generators, settings, image_models=drawers)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_timeout) + 1,
        server_header=False,
    )
    server = uvicorn.Server(config)
    port = sock.getsockname()[1]
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    url = f"http://{host}:{port}"
    if not is_loopback(settings.host) and not settings.api_key:
        log.warning(
            "listening on %s without an API key: anyone who can reach this port can use it; "
            "pass --api-key or set DREAMWRIGHT_API_KEY",
            settings.host,
        )
    names = ", ".join(generators) + (f"; draws with {drawers.default}" if drawers.default else "")
    print(
        f"dreamwright serve: {len(generators)} model(s) ({names}) at {url}/  (OpenAI base_url {url}/v1)",
        file=sys.stderr,
        flush=True,
    )
    if on_ready is not None:
        on_ready(url)
    server.run(sockets=[sock])
