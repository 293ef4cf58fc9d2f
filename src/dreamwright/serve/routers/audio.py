"""Speaking with audio models: ``POST /v1/audio/speech`` in OpenAI's shape, and ``POST /v1/audio/spectrogram``.

``POST /v1/audio/speech`` takes ``{"model": "digits", "input": "3", "voice": "jackson", "response_format": "wav",
"seconds": 1.0, "temperature": 1.0, "seed": 7}`` and answers the audio file itself (``audio/wav``, 16-bit PCM
mono at the model's rate), so ``openai.OpenAI(base_url=…).audio.speech.create(...)`` works unchanged. ``input``
is what to say (one of the model's labels: a digit, or the digit spelled out), ``voice`` the speaker; either
left empty is drawn with the seed. The headers ``x-conditions`` (``label=3 speaker=jackson``), ``x-seed`` and
``x-sample-rate`` say what was spoken, so the same clip can be asked for again. ``response_format`` ``pcm``
gives the same samples raw (16-bit little-endian). Generating is a task on the model's engine thread
(:meth:`~dreamwright.serve.engine.Engine.submit_task`, as the temperature lens is), never on the event loop; a
client that disconnects stops its clip at the next sample.

``POST /v1/audio/spectrogram`` takes a WAV file as the body (``content-type: audio/wav``) and answers its
spectrogram as a PNG (drawn on the ``drawing`` lane); with ``?model=…&input=…&voice=…`` a real recording of the
same digit from the run's held-out data is drawn beside it, when the run keeps one. The web page's Speak tab
plays the WAV from ``/v1/audio/speech`` and sends the same bytes here, so nothing is generated twice and the
server keeps no clips.
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from dreamwright.data.audio import decode_wav, pcm16_bytes
from dreamwright.errors import CorpusError
from dreamwright.generation import Generator
from dreamwright.generation.speech import is_audio, reference_clip, speak, speech_request
from dreamwright.serve.errors import ERROR_RESPONSES, APIError
from dreamwright.serve.jobs import run_task, unsupported
from dreamwright.serve.lanes import Task
from dreamwright.serve.schemas import SpeechRequest
from dreamwright.serve.state import Server, ServerState

#: the largest WAV file ``/v1/audio/spectrogram`` reads (a minute of 16-bit audio at 16 kHz fits)
SPECTROGRAM_BODY_LIMIT = 4 * 1024 * 1024
#: media types of the formats answered
MEDIA_TYPES = {"wav": "audio/wav", "pcm": "audio/pcm"}
#: spelled digits, so ``input: "seven"`` says 7
_DIGIT_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine".split())}

router = APIRouter(tags=["audio"])


#: the longest clip one request may ask for (generation runs about real time / 100 on a CPU)
MAX_SERVED_SECONDS = 10.0

def audio_models(server: ServerState) -> list[str]:
    return [name for name, engine in server.engines.items() if is_audio(engine.generator)]


def audio_engine(server: ServerState, model: str | None):
    """The id and engine of the audio model a request names (the first audio model when it names none)."""
    voices = audio_models(server)
    if model is None:
        if not voices:
            raise APIError(404, "this server has no audio model; start it with an audio run (e.g. one trained "
                           "with `dreamwright train fsdd --model wavenet`)", "not_found_error", param="model",
                           code="model_not_found")
        model = voices[0]
    name, engine = server.engine_for(model)
    if not is_audio(engine.generator):
        raise APIError(400, f"{name} is a text model: it writes text, not sound; name an audio model"
                       f" ({', '.join(voices) if voices else 'this server has none'})", param="model",
                       code="wrong_model_kind")
    return name, engine


def _choose(name: str, generator: Generator, text: str, voice: str | None) -> dict[str, str | None]:
    """The label and speaker a request asks for (None: drawn with the seed), checked against the model's."""
    conditions = generator.tokenizer.conditions  # type: ignore[attr-defined]
    chosen: dict[str, str | None] = {}
    text = text.strip()
    if text:
        labels = conditions.get("label")
        if labels is None:
            raise APIError(400, f"{name} says no words (it has no labels); send an empty input", param="input",
                           code="invalid_value")
        word = text.lower()
        by_name = {v.lower(): v for v in labels}
        label = by_name.get(word) or by_name.get(_DIGIT_WORDS.get(word, ""))
        if label is None:
            raise APIError(400, f"input {text!r} is not something {name} can say; send one of: {', '.join(labels)}",
                           param="input", code="invalid_value")
        chosen["label"] = label
    if voice:
        speakers = conditions.get("speaker")
        if speakers is None:
            raise APIError(400, f"{name} has one voice (no speakers); leave voice out", param="voice",
                           code="invalid_value")
        if voice not in speakers:
            raise APIError(400, f"voice {voice!r} is not a speaker of {name}; send one of: {', '.join(speakers)}",
                           param="voice", code="invalid_value")
        chosen["speaker"] = voice
    return chosen


def _check_format(body: SpeechRequest) -> str:
    fmt = body.response_format or "wav"
    if fmt not in MEDIA_TYPES:
        raise APIError(400, f"response_format {fmt!r} is not supported: dreamwright answers \"wav\" (or \"pcm\", the "
                       "raw 16-bit samples)", param="response_format", code="invalid_value")
    unsupported([
        ("speed", body.speed not in (None, 1.0)),
        ("instructions", bool(body.instructions)),
        ("stream_format", body.stream_format not in (None, "audio")),
    ])
    return fmt


@router.post("/v1/audio/speech", response_class=Response, responses={
    **ERROR_RESPONSES,
    200: {"description": "The audio file: a 16-bit PCM WAV (or raw PCM with response_format pcm).",
          "content": {"audio/wav": {}, "audio/pcm": {}}},
})
async def speech(body: SpeechRequest, request: Request, server: Server) -> Response:
    """Say a label (a digit) in a speaker's voice (OpenAI's speech endpoint; ``seconds``, ``temperature``,
    ``top_k``, ``top_p`` and ``seed`` are extras)."""
    fmt = _check_format(body)
    if body.seconds > MAX_SERVED_SECONDS:  # a clip holds the model's worker while it runs: keep each one short
        raise APIError(400, f"seconds must be at most {MAX_SERVED_SECONDS:g} on this server (a longer clip would hold "
                       "the model's worker for minutes; `dreamwright generate` writes up to 60 s)", param="seconds",
                       code="invalid_value")
    name, engine = audio_engine(server, body.model)
    generator = engine.generator
    voice = body.voice.id if body.voice is not None and not isinstance(body.voice, str) else body.voice
    chosen = _choose(name, generator, body.input, voice)
    settings = dict(seconds=body.seconds, temperature=1.0 if body.temperature is None else body.temperature,
                    top_k=body.top_k, top_p=body.top_p, seed=None if body.seed is None else body.seed % 2**63)
    # validate (and fix the seed) here, so a bad request is refused before it queues
    req, conditions = speech_request(generator, **settings, **chosen)  # type: ignore[arg-type]
    settings["seed"] = req.seed
    request.state.log = {"model": name, "seconds": body.seconds, **conditions}

    def run(task: Task) -> tuple[bytes, int]:
        clip, = speak(generator, on_progress=task.progress, **settings, **conditions)  # type: ignore[arg-type]
        return (clip.wav_bytes() if fmt == "wav" else pcm16_bytes(clip.samples)), len(clip.samples)

    audio, n = await run_task(engine, "speech", run, server.settings.request_timeout, request)
    rate = generator.tokenizer.sample_rate  # type: ignore[attr-defined]
    if server.metrics is not None:
        server.metrics.audio_seconds.labels(name).inc(n / rate)
    headers = {"x-conditions": " ".join(f"{k}={v}" for k, v in conditions.items()), "x-seed": str(req.seed),
               "x-sample-rate": str(rate)}
    return Response(audio, media_type=MEDIA_TYPES[fmt], headers=headers)


def read_wav_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """(float32 mono samples in [-1, 1], rate) of an uploaded PCM WAV file; 400 when it is not one."""
    try:
        samples, rate, _ = decode_wav(data, "the body")
    except CorpusError as exc:
        raise APIError(400, str(exc), code="invalid_value") from None
    if not len(samples):
        raise APIError(400, "the WAV file holds no samples", code="invalid_value")
    return samples, rate


@router.post("/v1/audio/spectrogram", response_class=Response, responses={
    **ERROR_RESPONSES,
    200: {"description": "The spectrogram as a PNG.", "content": {"image/png": {}}},
})
async def spectrogram(request: Request, server: Server, model: str | None = None, input: str = "",
                      voice: str | None = None) -> Response:
    """The spectrogram of the WAV file sent as the body; with ``model``, ``input`` and ``voice`` (as sent to
    ``/v1/audio/speech``) a real recording of the same label is drawn beside it, when the run keeps one."""
    from dreamwright.generation.spectrogram import spectrogram_png

    samples, rate = read_wav_bytes(await request.body())
    generator = None
    conditions: dict[str, str | None] = {}
    if model is not None:
        name, engine = audio_engine(server, model)
        generator = engine.generator
        conditions = _choose(name, generator, input, voice)

    def draw() -> bytes:
        panels = [("this clip", samples, rate)]
        tokenizer = generator.tokenizer if generator is not None else None
        if tokenizer is not None and set(conditions) >= {k for k, v in tokenizer.conditions.items() if len(v) > 1}:
            reference = reference_clip(generator, {**{k: v[0] for k, v in tokenizer.conditions.items()},
                                                   **conditions})
            if reference is not None:
                panels.append(reference)
        return spectrogram_png(panels)

    png = await run_task(server.lanes["drawing"], "spectrogram", lambda task: draw(), server.settings.request_timeout,
                         request)
    return Response(png, media_type="image/png")
