"""Logits processors: each knob of decoding is one small class with one signature.

A processor maps ``(history, logits[B, V]) -> logits[B, V]`` (as Hugging Face's ``LogitsProcessor`` does) and
validates its settings once, in its constructor. :class:`~dreamwright.decoding.params.SamplingParams` builds
the usual chain (repetition penalty, temperature, top-k, top-p); 作诗姬 adds its own masks and biases in
front. A new knob is one new class here and one field in ``SamplingParams``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from dreamwright._validate import fraction, positive_int
from dreamwright.errors import InvalidArgument


@dataclass
class History:
    """What a batch has read and written so far, as ``[B, V]`` boolean masks (kept only when a processor asks).

    ``seen`` covers the prompt and the generated tokens (Hugging Face's ``input_ids``); ``generated`` only the
    tokens generated after the prompt.
    """

    seen: torch.Tensor | None = None
    generated: torch.Tensor | None = None

    def rows(self, index: torch.Tensor | None) -> History:
        """The history of the rows ``index`` (all rows when None)."""
        if index is None:
            return self
        return History(*(None if m is None else m.index_select(0, index) for m in (self.seen, self.generated)))


class LogitsProcessor:
    """``(history, logits) -> logits``. ``needs`` names the :class:`History` masks the processor reads."""

    needs: ClassVar[frozenset[str]] = frozenset()

    def __call__(self, history: History, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def _finite_positive(name: str, value: float) -> float:
    value = float(value)
    if not value > 0 or math.isinf(value):
        raise InvalidArgument(f"{name} must be a finite number > 0, got {value!r}", param=name)
    return value


class Temperature(LogitsProcessor):
    """The books' reweighting: ``softmax(logits / T)`` is ``exp(log p / T)`` normalised."""

    def __init__(self, temperature: float) -> None:
        self.temperature = _finite_positive("temperature", temperature)

    def __call__(self, history: History, logits: torch.Tensor) -> torch.Tensor:
        return logits / self.temperature


class TopK(LogitsProcessor):
    """Keep the ``k`` largest logits per row (ties at the k-th value are kept), the rest ``-inf``."""

    def __init__(self, k: int) -> None:
        self.k = positive_int("top_k", k)

    def __call__(self, history: History, logits: torch.Tensor) -> torch.Tensor:
        k = min(self.k, logits.size(-1))
        kth = torch.topk(logits, k, dim=-1).values[..., -1:]
        return logits.masked_fill(logits < kth, float("-inf"))


class TopP(LogitsProcessor):
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability reaches ``p``."""

    def __init__(self, p: float) -> None:
        self.p = fraction("top_p", p)

    def __call__(self, history: History, logits: torch.Tensor) -> torch.Tensor:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # mass strictly before each token
        drop_sorted = before >= self.p
        drop_sorted[..., 0] = False  # always keep the most likely token
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        return logits.masked_fill(drop, float("-inf"))


class RepetitionPenalty(LogitsProcessor):
    """CTRL's penalty (as in Hugging Face): divide positive, multiply negative logits of every token seen so far,
    prompt included. ``penalty > 1`` discourages repeats."""

    needs = frozenset({"seen"})

    def __init__(self, penalty: float) -> None:
        try:
            self.penalty = _finite_positive("repetition_penalty", penalty)
        except (TypeError, ValueError):
            raise InvalidArgument(f"repetition_penalty must be a finite number > 0, got {penalty!r}",
                                  param="repetition_penalty") from None

    def __call__(self, history: History, logits: torch.Tensor) -> torch.Tensor:
        penalised = torch.where(logits > 0, logits / self.penalty, logits * self.penalty)
        return torch.where(history.seen, penalised, logits)


class AvoidRepeats(LogitsProcessor):
    """Subtract ``amount`` from the logit of every token already generated (the prompt is not counted).

    作诗姬's "don't use a character twice in one poem": a flat push away, unlike :class:`RepetitionPenalty`'s
    scaling, so it acts the same on likely and unlikely characters.
    """

    needs = frozenset({"generated"})

    def __init__(self, amount: float) -> None:
        self.amount = _finite_positive("repeat_penalty", amount)

    def __call__(self, history: History, logits: torch.Tensor) -> torch.Tensor:
        return logits - self.amount * history.generated.to(logits.dtype)


class Bias(LogitsProcessor):
    """Add ``bias`` (``[V]``, or ``[B, V]`` for a bias per row) to the logits (作诗姬's planned keywords)."""

    def __init__(self, bias: torch.Tensor) -> None:
        if not torch.is_floating_point(bias) or not bool(torch.isfinite(bias).all()):
            raise InvalidArgument("a bias must be a tensor of finite numbers", param="bias")
        self.bias = bias

    def __call__(self, history: History, logits: torch.Tensor) -> torch.Tensor:
        return logits + self.bias


class Mask(LogitsProcessor):
    """Allow only the tokens where ``allowed`` (``[V]`` or ``[B, V]`` booleans) is True (作诗姬's form, rhyme and
    tone rules)."""

    def __init__(self, allowed: torch.Tensor) -> None:
        if allowed.dtype != torch.bool:
            raise InvalidArgument("a mask must be a boolean tensor", param="mask")
        self.allowed = allowed

    def __call__(self, history: History, logits: torch.Tensor) -> torch.Tensor:
        return logits.masked_fill(~self.allowed, float("-inf"))


def apply(chain: Sequence[LogitsProcessor], history: History, logits: torch.Tensor) -> torch.Tensor:
    """Run ``logits`` through every processor of ``chain`` in order (in float32)."""
    if logits.dtype != torch.float32:
        logits = logits.float()
    for processor in chain:
        logits = processor(history, logits)
    return logits
