"""A conversation with a model, one reply at a time: what ``dreamwright chat`` drives (the REPL and ``-p``).

The conversation so far (the user's and the model's turns, oldest first) is the prompt of each reply, through
:meth:`Generator.encode_chat <dreamwright.generation.generator.Generator.encode_chat>` — the server's chat
endpoint reads a request's messages the same way, so the same seed and knobs give the same reply from the CLI,
the Python API and the server. A seq2seq model reads the turns themselves (the newest that fit its budget)
and ends its reply at ``EOS``; a language model reads the transcript its chat template renders and continues
it, its reply ending at the next role line.

Replies are sampled (streamed as they are written) or, with ``beam`` set, found by beam search
(``Generator.beam_search``) and given whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dreamwright._validate import positive_int
from dreamwright.decoding import SamplingParams
from dreamwright.decoding.defaults import CHAT_MAX_TOKENS, CHAT_TEMPERATURE
from dreamwright.errors import InvalidArgument
from dreamwright.generation.generator import Generator, Request


@dataclass
class ChatSettings:
    """How replies are written. ``seed``: reply ``k`` of a conversation (counted from 0, and again after
    :meth:`Chat.reset`) draws from the random stream of ``seed + k``, so the first reply is the one
    ``generator.generate(question, seed=seed)`` writes. ``beam``: 0 samples; a width of 1 or more searches."""

    temperature: float = CHAT_TEMPERATURE
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0
    beam: int = 0
    seed: int | None = None
    max_new_tokens: int = CHAT_MAX_TOKENS
    unknown: str = "error"

    def check(self) -> ChatSettings:
        """Raise on a value no reply could be written with; returns itself."""
        SamplingParams(self.temperature, self.top_k, self.top_p, self.repetition_penalty)
        check_beam(self.beam)
        positive_int("max_new_tokens", self.max_new_tokens)
        return self


def check_beam(width: int) -> int:
    if isinstance(width, bool) or not isinstance(width, int) or width < 0:
        raise InvalidArgument(f"beam must be 0 (sample) or a beam width of 1 or more, got {width!r}", param="beam")
    return width


@dataclass
class Reply:
    """One reply: its text, why it ended (``stop``: the model ended it; ``length``: the token limit), and the
    prompt ids it answered (for the attention picture)."""

    text: str
    finish_reason: str
    prompt_ids: list[int] = field(repr=False)


class Chat:
    """A conversation with ``generator``: its messages so far and the :class:`ChatSettings` of its replies."""

    def __init__(self, generator: Generator, settings: ChatSettings | None = None) -> None:
        self.generator = generator
        self.settings = (settings or ChatSettings()).check()
        self.messages: list[tuple[str, str]] = []

    @property
    def transcript(self) -> bool:
        """Whether the model continues a transcript (a language model) rather than reading the question."""
        return not self.generator.conditional

    def reset(self) -> None:
        """Forget the conversation (the next reply is reply 0 again)."""
        self.messages = []

    @property
    def replies(self) -> int:
        return sum(1 for role, _ in self.messages if role == "assistant")

    def request(self, question: str) -> Request:
        """The sampling request of the reply to ``question`` after the conversation so far (validated).

        A model with a fixed context (a GPT) reads the newest messages whose prompt leaves room for the reply
        (a seq2seq model keeps the newest turns within its budget itself)."""
        s = self.settings
        seed = None if s.seed is None else s.seed + self.replies
        messages = [*self.messages, ("user", question)]
        limit = getattr(self.generator.model, "context_limit", None)
        while True:
            request = self.generator.chat_request(messages, unknown=s.unknown, max_new_tokens=s.max_new_tokens,
                                                  temperature=s.temperature, top_k=s.top_k, top_p=s.top_p,
                                                  repetition_penalty=s.repetition_penalty, seed=seed)
            if not limit or len(request.ids) + s.max_new_tokens <= limit or len(messages) == 1:
                return request
            messages = messages[1:]

    def reply(self, question: str, on_text: Callable[[str], None] | None = None) -> Reply:
        """Answer ``question``: ``on_text`` receives the reply's text as it is written (a beam search's reply
        at once, when it is found). The exchange joins the conversation only once the reply is complete, so
        an interrupted reply (Ctrl-C) leaves the conversation as it was."""
        request = self.request(question)
        if self.settings.beam:
            text, reason = self._search(request)
            if on_text is not None and text:
                on_text(text)
        else:
            stream = self.generator.stream(request)
            for piece in stream:
                if on_text is not None:
                    on_text(piece.text)
            text, reason = stream.completions[0].text, stream.completions[0].finish_reason
        self.messages += [("user", question), ("assistant", text)]
        return Reply(text, reason, request.ids)

    def _search(self, request: Request) -> tuple[str, str]:
        own = self.generator.stops(None)  # beam_search adds the model's own end of reply itself
        best = self.generator.beam_search(request.ids, width=self.settings.beam,
                                          max_new_tokens=request.max_new_tokens,
                                          stop=[s for s in request.stops if s not in own] or None,
                                          repetition_penalty=self.settings.repetition_penalty)[0]
        return best.text, best.finish_reason
