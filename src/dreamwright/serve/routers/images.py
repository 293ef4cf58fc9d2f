"""Images on the server: style transfer and DeepDream behind ``POST /v1/images``, and the page at ``GET /images``.

``POST /v1/images`` takes JSON ``{"mode": "style" | "dream", "content": DATA_URL, "style": DATA_URL, "size": 128,
"iterations": 30, "steps": 10, "octaves": 2, "seed": null}`` (images as ``data:image/png;base64,…`` or JPEG) and
answers 202 ``{"id", "status", ...}`` at once; the work is a task on the server's ``images`` lane
(:mod:`dreamwright.serve.lanes`: one job at a time, a short queue, 429 with ``Retry-After`` beyond it), and
``GET /v1/images/{id}`` reports ``status`` (queued, running, done, error, cancelled), ``done``/``total`` steps
(style transfer counts iterations, DeepDream gradient steps; both come from the run's ``on_progress``, so no
frame is drawn while a job runs) and, when done, ``result``: the URL of the PNG (``GET /v1/images/{id}/result.png``).
A client that leaves stops its job: ``DELETE /v1/images/{id}`` cancels it at once, and a job whose status nobody
has asked for in :data:`ABANDONED_AFTER` seconds is cancelled at its next step (the page polls twice a second).
Sizes are bounded (long side ≤ :data:`MAX_SIDE`), the backbone is ``auto`` (VGG19 when its weights are here,
else EfficientNet-Lite0, which works offline).
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from dreamwright.errors import DreamwrightError, InvalidArgument
from dreamwright.serve.errors import ERROR_RESPONSES, APIError, from_exception
from dreamwright.serve.lanes import Cancelled, EngineClosed, Lane, QueueFull, RequestTimeout, Task
from dreamwright.serve.routers.page import PAGE_HEADERS, STATIC_DIR

#: largest long side of a result, in pixels (the page's work must stay short on a CPU)
MAX_SIDE = 256
#: largest upload (each image, after base64 decoding)
MAX_IMAGE_BYTES = 4 * 1024 * 1024
#: jobs that may wait behind the running one; finished jobs kept for download
MAX_WAITING, MAX_KEPT = 4, 16
#: the request body limit for this route (two base64 images)
BODY_LIMIT = 12 * 1024 * 1024
#: seconds without a status request after which a job is taken as abandoned and cancelled
ABANDONED_AFTER = 30.0
#: the longest a job may run
JOB_TIMEOUT = 600.0
#: how much lower the image lane's OS priority is: text and drawing come first, painting takes what is left
IMAGE_NICE = 10


class ImageRequest(BaseModel):
    """``POST /v1/images``."""

    model_config = {"extra": "forbid"}
    mode: Literal["style", "dream"] = "style"
    content: str = Field(description="The content image as a data: URL (PNG or JPEG).")
    style: str | None = Field(None, description="The style image as a data: URL (style transfer only).")
    size: int = Field(128, ge=32, le=MAX_SIDE, description=f"Long side of the result, 32..{MAX_SIDE}.")
    iterations: int = Field(30, ge=1, le=200, description="Style transfer: optimizer iterations.")
    steps: int = Field(10, ge=1, le=50, description="DeepDream: gradient steps per octave.")
    octaves: int = Field(2, ge=1, le=4, description="DeepDream: octaves.")
    seed: int | None = None


@dataclass
class ImageJob:
    id: str
    mode: str
    status: str = "queued"
    done: int = 0
    total: int | None = None
    error: str | None = None
    png: bytes | None = None
    seconds: float | None = None
    created: float = field(default_factory=time.time)
    seen: float = field(default_factory=time.monotonic)  # when its status was last asked for
    task: Task | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "image_job",
            "mode": self.mode,
            "status": self.status,
            "done": self.done,
            "total": self.total,
            "error": self.error,
            "seconds": self.seconds,
            "result": f"/v1/images/{self.id}/result.png" if self.png is not None else None,
        }


def decode_image(data_url: str, param: str) -> Any:
    """A PIL image from a ``data:image/...;base64,`` URL (or bare base64); a 400 naming ``param`` otherwise."""
    from PIL import Image, UnidentifiedImageError

    from dreamwright.image.io import load_image

    payload = data_url.split(",", 1)[1] if data_url.startswith("data:") and "," in data_url else data_url
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"{param} must be a base64 data: URL of a PNG or JPEG image", param=param) from None
    if len(raw) > MAX_IMAGE_BYTES:
        raise InvalidArgument(f"{param} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB", param=param)
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.width * img.height > 40_000_000:
                raise InvalidArgument(f"{param} has too many pixels", param=param)
            img.load()
            return load_image(img.copy(), name=param)
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise InvalidArgument(f"{param} is not an image Pillow can read; send a PNG or JPEG", param=param) from None


def images_lane() -> Lane:
    """The lane style transfer and DeepDream run on: one job at a time, a few waiting, at a lower priority."""
    return Lane("images", max_queue=MAX_WAITING, retry_after=5, nice=IMAGE_NICE)


def paint(job: ImageJob, body: ImageRequest, content: Any, style: Any, task: Task) -> None:
    """Run ``job`` (style transfer or DeepDream) as ``task``, keeping its status and progress up to date."""
    from dreamwright.image import DreamOptions, StyleOptions, run_deep_dream, run_style_transfer

    job.status = "running"
    start = time.perf_counter()

    def on_progress(done: int, planned: int) -> None:
        job.done, job.total = done, planned
        if time.monotonic() - job.seen > ABANDONED_AFTER:
            task.cancel()
        task.progress(done, planned)  # stops the run here when the job was cancelled or ran out of time

    try:
        on_progress(0, 0)
        if body.mode == "style":
            job.total = body.iterations
            options = StyleOptions(size=body.size, iterations=body.iterations, scales=[body.size],
                                   backbone="auto", seed=body.seed)
            result: Any = run_style_transfer(content, style, options, on_progress=on_progress, progress=False)
        else:
            job.total = body.octaves * body.steps
            dream = DreamOptions(size=body.size, steps=body.steps, octaves=body.octaves, backbone="auto",
                                 seed=body.seed)
            result = run_deep_dream(content, dream, on_progress=on_progress, progress=False)
        buf = io.BytesIO()
        result.image.save(buf, format="PNG")
        job.png = buf.getvalue()
        job.done = job.total or 0
        job.status = "done"
    except (Cancelled, EngineClosed):
        job.status, job.error = "cancelled", "the job was cancelled"
        raise
    except RequestTimeout as exc:
        job.status, job.error = "error", str(exc)
        raise
    except DreamwrightError as exc:
        job.status, job.error = "error", from_exception(exc).message
        raise
    except Exception:  # reported to the page; the lane logs it
        job.status, job.error = "error", "internal server error"
        raise
    finally:
        job.seconds = round(time.perf_counter() - start, 2)


def _settled(job: ImageJob, fut: Any) -> None:
    """A job that ended without running (cancelled while queued, the server stopping) says so."""
    if job.status in ("queued", "running") and fut.exception() is not None:
        job.status, job.error = "cancelled", "the job was cancelled"


def router(lane: Lane | None = None) -> APIRouter:
    """The image routes, with their own job table, running their jobs on ``lane`` (default: their own)."""
    api = APIRouter(tags=["images"])
    jobs: OrderedDict[str, ImageJob] = OrderedDict()
    lock = threading.Lock()
    lane = lane or images_lane()

    @api.post("/v1/images", status_code=202, responses=ERROR_RESPONSES)
    def create(body: ImageRequest) -> dict[str, Any]:  # sync: decoding images runs in FastAPI's thread pool
        """Queue a style transfer or DeepDream job; poll ``GET /v1/images/{id}`` for its progress."""
        content = decode_image(body.content, "content")
        style = None
        if body.mode == "style":
            if not body.style:
                raise InvalidArgument("style transfer needs a style image", param="style")
            style = decode_image(body.style, "style")
        job = ImageJob(id=f"img-{uuid.uuid4().hex[:16]}", mode=body.mode)
        with lock:
            try:
                job.task = lane.submit_task(body.mode, lambda task: paint(job, body, content, style, task),
                                            timeout=JOB_TIMEOUT)
            except (QueueFull, EngineClosed) as exc:
                raise from_exception(exc) from None
            job.task.future.add_done_callback(lambda fut: _settled(job, fut))
            jobs[job.id] = job
            while len(jobs) > MAX_KEPT + MAX_WAITING + 1:
                oldest = next(iter(jobs))
                if jobs[oldest].status in ("queued", "running"):
                    break
                jobs.pop(oldest)
        return job.view()

    def find(job_id: str) -> ImageJob:
        job = jobs.get(job_id)
        if job is None:
            raise APIError(404, f"no image job {job_id!r} (finished jobs are kept for a while)", "not_found_error",
                           param="id", code="not_found")
        return job

    @api.get("/v1/images/{job_id}", responses=ERROR_RESPONSES)
    async def status(job_id: str) -> dict[str, Any]:
        """An image job's status and progress; ``result`` is the PNG's URL once it is done."""
        job = find(job_id)
        job.seen = time.monotonic()
        return job.view()

    @api.delete("/v1/images/{job_id}", responses=ERROR_RESPONSES)
    async def cancel(job_id: str) -> dict[str, Any]:
        """Cancel an image job: a queued one never starts, a running one stops at its next step."""
        job = find(job_id)
        if job.task is not None and job.status in ("queued", "running"):
            job.task.cancel()
            if job.status == "queued":
                job.status, job.error = "cancelled", "the job was cancelled"
        return job.view()

    @api.get("/v1/images/{job_id}/result.png", response_class=Response,
             responses={**ERROR_RESPONSES, 200: {"content": {"image/png": {}}, "description": "The image."}})
    async def result(job_id: str) -> Response:
        """The finished image (PNG)."""
        job = find(job_id)
        if job.png is None:
            raise APIError(409, f"image job {job_id} is {job.status}", code="not_ready")
        return Response(job.png, media_type="image/png",
                        headers={"content-disposition": f'inline; filename="dreamwright-{job.mode}-{job.id}.png"'})

    @api.get("/images", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "images.html", media_type="text/html", headers=PAGE_HEADERS)

    return api
