"""Drawing on the server: ``POST /v1/images/generations`` in OpenAI's images shape, walks, the image model list,
refusals in the server's error shape, and the official ``openai`` client against a live ``dreamwright serve``."""

from __future__ import annotations

import asyncio
import base64
import io

import numpy as np
import openai
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from dreamwright import bundled
from dreamwright.errors import InvalidArgument
from dreamwright.image.draw import Drawer
from dreamwright.serve import create_app
from dreamwright.serve.server import load_drawers, load_generators
from tests.image.helpers import FASHION_CLASSES, write_image_run


@pytest.fixture(scope="module")
def image_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-draw")
    return {"gan": write_image_run(root / "gan"), "vae": write_image_run(root / "vae", "vae", conditional=False)}


@pytest.fixture(scope="module")
def drawers(image_runs) -> dict[str, Drawer]:
    return {name: Drawer.load(path, device="cpu") for name, path in image_runs.items()}


@pytest.fixture(scope="module")
def client(tiny_generator, drawers):
    with TestClient(create_app({"tiny": tiny_generator}, image_models=drawers)) as c:
        yield c


def pixels(b64: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(b64))) as img:
        assert img.format == "PNG" and img.mode == "L"
        return np.asarray(img).astype(int)


def drawn(drawer: Drawer, pictures) -> list[np.ndarray]:
    return [np.asarray(img).astype(int) for img in drawer.to_images(pictures)]


def assert_same_pictures(items: list[dict], expected: list[np.ndarray]) -> None:
    assert len(items) == len(expected)
    for item, picture in zip(items, expected, strict=True):
        assert np.abs(pixels(item["b64_json"]) - picture).max() <= 1  # one grey level of float rounding at most


def test_generations_draw_the_class_the_prompt_names(client, drawers):
    r = client.post("/v1/images/generations", json={"model": "gan", "prompt": "sneaker", "n": 3, "size": "28x28",
                                                     "response_format": "b64_json", "seed": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body["created"], int) and body["created"] > 0
    assert (body["model"], body["seed"], body["size"]) == ("gan", 5, "28x28")
    assert [d["revised_prompt"] for d in body["data"]] == ["Sneaker"] * 3
    assert [d["seed"] for d in body["data"]] == [5, 6, 7]
    gan = drawers["gan"]
    assert_same_pictures(body["data"], drawn(gan, gan.draw(3, label="Sneaker", seed=5)))
    bags = drawn(gan, gan.draw(3, label="Bag", seed=5))
    assert any(np.abs(pixels(d["b64_json"]) - b).max() > 8 for d, b in zip(body["data"], bags, strict=True))


def test_an_empty_prompt_draws_every_class_in_turn_with_the_default_model(client, drawers):
    body = client.post("/v1/images/generations", json={"prompt": "", "n": 12}).json()
    assert body["model"] == "gan"  # the first model given is the default
    assert [d["revised_prompt"] for d in body["data"]] == [FASHION_CLASSES[i % 10] for i in range(12)]
    # no seed: a fresh one, reported, which draws the same pictures again
    again = client.post("/v1/images/generations", json={"n": 12, "seed": body["seed"]}).json()
    assert [d["b64_json"] for d in again["data"]] == [d["b64_json"] for d in body["data"]]
    vae = client.post("/v1/images/generations", json={"model": "vae", "n": 2, "seed": 1}).json()
    assert [d["revised_prompt"] for d in vae["data"]] == [None, None]
    assert_same_pictures(vae["data"], drawn(drawers["vae"], drawers["vae"].draw(2, seed=1)))


def test_the_model_list_names_the_classes_and_the_bundled_model_draws_by_default(client, tiny_generator):
    listing = client.get("/v1/images/models").json()  # not taken for a style-transfer job id
    cards = {card["id"]: card for card in listing["data"]}
    assert listing["default"] == "gan" and list(cards)[:2] == ["gan", "vae"]
    assert cards["gan"]["classes"] == list(FASHION_CLASSES) and cards["gan"]["conditional"]
    assert (cards["vae"]["classes"], cards["vae"]["conditional"], cards["vae"]["encodes"]) == ([], False, True)
    bundled_card = cards[bundled.DEFAULT_IMAGE_MODEL]  # read from its config.json, not loaded
    assert bundled_card["classes"] == list(FASHION_CLASSES)
    assert (bundled_card["family"], bundled_card["size"], bundled_card["encodes"]) == ("dcgan", 28, False)
    with TestClient(create_app({"tiny": tiny_generator})) as plain:
        assert plain.get("/v1/images/models").json()["default"] == bundled.DEFAULT_IMAGE_MODEL
        body = plain.post("/v1/images/generations", json={"prompt": "Trouser", "n": 2, "seed": 0}).json()
        assert body["model"] == bundled.DEFAULT_IMAGE_MODEL
        assert [d["revised_prompt"] for d in body["data"]] == ["Trouser", "Trouser"]


def test_a_walk_starts_and_ends_at_the_two_seeds_pictures(client, drawers):
    body = client.post("/v1/images/interpolations", json={"model": "gan", "prompt": "Bag", "seed": 3, "to_seed": 9,
                                                          "steps": 5}).json()
    assert [d["seed"] for d in body["data"]] == [3, None, None, None, 9]
    assert [d["revised_prompt"] for d in body["data"]] == ["Bag"] * 5
    gan = drawers["gan"]
    ends = drawn(gan, gan.draw(1, label="Bag", seed=3)) + drawn(gan, gan.draw(1, label="Bag", seed=9))
    assert_same_pictures([body["data"][0], body["data"][-1]], ends)
    middle = pixels(body["data"][2]["b64_json"])
    assert np.abs(middle - ends[0]).max() > 8 and np.abs(middle - ends[1]).max() > 8


@pytest.mark.parametrize("body, status, param, needle", [
    ({"response_format": "url"}, 400, "response_format", "b64_json"),
    ({"size": "64x64"}, 400, "size", '"28x28"'),
    ({"size": "1024x1024"}, 400, "size", "28x28 pictures only"),
    ({"prompt": "Hat"}, 400, "prompt", "Ankle boot"),
    ({"n": 0}, 400, "n", "greater than or equal to 1"),
    ({"n": 65}, 400, "n", "less than or equal to 64"),
    ({"model": "nope"}, 404, "model", "fashion-dcgan"),
    ({"model": "vae", "prompt": "Bag"}, 400, "prompt", "without classes"),
    ({"seed": "x"}, 400, "seed", "seed"),
    ({"stream": True}, 400, "stream", "streaming"),
    ({"prompt": "Bag", "truncation": 0}, 400, "truncation", "truncation"),
    ({"prompt": "Bag", "colour": "red"}, 400, "colour", "unrecognized"),
])
def test_refusals_are_json_errors_in_the_servers_shape(client, body, status, param, needle):
    r = client.post("/v1/images/generations", json={"model": "gan", **body})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and needle in error["message"]
    assert error["type"] == ("not_found_error" if status == 404 else "invalid_request_error")


def test_a_walk_refuses_what_it_cannot_draw(client):
    for body, param in (({"steps": 1}, "steps"), ({"prompt": "Hat"}, "prompt"),
                        ({"response_format": "url"}, "response_format")):
        r = client.post("/v1/images/interpolations", json={"model": "gan", **body})
        assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text


def test_drawing_runs_off_the_event_loop(client, monkeypatch):
    where: list[str] = []
    real_draw = Drawer.draw

    def draw(self, *args, **kwargs):
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("worker thread")
        return real_draw(self, *args, **kwargs)

    monkeypatch.setattr(Drawer, "draw", draw)
    assert client.post("/v1/images/generations", json={"prompt": "Bag", "n": 2}).status_code == 200
    assert where == ["worker thread"]


def test_serve_takes_image_runs_with_their_own_option(image_runs):
    with pytest.raises(InvalidArgument, match="holds an image model; serve it with --image-model"):
        load_generators([str(image_runs["gan"])], device="cpu")
    named = load_drawers([f"a={image_runs['gan']}", f"b={image_runs['gan']}", "fashion-dcgan"], device="cpu")
    assert list(named) == ["a", "b", "fashion-dcgan"] and named["a"].conditional
    with pytest.raises(InvalidArgument, match="two image models are both called 'gan'"):
        load_drawers([image_runs["gan"], image_runs["gan"]], device="cpu")


def test_the_openai_client_draws_from_a_live_server(image_runs, drawers, server_process, healthy):
    """``dreamwright serve --image-model gan=RUN`` in a subprocess, and ``openai``'s ``images.generate`` unchanged."""
    import os
    import signal

    start, stop = server_process
    env = {k: v for k, v in os.environ.items() if k != "DREAMWRIGHT_API_KEY"}
    proc, url, lines = start(["--image-model", f"gan={image_runs['gan']}", "--port", "0", "--threads", "1"], env)
    try:
        healthy(url)
        assert any("draws with gan" in line for line in lines)
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=60)
        r = client.images.generate(prompt="Sneaker", n=4, size="28x28", response_format="b64_json",
                                   extra_body={"seed": 11})  # no model: the first --image-model
        assert r.created > 0 and len(r.data) == 4
        assert [d.revised_prompt for d in r.data] == ["Sneaker"] * 4
        gan = drawers["gan"]
        assert_same_pictures([d.model_dump() for d in r.data], drawn(gan, gan.draw(4, label="Sneaker", seed=11)))
        r = client.images.generate(model="gan", prompt="bag", n=1)  # the SDK's defaults: no size, no format
        assert r.data[0].revised_prompt == "Bag" and pixels(r.data[0].b64_json).shape == (28, 28)
        with pytest.raises(openai.BadRequestError) as err:
            client.images.generate(model="gan", prompt="Sneaker", response_format="url")
        assert err.value.body["param"] == "response_format"
        with pytest.raises(openai.BadRequestError) as err:
            client.images.generate(model="gan", prompt="Hat")
        assert "Ankle boot" in err.value.body["message"]
        with pytest.raises(openai.NotFoundError) as err:
            client.images.generate(model="nope", prompt="Sneaker")
        assert err.value.body["code"] == "model_not_found"
    finally:
        assert stop(proc) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a graceful shutdown
