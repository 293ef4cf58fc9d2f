"""Request and response models (pydantic), so ``/openapi.json`` describes the API exactly."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dreamwright.decoding.defaults import DEFAULT_TEMPERATURE


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- errors
class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error shape."""

    error: ErrorBody


# --------------------------------------------------------------------------- models
class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "dreamwright"
    family: str | None = Field(None, description="Model family (lstm, gru, simplernn, gpt, seq2seq).")
    tokenizer: str | None = Field(None, description="Tokenizer kind (char, word, bpe; mulaw for an audio model).")
    vocab_size: int | None = None
    parameters: int | None = None
    conditions: dict[str, list[str]] | None = Field(
        None, description="An audio model's conditions (kind → values, e.g. label → 0…9, speaker → names): what "
        "/v1/audio/speech takes as input (label) and voice (speaker). None for a text model.")
    sample_rate: int | None = Field(None, description="An audio model's sample rate in Hz.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# --------------------------------------------------------------------------- completions
class StreamOptions(_Strict):
    include_usage: bool = False


class CompletionRequest(_Strict):
    """OpenAI's ``/v1/completions`` body, plus ``top_k``, ``repetition_penalty`` and ``unknown``."""

    model: str | None = Field(None, description="A model id from /v1/models (default: the first loaded).")
    prompt: str | list[str] | list[int] | list[list[int]] = Field(
        "", description="Text to continue, a list of texts, one prompt as token ids, or a list of token-id lists.")
    max_tokens: int | None = Field(
        None, description="Tokens to generate per choice (default 16); 0 (with echo and logprobs) scores the "
        "prompt only.")
    temperature: float | None = Field(DEFAULT_TEMPERATURE, description="0 = greedy; higher = bolder.")
    top_p: float | None = Field(None, description="Nucleus sampling mass in (0, 1].")
    n: int = Field(1, description="Choices per prompt.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = Field(None, description="Stop before this string (up to 8).")
    seed: int | None = Field(None, description="Random seed for reproducible samples.")
    echo: bool = Field(False, description="Return the prompt in front of the completion.")
    logprobs: int | None = Field(
        None,
        description="Return the log-probability of each generated token and of its N likeliest alternatives "
        "(0..5), under the model's own distribution (temperature 1, no filters); with echo, the prompt's tokens "
        "too (the first has none).",
    )
    best_of: int | None = Field(None, description="Not supported beyond best_of = n.")
    frequency_penalty: float | None = Field(None, description="Not supported; must be 0.")
    presence_penalty: float | None = Field(None, description="Not supported; must be 0.")
    logit_bias: dict[str, float] | None = Field(None, description="Not supported; must be empty.")
    suffix: str | None = Field(None, description="Not supported; must be null.")
    user: str | None = Field(None, description="Ignored.")
    top_k: int | None = Field(
        None, description="dreamwright extra: sample only from the k most likely tokens."
    )
    repetition_penalty: float | None = Field(1.0, description="dreamwright extra: > 1 discourages repeats.")
    unknown: Literal["error", "skip"] = Field(
        "error", description="dreamwright extra: prompt pieces missing from the vocabulary: error or skip."
    )


class CompletionLogprobs(BaseModel):
    """Per token of ``text``: its text, log-probability, likeliest alternatives and offset in ``text`` (an
    echoed prompt's first token has no log-probability: null)."""

    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None = None
    finish_reason: Literal["stop", "length"] | None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None


# --------------------------------------------------------------------------- tokenizer (vLLM's routes)
class TokenizeRequest(_Strict):
    """vLLM's ``POST /tokenize`` body."""

    model: str | None = Field(None, description="A model id from /v1/models (default: the first loaded).")
    prompt: str = Field(..., description="Text to turn into token ids.")
    add_special_tokens: bool = Field(True, description="Accepted for vLLM's clients; dreamwright adds none.")
    unknown: Literal["error", "skip"] = Field(
        "error", description="dreamwright extra: pieces missing from the vocabulary: error or skip.")


class TokenizeResponse(BaseModel):
    tokens: list[int]
    count: int
    max_model_len: int = Field(..., description="The longest prompt /v1/completions accepts, in tokens.")


class DetokenizeRequest(_Strict):
    """vLLM's ``POST /detokenize`` body."""

    model: str | None = Field(None, description="A model id from /v1/models (default: the first loaded).")
    tokens: list[int]


class DetokenizeResponse(BaseModel):
    prompt: str


class TokenizerInfo(BaseModel):
    """vLLM's ``GET /tokenizer_info``: the special tokens as text (null when the model has none)."""

    tokenizer_class: str
    eos_token: str | None = None
    bos_token: str | None = None
    pad_token: str | None = None
    chat_template: str | None = None
    model_max_length: int
    vocab_size: int



# --------------------------------------------------------------------------- chat completions
class ContentPart(BaseModel):
    """A content part of any type; only ``text`` parts are accepted (others get a 400 that names them)."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = Field(description="system, developer, user or assistant.")
    content: str | list[ContentPart] | None = None
    name: str | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str


class ChatCompletionRequest(_Strict):
    """OpenAI's ``/v1/chat/completions`` body, plus ``top_k``, ``repetition_penalty`` and ``unknown``."""

    model: str | None = Field(None, description="A model id from /v1/models (default: the first loaded).")
    messages: list[ChatMessage] = Field(description="The conversation: a seq2seq model reads its messages as "
                                         "turns; a language model reads them rendered by its chat template.")
    max_tokens: int | None = Field(None, description="Tokens to generate per choice (default 16).")
    max_completion_tokens: int | None = Field(None, description="Same as max_tokens (OpenAI's newer name).")
    temperature: float | None = Field(DEFAULT_TEMPERATURE, description="0 = greedy; higher = bolder.")
    top_p: float | None = Field(None, description="Nucleus sampling mass in (0, 1].")
    n: int = Field(1, description="Choices.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = Field(None, description="Stop before this string (up to 8), besides the "
                                         "template's next role line (a seq2seq model's end of reply).")
    seed: int | None = Field(None, description="Random seed for reproducible samples.")
    logprobs: bool = Field(False, description="Return each generated token's log-probability (model's own).")
    top_logprobs: int | None = Field(None, description="With logprobs: the N likeliest alternatives (0..20).")
    frequency_penalty: float | None = Field(None, description="Not supported; must be 0.")
    presence_penalty: float | None = Field(None, description="Not supported; must be 0.")
    logit_bias: dict[str, float] | None = Field(None, description="Not supported; must be empty.")
    response_format: ResponseFormat | None = Field(None, description="Only {\"type\": \"text\"}.")
    tools: list[dict] | None = Field(None, description="Not supported.")
    tool_choice: str | dict | None = Field(None, description="Not supported.")
    parallel_tool_calls: bool | None = Field(None, description="Not supported.")
    functions: list[dict] | None = Field(None, description="Not supported.")
    function_call: str | dict | None = Field(None, description="Not supported.")
    user: str | None = Field(None, description="Ignored.")
    top_k: int | None = Field(None, description="dreamwright extra: sample only from the k most likely tokens.")
    repetition_penalty: float | None = Field(1.0, description="dreamwright extra: > 1 discourages repeats.")
    unknown: Literal["error", "skip"] = Field(
        "error", description="dreamwright extra: message text missing from the vocabulary: error or skip."
    )


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class ChatTokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChatLogprobs(BaseModel):
    content: list[ChatTokenLogprob] | None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: ChatLogprobs | None = None
    finish_reason: Literal["stop", "length"]


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    system_fingerprint: str | None = None


# --------------------------------------------------------------------------- next token
class NextTokenRequest(_Strict):
    """The temperature lens: the next token's top candidates before and after reweighting."""

    model: str | None = Field(None, description="A model id from /v1/models (default: the first loaded).")
    context: str = Field("", description="Text so far (empty: the model's start text).")
    temperature: float = Field(DEFAULT_TEMPERATURE, description="Temperature T of the reweighting p^(1/T) / Σ p^(1/T).")
    top_n: int = Field(10, description="How many candidates to return.")
    unknown: Literal["error", "skip"] = "error"


class Candidate(BaseModel):
    token_id: int
    token: str
    probability: float = Field(description="The model's probability (temperature 1).")
    reweighted: float = Field(description="The probability after temperature reweighting.")


class NextTokenResponse(BaseModel):
    object: Literal["next_token"] = "next_token"
    model: str
    temperature: float
    context_tokens: int
    candidates: list[Candidate]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    models: list[str]
    active_rows: int
    waiting: int


# --------------------------------------------------------------------------- poems
MAX_POEMS = 8


class PoemRequest(BaseModel):
    """``POST /v1/poems``: the options of ``dreamwright poetry write``."""

    form: str = "五绝"
    acrostic: str | None = None
    start: str | None = None
    keywords: str | list[str] | None = None
    theme: str | None = None
    rhyme: str = "strict"
    tones: str = "strict"
    num_samples: int = Field(1, ge=1, le=MAX_POEMS)
    temperature: float | None = Field(None, ge=0.0, le=5.0, description="default: 作诗姬's (0.9)")
    seed: int | None = None


class CoupletRequest(BaseModel):
    """``POST /v1/couplets``: the options of ``dreamwright couplet``."""

    upper: str
    n: int = Field(1, ge=1, le=8)
    candidates: int = Field(8, ge=1, le=32)
    temperature: float | None = Field(None, ge=0.0, le=5.0, description="default: 对对子's (0.8)")
    seed: int | None = None


# --------------------------------------------------------------------------- drawing (GANs and VAEs)
#: most pictures per request, and most frames per walk
MAX_IMAGES, MAX_STEPS = 64, 32


class ImageGenerationRequest(_Strict):
    """OpenAI's ``/v1/images/generations`` body, plus ``seed`` and ``truncation``."""

    model: str | None = Field(None, description="An image model id from /v1/images/models (default: the first "
                              "given at start, else the bundled fashion-dcgan).")
    prompt: str = Field("", description="The class to draw, by name (any case) or number, for a class-conditional "
                        "model; empty: every class in turn. An unconditional model takes an empty prompt.")
    n: int = Field(1, ge=1, le=MAX_IMAGES, description=f"Pictures to draw (1..{MAX_IMAGES}).")
    size: str | None = Field(None, description="The model's own size, like 28x28 (or auto); no other is drawn.")
    response_format: str | None = Field(None, description="Only b64_json (the default).")
    output_format: str | None = Field(None, description="Only png (the default).")
    stream: bool | None = Field(None, description="Not supported; must be false.")
    quality: str | None = Field(None, description="Ignored.")
    style: str | None = Field(None, description="Ignored.")
    background: str | None = Field(None, description="Ignored.")
    moderation: str | None = Field(None, description="Ignored.")
    user: str | None = Field(None, description="Ignored.")
    seed: int | None = Field(None, description="dreamwright extra: picture i comes from seed + i (default: fresh).")
    truncation: float | None = Field(None, gt=0, description="dreamwright extra: redraw latent entries beyond "
                                     "±truncation (more typical pictures).")


class ImageInterpolationRequest(_Strict):
    """``POST /v1/images/interpolations`` (dreamwright's own): a walk through the latent space between two seeds."""

    model: str | None = Field(None, description="An image model id from /v1/images/models.")
    prompt: str = Field("", description="The class the walk keeps (default: the first class) for a conditional "
                        "model; empty for an unconditional one.")
    seed: int | None = Field(None, description="Where the walk starts: this seed's picture (default: fresh).")
    to_seed: int | None = Field(None, description="Where it ends: this seed's picture (default: seed + 1).")
    steps: int = Field(10, ge=2, le=MAX_STEPS, description=f"Pictures in the walk, both ends included "
                       f"(2..{MAX_STEPS}).")
    truncation: float | None = Field(None, gt=0, description="Redraw latent entries beyond ±truncation.")
    response_format: str | None = Field(None, description="Only b64_json (the default).")


class GeneratedImage(BaseModel):
    b64_json: str = Field(description="The picture as a base64 PNG.")
    revised_prompt: str | None = Field(None, description="The class it was drawn as (null: no classes).")
    seed: int | None = Field(None, description="dreamwright extra: the seed of this picture's latent vector.")


class ImagesResponse(BaseModel):
    """OpenAI's images response, plus the request's ``model`` and ``seed``."""

    created: int
    data: list[GeneratedImage]
    size: str
    output_format: Literal["png"] = "png"
    model: str
    seed: int


class ImageModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    owned_by: str = "dreamwright"
    family: str | None = Field(None, description="dcgan or vae.")
    conditional: bool = Field(description="Whether it draws a chosen class (the prompt).")
    classes: list[str] = Field(description="The classes it draws (empty: none to choose).")
    size: int = Field(description="Side of its pictures, in pixels.")
    channels: int = Field(description="1: grayscale, 3: RGB.")
    encodes: bool = Field(description="Whether it can encode pictures (a VAE).")


class ImageModelList(BaseModel):
    object: Literal["list"] = "list"
    default: str | None = Field(None, description="The model a request without one draws with.")
    data: list[ImageModelCard]


# --------------------------------------------------------------------------- speech (audio models)
class VoiceRef(BaseModel):
    id: str


class SpeechRequest(_Strict):
    """OpenAI's ``/v1/audio/speech`` body, plus ``seconds``, ``temperature``, ``top_k``, ``top_p`` and ``seed``."""

    model: str | None = Field(None, description="An audio model id from /v1/models (default: the first loaded).")
    input: str = Field("", max_length=4096, description="What to say: one of the model's labels (a digit for "
                       "spoken digits; a spelled digit such as \"seven\" works too). Empty: a label drawn with the "
                       "seed.")
    voice: str | VoiceRef | None = Field(None, description="The speaker: one of the model's speakers (OpenAI's "
                                         "voices such as alloy are not). Left out: one drawn with the seed.")
    response_format: str | None = Field(None, description="wav (a 16-bit PCM WAV file, the default) or pcm (the "
                                        "same samples raw: 16-bit little-endian mono at the model's rate).")
    speed: float | None = Field(None, description="Only 1.0.")
    instructions: str | None = Field(None, description="Not supported (leave it out).")
    stream_format: str | None = Field(None, description="Only audio (the whole file at once).")
    seconds: float = Field(1.0, description="Length of the clip in seconds, in (0, 10] on the server.")
    temperature: float | None = Field(None, ge=0, description="Sampling temperature (default 1.0).")
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = Field(None, description="The same seed and request give the same clip.")
