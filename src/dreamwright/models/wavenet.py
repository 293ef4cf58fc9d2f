"""WaveNet (van den Oord et al. 2016): gated, dilated causal convolutions with residual and skip connections
(``--model wavenet``) — *Deep Learning with Keras* §4.5, over μ-law audio samples or over characters.

The input tokens are embedded (a kernel-1 causal convolution of their one-hot vectors), then ``n_block``
residual blocks run with dilations ``1, 2, 4, …, max_dilation``, repeated ``dilation_cycles`` times. A block
computes ``z = tanh(W_f ∗ x + V_f h) ⊙ σ(W_g ∗ x + V_g h)``, where ``∗`` is a causal convolution of width
``kernel_size`` at the block's dilation and ``h`` is the global conditioning vector; ``z`` goes out through
a 1×1 convolution to the skip sum and through another back into the residual stream. The skip sum passes
ReLU → 1×1 → ReLU → 1×1 to logits over the next token.

**Global conditioning.** With ``n_cond > 0`` every sequence starts with ``n_cond`` condition tokens (for
spoken digits: the digit and the speaker, tokens of their own in the vocabulary). Their embeddings are
summed into ``h``; the stream the convolutions read is a zero vector (the start) followed by the tokens
after the conditions, so the logits at the last condition position predict the first sample. Logits at
earlier condition positions are zero (never scored), and condition tokens are never predicted.

**Incremental generation** ("fast WaveNet", Paine et al. 2016). Each block keeps a queue of its last
``dilation × (kernel_size − 1)`` inputs; a new token runs every block over its queue and the new input
only, so a step costs O(blocks) rather than O(receptive field). The full forward pass is the same code
with all-zero queues (causal zero padding), hence the same logits. With ``use_cache = False`` the state
instead keeps the last ``receptive_field`` stream inputs and every call re-runs the whole stack over them:
the naive way, for comparison (equal results, for prompts of one length).

The model is stateful like an RNN: the queues carry from one training segment to the next, so contiguous
text streams are trained and scored with the full receptive field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dreamwright.errors import InvalidArgument
from dreamwright.models.base import LanguageModel, register_model


@dataclass
class WaveNetState:
    """What a sequence continues from: the conditioning vector and, per block, its recent inputs."""

    cond: torch.Tensor | None  # [B, cond_channels] summed condition embeddings (None: unconditioned)
    #: fast mode: per block, its last ``dilation × (kernel − 1)`` inputs as ``[B, residual]`` columns, oldest
    #: first (a tuple of columns, so a step shares all but one of them with the state before it)
    queues: list[tuple[torch.Tensor, ...]] | None
    history: torch.Tensor | None = None  # naive mode: [B, residual, ≤ receptive_field] stream inputs


class ResidualBlock(nn.Module):
    """One gated, dilated causal convolution with its residual and skip outputs."""

    def __init__(self, residual: int, dilation_channels: int, skip: int, kernel_size: int, dilation: int,
                 cond_channels: int) -> None:
        super().__init__()
        self.dilation, self.kernel_size = dilation, kernel_size
        self.pad = dilation * (kernel_size - 1)
        self.conv = nn.Conv1d(residual, 2 * dilation_channels, kernel_size, dilation=dilation)
        self.cond = nn.Linear(cond_channels, 2 * dilation_channels, bias=False) if cond_channels else None
        self.res = nn.Conv1d(dilation_channels, residual, 1)
        self.skip = nn.Conv1d(dilation_channels, skip, 1)

    def forward(self, x: torch.Tensor, past: torch.Tensor, h: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x [B, C, T]`` after ``past [B, C, pad]`` → (residual out, skip out, the new ``past``)."""
        inp = torch.cat([past, x], dim=2)
        fg = self.conv(inp)
        if h is not None and self.cond is not None:
            fg = fg + self.cond(h)[:, :, None]
        f, g = fg.chunk(2, dim=1)
        z = torch.tanh(f) * torch.sigmoid(g)
        return x + self.res(z), self.skip(z), inp[:, :, inp.size(2) - self.pad:]


@register_model("wavenet")
class WaveNet(LanguageModel):
    family = "wavenet"
    stateful = True  # the queues carry between segments of a stream, as an RNN's hidden state does

    def __init__(
        self,
        vocab_size: int,
        *,
        n_cond: int = 0,
        residual_channels: int = 64,
        dilation_channels: int = 64,
        skip_channels: int = 128,
        kernel_size: int = 2,
        max_dilation: int = 512,
        dilation_cycles: int = 2,
        cond_channels: int = 32,
        predict: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        for name, value in (("residual_channels", residual_channels), ("dilation_channels", dilation_channels),
                            ("skip_channels", skip_channels), ("max_dilation", max_dilation),
                            ("dilation_cycles", dilation_cycles)):
            if value < 1:
                raise InvalidArgument(f"{name} must be a positive integer, got {value}", param=name)
        if kernel_size < 2:
            raise InvalidArgument(f"kernel_size must be at least 2, got {kernel_size}", param="kernel_size")
        if max_dilation & (max_dilation - 1):
            raise InvalidArgument(f"max_dilation must be a power of two (1, 2, 4, … 512), got {max_dilation}",
                                  param="max_dilation")
        if n_cond < 0:
            raise InvalidArgument(f"n_cond must be >= 0, got {n_cond}", param="n_cond")
        super().__init__(vocab_size, n_cond=n_cond, residual_channels=residual_channels,
                         dilation_channels=dilation_channels, skip_channels=skip_channels, kernel_size=kernel_size,
                         max_dilation=max_dilation, dilation_cycles=dilation_cycles, cond_channels=cond_channels,
                         **({"predict": predict} if predict is not None else {}), dropout=dropout)
        self.n_cond = n_cond
        #: the tokens the model may predict (ids ``[0, predict)``); the rest are condition tokens
        self.predict = vocab_size if predict is None else predict
        self.use_cache = True
        self.embed = nn.Embedding(vocab_size, residual_channels)
        self.cond_embed = nn.Embedding(vocab_size, cond_channels) if n_cond else None
        dilations = [2**i for i in range(max_dilation.bit_length())] * dilation_cycles
        cond = cond_channels if n_cond else 0
        self.blocks = nn.ModuleList(ResidualBlock(residual_channels, dilation_channels, skip_channels, kernel_size,
                                                  d, cond) for d in dilations)
        self.drop = nn.Dropout(dropout)
        self.post = nn.Conv1d(skip_channels, skip_channels, 1)
        self.head = nn.Conv1d(skip_channels, vocab_size, 1)
        #: how many stream inputs one output sees
        self.receptive_field = 1 + sum(b.pad for b in self.blocks)

    @classmethod
    def build(cls, name: str, vocab_size: int, **hparams: Any) -> WaveNet:
        return cls(vocab_size, **hparams)

    def describe(self) -> str:
        """One line for the start of training: the stack and its receptive field."""
        cycles = self.hparams["dilation_cycles"]
        return (f"WaveNet: {len(self.blocks)} blocks (dilations 1…{self.hparams['max_dilation']} × {cycles}), "
                f"receptive field {self.receptive_field} tokens")

    # ------------------------------------------------------------------ forward
    def forward(self, tokens: torch.Tensor, state: WaveNetState | None = None):
        """Logits ``[B, T, V]`` of the token after each position of ``tokens [B, T]``, and the new state."""
        B, T = tokens.shape
        if state is not None and state.queues is not None and T == 1 and not self.training:
            return self._step(tokens[:, 0], state)
        lead = 0  # positions before the stream (condition tokens but the last)
        if state is None:
            cond = None
            if self.n_cond:
                if T < self.n_cond:
                    raise InvalidArgument(f"this model reads {self.n_cond} condition token(s) before anything else")
                cond = self.cond_embed(tokens[:, :self.n_cond]).sum(1)
                lead = self.n_cond - 1
            x = self.embed(tokens[:, self.n_cond:]).transpose(1, 2)
            if self.n_cond:  # the start: a zero input, whose output predicts the first token after the conditions
                x = F.pad(x, (1, 0))
            state = self.initial_state(B, x, cond)
        else:
            x = self.embed(tokens).transpose(1, 2)
        if self.use_cache:
            queues = None if state.queues is None else [torch.stack(q, dim=2) for q in state.queues]
            out, pasts = self._stack(x, queues, state.cond)
            new_state = WaveNetState(state.cond, [tuple(p.unbind(2)) for p in pasts])
        else:
            history = torch.cat([state.history, x], dim=2)[:, :, -self.receptive_field - x.size(2) + 1:]
            out, _ = self._stack(history, None, state.cond)
            out = out[:, :, -x.size(2):]
            new_state = WaveNetState(state.cond, None, history[:, :, -self.receptive_field + 1:])
        logits = self._mask(self.head(F.relu(self.post(F.relu(out)))).transpose(1, 2))
        if lead:
            logits = torch.cat([logits.new_zeros(B, lead, logits.size(-1)), logits], dim=1)
        return logits, new_state

    def _mask(self, logits: torch.Tensor) -> torch.Tensor:
        """Condition tokens are never the next token."""
        if self.predict < self.vocab_size:
            logits = logits.clone()
            logits[..., self.predict:] = float("-inf")
        return logits

    def _step(self, token: torch.Tensor, state: WaveNetState) -> tuple[torch.Tensor, WaveNetState]:
        """One new token per row, through every block's queue: the same arithmetic as the convolutions, as
        small matrix products (a convolution call costs more to set up than to run on one column)."""
        w = self._step_weights()
        h = self.embed(token)
        biases = w["conv_bias"]
        if state.cond is not None:  # the conditioning's share of every block's gates, in one product
            biases = torch.addmm(w["conv_bias_all"], state.cond, w["cond_t"]).split(w["gates"], dim=1)
        gated, queues = [], []
        for (conv_t, res_t, res_bias, taps), bias, queue in zip(w["blocks"], biases, state.queues, strict=True):
            fg = torch.addmm(bias, torch.cat([*(queue[i] for i in taps), h], dim=1), conv_t)
            f, g = fg.chunk(2, dim=1)
            z = torch.tanh(f) * torch.sigmoid(g)
            gated.append(z)
            queues.append((*queue[1:], h))
            h = torch.addmm(h + res_bias, z, res_t)
        skips = torch.addmm(w["skip_bias"], torch.cat(gated, dim=1), w["skip_t"])  # every block's skip at once
        out = F.linear(F.relu(skips), self.post.weight[:, :, 0], self.post.bias)
        logits = F.linear(F.relu(out), self.head.weight[:, :, 0], self.head.bias)
        return self._mask(logits[:, None, :]), WaveNetState(state.cond, queues)

    def _step_weights(self) -> dict[str, Any]:
        """The blocks' weights laid out for :meth:`_step` (kept until the weights change): each convolution as
        one matrix over its taps (oldest first), every skip output as one matrix over all blocks' gates."""
        params = list(self.parameters())
        version = tuple(p._version for p in params) + (params[0].device,)
        cached = getattr(self, "_step_cache", None)
        if cached is not None and cached[0] == version:
            return cached[1]
        with torch.no_grad():
            blocks = []
            for b in self.blocks:
                conv_t = b.conv.weight.permute(2, 1, 0).reshape(-1, b.conv.out_channels).contiguous()
                taps = tuple(b.pad - j * b.dilation for j in range(b.kernel_size - 1, 0, -1))
                blocks.append((conv_t, b.res.weight[:, :, 0].t().contiguous(), b.res.bias.clone(), taps))
            weights = {
                "blocks": blocks,
                "gates": 2 * self.hparams["dilation_channels"],
                "conv_bias": [b.conv.bias[None] for b in self.blocks],
                "conv_bias_all": torch.cat([b.conv.bias for b in self.blocks])[None],
                "cond_t": torch.cat([b.cond.weight for b in self.blocks]).t().contiguous() if self.n_cond else None,
                "skip_t": torch.cat([b.skip.weight[:, :, 0] for b in self.blocks], dim=1).t().contiguous(),
                "skip_bias": sum(b.skip.bias for b in self.blocks)[None],
            }
        self._step_cache = (version, weights)
        return weights

    def initial_state(self, batch: int, like: torch.Tensor, cond: torch.Tensor | None) -> WaveNetState:
        """Zero queues (causal zero padding), or an empty history in naive mode."""
        c = like.size(1)
        if not self.use_cache:
            return WaveNetState(cond, None, like.new_zeros(batch, c, 0))
        zero = like.new_zeros(batch, c)
        return WaveNetState(cond, [(zero,) * b.pad for b in self.blocks])

    def _stack(self, x: torch.Tensor, queues: list[torch.Tensor] | None, cond: torch.Tensor | None
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = 0
        new_queues = []
        for i, block in enumerate(self.blocks):
            past = queues[i] if queues is not None else x.new_zeros(x.size(0), x.size(1), block.pad)
            x, skip, past = block(x, past, cond)
            x = self.drop(x)
            skips = skips + skip
            new_queues.append(past)
        return skips, new_queues

    # ------------------------------------------------------------------ state plumbing
    def detach_state(self, state: WaveNetState | None) -> WaveNetState | None:
        return _map_state(state, torch.Tensor.detach)

    def state_tensors(self, state: WaveNetState | None) -> dict[str, torch.Tensor]:
        if state is None or state.queues is None:
            return {}
        tensors = {f"queue.{i}": torch.stack(q, dim=2) for i, q in enumerate(state.queues)}
        if state.cond is not None:
            tensors["cond"] = state.cond
        return tensors

    def state_from_tensors(self, tensors: dict[str, torch.Tensor]) -> WaveNetState | None:
        if not tensors:
            return None
        queues = [tuple(tensors[f"queue.{i}"].unbind(2)) for i in range(len(self.blocks))]
        return WaveNetState(tensors.get("cond"), queues)

    def select_state(self, state: WaveNetState | None, index: torch.Tensor) -> WaveNetState | None:
        return _map_state(state, lambda t: t.index_select(0, index))

    def concat_states(self, states: list[WaveNetState]) -> WaveNetState:
        first = states[0]
        if first.history is not None and len({s.history.size(2) for s in states}) > 1:
            raise InvalidArgument("naive WaveNet decoding (use_cache=False) needs prompts of one length")
        queues = None
        if first.queues is not None:
            queues = [tuple(torch.cat([torch.stack(q, dim=2) for q in qs]).unbind(2))
                      for qs in zip(*(s.queues for s in states), strict=True)]
        return WaveNetState(None if first.cond is None else torch.cat([s.cond for s in states]), queues,
                            None if first.history is None else torch.cat([s.history for s in states]))

    def flops_per_token(self) -> int:
        per_block = sum(p.numel() for b in self.blocks for n, p in b.named_parameters()
                        if p.dim() >= 2 and not n.startswith("cond"))
        return 2 * (per_block + self.post.weight.numel() + self.head.weight.numel())


def _map_state(state: WaveNetState | None, fn) -> WaveNetState | None:
    """``fn`` applied to every tensor of ``state`` (each queue as one stacked tensor: one call per block)."""
    if state is None:
        return None
    queues = None if state.queues is None else [tuple(fn(torch.stack(q, dim=2)).unbind(2)) for q in state.queues]
    return WaveNetState(None if state.cond is None else fn(state.cond), queues,
                        None if state.history is None else fn(state.history))
