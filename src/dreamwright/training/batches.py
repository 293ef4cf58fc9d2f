"""Batches from a memory-mapped token array.

- :class:`StreamBatches` (stateful models): the corpus is cut into ``batch_size`` contiguous streams read
  side by side, so each batch continues the previous one and the RNN state carries over — every token is a
  training target. Each epoch shifts the cut points by a seeded offset so truncation boundaries move.
- :class:`WindowBatches` (stateless models): random windows, seeded by (seed, epoch, index).

Both are pure functions of ``(epoch, index)``, so resuming needs only those two numbers.
Under data parallelism each rank takes its own rows of the global batch (``rank``/``world``).
"""

from __future__ import annotations

import numpy as np
import torch

from dreamwright.errors import CorpusError


def _check_length(n: int, seq_len: int) -> None:
    if n < seq_len + 1:
        raise CorpusError(
            f"the training text has {n} tokens, fewer than one training sequence ({seq_len + 1}): "
            "use a longer corpus or a smaller --seq-len"
        )


class StreamBatches:
    def __init__(self, data: np.ndarray, batch_size: int, seq_len: int, seed: int,
                 rank: int = 0, world: int = 1) -> None:
        n = len(data)
        _check_length(n, seq_len)
        self.batch_size = max(world, min(batch_size, n // (seq_len + 1)))
        self.batch_size -= self.batch_size % world
        self.data, self.seq_len, self.seed = data, seq_len, seed
        self.stream_len = n // self.batch_size
        self.max_offset = max(0, min(seq_len - 1, self.stream_len - 1 - seq_len))
        self.steps_per_epoch = (self.stream_len - 1 - self.max_offset) // seq_len
        per_rank = self.batch_size // world
        self.rows = np.arange(rank * per_rank, (rank + 1) * per_rank)

    def offset(self, epoch: int) -> int:
        if epoch == 0 or self.max_offset == 0:
            return 0
        return int(np.random.default_rng([self.seed, epoch]).integers(0, self.max_offset + 1))

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = self.offset(epoch) + index * self.seq_len
        bases = self.rows * self.stream_len + start
        idx = bases[:, None] + np.arange(self.seq_len + 1)
        chunk = torch.from_numpy(np.asarray(self.data[idx], dtype=np.int64))
        return chunk[:, :-1], chunk[:, 1:]


class WindowBatches:
    def __init__(self, data: np.ndarray, batch_size: int, seq_len: int, seed: int,
                 rank: int = 0, world: int = 1) -> None:
        n = len(data)
        _check_length(n, seq_len)
        self.data, self.batch_size, self.seq_len, self.seed = data, batch_size, seq_len, seed
        self.steps_per_epoch = max(1, (n - 1) // (batch_size * seq_len))
        per_rank = batch_size // world
        self.rows = slice(rank * per_rank, (rank + 1) * per_rank)

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, epoch, index])
        starts = rng.integers(0, len(self.data) - self.seq_len, size=self.batch_size)[self.rows]
        idx = starts[:, None] + np.arange(self.seq_len + 1)
        chunk = torch.from_numpy(np.asarray(self.data[idx], dtype=np.int64))
        return chunk[:, :-1], chunk[:, 1:]
