"""A small GPT: a decoder-only transformer beside the RNNs (``--model gpt``).

Token + learned position embeddings → ``n_layer`` pre-LayerNorm blocks (causal self-attention through
``scaled_dot_product_attention``, then a 4× GELU MLP) → final LayerNorm → output layer, tied to the token
embedding by default.

For generation the model's state is a :class:`GPTState`: the tokens of the current context window and,
with ``use_cache`` (the default), the keys and values every layer computed for them. Each call then runs
only the new tokens over the cached prefix. When the window would outgrow ``block_size`` it slides: the
oldest tokens are dropped, the newest ``block_size // 2`` are re-encoded once (their positions restart
at 0), and decoding goes on. With ``use_cache = False`` every call re-runs the whole window from the token
history instead — the same windows, hence the same tokens under a fixed seed, only slower.

Rows of different lengths (prompts prefilled one by one, then joined) are left-padded; an attention mask
hides the padding and positions count from each row's first real token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dreamwright.errors import InvalidArgument
from dreamwright.models.base import LanguageModel, State, register_model

KV = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class GPTState:
    """Generation state: the context window's token ids (left-padded), padding per row, and the cache.

    ``tokens[b, j]`` is the id at column ``j``; columns ``< pad[b]`` are padding. ``kv[layer]`` holds that
    layer's keys and values ``[B, n_head, L, head_dim]`` for all ``L`` columns (None without cache).
    """

    tokens: torch.Tensor
    pad: torch.Tensor
    kv: KV | None

    @property
    def length(self) -> int:
        return self.tokens.size(1)


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.dropout = dropout
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None,
                mask: torch.Tensor | None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        p = self.dropout if self.training else 0.0
        if mask is not None:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:  # no padding: plain causal attention (a single new token over a cache needs no mask)
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=past is None and T > 1)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_drop(self.proj(y)), (k, v)


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln2 = nn.LayerNorm(n_embd)
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None,
                mask: torch.Tensor | None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        a, kv = self.attn(self.ln1(x), past, mask)
        x = x + a
        x = x + self.drop(self.proj(F.gelu(self.fc(self.ln2(x)))))
        return x, kv


_NOT_GPT = {"hidden_size": "n_embd", "embedding_size": "n_embd"}


@register_model("gpt")
class GPTLanguageModel(LanguageModel):
    family = "gpt"
    stateful = False

    #: False: every generation step re-runs the whole context window (for comparisons and tests)
    use_cache: bool = True

    def __init__(self, vocab_size: int, *, n_layer: int = 4, n_head: int = 4, n_embd: int = 128,
                 block_size: int = 256, dropout: float = 0.0, tie_weights: bool = True) -> None:
        for name, value in (("n_layer", n_layer), ("n_head", n_head), ("n_embd", n_embd),
                            ("block_size", block_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgument(f"{name} must be a positive integer, got {value!r}", param=name)
        if n_embd % n_head:
            raise InvalidArgument(f"n_embd ({n_embd}) must be a multiple of n_head ({n_head})",
                                  param="n_head")
        if not 0 <= dropout < 1:
            raise InvalidArgument(f"dropout must be in [0, 1), got {dropout!r}", param="dropout")
        super().__init__(vocab_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block_size,
                         dropout=dropout, tie_weights=bool(tie_weights))
        self.block_size = block_size
        self.context_limit = block_size
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.pos_embed = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):  # GPT-2: residual projections scaled by depth
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
        if tie_weights:
            self.head.weight = self.embed.weight

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @classmethod
    def build(cls, name: str, vocab_size: int, **hparams: Any) -> GPTLanguageModel:
        for key in list(hparams):
            if hparams[key] is None:
                del hparams[key]
            elif key in _NOT_GPT:
                raise InvalidArgument(f"{key} is an RNN setting; a GPT's width is n_embd (--n-embd)",
                                      param=key)
        known = {"n_layer", "n_head", "n_embd", "block_size", "dropout", "tie_weights"}
        unknown = sorted(set(hparams) - known)
        if unknown:
            raise InvalidArgument(f"the gpt model has no setting {unknown[0]!r}; it takes "
                                  f"{', '.join(sorted(known))}", param=unknown[0])
        return cls(vocab_size, **hparams)

    # ------------------------------------------------------------------ core
    def _run(self, tokens: torch.Tensor, positions: torch.Tensor, past: KV | None,
             mask: torch.Tensor | None) -> tuple[torch.Tensor, KV]:
        x = self.drop(self.embed(tokens) + self.pos_embed(positions))
        kvs: KV = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if past is None else past[i], mask)
            kvs.append(kv)
        return self.head(self.ln_f(x)), kvs

    def forward(self, tokens: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        B, T = tokens.shape
        if state is None and T <= self.block_size:
            # training and scoring: one causal pass; the state is only built outside training
            positions = torch.arange(T, device=tokens.device)
            logits, kv = self._run(tokens, positions, None, None)
            if self.training:
                return logits, None
            pad = torch.zeros(B, dtype=torch.long, device=tokens.device)
            return logits, GPTState(tokens, pad, kv if self.use_cache else None)
        if state is None:
            state = GPTState(tokens[:, :0], torch.zeros(B, dtype=torch.long, device=tokens.device),
                             [] if self.use_cache else None)
        outs = []
        i = 0
        while i < T:
            room = self.block_size - state.length
            if room <= 0:
                state = self._slide(state)
                continue
            n = min(room, T - i)
            logits, state = self._extend(state, tokens[:, i:i + n])
            outs.append(logits)
            i += n
        return torch.cat(outs, dim=1), state

    def _mask(self, pad: torch.Tensor, start: int, total: int) -> torch.Tensor | None:
        """Boolean attention mask for queries at columns ``start..total-1`` over keys ``0..total-1``
        (None when no row is padded: causal attention does it). Padding queries see themselves only."""
        if not bool((pad > 0).any()):
            return None
        q = torch.arange(start, total, device=pad.device)[:, None]
        k = torch.arange(total, device=pad.device)[None, :]
        allowed = (k <= q) & (k >= pad[:, None, None])
        return (allowed | (k == q))[:, None]

    def _positions(self, pad: torch.Tensor, start: int, total: int) -> torch.Tensor:
        cols = torch.arange(start, total, device=pad.device)
        return (cols[None, :] - pad[:, None]).clamp_min(0)

    def _extend(self, state: GPTState, new: torch.Tensor) -> tuple[torch.Tensor, GPTState]:
        """Append ``new`` tokens (they fit in the window) and return their logits."""
        L, n = state.length, new.size(1)
        tokens = torch.cat([state.tokens, new], dim=1)
        if state.kv is not None and self.use_cache:
            past = state.kv if L else None
            mask = self._mask(state.pad, L, L + n)
            if mask is None and past is not None and n > 1:  # several new tokens over a cache: explicit mask
                cols = torch.arange(L + n, device=new.device)
                mask = cols[None, :] <= cols[L:, None]
            logits, kv = self._run(new, self._positions(state.pad, L, L + n), past, mask)
            return logits, GPTState(tokens, state.pad, kv)
        positions, mask = self._positions(state.pad, 0, L + n), self._mask(state.pad, 0, L + n)
        logits, _ = self._run(tokens, positions, None, mask)
        return logits[:, L:], GPTState(tokens, state.pad, None)

    def _slide(self, state: GPTState) -> GPTState:
        """Keep the newest ``block_size // 2`` columns and re-encode them (their positions restart at 0)."""
        keep = max(1, self.block_size // 2)
        drop = state.length - keep
        pad = (state.pad - drop).clamp_min(0)
        common = int(pad.min())  # columns that are padding in every row go
        tokens = state.tokens[:, drop + common:]
        pad = pad - common
        kv = None
        if self.use_cache:
            _, kv = self._run(tokens, self._positions(pad, 0, tokens.size(1)), None,
                              self._mask(pad, 0, tokens.size(1)))
        return GPTState(tokens, pad, kv)

    # ------------------------------------------------------------------ state plumbing
    def select_state(self, state: State, index: torch.Tensor) -> State:
        if state is None:
            return None
        kv = None
        if state.kv is not None:
            kv = [(k.index_select(0, index), v.index_select(0, index)) for k, v in state.kv]
        return GPTState(state.tokens.index_select(0, index), state.pad.index_select(0, index), kv)

    def concat_states(self, states: list[State]) -> State:
        """Join single-row states of different lengths by left-padding them to the longest."""
        L = max(s.length for s in states)

        def left(t: torch.Tensor, dim: int) -> torch.Tensor:
            missing = L - t.size(dim)
            if not missing:
                return t
            shape = list(t.shape)
            shape[dim] = missing
            return torch.cat([t.new_zeros(shape), t], dim=dim)

        tokens = torch.cat([left(s.tokens, 1) for s in states])
        pad = torch.cat([s.pad + (L - s.length) for s in states])
        kv = None
        if all(s.kv is not None for s in states):
            kv = [tuple(torch.cat([left(s.kv[i][j], 2) for s in states]) for j in (0, 1))  # type: ignore[misc]
                  for i in range(len(self.blocks))]
        return GPTState(tokens, pad, kv)

    def flops_per_token(self) -> int:
        """Forward FLOPs per token: 2 × matrix parameters (output layer included) + attention over a block."""
        n = sum(p.numel() for name, p in self.named_parameters()
                if p.dim() >= 2 and "embed" not in name)
        n += self.head.weight.numel() if self.hparams["tie_weights"] else 0
        attention = 2 * self.hparams["n_layer"] * self.block_size * self.hparams["n_embd"]
        return 2 * n + attention
