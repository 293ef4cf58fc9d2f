"""``POST /v1/chat/completions``: OpenAI's chat endpoint, for seq2seq chatbots and for language models.

:meth:`Generator.encode_chat <dreamwright.generation.generator.Generator.encode_chat>` turns the messages into
the prompt, as the CLI's ``chat`` does: a seq2seq model reads their texts as turns (system, user and assistant,
in order) and its reply stops at ``EOS``; a language model reads them rendered by its
:class:`~dreamwright.generation.chat_template.ChatTemplate` and its reply stops at the template's next role
line (besides the request's own ``stop``). Everything else (limits, sampling, batching, streaming) is the
completions endpoint's.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request

from dreamwright.errors import InvalidArgument
from dreamwright.generation import Generator
from dreamwright.serve.engine import Job, TokenLogprob
from dreamwright.serve.errors import ERROR_RESPONSES, APIError
from dreamwright.serve.jobs import (
    MAX_TOP_LOGPROBS,
    EventStream,
    Finished,
    launch,
    new_job,
    respond,
    stop_list,
    unsupported,
    usage,
)
from dreamwright.serve.schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatLogprobs,
    ChatMessage,
    ChatTokenLogprob,
    TopLogprob,
    Usage,
)
from dreamwright.serve.state import Server, ServerState

router = APIRouter()
ROLE_ALIASES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def _unsupported_message(i: int, message: str, param: str = "messages") -> APIError:
    return APIError(400, f"messages[{i}]: {message} is not supported by dreamwright", param=param,
                    code="unsupported")


def message_pairs(messages: list[ChatMessage]) -> list[tuple[str, str]]:
    """``(role, text)`` of every message; a 400 naming the first one dreamwright cannot read."""
    if not messages:
        raise InvalidArgument("messages must not be empty", param="messages")
    out = []
    for i, m in enumerate(messages):
        role = ROLE_ALIASES.get(m.role)
        if role is None:
            raise _unsupported_message(i, f"the role {m.role!r} (tools and functions)")
        extra = sorted(set(m.model_extra or {}) - {"refusal"})
        if extra:
            raise _unsupported_message(i, f"the field {extra[0]!r}")
        if m.content is None:
            raise InvalidArgument(f"messages[{i}].content must be text", param="messages")
        if isinstance(m.content, str):
            text = m.content
        else:
            pieces = []
            for part in m.content:
                if part.type != "text" or part.text is None:
                    raise _unsupported_message(i, f"a content part of type {part.type!r} (only text is)")
                pieces.append(part.text)
            text = "".join(pieces)
        out.append((role, text))
    return out


def build_job(body: ChatCompletionRequest, generator: Generator, server: ServerState) -> Job:
    """Validate a chat request and turn its rendered conversation into a job for the engine."""
    unsupported([
        ("tools", bool(body.tools)),
        ("tool_choice", body.tool_choice not in (None, "none")),
        ("parallel_tool_calls", bool(body.parallel_tool_calls)),
        ("functions", bool(body.functions)),
        ("function_call", body.function_call not in (None, "none")),
        ("frequency_penalty", body.frequency_penalty not in (None, 0)),
        ("presence_penalty", body.presence_penalty not in (None, 0)),
        ("logit_bias", bool(body.logit_bias)),
    ])
    if body.response_format is not None and body.response_format.type != "text":
        raise APIError(400, f"response_format {body.response_format.type!r} is not supported by dreamwright "
                       "(only text)", param="response_format", code="unsupported")
    if body.top_logprobs is not None:
        if not body.logprobs:
            raise InvalidArgument("top_logprobs needs logprobs: true", param="top_logprobs")
        if not 0 <= body.top_logprobs <= MAX_TOP_LOGPROBS:
            raise InvalidArgument(
                f"top_logprobs must be in 0..{MAX_TOP_LOGPROBS}, got {body.top_logprobs}", param="top_logprobs"
            )
    ids = server.encode(generator, message_pairs(body.messages), body.unknown, "messages")
    max_tokens, param = body.max_tokens, "max_tokens"
    if body.max_completion_tokens is not None:
        max_tokens, param = body.max_completion_tokens, "max_completion_tokens"
    return new_job(server, generator, [ids], body, stops=stop_list(body.stop, generator.chat_stops()),
                   max_tokens=max_tokens,
                   max_tokens_param=param, logprobs=(body.top_logprobs or 0) if body.logprobs else None, kind="chat")


def chat_logprobs(entries: list[TokenLogprob] | None) -> ChatLogprobs | None:
    """OpenAI's chat ``logprobs`` object: ``content`` lists each token with its alternatives."""
    if entries is None:
        return None
    return ChatLogprobs(content=[
        ChatTokenLogprob(
            token=e.token,
            logprob=e.logprob,
            bytes=list(e.token.encode()),
            top_logprobs=[TopLogprob(token=t, logprob=lp, bytes=list(t.encode())) for t, lp in e.top],
        )
        for e in entries
    ])


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletionResponse,
    tags=["openai"],
    responses={
        **ERROR_RESPONSES,
        200: {
            "description": "A chat completion, or with `stream: true` Server-Sent Events of "
            "`chat.completion.chunk` objects ending with `data: [DONE]`.",
            "content": {"text/event-stream": {}},
        },
    },
)
async def chat_completions(body: ChatCompletionRequest, request: Request, server: Server) -> Any:
    """OpenAI's chat endpoint: the messages are rendered by the model's chat template."""
    launched = launch(body, request, server, build_job)
    job = launched.job

    def answer(done: Finished) -> ChatCompletionResponse:
        return ChatCompletionResponse(
            id=completion_id,
            created=launched.created,
            model=launched.model,
            choices=[
                ChatChoice(
                    index=i,
                    message=AssistantMessage(content=text),
                    logprobs=chat_logprobs(done.logprobs.get(i, []) if job.logprobs is not None else None),
                    finish_reason=done.reasons[i],
                )
                for i, text in sorted(done.texts.items())
            ],
            usage=Usage(**usage(launched.prompt_tokens, done.tokens)),
        )

    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    return await respond(launched, body, request, completion_id, _ChatStream, answer)


class _ChatStream(EventStream):
    """``chat.completion.chunk`` events: the role first, then ``delta.content`` pieces, then the finish."""

    object_name = "chat.completion.chunk"

    @staticmethod
    def _choice(index: int, delta: dict, reason: str | None, logprobs: list[TokenLogprob] | None) -> dict:
        lp = chat_logprobs(logprobs) if logprobs else None
        return {"index": index, "delta": delta, "logprobs": lp and lp.model_dump(), "finish_reason": reason}

    def opening(self, job: Job) -> list[str]:
        return [self.chunk([self._choice(i, {"role": "assistant", "content": ""}, None, None)])
                for i in range(job.rows)]

    def text_choice(self, index: int, text: str, logprobs: list[TokenLogprob] | None) -> dict:
        return self._choice(index, {"content": text}, None, logprobs)

    def final_choice(self, index: int, reason: str, logprobs: list[TokenLogprob] | None) -> dict:
        return self._choice(index, {}, reason, logprobs)
