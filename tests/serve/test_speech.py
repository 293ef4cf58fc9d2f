"""``POST /v1/audio/speech`` through the official `openai` package, its refusals, and ``/v1/audio/spectrogram``."""

from __future__ import annotations

import io
import threading
import time
import wave

import httpx
import openai
import pytest

from tests.audio_helpers import LABELS, RATE, SPEAKERS

SECONDS = 0.05  # 400 samples: a random WaveNet speaks ~1 ms a sample on a CPU


@pytest.fixture(scope="module")
def server(audio_generator, tiny_generator, thread_server):
    with thread_server({"digits": audio_generator, "tiny": tiny_generator}) as s:
        yield s


@pytest.fixture()
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=60)


def read_wav(data: bytes) -> tuple[int, int, int, int]:
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


def test_speech_answers_a_wav_file_of_the_length_asked(client):
    r = client.audio.speech.create(model="digits", input="3", voice="jackson", response_format="wav",
                                   extra_body={"seconds": SECONDS, "seed": 5})
    assert r.response.headers["content-type"] == "audio/wav"
    assert r.response.headers["x-conditions"] == "label=3 speaker=jackson"
    assert r.response.headers["x-seed"] == "5"
    assert read_wav(r.content) == (RATE, 1, 2, round(SECONDS * RATE))


def test_the_same_seed_gives_the_same_clip_and_a_spelled_digit_reads_as_the_digit(server):
    body = {"model": "digits", "input": " 7 ", "voice": "theo", "seconds": SECONDS, "seed": 11}
    first = httpx.post(server.base_url + "/audio/speech", json=body, timeout=60)
    spelled = httpx.post(server.base_url + "/audio/speech", json={**body, "input": "Seven"}, timeout=60)
    assert first.status_code == spelled.status_code == 200
    assert first.content == spelled.content
    assert spelled.headers["x-conditions"] == "label=7 speaker=theo"
    raw = httpx.post(server.base_url + "/audio/speech", json={**body, "response_format": "pcm"}, timeout=60)
    assert raw.headers["content-type"] == "audio/pcm" and raw.content == first.content[44:]


def test_no_model_input_or_voice_draws_them_with_the_seed(server):
    r = httpx.post(server.base_url + "/audio/speech", json={"seconds": SECONDS, "seed": 3}, timeout=60)
    assert r.status_code == 200
    label, speaker = (part.split("=")[1] for part in r.headers["x-conditions"].split())
    assert label in LABELS and speaker in SPEAKERS


@pytest.mark.parametrize(("fields", "param", "words"), [
    ({"voice": "alloy"}, "voice", "jackson, theo"),
    ({"input": "eleven"}, "input", "0, 1, 2"),
    ({"response_format": "mp3"}, "response_format", '"wav"'),
    ({"seconds": 0}, "seconds", "(0, 60]"),
    ({"seconds": 11}, "seconds", "at most 10"),
    ({"speed": 2.0}, "speed", "not supported"),
    ({"model": "tiny"}, "model", "tiny is a text model"),
    ({"model": "nope"}, "model", "does not exist"),
])
def test_refusals_are_4xx_in_the_error_shape_naming_the_field(client, fields, param, words):
    args = {"model": "digits", "input": "3", "voice": "jackson", "response_format": "wav", **fields}
    extra = {k: args.pop(k) for k in ("seconds",) if k in args}
    with pytest.raises(openai.APIStatusError) as err:
        client.audio.speech.create(**args, extra_body=extra or None)
    assert 400 <= err.value.status_code < 500
    error = err.value.body if "message" in err.value.body else err.value.body["error"]
    assert error["param"] == param
    assert words in error["message"]
    assert "\n" not in error["message"]


def test_the_catalog_lists_the_audio_models_conditions(client):
    cards = {m.id: m for m in client.models.list().data}
    assert cards["digits"].tokenizer == "mulaw"
    assert cards["digits"].model_extra["conditions"] == {"label": LABELS, "speaker": SPEAKERS}
    assert cards["digits"].model_extra["sample_rate"] == RATE
    assert cards["tiny"].model_extra["conditions"] is None


def test_speaking_does_not_block_the_event_loop(server):
    result = {}

    def speak():
        result["r"] = httpx.post(server.base_url + "/audio/speech",
                                 json={"input": "1", "voice": "theo", "seconds": 0.5}, timeout=60)

    t = threading.Thread(target=speak)
    t.start()
    time.sleep(0.5)
    try:
        started = time.monotonic()
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
        assert time.monotonic() - started < 1.0
        assert t.is_alive(), "the clip was done before the event loop was tested"
    finally:
        t.join(60)
    assert result["r"].status_code == 200
    metrics = httpx.get(server.url + "/metrics").text
    assert 'dreamwright_audio_seconds_total{model="digits"}' in metrics


def test_spectrogram_of_a_wav_file_is_a_png(server):
    clip = httpx.post(server.base_url + "/audio/speech", json={"input": "3", "voice": "jackson",
                                                               "seconds": SECONDS, "seed": 1}, timeout=60)
    r = httpx.post(server.base_url + "/audio/spectrogram", params={"model": "digits", "input": "3",
                                                                   "voice": "jackson"},
                   content=clip.content, headers={"content-type": "audio/wav"}, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG")
    bad = httpx.post(server.base_url + "/audio/spectrogram", content=b"not a wav",
                     headers={"content-type": "audio/wav"})
    assert bad.status_code == 400 and "not a WAV file" in bad.json()["error"]["message"]


def test_text_endpoints_refuse_an_audio_model(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="digits", prompt="3", max_tokens=5)
    assert "digits is an audio model" in str(err.value) and "/v1/audio/speech" in str(err.value)
