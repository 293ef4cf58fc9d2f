"""Beam search: the likeliest continuations, found by keeping the ``width`` best ones side by side.

Beam search is a decoding mode of :class:`~dreamwright.decoding.batch.BatchDecoder`, not a second model loop:
the beams are the decoder's rows (the prompt is read once), each step ranks every row's next tokens, and
:meth:`~dreamwright.decoding.batch.BatchDecoder.keep` and :meth:`~dreamwright.decoding.batch.BatchDecoder.feed`
fork the best rows and read their new tokens. It is deterministic: temperature, top-k, top-p and seeds do not
apply.
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from dreamwright._validate import positive_int
from dreamwright.decoding.batch import BatchDecoder, Row
from dreamwright.decoding.params import SamplingParams
from dreamwright.decoding.processors import LogitsProcessor
from dreamwright.decoding.stops import StopWatcher
from dreamwright.errors import InvalidArgument


def _count(name: str, value: int, high: int | None = None, bound: str = "") -> int:
    """``value`` checked as a whole number from 1 to ``high`` (no limit when None)."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < 1 or (high is not None and number > high):
        limit = f"from 1 to {bound} {high}" if high is not None else ">= 1"
        raise InvalidArgument(f"{name} must be an integer {limit}, got {value!r}", param=name)
    return number


@dataclass(frozen=True)
class BeamParams:
    """How wide to search and how to rank what is found.

    A hypothesis scores ``sum of log-probs / generated length ** length_penalty`` (Hugging Face's convention):
    0 ranks by the raw sum, which favours short endings; above 0 longer ones gain, below 0 shorter ones.
    """

    width: int = 4
    length_penalty: float = 1.0
    n_best: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", _count("width", self.width))
        penalty = self.length_penalty
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not math.isfinite(penalty):
            raise InvalidArgument(f"length_penalty must be a finite number, got {penalty!r}", param="length_penalty")
        object.__setattr__(self, "length_penalty", float(penalty))
        object.__setattr__(self, "n_best", _count("n_best", self.n_best, self.width, "the beam width"))

    def score(self, total: float, length: int) -> float:
        """The ranking score of a hypothesis of ``length`` tokens whose log-probs sum to ``total``."""
        return total / length**self.length_penalty

    def best_reachable(self, total: float, length: int, max_new_tokens: int) -> float:
        """The best score a beam of ``length`` tokens and sum ``total`` can still reach (log-probs are <= 0, so
        the sum only falls; the length grows to between ``length + 1`` and ``max_new_tokens``)."""
        return self.score(total, max_new_tokens if self.length_penalty > 0 else length + 1)


@dataclass
class Hypothesis:
    """One continuation found by :func:`beam_search`."""

    tokens: list[int]
    #: the sum of the model's own log-probs of ``tokens`` (before the repetition penalty and ``extra``)
    logprob: float
    #: what beams are ranked by: the searched log-probs' sum over ``len(tokens) ** length_penalty``
    score: float
    text: str
    finish_reason: str  # "stop" (a stop string was reached) or "length" (max_new_tokens reached)


@dataclass
class _Beam:
    """One beam's own tokens and sums (the decoder's rows are shared when a beam forks)."""

    tokens: list[int]
    total: float  # sum of the searched log-probs (after the processors)
    logprob: float  # sum of the model's own log-probs
    watcher: StopWatcher | None = None
    stream: Any = None  # the tokenizer's stream decoder, when stop strings are watched

    def grow(self, token: int, total: float, logprob: float, tokenizer: Any) -> _Beam:
        """This beam with ``token`` appended (its text watched for stop strings, when there are any)."""
        child = _Beam([*self.tokens, token], total, self.logprob + logprob)
        if self.watcher is not None:
            child.stream = copy.deepcopy(self.stream, {id(tokenizer): tokenizer})
            child.watcher = copy.copy(self.watcher)
            child.watcher.push(child.stream.push(token))
        return child

    def hypothesis(self, beam: BeamParams, finish_reason: str, tokenizer: Any) -> Hypothesis:
        text = self.watcher.text if self.watcher is not None else tokenizer.decode(self.tokens)
        return Hypothesis(self.tokens, self.logprob, beam.score(self.total, len(self.tokens)), text, finish_reason)


def _settled(finished: list[Hypothesis], alive: list[_Beam], beam: BeamParams, max_new_tokens: int) -> bool:
    """Whether no alive beam can beat the ``n_best``-th best finished hypothesis any more."""
    if len(finished) < beam.n_best:
        return False
    kept = sorted((h.score for h in finished), reverse=True)[beam.n_best - 1]
    return all(beam.best_reachable(b.total, len(b.tokens), max_new_tokens) <= kept for b in alive)


@torch.inference_mode()
def beam_search(decoder: BatchDecoder, prompt: Sequence[int], beam: BeamParams, max_new_tokens: int, *,
                stops: Sequence[str] = (), repetition_penalty: float = 1.0,
                extra: Sequence[LogitsProcessor] = ()) -> list[Hypothesis]:
    """The ``beam.n_best`` best continuations of ``prompt`` (at most; fewer only when masks leave fewer), best
    score first, searched ``beam.width`` wide on ``decoder`` (which must hold no rows).

    Each step the rows' logits go through ``extra`` and the repetition penalty (:meth:`BatchDecoder.scores`, the
    sampler's own processors and history masks), then ``log_softmax``; the beams' sums are added and the best
    ``width`` continuations over beams × vocabulary are kept (at the first step all beams are the same, so only
    the first counts). A continuation whose text reaches a stop string is set aside as finished, its text cut
    before the stop, if it ranks among the step's best ``width``; the rest go on as the next beams.

    The search ends at ``max_new_tokens`` (the beams still alive finish with "length"), when no beam is left,
    or as soon as ``n_best`` hypotheses have finished and no alive beam can beat the ``n_best``-th of them even
    in the best case: its sum can only fall, and its score is highest at the longest possible length when
    ``length_penalty > 0`` and at the shortest otherwise. Stopping early therefore never changes the result.

    ``extra`` processors apply to every beam alike (a ``[V]`` mask or bias, or one that reads the history): the
    rows are forked and reordered every step. Deterministic: temperature, top-k, top-p and seeds do not apply.
    """
    positive_int("max_new_tokens", max_new_tokens)
    if not prompt:
        raise InvalidArgument("beam search needs a prompt of at least one token", param="prompt")
    if decoder.rows:
        raise ValueError("beam_search() needs a BatchDecoder without rows")
    watch = StopWatcher(stops)
    params = SamplingParams(0.0, repetition_penalty=repetition_penalty)
    width, tokenizer = beam.width, decoder.tokenizer
    decoder.admit([list(prompt)] * width, [Row(params, 0, max_new_tokens) for _ in range(width)])
    root = _Beam([], 0.0, 0.0, watch if stops else None, tokenizer.stream_decoder() if stops else None)
    beams = [root] * width
    totals = torch.full((width,), -math.inf, device=decoder.device)
    totals[0] = 0.0  # the beams start equal: continue only the first
    plain = not extra and params.chain == ()
    finished: list[Hypothesis] = []
    for length in range(1, max_new_tokens + 1):
        scores = torch.log_softmax(decoder.scores(extra), dim=-1)
        own = scores if plain else torch.log_softmax(decoder.logits.float(), dim=-1)
        flat = (totals[:, None] + scores).view(-1)
        top = torch.topk(flat, min(2 * width, flat.numel()))
        alive, index = [], []
        candidates = zip(top.values.tolist(), top.indices.tolist(), own.view(-1)[top.indices].tolist(), strict=True)
        for rank, (total, position, logprob) in enumerate(candidates):
            if not total > -math.inf:
                break  # the rest are masked out too
            row, token = divmod(position, scores.size(-1))
            child = beams[row].grow(token, total, logprob, tokenizer)
            if child.watcher is not None and child.watcher.stopped:
                if rank < width:
                    finished.append(child.hypothesis(beam, "stop", tokenizer))
                continue
            alive.append(child)
            index.append(row)
            if len(alive) == width:
                break
        if length == max_new_tokens:
            finished += [b.hypothesis(beam, "length", tokenizer) for b in alive]
            break
        if not alive or _settled(finished, alive, beam, max_new_tokens):
            break
        beams = alive
        totals = torch.tensor([b.total for b in beams], device=decoder.device)
        decoder.keep(index)
        decoder.feed(torch.tensor([b.tokens[-1] for b in beams], device=decoder.device))
    decoder.keep([])
    finished.sort(key=lambda h: h.score, reverse=True)
    return finished[: beam.n_best]
