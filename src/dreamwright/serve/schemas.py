"""Request and response models (pydantic), so ``/openapi.json`` describes the API exactly."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
    family: str | None = Field(None, description="Model family (lstm, gru, simplernn, gpt).")
    tokenizer: str | None = Field(None, description="Tokenizer kind (char, word, bpe).")
    vocab_size: int | None = None
    parameters: int | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# --------------------------------------------------------------------------- completions
class StreamOptions(_Strict):
    include_usage: bool = False


class CompletionRequest(_Strict):
    """OpenAI's ``/v1/completions`` body, plus ``top_k``, ``repetition_penalty`` and ``unknown``."""

    model: str | None = Field(None, description="A model id from /v1/models (default: the first loaded).")
    prompt: str | list[str] = Field("", description="Text to continue, or a list of texts.")
    max_tokens: int | None = Field(None, description="Tokens to generate per choice (default 16).")
    temperature: float | None = Field(1.0, description="0 = greedy; higher = bolder.")
    top_p: float | None = Field(None, description="Nucleus sampling mass in (0, 1].")
    n: int = Field(1, description="Choices per prompt.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = Field(None, description="Stop before this string (up to 8).")
    seed: int | None = Field(None, description="Random seed for reproducible samples.")
    echo: bool = Field(False, description="Return the prompt in front of the completion.")
    logprobs: int | None = Field(None, description="Not supported; must be null or 0.")
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


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: None = None
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


# --------------------------------------------------------------------------- next token
class NextTokenRequest(_Strict):
    """The temperature lens: the next token's top candidates before and after reweighting."""

    model: str | None = Field(None, description="A model id from /v1/models (default: the first loaded).")
    context: str = Field("", description="Text so far (empty: the model's start text).")
    temperature: float = Field(1.0, description="Temperature T of the reweighting p^(1/T) / Σ p^(1/T).")
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
    rhyme: str = "strict"
    tones: str = "strict"
    num_samples: int = Field(1, ge=1, le=MAX_POEMS)
    temperature: float = Field(0.8, ge=0.0, le=5.0)
    seed: int | None = None
