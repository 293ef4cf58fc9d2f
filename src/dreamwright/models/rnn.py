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
        x = self.drop(self._inputs(tokens))
        # oneDNN has no reduced-precision RNN kernels on every CPU: the recurrence always runs in fp32
        with torch.autocast(x.device.type, enabled=False):
            y, state = self.rnn(x.float(), state)
        y = self.drop(y)
        if self.proj is not None:
            y = self.proj(y)
        return self.head(y), state

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
