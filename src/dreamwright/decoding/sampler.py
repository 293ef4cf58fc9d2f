"""The one sampler: a random stream per row and the inverse-CDF draw.

Random-number convention (the same for the CLI, the Python API, the server and 作诗姬): sample ``i`` of a
request with seed ``s`` draws from its own SplitMix64 stream seeded with ``s + i``; its ``k``-th draw takes
the top 24 bits ``b`` of ``mix64(s + i + (k+1)·γ)`` as the uniform ``u = (2²⁴ − b) / 2²⁴`` in (0, 1] (exact in
float32), and the token drawn is the first whose cumulative probability reaches ``u`` times the total. A row's
random numbers therefore depend only on its
own seed, never on which other rows share its batch, and ``--seed s+i`` alone draws the numbers of sample
``i`` (its text is the same unless a batched step's last-bit rounding flips a near-tie). A request
without a seed gets one from :func:`fresh_seed`. All rows' uniforms are made in one vectorised call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from dreamwright.decoding.params import SamplingParams
from dreamwright.decoding.processors import History, apply
from dreamwright.errors import InvalidArgument

_GAMMA = 0x9E3779B97F4A7C15
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1
#: draws made per row at a time (one vectorised call per block, not per step)
BLOCK = 64
#: (j + 1)·γ mod 2⁶⁴ for j < BLOCK: the SplitMix64 states of a row's next BLOCK draws, relative to its state
_STEPS = np.array([((j + 1) * _GAMMA) & _MASK64 for j in range(BLOCK)], dtype=np.uint64)


def fresh_seed() -> int:
    """A random 63-bit seed from the operating system (for requests that did not give one)."""
    return int.from_bytes(os.urandom(8), "little") >> 1


def resolve_seed(seed: int | None) -> int:
    """``seed`` checked as an integer, or :func:`fresh_seed` when it is None: every request's one seed source."""
    if seed is None:
        return fresh_seed()
    if isinstance(seed, bool) or int(seed) != seed:
        raise InvalidArgument(f"seed must be an integer, got {seed!r}", param="seed")
    return int(seed)


def row_seed(seed: int, index: int) -> int:
    """The seed of sample ``index`` of a request seeded with ``seed``."""
    return seed + index


def _splitmix(states: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The SplitMix64 streams at ``states [n]`` advanced ``count`` draws: their new states and the uniforms
    ``[count, n]`` drawn on the way."""
    z = states[None, :] + _STEPS[:count, None]
    advanced = z[-1].copy()
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return advanced, (np.float32(2**24) - (z >> np.uint64(40)).astype(np.float32)) * np.float32(2.0**-24)


class RowStreams:
    """One SplitMix64 stream per batch row; rows can be appended, kept and snapshotted.

    Draws are made ``BLOCK`` steps ahead for all rows in one vectorised call; a step only reads a row of that
    block, so a row's uniforms are the same whatever the block boundaries or the batch around it.
    """

    def __init__(self) -> None:
        self._state = np.zeros(0, dtype=np.uint64)  # each row's SplitMix64 state after the block's draws
        self._block = np.zeros((BLOCK, 0), dtype=np.float32)  # [step in block, row] uniforms
        self._next = BLOCK  # the block row the next step reads

    def __len__(self) -> int:
        return len(self._state)

    def add(self, seeds: Sequence[int]) -> None:
        """Append rows seeded with ``seeds`` (any Python ints; taken modulo 2⁶⁴)."""
        states = np.array([s & _MASK64 for s in seeds], dtype=np.uint64)
        block = np.zeros((BLOCK, len(states)))
        left = BLOCK - self._next
        if left:
            states, block[self._next:] = _splitmix(states, left)
        self._state = np.concatenate([self._state, states])
        self._block = np.concatenate([self._block, block], axis=1)

    def keep(self, index: Sequence[int]) -> None:
        index = np.asarray(index, dtype=np.int64)
        self._state = self._state[index]
        self._block = self._block[:, index]

    def uniforms(self) -> torch.Tensor:
        """The next uniform in (0, 1] of every row, as float32 ``[B]``."""
        if self._next == BLOCK:
            with np.errstate(over="ignore"):
                self._state, self._block = _splitmix(self._state, BLOCK)
            self._next = 0
        u = torch.from_numpy(self._block[self._next])
        self._next += 1
        return u

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, int]:
        return self._state.copy(), self._block.copy(), self._next

    def restore(self, snapshot: tuple[np.ndarray, np.ndarray, int]) -> None:
        state, block, self._next = snapshot
        self._state, self._block = state.copy(), block.copy()


def draw(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """One index per row of ``probs [B, V]`` by inverting its cumulative distribution at ``uniforms [B]``.

    Picks the first token whose cumulative mass reaches ``u · total``; with ``u`` in (0, 1] the target is above
    zero and at most the total, so a token of zero probability (filtered out by top-k, top-p or a mask) is never
    chosen.
    """
    cdf = probs.cumsum(dim=-1)
    target = uniforms.to(device=cdf.device, dtype=cdf.dtype)[:, None] * cdf[:, -1:]
    return torch.searchsorted(cdf, target).squeeze(-1).clamp_(max=probs.size(-1) - 1)


def choose(
    logits: torch.Tensor,
    params: SamplingParams,
    history: History,
    uniforms: torch.Tensor,
    extra: Sequence = (),
) -> torch.Tensor:
    """The next token of every row of ``logits [B, V]``: ``extra`` processors, then ``params``'s chain, then
    argmax (temperature 0) or an inverse-CDF draw at ``uniforms``."""
    scores = apply((*extra, *params.chain), history, logits)
    if params.greedy:
        return scores.argmax(dim=-1)
    return draw(torch.softmax(scores, dim=-1), uniforms)
