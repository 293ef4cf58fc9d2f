"""``POST /v1/images`` refuses what it cannot paint, by field, before any work starts."""

from __future__ import annotations

import base64
import io

import pytest
from fastapi.testclient import TestClient

from dreamwright.serve import ServeSettings, create_app


def _png_url(side: int = 40) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (side, side), (200, 30, 30)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def client(tiny_generator):
    with TestClient(create_app({"tiny": tiny_generator}, ServeSettings(max_body_bytes=4096))) as c:
        yield c


@pytest.mark.parametrize(
    "body, param",
    [
        ({"content": "not base64!"}, "content"),
        ({"content": "data:image/png;base64," + base64.b64encode(b"not an image").decode()}, "content"),
        ({"content": _png_url()}, "style"),  # style transfer needs a style image
        ({"content": _png_url(), "style": _png_url(), "size": 512}, "size"),
        ({"content": _png_url(), "mode": "dream", "steps": 0}, "steps"),
        ({"content": _png_url(), "mode": "paint"}, "mode"),
    ],
)
def test_bad_image_requests_name_the_field(client, body, param):
    r = client.post("/v1/images", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_unknown_job_and_the_raised_body_limit(client):
    r = client.get("/v1/images/img-nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    big = {"content": _png_url(), "style": _png_url(), "size": 32, "iterations": 1, "seed": 0, "pad": "x" * 5000}
    # over the server's 4096-byte limit, yet not a 413 here: image uploads have their own, larger limit
    assert client.post("/v1/images", json=big).status_code == 400  # (the unknown field "pad")
    assert client.post("/v1/completions", json={"prompt": "x" * 5000}).status_code == 413
    assert client.get("/images").headers["content-security-policy"].startswith("default-src 'self'")


def _wait(client, job_id: str, timeout: float = 120.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/images/{job_id}").json()
        if job["status"] in ("done", "error"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"image job {job_id} did not finish in {timeout} s")


@pytest.mark.parametrize("mode", ["style", "dream"])
def test_jobs_count_steps_through_the_progress_callback_not_frames(client, monkeypatch, mode):
    import importlib

    from dreamwright.image import io as iio

    module = importlib.import_module("dreamwright.image.style" if mode == "style" else "dreamwright.image.dream")
    name = "run_style_transfer" if mode == "style" else "run_deep_dream"
    real_run, real_to_image = getattr(module, name), iio.to_image
    reports, asked, pictures = [], [], []

    def run(*args, on_progress, **kwargs):
        asked.append({**kwargs, "options": args[-1]})
        return real_run(*args, on_progress=lambda done, planned: (reports.append((done, planned)),
                                                                  on_progress(done, planned)), **kwargs)

    monkeypatch.setattr(module, name, run)
    monkeypatch.setattr(iio, "to_image", lambda t: pictures.append(t.shape) or real_to_image(t))
    body = {"mode": mode, "content": _png_url(), "size": 32, "iterations": 3, "steps": 2, "octaves": 2, "seed": 0}
    if mode == "style":
        body["style"] = _png_url()
    job = _wait(client, client.post("/v1/images", json=body).json()["id"])
    assert job["status"] == "done", job
    planned = 3 if mode == "style" else 4
    assert job["done"] == job["total"] == planned
    assert reports == [(i, planned) for i in range(1, planned + 1)]  # once per step, counting up
    # no frames asked for, and only the result becomes a picture
    assert "on_frame" not in asked[0] and getattr(asked[0]["options"], "save_every", None) is None
    assert len(pictures) == 1
