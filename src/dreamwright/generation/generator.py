"""Generation: carry the model's state from token to token, one model step per new token.

A prompt is read once (prefill); then each step feeds only the newly chosen token, with the RNN's hidden
state or the transformer's key/value cache carried along — never re-encoding a sliding window. Several
samples are decoded as one batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dreamwright._validate import positive_int
from dreamwright.errors import InvalidArgument
from dreamwright.generation.sampling import SamplingParams, sample
from dreamwright.models.base import LanguageModel
from dreamwright.tokenizers import Tokenizer


@dataclass
class Completion:
    """One finished sample."""

    text: str
    finish_reason: str  # "stop" (a stop string was hit) or "length" (max_new_tokens reached)
    prompt_tokens: int
    completion_tokens: int


@dataclass
class _Row:
    stops: Sequence[str]
    text: str = ""
    emitted: int = 0
    tokens: int = 0
    finish_reason: str | None = None
    ids: list[int] = field(default_factory=list)


@dataclass
class _Request:
    """A validated generation request."""

    ids: list[int]
    params: SamplingParams
    stops: list[str]
    max_new_tokens: int
    num_samples: int
    seed: int | None


def held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters of ``text`` could still be the start of a stop string."""
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                hold = max(hold, k)
                break
    return hold


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``auto``/None: CUDA when present, else CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InvalidArgument(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N", param="device") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return dev


class Generator:
    """A trained model with its tokenizer, ready to write. Build one with :func:`dreamwright.load`."""

    def __init__(self, model: LanguageModel, tokenizer: Tokenizer, *, name: str = "model",
                 config: dict | None = None, device: torch.device | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.config = config or {}
        self.device = device or next(model.parameters()).device

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | None = None) -> Generator:
        """Load a run directory (or the name of a bundled model)."""
        from dreamwright.runs import load_run

        run_dir = resolve_model_path(path)
        dev = resolve_device(device)
        model, tokenizer, config = load_run(run_dir, device=dev)
        return cls(model, tokenizer, name=Path(run_dir).name, config=config, device=dev)

    # ------------------------------------------------------------------ encoding
    def encode_prompt(self, prompt: str, unknown: str = "error") -> list[int]:
        """Token ids of ``prompt``; the default start text when it is empty."""
        if unknown not in ("error", "skip"):
            raise InvalidArgument(f"unknown must be 'error' or 'skip', got {unknown!r}", param="unknown")
        ids = self.tokenizer.encode(prompt, unknown=unknown) if prompt else []
        if not ids:
            ids = self.tokenizer.encode(self.tokenizer.default_prompt, unknown="skip") or [0]
        return ids

    # ------------------------------------------------------------------ core loop
    @torch.inference_mode()
    def decode_steps(self, prompts: Sequence[Sequence[int]], params: Sequence[SamplingParams],
                     max_new_tokens: int, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
        """Yield the next token of every row, step by step. Identical prompts are read once."""
        model = self.model
        unique: dict[tuple[int, ...], int] = {}
        for p in prompts:
            unique.setdefault(tuple(p), len(unique))
        states, last = [], []
        for p in unique:
            logits, state = model(torch.tensor([p], device=self.device), None)
            states.append(state)
            last.append(logits[:, -1])
        rows = torch.tensor([unique[tuple(p)] for p in prompts], device=self.device)
        state = model.concat_states(states) if len(states) > 1 else states[0]
        state = model.select_state(state, rows)
        logits = torch.cat(last).index_select(0, rows)
        groups = _param_groups(params, self.device)
        use_seen = any(p.repetition_penalty != 1.0 for p in params)
        seen = None
        if use_seen:
            seen = torch.zeros(len(prompts), model.vocab_size, dtype=torch.bool, device=self.device)
            for i, p in enumerate(prompts):
                seen[i, list(p)] = True
        for _ in range(max_new_tokens):
            if len(groups) == 1:
                tok = sample(logits, params[0], generator, seen)
            else:
                tok = torch.empty(len(prompts), dtype=torch.long, device=self.device)
                for p, idx in groups:
                    tok[idx] = sample(logits[idx], p, generator, None if seen is None else seen[idx])
            if seen is not None:
                seen[torch.arange(len(prompts), device=self.device), tok] = True
            yield tok
            out, state = model(tok[:, None], state)
            logits = out[:, -1]

    # ------------------------------------------------------------------ public API
    def stream(self, prompt: str = "", *, max_new_tokens: int = 400, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None, repetition_penalty: float = 1.0,
               num_samples: int = 1, seed: int | None = None, stop: str | Sequence[str] | None = None,
               unknown: str = "error") -> Iterator[tuple[int, str] | list[Completion]]:
        """Yield ``(sample_index, new_text)`` as text is produced, then the list of :class:`Completion`."""
        req = self._request(prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                            top_p=top_p, repetition_penalty=repetition_penalty, num_samples=num_samples,
                            seed=seed, stop=stop, unknown=unknown)
        return self._stream_request(req)

    def _request(self, prompt: str = "", *, max_new_tokens: int = 400, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, repetition_penalty: float = 1.0,
                 num_samples: int = 1, seed: int | None = None, stop: str | Sequence[str] | None = None,
                 unknown: str = "error") -> _Request:
        """Validate one generation request (same rules for CLI, API and server) and encode its prompt."""
        params = SamplingParams(temperature, top_k, top_p, repetition_penalty)
        positive_int("max_new_tokens", max_new_tokens)
        positive_int("num_samples", num_samples)
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        if any(not s for s in stops):
            raise InvalidArgument("stop strings must not be empty", param="stop")
        return _Request(self.encode_prompt(prompt, unknown), params, stops, max_new_tokens, num_samples, seed)

    def _stream_request(self, req: _Request):
        n = req.num_samples
        return self.stream_rows([req.ids] * n, [req.params] * n, req.max_new_tokens, req.seed, [req.stops] * n)

    def _rng(self, seed: int | None) -> torch.Generator:
        """The sampling generator: seeded when asked, else from the OS."""
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed if seed is not None else int.from_bytes(os.urandom(8), "little") >> 1)
        return gen

    def stream_rows(self, prompts: Sequence[Sequence[int]], params: Sequence[SamplingParams], max_new_tokens: int,
                    seed: int | None, stops: Sequence[Sequence[str]]):
        """Decode several rows at once, each with its own prompt ids, sampling parameters and stop strings.

        Yields ``(row, new_text)`` pieces, then the list of :class:`Completion`.
        """
        gen = self._rng(seed)
        rows = [_Row(s) for s in stops]
        decoders = [self.tokenizer.stream_decoder() for _ in rows]
        longest = [max((len(s) for s in r.stops), default=0) for r in rows]
        for tok in self.decode_steps(prompts, params, max_new_tokens, gen):
            for i, t in enumerate(tok.tolist()):
                row = rows[i]
                if row.finish_reason:
                    continue
                row.tokens += 1
                piece = decoders[i].push(t)
                if not row.stops:
                    if piece:
                        row.text += piece
                        row.emitted = len(row.text)
                        yield i, piece
                    continue
                start = max(0, len(row.text) - longest[i] + 1)  # a new match must overlap the new piece
                row.text += piece
                hits = [p for p in (row.text.find(s, start) for s in row.stops) if p >= 0]
                if hits:
                    row.text, row.finish_reason = row.text[:min(hits)], "stop"
                    safe = len(row.text)
                else:
                    safe = len(row.text) - held_back(row.text, row.stops)
                if safe > row.emitted:
                    yield i, row.text[row.emitted:safe]
                    row.emitted = safe
            if all(r.finish_reason for r in rows):
                break
        for i, row in enumerate(rows):
            if not row.finish_reason:
                row.finish_reason = "length"
                if len(row.text) > row.emitted:
                    yield i, row.text[row.emitted:]
        yield [Completion(r.text, r.finish_reason or "length", len(p), r.tokens)
               for r, p in zip(rows, prompts, strict=True)]

    def complete(self, prompt: str = "", **kwargs) -> list[Completion]:
        """Like :meth:`generate` but returns :class:`Completion` records (text, finish reason, token counts)."""
        req = self._request(prompt, **kwargs)
        if not req.stops:  # nothing to watch for while decoding: decode each row once at the end
            rows, n = req.num_samples, req.max_new_tokens
            steps = list(self.decode_steps([req.ids] * rows, [req.params] * rows, n, self._rng(req.seed)))
            tokens = torch.stack(steps, dim=1).tolist()
            return [Completion(self.tokenizer.decode(t), "length", len(req.ids), n) for t in tokens]
        result: list[Completion] = []
        for item in self._stream_request(req):
            if isinstance(item, list):
                result = item
        return result

    def generate(self, prompt: str = "", **kwargs) -> list[str]:
        """Continuations of ``prompt`` (without the prompt), one string per sample.

        Keyword arguments follow Hugging Face ``generate()``: ``max_new_tokens``, ``temperature`` (0 = greedy),
        ``top_k``, ``top_p``, ``repetition_penalty``, ``num_samples``, ``seed``, ``stop``, and ``unknown``
        ('error' or 'skip' for prompt pieces missing from the vocabulary).
        """
        return [c.text for c in self.complete(prompt, **kwargs)]

    @torch.inference_mode()
    def next_token_distribution(self, context: str, temperature: float = 1.0, top_n: int = 10,
                                unknown: str = "error") -> list[dict]:
        """The model's most likely next tokens, with probabilities before and after temperature."""
        from dreamwright.generation.sampling import reweight

        SamplingParams(temperature=temperature)
        positive_int("top_n", top_n)
        ids = self.encode_prompt(context, unknown)
        logits, _ = self.model(torch.tensor([ids], device=self.device), None)
        probs = torch.softmax(logits[0, -1].float(), dim=-1)
        if temperature == 0:
            after = torch.zeros_like(probs)
            after[probs.argmax()] = 1.0
        else:
            after = reweight(probs, temperature)
        order = torch.argsort(torch.maximum(probs, after), descending=True)[:top_n]
        return [
            {"token_id": int(i), "token": self.tokenizer.token_text(int(i)), "probability": float(probs[i]),
             "reweighted": float(after[i])}
            for i in order
        ]


def _param_groups(params: Sequence[SamplingParams], device: torch.device):
    groups: dict[SamplingParams, list[int]] = {}
    for i, p in enumerate(params):
        groups.setdefault(p, []).append(i)
    return [(p, torch.tensor(idx, device=device)) for p, idx in groups.items()]


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
