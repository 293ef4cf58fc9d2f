"""Recurrent language models: SimpleRNN, LSTM and GRU — the three cells of the books.

Embedding (or one-hot input, as in the books) → stacked recurrent layers → optional projection →
softmax over the vocabulary, with optional weight tying between input embedding and output layer.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dreamwright.errors import InvalidArgument
from dreamwright.models.base import LanguageModel, State, register_model

_CELLS = {"simplernn": nn.RNN, "rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@register_model("simplernn", "lstm", "gru")
class RNNLanguageModel(LanguageModel):
    family = "rnn"
    stateful = True

    def __init__(
        self,
        vocab_size: int,
        *,
        cell: str = "lstm",
        n_layer: int = 1,
        hidden_size: int = 512,
        embedding_size: int = 64,
        dropout: float = 0.0,
        tie_weights: bool = False,
        init_range: float | None = None,
    ) -> None:
        if cell not in _CELLS:
            raise InvalidArgument(f"unknown recurrent cell {cell!r}; choose simplernn, lstm or gru")
        for name, value in (("n_layer", n_layer), ("hidden_size", hidden_size)):
            if value < 1:
                raise InvalidArgument(f"{name} must be a positive integer, got {value}", param=name)
        if embedding_size < 0:
            raise InvalidArgument("embedding_size must be >= 0 (0 means one-hot input)", param="embedding_size")
        if tie_weights and embedding_size == 0:
            raise InvalidArgument("tie_weights needs an embedding (embedding_size > 0), not one-hot input")
        super().__init__(
            vocab_size,
            cell=cell,
            n_layer=n_layer,
            hidden_size=hidden_size,
            embedding_size=embedding_size,
            dropout=dropout,
            tie_weights=tie_weights,
            **({"init_range": init_range} if init_range else {}),
        )
        self.cell = cell
        input_size = embedding_size or vocab_size
        self.embed = nn.Embedding(vocab_size, embedding_size) if embedding_size else None
        rnn_kwargs: dict[str, Any] = {"nonlinearity": "tanh"} if cell in ("simplernn", "rnn") else {}
        self.rnn = _CELLS[cell](
            input_size, hidden_size, num_layers=n_layer, batch_first=True,
            dropout=dropout if n_layer > 1 else 0.0, **rnn_kwargs,
        )
        self.drop = nn.Dropout(dropout)
        out_size = hidden_size
        self.proj = None
        if tie_weights and embedding_size != hidden_size:
            self.proj = nn.Linear(hidden_size, embedding_size)
            out_size = embedding_size
        self.head = nn.Linear(out_size, vocab_size)
        if tie_weights:
            assert self.embed is not None
            self.head.weight = self.embed.weight
        if init_range:  # Zaremba et al. 2014: every weight uniform in [-init_range, init_range]
            for p in self.parameters():
                nn.init.uniform_(p, -init_range, init_range)

    @classmethod
    def build(cls, name: str, vocab_size: int, **hparams: Any) -> RNNLanguageModel:
        hparams.setdefault("cell", "simplernn" if name == "rnn" else name)
        return cls(vocab_size, **hparams)

    def _inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.embed is None:
            return F.one_hot(tokens, self.vocab_size).to(self.head.weight.dtype)
        return self.embed(tokens)

    def forward(self, tokens: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        if tokens.size(1) == 1 and state is not None and not torch.is_grad_enabled() and not self.training:
            return self._step(tokens[:, 0], state)  # generation: one new token, carried state
        x = self.drop(self._inputs(tokens))
        if torch.is_autocast_enabled(x.device.type):
            # oneDNN has no reduced-precision RNN kernels on every CPU: the recurrence always runs in fp32
            with torch.autocast(x.device.type, enabled=False):
                y, state = self.rnn(x.float(), state)
        else:
            y, state = self.rnn(x, state)
        y = self.drop(y)
        if self.proj is not None:
            y = self.proj(y)
        return self.head(y), state

    def _step_weights(self) -> dict[str, torch.Tensor]:
        """Weights rearranged for single-token steps, rebuilt whenever training has changed them.

        The first layer's input projection is folded into a per-token table (embedding × W_ih + biases),
        so a step of layer 0 is one row lookup and one matrix product.
        """
        params = self.__dict__.get("_step_params")
        if params is None:
            params = self.__dict__["_step_params"] = list(self.parameters())
        version = tuple(p._version for p in params)
        cached = getattr(self, "_step_cache", None)
        if cached is not None and cached[0] == version and cached[1]["table"].device == self.head.weight.device:
            return cached[1]
        rnn = self.rnn
        w: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            w_ih, b_ih, b_hh = rnn.weight_ih_l0.float(), rnn.bias_ih_l0.float(), rnn.bias_hh_l0.float()
            inputs = self.embed.weight.float() if self.embed is not None else torch.eye(
                self.vocab_size, device=w_ih.device)
            table = inputs @ w_ih.t() + b_ih
            if self.cell != "gru":  # GRU needs the hidden bias apart (it is gated by r)
                table = table + b_hh
            w["table"] = table.contiguous()
            for layer in range(rnn.num_layers):
                w[f"hh{layer}"] = getattr(rnn, f"weight_hh_l{layer}").float().t().contiguous()
                w[f"bhh{layer}"] = getattr(rnn, f"bias_hh_l{layer}").float()
                if layer:
                    w[f"ih{layer}"] = getattr(rnn, f"weight_ih_l{layer}").float().t().contiguous()
                    w[f"bih{layer}"] = getattr(rnn, f"bias_ih_l{layer}").float()
        self._step_cache = (version, w)
        return w

    def _step(self, token: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One token through every layer and the output layer with plain matrix products.

        For a single token the fused RNN kernels spend most of their time setting up (0.6 ms for a 384-unit
        LSTM on a CPU); this computes the same gates directly and is several times faster.
        """
        w = self._step_weights()
        hs, cs = (state if isinstance(state, tuple) else (state, None))
        new_h, new_c = [], []
        x = None
        for layer in range(self.rnn.num_layers):
            h = hs[layer]
            if layer == 0:
                gi = w["table"].index_select(0, token)
            else:
                gi = torch.addmm(w[f"bih{layer}"], x, w[f"ih{layer}"])
            if self.cell == "gru":
                gh = torch.addmm(w[f"bhh{layer}"], h, w[f"hh{layer}"])
                ir, iz, in_ = gi.chunk(3, 1)
                hr, hz, hn = gh.chunk(3, 1)
                r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
                n = torch.tanh(in_ + r * hn)
                h = n + z * (h - n)
            else:
                gates = torch.addmm(gi if layer == 0 else gi + w[f"bhh{layer}"], h, w[f"hh{layer}"])
                if self.cell == "lstm":
                    i, f, g, o = gates.chunk(4, 1)
                    c = torch.sigmoid(f) * cs[layer] + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c)
                    new_c.append(c)
                else:
                    h = torch.tanh(gates)
            new_h.append(h)
            x = h
        y = x if self.proj is None else self.proj(x)
        h_out = torch.stack(new_h)
        state = (h_out, torch.stack(new_c)) if self.cell == "lstm" else h_out
        return self.head(y)[:, None], state

    def detach_state(self, state: State) -> State:
        if state is None:
            return None
        if isinstance(state, tuple):
            return tuple(s.detach() for s in state)
        return state.detach()

    def state_tensors(self, state: State) -> dict[str, torch.Tensor]:
        if state is None:
            return {}
        parts = state if isinstance(state, tuple) else (state,)
        return {f"h{i}": s.detach().contiguous() for i, s in enumerate(parts)}

    def state_from_tensors(self, tensors: dict[str, torch.Tensor]) -> State:
        if not tensors:
            return None
        parts = tuple(tensors[f"h{i}"] for i in range(len(tensors)))
        return parts if self.cell == "lstm" else parts[0]

    def select_state(self, state: State, index: torch.Tensor) -> State:
        if state is None:
            return None
        if isinstance(state, tuple):
            return tuple(s.index_select(1, index) for s in state)
        return state.index_select(1, index)

    def concat_states(self, states: list[State]) -> State:
        if isinstance(states[0], tuple):
            return tuple(torch.cat(parts, dim=1) for parts in zip(*states, strict=True))
        return torch.cat(states, dim=1)

    def flops_per_token(self) -> int:
        # recurrent + input matrices and the output layer; the embedding is a lookup
        n = sum(p.numel() for name, p in self.rnn.named_parameters() if name.startswith("weight"))
        n += self.head.weight.numel() + (self.proj.weight.numel() if self.proj is not None else 0)
        return 2 * n
