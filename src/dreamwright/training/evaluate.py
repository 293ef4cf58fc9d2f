"""Scoring a model on token arrays: total negative log-likelihood in nats, and the usual summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dreamwright.models.base import LanguageModel


@dataclass
class Score:
    """Loss summary: nats per token, bits per character, perplexity per token."""

    nats: float  # total over all scored tokens
    tokens: int
    chars: float

    @property
    def loss(self) -> float:
        return self.nats / max(self.tokens, 1)

    @property
    def bpc(self) -> float:
        return self.nats / max(self.chars, 1) / math.log(2)

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700.0))

    def as_dict(self) -> dict[str, float]:
        return {"loss": self.loss, "bpc": self.bpc, "perplexity": self.perplexity, "tokens": self.tokens}


#: a target the loss skips (``torch.nn.functional.cross_entropy``'s default ``ignore_index``)
IGNORE = -100


def target_nats(model: LanguageModel, x: torch.Tensor, y: torch.Tensor, device: torch.device | str = "cpu"
                ) -> tuple[float, int]:
    """Summed nats of the targets ``y`` given the inputs ``x`` (read from no state), and how many targets were
    scored (those not :data:`IGNORE`): the batch step of the scores that read whole rows (pairs, clips, poems)."""
    logits, _ = model(x.to(device), None)
    y = y.to(device)
    return F.cross_entropy(logits.float().transpose(1, 2), y, reduction="sum").item(), int((y != IGNORE).sum())


@torch.inference_mode()
def score_tokens(model: LanguageModel, data: np.ndarray, *, chars: int | None = None, streams: int = 16,
                 seq_len: int = 256, device: torch.device | str = "cpu", max_tokens: int | None = None,
                 stride: int | None = None, shard: tuple[int, int] = (0, 1)) -> Score:
    """Negative log-likelihood of ``data[1:]`` given what precedes it, with as much context as the model keeps.

    Stateful models read ``streams`` contiguous pieces side by side, carrying their state (full context).
    Stateless models read windows of their context limit that start every ``stride`` tokens (default: half a
    window), each scoring only its last ``stride`` targets, so every token after the first window is predicted
    from at least ``window - stride`` tokens of context. ``chars`` is how many characters
    the scored text has (for bits per character); by default one per token. ``shard=(rank, world)`` scores
    only this rank's share of the streams/windows (sum the results over ranks), the same split for any world.
    """
    was_training = model.training
    model.eval()
    n = n_total = len(data)
    if max_tokens is not None and n > max_tokens + 1:
        data, n = data[: max_tokens + 1], max_tokens + 1
    if not model.stateful and model.context_limit:
        seq_len = min(seq_len, model.context_limit)
    if not model.stateful and model.context_limit:
        stride = stride or max(1, seq_len // 2)
        total, count = _score_windows(model, data, n, seq_len, stride, streams, device, shard)
        model.train(was_training)
        return Score(total, count, count if chars is None else chars * count / n_total)
    streams = max(1, min(streams, (n - 1) // max(seq_len, 1) or 1))
    stream_len = (n - 1) // streams
    arr = torch.from_numpy(np.asarray(data[: streams * stream_len + 1], dtype=np.int64))
    mine = torch.arange(streams)[shard[0]::shard[1]]
    inputs = arr[:-1].view(streams, stream_len)[mine]
    targets = arr[1:].view(streams, stream_len)[mine]
    total, count = 0.0, 0
    state = None
    for start in range(0, stream_len, seq_len):
        x = inputs[:, start:start + seq_len].to(device)
        y = targets[:, start:start + seq_len].to(device)
        logits, state = model(x, state if model.stateful else None)
        total += F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    # tokens left over after the even split are scored as one more row
    rest = n - 1 - streams * stream_len
    if rest > 0 and shard[0] == 0:
        tail = torch.from_numpy(np.asarray(data[n - rest - 1:], dtype=np.int64))[None]
        logits, _ = model(tail[:, :-1].to(device), None)
        total += F.cross_entropy(logits.float()[0], tail[0, 1:].to(device), reduction="sum").item()
        count += rest
    model.train(was_training)
    # the first token has no prediction: count the characters of the tokens actually scored
    scored_chars = count if chars is None else chars * count / n_total
    return Score(total, count, scored_chars)


def _window_spans(n: int, window: int, stride: int) -> list[tuple[int, int, int]]:
    """The windows that score the targets ``data[1:n]``: ``(begin, end, skip)`` reads the inputs
    ``[begin, end)`` and keeps its predictions from ``skip`` on (the previous window scored those before)."""
    stride = min(stride, window)
    spans: list[tuple[int, int, int]] = []
    begin, done = 0, 0  # ``done``: targets data[1:done + 1] are scored
    while done < n - 1:
        end = min(begin + window, n - 1)
        spans.append((begin, end, done - begin))
        done, begin = end, begin + stride
    return spans


def _score_windows(model: LanguageModel, data: np.ndarray, n: int, window: int, stride: int, batch: int,
                   device: torch.device | str, shard: tuple[int, int] = (0, 1)) -> tuple[float, int]:
    """Total NLL of ``data[1:n]`` over windows ``[begin, begin + window)`` with ``begin`` stepping by
    ``stride``; each window scores only the targets the previous one did not (windows of equal length
    are run ``batch`` at a time)."""
    spans = _window_spans(n, window, stride)[shard[0]::shard[1]]
    arr = torch.from_numpy(np.asarray(data[:n], dtype=np.int64))
    total, count = 0.0, 0
    i = 0
    while i < len(spans):
        length = spans[i][1] - spans[i][0]
        group = [spans[i]]
        while i + len(group) < len(spans) and len(group) < batch and \
                spans[i + len(group)][1] - spans[i + len(group)][0] == length:
            group.append(spans[i + len(group)])
        x = torch.stack([arr[b:e] for b, e, _ in group]).to(device)
        y = torch.stack([arr[b + 1:e + 1] for b, e, _ in group]).to(device)
        logits, _ = model(x, None)
        nll = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none")
        for row, (_, _, skip) in enumerate(group):
            total += nll[row, skip:].sum().item()
            count += nll.size(1) - skip
        i += len(group)
    return total, count


#: a token's log-probability, and its position's likeliest tokens ``(id, logprob)``
TokenScores = tuple[list[float], list[list[tuple[int, float]]]]


@torch.inference_mode()
def token_logprobs(model: LanguageModel, ids: Sequence[int], *, top: int = 0, seq_len: int = 256,
                   stride: int | None = None, device: torch.device | str = "cpu") -> TokenScores:
    """The log-probability (temperature 1, no filters) of each of ``ids[1:]`` given what precedes it, and the
    ``top`` likeliest tokens at each of those positions: the per-token terms of :func:`score_tokens` on one
    stream (a stateful model carries its state; a stateless one reads the same sliding windows)."""
    was_training = model.training
    model.eval()
    arr = torch.as_tensor(list(ids), dtype=torch.long)
    n = len(arr)
    if not model.stateful and model.context_limit:
        window = min(seq_len, model.context_limit)
        spans = _window_spans(n, window, stride or max(1, window // 2))
    else:
        spans = [(begin, min(begin + seq_len, n - 1), 0) for begin in range(0, n - 1, seq_len)]
    chosen: list[float] = []
    best: list[list[tuple[int, float]]] = []
    state = None
    for begin, end, skip in spans:
        logits, state = model(arr[None, begin:end].to(device), state if model.stateful else None)
        logp = torch.log_softmax(logits[0, skip:].float(), dim=-1)
        chosen += logp.gather(-1, arr[begin + 1 + skip:end + 1, None].to(device)).squeeze(-1).tolist()
        if top:
            values, indices = torch.topk(logp, min(top, logp.size(-1)), dim=-1)
            best += [list(zip(i, v, strict=True)) for i, v in zip(indices.tolist(), values.tolist(), strict=True)]
    model.train(was_training)
    return chosen, best
