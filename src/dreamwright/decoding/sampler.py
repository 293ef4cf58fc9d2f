"""The one sampler: a random stream per row and the inverse-CDF draw.

Random-number convention (the same for the CLI, the Python API, the server and 作诗姬): sample ``i`` of a
request with seed ``s`` draws from its own SplitMix64 stream seeded with ``s + i``; its ``k``-th draw is
the uniform ``mix64(s + i + k·γ) / 2⁶⁴`` (top 53 bits). A row's text therefore depends only on its own seed,
never on which other rows share its batch, and ``--seed s+i`` alone reproduces sample ``i``. A request
without a seed gets one from :func:`fresh_seed`. All rows' uniforms are made in one vectorised call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from dreamwright.decoding.params import SamplingParams
from dreamwright.decoding.processors import History, apply

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


def fresh_seed() -> int:
    """A random 63-bit seed from the operating system (for requests that did not give one)."""
    return int.from_bytes(os.urandom(8), "little") >> 1


def row_seed(seed: int, index: int) -> int:
    """The seed of sample ``index`` of a request seeded with ``seed``."""
    return seed + index


class RowStreams:
    """One SplitMix64 stream per batch row; rows can be appended, kept and snapshotted."""

    def __init__(self) -> None:
        self._state = np.zeros(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self._state)

    def add(self, seeds: Sequence[int]) -> None:
        """Append rows seeded with ``seeds`` (any Python ints; taken modulo 2⁶⁴)."""
        new = np.array([s & _MASK64 for s in seeds], dtype=np.uint64)
        self._state = np.concatenate([self._state, new])

    def keep(self, index: Sequence[int]) -> None:
        self._state = self._state[np.asarray(index, dtype=np.int64)]

    def uniforms(self) -> torch.Tensor:
        """The next uniform in [0, 1) of every row, as float64 ``[B]``."""
        with np.errstate(over="ignore"):
            self._state = self._state + _GAMMA
            z = self._state
            z = (z ^ (z >> np.uint64(30))) * _MIX1
            z = (z ^ (z >> np.uint64(27))) * _MIX2
            z = z ^ (z >> np.uint64(31))
        return torch.from_numpy((z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53)))

    def snapshot(self) -> np.ndarray:
        return self._state.copy()

    def restore(self, snapshot: np.ndarray) -> None:
        self._state = snapshot.copy()


def draw(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """One index per row of ``probs [B, V]`` by inverting its cumulative distribution at ``uniforms [B]``.

    Picks the first token whose cumulative mass exceeds ``u · total``; with ``u`` in [0, 1) a token of zero
    probability (filtered out by top-k, top-p or a mask) is never chosen.
    """
    cdf = probs.double().cumsum(dim=-1)
    target = (uniforms.to(cdf.device) * cdf[:, -1]).unsqueeze(-1)
    return torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp_(max=probs.size(-1) - 1)


def choose(
    logits: torch.Tensor,
    params: SamplingParams,
    history: History,
    uniforms: torch.Tensor,
    extra: Sequence = (),
    logprobs: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The next token of every row of ``logits [B, V]``: ``extra`` processors, then ``params``'s chain, then
    argmax (temperature 0) or a draw. With ``logprobs``, also the chosen tokens' log-probabilities under
    the distribution they were drawn from (after every processor)."""
    scores = apply((*extra, *params.chain), history, logits)
    if params.greedy:
        tokens = scores.argmax(dim=-1)
        if not logprobs:
            return tokens, None
        logp = torch.log_softmax(scores, dim=-1)
    else:
        logp = torch.log_softmax(scores, dim=-1) if logprobs else None
        probs = logp.exp() if logp is not None else torch.softmax(scores, dim=-1)
        tokens = draw(probs, uniforms)
        if logp is None:
            return tokens, None
    return tokens, logp.gather(-1, tokens[:, None]).squeeze(-1)
