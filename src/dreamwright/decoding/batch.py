"""The one batch decoder: many samples, one model step per new token, state carried along.

Each :class:`Row` is one sample with its own sampling parameters, random stream, stop strings and token
budget. :meth:`BatchDecoder.admit` reads new prompts (each distinct prompt once, one forward pass per prompt
length) and joins them to the running batch; :meth:`BatchDecoder.step` chooses a token for every row, turns it
into text, drops the rows that finished and feeds the rest back to the model. The CLI and Python API
(:class:`~dreamwright.generation.generator.Generator`), the server's engine and 作诗姬 all drive this class.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from dreamwright.decoding.params import SamplingParams
from dreamwright.decoding.processors import History, LogitsProcessor, apply
from dreamwright.decoding.sampler import RowStreams, choose, row_seed
from dreamwright.decoding.stops import StopWatcher
from dreamwright.models.base import LanguageModel


def _inference():
    """Inference mode, entered only when the caller is not already in it (entering costs microseconds a step)."""
    return contextlib.nullcontext() if torch.is_inference_mode_enabled() else torch.inference_mode()


@dataclass(eq=False)
class Row:
    """One sample being written. ``tag`` is the driver's own (a server job and choice index, say)."""

    params: SamplingParams
    seed: int
    max_new_tokens: int
    stops: Sequence[str] = ()
    #: decode text as tokens arrive (needed for stop strings and streaming); otherwise decoded once at the end
    watch_text: bool = False
    #: collect the model's log-probability of every chosen token and of its ``logprobs`` likeliest alternatives
    #: (None: none at all). These are the model's own distribution, before temperature and filters, as OpenAI
    #: and vLLM report them.
    logprobs: int | None = None
    tag: Any = None
    prompt: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    token_logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)
    finish_reason: str | None = None  # "stop" (a stop string) or "length" (max_new_tokens)
    watcher: StopWatcher = field(init=False)
    decoder: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.watcher = StopWatcher(self.stops)
        self.watch_text = self.watch_text or bool(self.stops)

    @property
    def text(self) -> str:
        return self.watcher.text


def sample_rows(params: SamplingParams | Sequence[SamplingParams], seed: int, count: int, max_new_tokens: int,
                stops: Sequence[str] = (), *, watch_text: bool = False, logprobs: int | None = None,
                tags: Sequence[Any] | None = None) -> list[Row]:
    """The rows of a request's ``count`` samples: sample ``i`` draws from the stream of ``row_seed(seed, i)``.

    ``params`` is shared, or one per sample (the trainer's samples at several temperatures). The one place a
    request becomes rows, for the CLI, the Python API, the server and the trainer, which is what makes the same
    seed give the same text on every surface.
    """
    per_row = [params] * count if isinstance(params, SamplingParams) else list(params)
    if len(per_row) != count:
        raise ValueError(f"{len(per_row)} sampling parameters for {count} rows")
    return [Row(per_row[i], row_seed(seed, i), max_new_tokens, stops, watch_text=watch_text, logprobs=logprobs,
                tag=None if tags is None else tags[i]) for i in range(count)]


@dataclass
class Snapshot:
    """Everything :meth:`BatchDecoder.restore` needs to go back to an earlier step (作诗姬's backtracking)."""

    state: Any
    logits: torch.Tensor
    history: History
    streams: Any
    tokens: list[list[int]]


class BatchDecoder:
    """Decode any :class:`LanguageModel` for a changing batch of rows."""

    def __init__(self, model: LanguageModel, tokenizer: Any, device: torch.device | None = None,
                 needs: frozenset[str] = frozenset()) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device or next(model.parameters()).device
        self.rows: list[Row] = []
        self.state: Any = None
        self.logits: torch.Tensor | None = None  # [B, V] next-token logits of every row
        self.history = History()
        self.streams = RowStreams()
        self._needs = set(needs)
        self._groups: list[tuple[SamplingParams, torch.Tensor | None]] = []
        self._top_logprobs: int | None = None  # the most alternatives any row asked for (None: no row)

    # ------------------------------------------------------------------ rows in and out
    @torch.inference_mode()
    def admit(self, prompts: Sequence[Sequence[int]], rows: Sequence[Row]) -> None:
        """Add ``rows``, row ``i`` continuing ``prompts[i]``. Identical prompts are read once."""
        if len(prompts) != len(rows):
            raise ValueError(f"admit() needs one prompt per row, got {len(prompts)} for {len(rows)}")
        if not rows:
            return
        unique: dict[tuple[int, ...], int] = {}
        for prompt in prompts:
            unique.setdefault(tuple(prompt), len(unique))
        by_length: dict[int, list[tuple[int, ...]]] = {}
        for key in unique:
            by_length.setdefault(len(key), []).append(key)
        order, states, last = [], [], []
        for keys in by_length.values():
            logits, state = self.model(torch.tensor(keys, device=self.device), None)
            states.append(state)
            last.append(logits[:, -1])
            order.extend(unique[k] for k in keys)
        position = {u: i for i, u in enumerate(order)}
        index = torch.tensor([position[unique[tuple(p)]] for p in prompts], device=self.device)
        state = self.model.concat_states(states) if len(states) > 1 else states[0]
        state = self.model.select_state(state, index)
        logits = torch.cat(last).index_select(0, index)
        for row, prompt in zip(rows, prompts, strict=True):
            row.prompt = list(prompt)
            if row.watch_text:
                row.decoder = self.tokenizer.stream_decoder()
        if self.rows:
            self.state = self.model.concat_states([self.state, state])
            self.logits = torch.cat([self.logits, logits])
        else:
            self.state, self.logits = state, logits
        self.rows.extend(rows)
        self.streams.add([r.seed for r in rows])
        for kind in ("seen", "generated"):
            mask = getattr(self.history, kind)
            if mask is not None:
                setattr(self.history, kind, torch.cat([mask, self._mask(kind, rows)]))
        self._regroup()

    def keep(self, index: Sequence[int]) -> None:
        """Keep only the rows at positions ``index`` (in that order). A position may repeat (beam search forks a
        row): the copies share one :class:`Row`, so a caller that repeats rows keeps its own tokens per copy."""
        if list(index) == list(range(len(self.rows))):
            return
        if not index:
            self.rows, self.state, self.logits, self.history = [], None, None, History()
            self.streams.keep([])
            self._regroup()
            return
        rows = torch.tensor(list(index), device=self.device)
        self.rows = [self.rows[i] for i in index]
        self.state = self.model.select_state(self.state, rows)
        self.logits = self.logits.index_select(0, rows)
        self.history = self.history.rows(rows)
        self.streams.keep(index)
        self._regroup()

    def _regroup(self) -> None:
        """Which rows share sampling parameters, and which history masks their processors read."""
        groups: dict[SamplingParams, list[int]] = {}
        for i, row in enumerate(self.rows):
            groups.setdefault(row.params, []).append(i)
        n = len(self.rows)
        self._groups = [(p, None if len(idx) == n else torch.tensor(idx, device=self.device))
                        for p, idx in groups.items()]
        self._top_logprobs = max((r.logprobs for r in self.rows if r.logprobs is not None), default=None)
        needs = set(self._needs)
        for params in groups:
            for processor in params.chain:
                needs |= processor.needs
        self._ensure_history(needs)

    def _ensure_history(self, needs: set[str]) -> None:
        for kind in needs:
            if getattr(self.history, kind) is None and self.rows:
                setattr(self.history, kind, self._mask(kind, self.rows))

    def _mask(self, kind: str, rows: Sequence[Row]) -> torch.Tensor:
        mask = torch.zeros(len(rows), self.model.vocab_size, dtype=torch.bool, device=self.device)
        for i, row in enumerate(rows):
            ids = row.tokens if kind == "generated" else row.prompt + row.tokens
            if ids:
                mask[i, ids] = True
        return mask

    # ------------------------------------------------------------------ one step
    def choose(self, extra: Sequence[LogitsProcessor] = ()) -> torch.Tensor:
        """The next token of every row. ``extra`` processors run before each row's own chain (作诗姬's masks
        and biases)."""
        if extra:
            self._ensure_history({kind for p in extra for kind in p.needs})
        uniforms = self.streams.uniforms()
        if len(self._groups) == 1:
            return choose(self.logits, self._groups[0][0], self.history, uniforms, extra)
        tokens = torch.empty(len(self.rows), dtype=torch.long, device=self.device)
        for params, index in self._groups:
            tokens[index] = choose(self.logits.index_select(0, index), params, self.history.rows(index),
                                   uniforms[index.cpu()], extra)
        return tokens

    def scores(self, extra: Sequence[LogitsProcessor] = ()) -> torch.Tensor:
        """Every row's logits after ``extra`` and its own processors (float32 ``[B, V]``): what :meth:`choose`
        chooses from, temperature included; beam search ranks them."""
        if extra:
            self._ensure_history({kind for p in extra for kind in p.needs})
        if len(self._groups) == 1:
            return apply((*extra, *self._groups[0][0].chain), self.history, self.logits)
        out = torch.empty(self.logits.shape, dtype=torch.float32, device=self.logits.device)
        for params, index in self._groups:
            out[index] = apply((*extra, *params.chain), self.history.rows(index), self.logits.index_select(0, index))
        return out

    def logprobs(self, tokens: torch.Tensor, top: int = 0) -> tuple[list[float], list[list[tuple[int, float]]]]:
        """The model's log-probability of each row's token in ``tokens`` at this step, and each row's ``top``
        likeliest tokens with theirs (none when ``top`` is 0). These are the model's own distribution, before
        temperature, filters and masks: what ``logprobs`` reports and what 作诗姬 ranks its candidates by."""
        logp = torch.log_softmax(self.logits.float(), dim=-1)
        chosen = logp.gather(-1, tokens[:, None]).squeeze(-1).tolist()
        if not top:
            return chosen, []
        best = torch.topk(logp, min(top, logp.size(-1)), dim=-1)
        return chosen, [list(zip(ids, values, strict=True))
                        for ids, values in zip(best.indices.tolist(), best.values.tolist(), strict=True)]

    def _record_logprobs(self, tokens: torch.Tensor) -> None:
        """Append the log-probabilities of ``tokens`` (and the asked-for alternatives) to the rows that want them."""
        chosen, top = self.logprobs(tokens, self._top_logprobs or 0)
        for i, row in enumerate(self.rows):
            if row.logprobs is None:
                continue
            row.token_logprobs.append(chosen[i])
            if row.logprobs:
                row.top_logprobs.append(top[i][: row.logprobs])

    def feed(self, tokens: torch.Tensor) -> None:
        """Read ``tokens`` (``[B]`` or ``[B, T]``) into every row and record them as generated."""
        if tokens.dim() == 1:
            tokens = tokens[:, None]
        for mask in (self.history.seen, self.history.generated):
            if mask is not None:
                mask.scatter_(1, tokens, True)
        with _inference():
            out, self.state = self.model(tokens, self.state)
        self.logits = out[:, -1]

    def step(self) -> list[tuple[Row, str]]:
        """Choose a token for every row and advance: returns ``(row, new_text)`` for every row with new text
        or a finish. Finished rows (``row.finish_reason`` set) leave the batch."""
        with _inference():
            return self._step()

    def _step(self) -> list[tuple[Row, str]]:
        tokens = self.choose()
        if self._top_logprobs is not None:
            self._record_logprobs(tokens)
        events: list[tuple[Row, str]] = []
        alive: list[int] = []
        for i, token in enumerate(tokens.tolist()):
            row = self.rows[i]
            row.tokens.append(token)
            piece = row.watcher.push(row.decoder.push(token)) if row.watch_text else ""
            if row.watcher.stopped:
                row.finish_reason = "stop"
            elif len(row.tokens) >= row.max_new_tokens:
                row.finish_reason = "length"
            if row.finish_reason:
                piece += self.finish(row)
            else:
                alive.append(i)
            if piece or row.finish_reason:
                events.append((row, piece))
        if len(alive) < len(self.rows):
            keep = torch.tensor(alive, device=self.device, dtype=torch.long)
            self.keep(alive)
            tokens = tokens.index_select(0, keep)
        if self.rows:
            self.feed(tokens)
        return events

    def run(self) -> Iterator[tuple[Row, str]]:
        """Step until every row has finished, yielding each step's ``(row, new_text)`` events."""
        while self.rows:
            yield from self.step()

    def finish(self, row: Row) -> str:
        """Close ``row``'s text: the held-back tail, or the whole text when it was not watched."""
        if row.watch_text:
            return row.watcher.flush()
        return row.watcher.push(self.tokenizer.decode(row.tokens))

    def reseed(self, seeds: Sequence[int]) -> None:
        """Give the rows new random streams (one seed per row), e.g. to write another sample from a snapshot."""
        self.streams = RowStreams()
        self.streams.add(seeds)
        for row, seed in zip(self.rows, seeds, strict=True):
            row.seed = seed

    # ------------------------------------------------------------------ backtracking
    def snapshot(self) -> Snapshot:
        """The decoder's position (model state, logits, history, random streams, tokens so far)."""
        history = History(*(None if m is None else m.clone() for m in (self.history.seen, self.history.generated)))
        return Snapshot(self.state, self.logits, history, self.streams.snapshot(), [list(r.tokens) for r in self.rows])

    def restore(self, snap: Snapshot, rewind_random: bool = True) -> None:
        """Go back to ``snap`` (same rows as when it was taken). With ``rewind_random=False`` the random streams
        go on where they are, so a step retried after backtracking draws afresh."""
        self.state, self.logits = snap.state, snap.logits
        self.history = History(*(None if m is None else m.clone() for m in (snap.history.seen, snap.history.generated)))
        if rewind_random:
            self.streams.restore(snap.streams)
        for row, tokens in zip(self.rows, snap.tokens, strict=True):
            row.tokens = list(tokens)
