"""The writer behind the CLI and the Python API: a trained model with its tokenizer.

A prompt is read once (prefill); then each step feeds only the newly chosen token, with the RNN's hidden
state or the transformer's key/value cache carried along — never re-encoding a sliding window. Several
samples are decoded as one batch by :class:`~dreamwright.decoding.BatchDecoder`; this class only validates
requests and turns rows into :class:`Completion` records.
"""

from __future__ import annotations

import inspect
import numbers
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import torch

from dreamwright._validate import positive_int
from dreamwright.decoding import (
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_TEMPERATURE,
    BatchDecoder,
    BeamParams,
    Hypothesis,
    Row,
    SamplingParams,
    StopWatcher,
    Temperature,
    beam_search,
    resolve_seed,
    sample_rows,
)
from dreamwright.decoding.processors import History, apply
from dreamwright.devices import resolve_device
from dreamwright.errors import InvalidArgument
from dreamwright.models.base import LanguageModel
from dreamwright.tokenizers import Tokenizer


@dataclass
class Completion:
    """One finished sample."""

    text: str
    finish_reason: str  # "stop" (a stop string was hit) or "length" (max_new_tokens reached)
    prompt_tokens: int
    completion_tokens: int
    #: the seed of this sample's random stream (with ``num_samples=1`` it reproduces the sample alone)
    seed: int | None = None
    token_ids: list[int] = field(default_factory=list, repr=False)


@dataclass
class Request:
    """A validated generation request: the same rules for the CLI, the API and the server."""

    ids: list[int]
    params: SamplingParams
    stops: list[str]
    max_new_tokens: int
    num_samples: int
    seed: int

    def rows(self, watch_text: bool = False) -> list[Row]:
        """One :class:`Row` per sample, sample ``i`` seeded with ``row_seed(seed, i)``."""
        return sample_rows(self.params, self.seed, self.num_samples, self.max_new_tokens, self.stops,
                           watch_text=watch_text)


def stop_strings(stop: str | Sequence[str] | None) -> list[str]:
    """A request's stop strings as a checked list (one string or several): the CLI's, the API's and the server's."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    StopWatcher(stops)  # validates
    return stops


class Piece(NamedTuple):
    """New text of one sample, as it is written."""

    sample: int
    text: str


class Stream:
    """The :class:`Piece` events of a batch being decoded; ``completions`` once it is exhausted."""

    def __init__(self, pieces: Iterator[Piece], rows: Sequence[Row]) -> None:
        self._pieces = pieces
        self._rows = rows
        self.completions: list[Completion] = []

    def __iter__(self) -> Iterator[Piece]:
        yield from self._pieces
        self.completions = [Completion(r.text, r.finish_reason or "length", len(r.prompt), len(r.tokens), r.seed,
                                       r.tokens) for r in self._rows]

    def finish(self) -> list[Completion]:
        """Decode to the end (the pieces unseen) and return the completions."""
        for _ in self:
            pass
        return self.completions


class Generator:
    """A trained model with its tokenizer, ready to write. Build one with :func:`dreamwright.load`."""

    def __init__(self, model: LanguageModel, tokenizer: Tokenizer, *, name: str = "model",
                 config: dict | None = None, device: torch.device | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.config = config or {}
        self.device = device or next(model.parameters()).device
        #: the run directory it was loaded from (None when built from a model in memory)
        self.run_dir: Path | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | None = None) -> Generator:
        """Load a run directory (or the name of a bundled model)."""
        from dreamwright.runs import load_run

        run_dir = resolve_model_path(path)
        dev = resolve_device(device)
        model, tokenizer, config = load_run(run_dir, device=dev)
        generator = cls(model, tokenizer, name=Path(run_dir).name, config=config, device=dev)
        generator.run_dir = Path(run_dir)
        return generator

    @property
    def conditional(self) -> bool:
        """Whether the model reads an input and writes a reply (seq2seq) rather than continuing a text."""
        return bool(getattr(self.model, "conditional", False))

    # ------------------------------------------------------------------ requests
    def encode_prompt(self, prompt: str, unknown: str = "error") -> list[int]:
        """Token ids of ``prompt``; the default start text when it is empty. For a seq2seq model the prompt is
        the input (:meth:`encode_source`)."""
        if unknown not in ("error", "skip"):
            raise InvalidArgument(f"unknown must be 'error' or 'skip', got {unknown!r}", param="unknown")
        if self.conditional:
            return self.encode_source([prompt], unknown)
        ids = self.tokenizer.encode(prompt, unknown=unknown) if prompt else []
        if not ids:
            ids = self.tokenizer.encode(self.tokenizer.default_prompt, unknown="skip") or [0]
        return ids

    def encode_source(self, turns: Sequence[str], unknown: str = "error") -> list[int]:
        """What a seq2seq model reads before it replies: the conversation's turns (oldest first) joined as in
        training, cut to the source length the model was trained on, then ``GO``."""
        from dreamwright.data.pair_tokens import GO, TURN
        from dreamwright.data.pairs import join_turns

        ids = self.tokenizer.encode(join_turns(turns), unknown=unknown) or self.tokenizer.encode(TURN)
        return ids[-self.config.get("train", {}).get("seq_len", 10_000):] + self.tokenizer.encode(GO)

    def request(self, prompt: str = "", *, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                temperature: float = DEFAULT_TEMPERATURE, top_k: int | None = None, top_p: float | None = None,
                repetition_penalty: float = 1.0, num_samples: int = 1, seed: int | None = None,
                stop: str | Sequence[str] | None = None, unknown: str = "error") -> Request:
        """Validate one generation request and encode its prompt (a missing seed is drawn here).

        The knobs follow Hugging Face ``generate()``: ``max_new_tokens``, ``temperature`` (0 = greedy),
        ``top_k``, ``top_p``, ``repetition_penalty``, ``num_samples``, ``seed`` (sample ``i`` draws from the
        random stream of ``seed + i``), ``stop`` (one string or several), and ``unknown`` ('error' or 'skip' for
        prompt pieces missing from the vocabulary). :meth:`generate`, :meth:`complete` and :meth:`stream` take
        the same ones.
        """
        params = SamplingParams(temperature, top_k, top_p, repetition_penalty)
        positive_int("max_new_tokens", max_new_tokens)
        positive_int("num_samples", num_samples)
        return Request(self.encode_prompt(prompt, unknown), params, self.stops(stop), max_new_tokens,
                       num_samples, resolve_seed(seed))

    def chat_request(self, messages: Sequence[tuple[str, str]], *, stop: str | Sequence[str] | None = None,
                     unknown: str = "error", **knobs: Any) -> Request:
        """A request for the next reply of a conversation: ``(role, content)`` messages, oldest first (roles
        ``system``, ``user``, ``assistant``), read as :meth:`encode_chat` reads them and ended by
        :meth:`chat_stops`. The other knobs are :meth:`request`'s; ``generate``, ``complete`` and ``stream``
        take the result."""
        ids = self.encode_chat(messages, unknown)
        return replace(self.request("", **knobs), ids=ids, stops=self.chat_stops(stop))

    @property
    def chat_template(self):
        """How a language model reads a conversation: the run's :class:`ChatTemplate` (``role: content``
        lines by default). A seq2seq model needs none: it reads the turns themselves."""
        from dreamwright.generation.chat_template import ChatTemplate

        return ChatTemplate.from_config(self.config)

    def encode_chat(self, messages: Sequence[tuple[str, str]], unknown: str = "error") -> list[int]:
        """Token ids of a conversation that the model is to answer — the one place a conversation becomes a
        prompt (the CLI's ``chat``, the server's chat endpoint and :meth:`chat_request` all come here).

        A seq2seq model reads the messages' texts as turns, oldest first (:meth:`encode_source`, which keeps
        the newest turns within its budget), whatever their roles; a language model reads the transcript its
        :attr:`chat_template` renders, ending where the assistant's reply begins.
        """
        if not messages:
            raise InvalidArgument("a conversation needs at least one message", param="messages")
        if self.conditional:
            return self.encode_source([text for _, text in messages], unknown)
        return self.encode_prompt(self.chat_template.render(messages), unknown)

    def chat_stops(self, stop: str | Sequence[str] | None = None) -> list[str]:
        """Where a reply to a conversation ends: the request's stop strings, then the model's end of reply
        (a seq2seq model's ``EOS``) or the chat template's next role line (a language model)."""
        stops = self.stops(stop)
        extra = [] if self.conditional else self.chat_template.stops
        return stops + [s for s in extra if s not in stops]

    def stops(self, stop: str | Sequence[str] | None) -> list[str]:
        """The request's stop strings, and a seq2seq model's end of reply."""
        from dreamwright.data.pair_tokens import EOS

        return stop_strings(stop) + ([EOS] if self.conditional else [])

    def _as_request(self, prompt: str | Request, knobs: dict) -> Request:
        if isinstance(prompt, Request):
            if knobs:
                raise InvalidArgument(f"give either a Request or keyword arguments, not both ({', '.join(knobs)})")
            return prompt
        return self.request(prompt, **knobs)

    # ------------------------------------------------------------------ decoding
    def decode(self, prompts: Sequence[Sequence[int]], rows: Sequence[Row]) -> Stream:
        """Decode ``rows`` (row ``i`` continuing ``prompts[i]``) as one batch; iterate the result for text."""
        return Stream(self._pieces(prompts, rows), rows)

    def _pieces(self, prompts: Sequence[Sequence[int]], rows: Sequence[Row]) -> Iterator[Piece]:
        decoder = BatchDecoder(self.model, self.tokenizer, self.device)
        index = {id(row): i for i, row in enumerate(rows)}
        decoder.admit(prompts, rows)
        for row, text in decoder.run():
            if text:
                yield Piece(index[id(row)], text)

    def stream(self, prompt: str | Request = "", **knobs) -> Stream:
        """The samples' text as it is written: iterate for :class:`Piece` ``(sample, text)`` events; the
        finished :class:`Completion` records are ``.completions`` afterwards. The request is validated before
        this returns."""
        req = self._as_request(prompt, knobs)
        return self.decode([req.ids] * req.num_samples, req.rows(watch_text=True))

    def complete(self, prompt: str | Request = "", **knobs) -> list[Completion]:
        """Like :meth:`generate` but returns :class:`Completion` records (text, finish reason, token counts, seed)."""
        req = self._as_request(prompt, knobs)
        return self.decode([req.ids] * req.num_samples, req.rows()).finish()

    def generate(self, prompt: str | Request = "", **knobs) -> list[str]:
        """Continuations of ``prompt`` (without the prompt), one string per sample; the knobs are
        :meth:`request`'s."""
        return [c.text for c in self.complete(prompt, **knobs)]

    def beam_search(self, prompt: str | Sequence[int] = "", *, width: int = 4, length_penalty: float = 1.0,
                    n_best: int = 1, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                    stop: str | Sequence[str] | None = None, repetition_penalty: float = 1.0,
                    unknown: str = "error") -> list[Hypothesis]:
        """The ``n_best`` likeliest continuations of ``prompt`` a beam ``width`` wide finds, best first
        (:func:`~dreamwright.decoding.beam.beam_search`; ``length_penalty`` as in Hugging Face).

        ``prompt`` is text, encoded as :meth:`request` does, or token ids, read as they are (a seq2seq model's
        ids must already end in ``GO``). Beam search is deterministic: there is no temperature, top-k, top-p or
        seed.
        """
        beam = BeamParams(width, length_penalty, n_best)
        positive_int("max_new_tokens", max_new_tokens)
        ids = self.encode_prompt(prompt, unknown) if isinstance(prompt, str) else self._token_ids(prompt)
        decoder = BatchDecoder(self.model, self.tokenizer, self.device)
        return beam_search(decoder, ids, beam, max_new_tokens, stops=self.stops(stop),
                           repetition_penalty=repetition_penalty)

    def _token_ids(self, ids: Sequence[int]) -> list[int]:
        """``ids`` checked as a non-empty list of the model's token ids."""
        vocab, out = self.model.vocab_size, []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < vocab:
                raise InvalidArgument(f"prompt token ids must be integers in [0, {vocab}), got {i!r}", param="prompt")
            out.append(int(i))
        if not out:
            raise InvalidArgument("prompt must be text or at least one token id", param="prompt")
        return out

    @torch.inference_mode()
    def next_token_distribution(self, context: str, temperature: float = 1.0, top_n: int = 10,
                                unknown: str = "error") -> list[dict]:
        """The model's most likely next tokens, with probabilities before and after temperature."""
        params = SamplingParams(temperature=temperature)
        positive_int("top_n", top_n)
        ids = self.encode_prompt(context, unknown)
        logits, _ = self.model(torch.tensor([ids], device=self.device), None)
        logits = logits[0, -1].float()
        probs = torch.softmax(logits, dim=-1)
        if params.greedy:
            after = torch.zeros_like(probs)
            after[probs.argmax()] = 1.0
        else:
            after = torch.softmax(apply([Temperature(temperature)], History(), logits), dim=-1)
        order = torch.argsort(torch.maximum(probs, after), descending=True)[:top_n]
        return [
            {"token_id": int(i), "token": self.tokenizer.token_text(int(i)), "probability": float(probs[i]),
             "reweighted": float(after[i])}
            for i in order
        ]


def _show_request_knobs(method: Callable[..., Any]) -> None:
    """Give ``method`` :meth:`Generator.request`'s knobs in its signature (``help()``, ``inspect.signature``)."""
    knobs = list(inspect.signature(Generator.request).parameters.values())
    own = inspect.signature(method)
    method.__signature__ = own.replace(parameters=[knobs[0], own.parameters["prompt"], *knobs[2:]])  # type: ignore[attr-defined]


for _method in (Generator.stream, Generator.complete, Generator.generate):
    _show_request_knobs(_method)


def resolve_model_path(path: str | os.PathLike[str] | None) -> Path:
    """A run directory path, or a bundled model's directory when ``path`` names one (or is None)."""
    from dreamwright import bundled

    if path is None:
        return bundled.default_model_dir()
    p = Path(path).expanduser()
    if not p.exists():
        found = bundled.find(str(path))
        if found is not None:
            return found
    return p
