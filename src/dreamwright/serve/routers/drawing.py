"""Drawing with GANs and VAEs on the server: ``POST /v1/images/generations`` in OpenAI's images shape,
``POST /v1/images/interpolations`` (a walk through the latent space) and ``GET /v1/images/models``.

``POST /v1/images/generations`` takes ``{"model": "fashion-dcgan", "prompt": "Sneaker", "n": 4, "size": "28x28",
"response_format": "b64_json", "seed": 3}`` and answers ``{"created", "data": [{"b64_json", "revised_prompt",
"seed"}], "size", "output_format", "model", "seed"}``, so ``openai.OpenAI(base_url=…).images.generate(...)``
works unchanged. The prompt is the class to draw (a name in any case, or its number) for a class-conditional
model, and empty for every class in turn or for an unconditional model; ``size`` must be the model's own;
only ``b64_json`` is returned (there are no URLs to fetch). Picture ``i`` comes from seed ``seed + i``, as
``dreamwright draw`` does. Every refusal is a 400 in the server's error shape, naming the field.

The models: those given at start (``dreamwright serve --image-model [NAME=]RUN``, loaded then) and the bundled
image models (loaded on first use); a request without ``model`` draws with the first given, else the bundled
:data:`~dreamwright.bundled.DEFAULT_IMAGE_MODEL`. Drawing is a task on the server's ``drawing`` lane
(:mod:`dreamwright.serve.lanes`), never on the event loop: 429 when its queue is full, cancelled while it waits
if the client goes away.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from dreamwright.errors import InvalidArgument
from dreamwright.image.draw import Drawer, class_names_of, fresh_seed
from dreamwright.serve.errors import ERROR_RESPONSES, APIError
from dreamwright.serve.jobs import run_task
from dreamwright.serve.lanes import Lane
from dreamwright.serve.schemas import (
    GeneratedImage,
    ImageGenerationRequest,
    ImageInterpolationRequest,
    ImageModelCard,
    ImageModelList,
    ImagesResponse,
)


class ImageModels:
    """The image models a server draws with, by id: ``drawers`` (loaded already, in order; the first is the
    default) and, when ``bundled_models``, the bundled image models, loaded on first use."""

    def __init__(self, drawers: Mapping[str, Drawer] | None = None, *, bundled_models: bool = True,
                 device: str | None = None) -> None:
        from dreamwright import bundled

        self._loaded: dict[str, Drawer] = dict(drawers or {})
        self._bundled: dict[str, Path] = {}
        if bundled_models:
            self._bundled = {p.name: p for p in bundled.image_models() if p.name not in self._loaded}
        self.device = device
        self._lock = threading.Lock()
        if self._loaded:
            self.default: str | None = next(iter(self._loaded))
        else:
            self.default = bundled.DEFAULT_IMAGE_MODEL if bundled.DEFAULT_IMAGE_MODEL in self._bundled else None

    @property
    def names(self) -> list[str]:
        return [*self._loaded, *(name for name in self._bundled if name not in self._loaded)]

    def get(self, name: str | None) -> tuple[str, Drawer]:
        """The id and drawer a request names (the default when it names none); a 404 otherwise."""
        if name is None:
            name = self.default
            if name is None:
                raise APIError(404, "this server has no image model; start it with --image-model RUN",
                               "not_found_error", param="model", code="model_not_found")
        if name not in self._loaded and name not in self._bundled:
            available = ", ".join(self.names) or "none (start the server with --image-model RUN)"
            raise APIError(404, f"the image model {name!r} does not exist; available: {available}",
                           "not_found_error", param="model", code="model_not_found")
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = Drawer.load(self._bundled[name], device=self.device)
            return name, self._loaded[name]

    def card(self, name: str) -> ImageModelCard:
        """What a client needs to draw with model ``name`` (read from its config.json when it is not loaded)."""
        drawer = self._loaded.get(name)
        if drawer is not None:
            return ImageModelCard(id=name, family=drawer.family, conditional=drawer.conditional,
                                  classes=list(drawer.class_names), size=drawer.size, channels=drawer.channels,
                                  encodes=hasattr(drawer.model, "encode"))
        from dreamwright.runs import read_config

        config = read_config(self._bundled[name])
        model = config.get("model") or {}
        conditional = bool(model.get("conditional"))
        classes = class_names_of(config, conditional=conditional, num_classes=int(model.get("num_classes") or 0))
        return ImageModelCard(id=name, family=model.get("name"), conditional=conditional, classes=list(classes),
                              size=int(model.get("size", 0)), channels=int(model.get("channels", 1)),
                              encodes=model.get("name") == "vae")


# ---------------------------------------------------------------------------------------------- requests
def _check_format(response_format: str | None) -> None:
    if response_format not in (None, "b64_json"):
        raise APIError(400, f"response_format {response_format!r} is not supported: this server returns pictures "
                       "inline only; send \"b64_json\"", param="response_format", code="invalid_value")


def _label(name: str, drawer: Drawer, prompt: str) -> int | None:
    """The class a prompt asks for (None: every class in turn, or no classes)."""
    text = prompt.strip()
    if not drawer.conditional:
        if text:
            raise APIError(400, f"{name} draws without classes; send an empty prompt", param="prompt",
                           code="invalid_value")
        return None
    if not text:
        return None
    try:
        return drawer.label_number(text)
    except InvalidArgument:
        raise APIError(400, f"prompt {text!r} is not a class of {name}; send one of: {', '.join(drawer.class_names)} "
                       "(or an empty prompt for every class in turn)", param="prompt", code="invalid_value") from None


def _png(img: Any) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _response(name: str, drawer: Drawer, pictures: Any, labels: list[int] | None,
              seeds: list[int | None]) -> ImagesResponse:
    """The response for ``pictures``: each a base64 PNG with its class and (where it has one) its seed."""
    data = [GeneratedImage(b64_json=_png(img), revised_prompt=drawer.class_name(None if labels is None else labels[i]),
                           seed=seeds[i] if i < len(seeds) else None)
            for i, img in enumerate(drawer.to_images(pictures))]
    return ImagesResponse(created=int(time.time()), data=data, size=f"{drawer.size}x{drawer.size}", model=name,
                          seed=int(seeds[0] or 0))


def generate(models: ImageModels, body: ImageGenerationRequest) -> ImagesResponse:
    """Answer ``POST /v1/images/generations``."""
    _check_format(body.response_format)
    if body.output_format not in (None, "png"):
        raise APIError(400, f"output_format {body.output_format!r} is not supported; send \"png\"",
                       param="output_format", code="invalid_value")
    if body.stream:
        raise APIError(400, "streaming is not supported; send \"stream\": false", param="stream",
                       code="invalid_value")
    name, drawer = models.get(body.model)
    own = f"{drawer.size}x{drawer.size}"
    if body.size not in (None, "auto", own):
        raise APIError(400, f"size {body.size!r} is not available: {name} draws {own} pictures only; send "
                       f"\"size\": \"{own}\"", param="size", code="invalid_value")
    label = _label(name, drawer, body.prompt)
    seed = fresh_seed() if body.seed is None else body.seed
    labels = drawer.labels(body.n, label)
    pictures = drawer.draw(body.n, label=label, seed=seed, truncation=body.truncation)
    return _response(name, drawer, pictures, labels, [seed + i for i in range(body.n)])


def interpolate(models: ImageModels, body: ImageInterpolationRequest) -> ImagesResponse:
    """Answer ``POST /v1/images/interpolations``."""
    _check_format(body.response_format)
    name, drawer = models.get(body.model)
    label = _label(name, drawer, body.prompt)
    if drawer.conditional and label is None:
        label = 0
    seed = fresh_seed() if body.seed is None else body.seed
    end = seed + 1 if body.to_seed is None else body.to_seed
    pictures = drawer.interpolate(body.steps, seeds=(seed, end), label=label, truncation=body.truncation)
    labels = None if label is None else [label] * body.steps
    return _response(name, drawer, pictures, labels, [seed, *([None] * (body.steps - 2)), end])


def router(models: ImageModels, *, lane: Lane | None = None, timeout: float = 120.0) -> APIRouter:
    """The drawing routes, drawing with ``models`` as tasks on ``lane`` (default: their own), each allowed
    ``timeout`` seconds. Include it before the style-transfer routes: its ``/v1/images/models`` must be matched
    before their ``/v1/images/{job_id}``."""
    api = APIRouter(tags=["images"])
    lane = lane or Lane("drawing")

    @api.get("/v1/images/models", response_model=ImageModelList, responses=ERROR_RESPONSES)
    def image_models() -> ImageModelList:
        """The image models this server draws with, and the classes each can draw."""
        return ImageModelList(default=models.default, data=[models.card(name) for name in models.names])

    @api.post("/v1/images/generations", response_model=ImagesResponse, responses=ERROR_RESPONSES)
    async def generations(body: ImageGenerationRequest, request: Request) -> ImagesResponse:
        """Draw pictures (OpenAI's images API): the prompt is the class, for a class-conditional model."""
        return await run_task(lane, "drawing", lambda task: generate(models, body), timeout, request)

    @api.post("/v1/images/interpolations", response_model=ImagesResponse, responses=ERROR_RESPONSES)
    async def interpolations(body: ImageInterpolationRequest, request: Request) -> ImagesResponse:
        """A walk through the latent space from one seed's picture to another's, ``steps`` pictures long."""
        return await run_task(lane, "interpolation", lambda task: interpolate(models, body), timeout, request)

    return api
