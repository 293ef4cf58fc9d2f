"""vLLM's tokenizer routes at the server root, which evaluation harnesses read (lm-evaluation-harness's
``tokenizer_backend=remote``): ``POST /tokenize``, ``POST /detokenize`` and ``GET /tokenizer_info``.

dreamwright's language models have no end-of-text token. ``/tokenizer_info`` names instead the text that
generation starts from when a prompt is empty (``"\\n"`` for most models) as both ``bos_token`` and
``eos_token``: a harness puts it before each document it scores, as the model reads a new line.
"""

from __future__ import annotations

from fastapi import APIRouter

from dreamwright.errors import DreamwrightError, VocabularyError
from dreamwright.serve.errors import ERROR_RESPONSES
from dreamwright.serve.schemas import (
    DetokenizeRequest,
    DetokenizeResponse,
    TokenizeRequest,
    TokenizeResponse,
    TokenizerInfo,
)
from dreamwright.serve.state import Server, check_text_model
from dreamwright.tokenizers.base import Tokenizer

router = APIRouter()


def start_token(tokenizer: Tokenizer) -> str | None:
    """The text generation starts from when a prompt is empty, when it is one known token (else None): what a
    harness puts before a document, the model having no end-of-text token."""
    text = tokenizer.default_prompt
    try:
        return text if len(tokenizer.encode(text)) == 1 else None
    except DreamwrightError:
        return None


@router.post("/tokenize", response_model=TokenizeResponse, responses=ERROR_RESPONSES, tags=["vllm"])
async def tokenize(body: TokenizeRequest, server: Server) -> TokenizeResponse:
    """vLLM's: the token ids of a text (``add_special_tokens`` changes nothing: dreamwright adds none)."""
    _, engine = server.engine_for(body.model)
    check_text_model(engine.generator)
    try:
        ids = engine.generator.tokenizer.encode(body.prompt, unknown=body.unknown) if body.prompt else []
    except VocabularyError as exc:
        exc.param = "prompt"
        raise
    return TokenizeResponse(tokens=ids, count=len(ids), max_model_len=server.settings.max_prompt_tokens)


@router.post("/detokenize", response_model=DetokenizeResponse, responses=ERROR_RESPONSES, tags=["vllm"])
async def detokenize(body: DetokenizeRequest, server: Server) -> DetokenizeResponse:
    """vLLM's: the text of token ids (400 for an id outside the vocabulary)."""
    _, engine = server.engine_for(body.model)
    generator = engine.generator
    ids = server.token_ids(generator, body.tokens, "tokens") if body.tokens else []
    return DetokenizeResponse(prompt=generator.tokenizer.decode(ids))


@router.get("/tokenizer_info", response_model=TokenizerInfo, responses=ERROR_RESPONSES, tags=["vllm"])
async def tokenizer_info(server: Server, model: str | None = None) -> TokenizerInfo:
    """vLLM's: the tokenizer's special tokens as text (null when absent), and the longest prompt accepted."""
    _, engine = server.engine_for(model)
    tokenizer = engine.generator.tokenizer
    check_text_model(engine.generator)
    start = start_token(tokenizer)
    return TokenizerInfo(tokenizer_class=type(tokenizer).__name__, eos_token=start, bos_token=start, pad_token=None,
                         chat_template=None, model_max_length=server.settings.max_prompt_tokens,
                         vocab_size=tokenizer.vocab_size)
