"""Turning next-token logits into a choice: temperature, top-k, top-p, repetition penalty.

Temperature is the books' formula: ``p_T(i) = exp(log p(i) / T) / Σ_j exp(log p(j) / T)``, which equals
``softmax(logits / T)``. ``T = 0`` means greedy (argmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dreamwright._validate import fraction, non_negative_float, positive_int
from dreamwright.errors import InvalidArgument


@dataclass(frozen=True)
class SamplingParams:
    """How to choose each next token. Validated on construction (same rules for CLI, API and server)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        non_negative_float("temperature", self.temperature)
        positive_int("top_k", self.top_k, allow_none=True)
        if self.top_p is not None:
            fraction("top_p", self.top_p)
        rp = float(self.repetition_penalty)
        if not rp > 0 or rp != rp or rp == float("inf"):
            raise InvalidArgument(
                f"repetition_penalty must be a finite number > 0, got {self.repetition_penalty!r}",
                param="repetition_penalty",
            )


def reweight(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """The books' reweighting of a probability vector: ``exp(log(p) / T)`` normalised."""
    logp = torch.log(probs) / temperature
    return torch.softmax(logp, dim=-1)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits whose softmax is the temperature-reweighted distribution (same as :func:`reweight`)."""
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits per row (ties at the k-th value are kept), the rest -inf."""
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability reaches ``p``."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs  # mass strictly before each token
    drop_sorted = before >= p
    drop_sorted[..., 0] = False  # always keep the most likely token
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def repetition_filter(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style penalty: divide positive / multiply negative logits of tokens in ``seen`` (a [B, V] mask)."""
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)


def next_token_logits(logits: torch.Tensor, params: SamplingParams, seen: torch.Tensor | None = None) -> torch.Tensor:
    """Apply repetition penalty, temperature, top-k and top-p to raw logits ``[B, V]`` (T > 0)."""
    if logits.dtype != torch.float32:
        logits = logits.float()
    if seen is not None and params.repetition_penalty != 1.0:
        logits = repetition_filter(logits, seen, params.repetition_penalty)
    if params.temperature != 1.0:
        logits = apply_temperature(logits, params.temperature)
    if params.top_k is not None:
        logits = top_k_filter(logits, params.top_k)
    if params.top_p is not None and params.top_p < 1.0:
        logits = top_p_filter(logits, params.top_p)
    return logits


def sample(
    logits: torch.Tensor,
    params: SamplingParams,
    generator: torch.Generator | None = None,
    seen: torch.Tensor | None = None,
) -> torch.Tensor:
    """Choose one next token per row of ``logits [B, V]``."""
    if params.temperature == 0:
        if seen is not None and params.repetition_penalty != 1.0:
            logits = repetition_filter(logits.float(), seen, params.repetition_penalty)
        return logits.argmax(dim=-1)
    probs = torch.softmax(next_token_logits(logits, params, seen), dim=-1)
    return draw(probs, generator)


def draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One index per row of ``probs [B, V]``, by inverting the cumulative distribution.

    Same distribution as ``torch.multinomial(probs, 1)``, several times cheaper for one draw per row. The
    uniform lies in (0, total], so a zero-probability token (filtered by top-k/top-p) is never chosen.
    """
    cdf = probs.cumsum(dim=-1)
    u = (1.0 - torch.rand(probs.size(0), 1, generator=generator, device=probs.device, dtype=cdf.dtype))
    return torch.searchsorted(cdf, u * cdf[:, -1:]).squeeze(-1).clamp_(max=probs.size(-1) - 1)
