"""Sequence to sequence with attention: a bidirectional GRU encoder reads the input, a GRU decoder writes the
reply while attending to it (Luong et al. 2015, "general" scores) — the chatbot of 白话深度学习与TensorFlow §8.6
and of the PyTorch chatbot tutorial.

It is an ordinary :class:`LanguageModel` over one token sequence ``source GO reply EOS``
(:mod:`dreamwright.data.pair_tokens`): given tokens and no state, everything before the ``GO`` column is
encoded and the rest is decoded; given a state (the encoded source and the decoder's hidden state), the
tokens continue the reply. The trainer, the evaluator and the decoding core therefore need nothing new: a
reply is decoded from the prompt ``source + [GO]``, and the logits at source positions are zero (their
targets are never scored).

Sources in a batch are left-padded with ``PAD`` so that ``GO`` sits in one column; the encoder re-aligns
them to the left and packs them, so padding never reaches a hidden state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from dreamwright.errors import InvalidArgument
from dreamwright.models.base import LanguageModel, register_model


@dataclass
class Seq2SeqState:
    """What a reply continues from: the encoded source and the decoder's hidden state."""

    memory: torch.Tensor  # [B, S, 2H] encoder outputs
    keys: torch.Tensor  # [B, S, H] memory · W_a (precomputed attention keys)
    mask: torch.Tensor  # [B, S] True at real source tokens
    hidden: torch.Tensor  # [L, B, H]


@register_model("seq2seq")
class Seq2Seq(LanguageModel):
    family = "seq2seq"
    conditional = True  # reads a source: decode from ``source + [GO]``
    # ``go_id``/``pad_id`` default to where a character tokenizer puts GO and PAD (they sort first)

    def __init__(
        self,
        vocab_size: int,
        *,
        go_id: int = 1,
        pad_id: int = 0,
        n_layer: int = 2,
        hidden_size: int = 256,
        embedding_size: int = 128,
        dropout: float = 0.1,
        shared_embeddings: bool = True,
        tie_weights: bool = True,
    ) -> None:
        for name, value in (("n_layer", n_layer), ("hidden_size", hidden_size), ("embedding_size", embedding_size)):
            if value < 1:
                raise InvalidArgument(f"{name} must be a positive integer, got {value}", param=name)
        super().__init__(vocab_size, go_id=go_id, pad_id=pad_id, n_layer=n_layer, hidden_size=hidden_size,
                         embedding_size=embedding_size, dropout=dropout, shared_embeddings=shared_embeddings,
                         tie_weights=tie_weights)
        self.go_id, self.pad_id = go_id, pad_id
        self.embed = nn.Embedding(vocab_size, embedding_size)  # the reply's (and the source's, when shared)
        self.source_embed = None if shared_embeddings else nn.Embedding(vocab_size, embedding_size)
        self.encoder = nn.GRU(embedding_size, hidden_size, num_layers=n_layer, batch_first=True, bidirectional=True,
                              dropout=dropout if n_layer > 1 else 0.0)
        self.bridge = nn.Linear(2 * hidden_size, hidden_size)  # final encoder states → decoder's initial state
        self.decoder = nn.GRU(embedding_size, hidden_size, num_layers=n_layer, batch_first=True,
                              dropout=dropout if n_layer > 1 else 0.0)
        self.attend = nn.Linear(2 * hidden_size, hidden_size, bias=False)  # W_a of score(h, m) = h · W_a m
        out_size = embedding_size if tie_weights else hidden_size
        self.combine = nn.Linear(3 * hidden_size, out_size)  # tanh(W_c [h; context])
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(out_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embed.weight
        self.register_buffer("_never", torch.tensor(sorted({pad_id, go_id})), persistent=False)

    @classmethod
    def build(cls, name: str, vocab_size: int, **hparams: Any) -> Seq2Seq:
        return cls(vocab_size, **hparams)

    # ------------------------------------------------------------------ encoder
    def encode(self, source: torch.Tensor) -> Seq2SeqState:
        """Encode left-padded ``source [B, S]`` (every row needs at least one real token)."""
        real = source != self.pad_id
        lengths = real.sum(1)
        if bool((lengths == 0).any()):
            raise InvalidArgument("a source has no tokens; give every input at least one character")
        size = source.size(1)
        shift = size - lengths  # left padding of each row
        order = (torch.arange(size, device=source.device)[None, :] + shift[:, None]) % size
        source = source.gather(1, order)  # now right-padded
        x = self.drop((self.source_embed or self.embed)(source)).float()
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        with torch.autocast(x.device.type, enabled=False):  # no reduced-precision RNN kernels on every CPU
            out, last = self.encoder(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=size)
        layers = last.view(self.encoder.num_layers, 2, last.size(1), last.size(2))  # [L, dir, B, H]
        hidden = torch.tanh(self.bridge(torch.cat([layers[:, 0], layers[:, 1]], dim=-1)))
        mask = torch.arange(size, device=source.device)[None, :] < lengths[:, None]
        return Seq2SeqState(memory, self.attend(memory), mask, hidden.contiguous())

    # ------------------------------------------------------------------ decoder
    def decode(self, tokens: torch.Tensor, state: Seq2SeqState, *, return_attention: bool = False):
        """Logits ``[B, T, V]`` of the reply tokens ``[B, T]`` after ``state`` (and the new state, and with
        ``return_attention`` the attention weights ``[B, T, S]``)."""
        x = self.drop(self.embed(tokens))
        y, hidden = self.decoder(x, state.hidden)
        scores = torch.einsum("bth,bsh->bts", y, state.keys)
        scores = scores.masked_fill(~state.mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        context = torch.einsum("bts,bsh->bth", weights, state.memory)
        out = torch.tanh(self.combine(torch.cat([y, context], dim=-1)))
        logits = self.head(self.drop(out))
        # PAD and GO are never the next token of a reply (they are never targets): a sampler cannot draw them
        logits = logits.index_fill(-1, self._never, float("-inf"))
        new_state = Seq2SeqState(state.memory, state.keys, state.mask, hidden)
        if return_attention:
            return logits, new_state, weights
        return logits, new_state

    def forward(self, tokens: torch.Tensor, state: Seq2SeqState | None = None):
        if state is not None:
            return self.decode(tokens, state)
        go = self.go_column(tokens)
        logits, state = self.decode(tokens[:, go:], self.encode(tokens[:, :go]))
        if go:
            logits = torch.cat([logits.new_zeros(tokens.size(0), go, logits.size(-1)), logits], dim=1)
        return logits, state

    def go_column(self, tokens: torch.Tensor) -> int:
        """The column of the first ``GO`` (the same in every row: sources are left-padded)."""
        is_go = tokens == self.go_id
        if not bool(is_go.any(dim=1).all()):
            raise InvalidArgument("a seq2seq model reads `source GO reply`: the input has no GO token")
        column = is_go.int().argmax(dim=1)
        if bool((column != column[0]).any()):
            raise InvalidArgument("GO must be in one column for the whole batch (left-pad the sources)")
        return int(column[0])

    @torch.no_grad()
    def attention(self, source: list[int], reply: list[int]) -> torch.Tensor:
        """The attention weights ``[len(reply) + 1, len(source)]`` while reading ``GO reply`` (the last row is
        the step that wrote EOS): the picture of which input tokens each reply token looked at."""
        device = self.head.weight.device
        src = torch.tensor([source], device=device)
        tgt = torch.tensor([[self.go_id, *reply]], device=device)
        was_training = self.training
        self.eval()
        _, _, weights = self.decode(tgt, self.encode(src), return_attention=True)
        self.train(was_training)
        return weights[0].float().cpu()

    # ------------------------------------------------------------------ state plumbing for the decoding core
    def select_state(self, state: Seq2SeqState | None, index: torch.Tensor) -> Seq2SeqState | None:
        if state is None:
            return None
        return Seq2SeqState(state.memory.index_select(0, index), state.keys.index_select(0, index),
                            state.mask.index_select(0, index), state.hidden.index_select(1, index))

    def concat_states(self, states: list[Seq2SeqState]) -> Seq2SeqState:
        size = max(s.mask.size(1) for s in states)

        def pad(t: torch.Tensor) -> torch.Tensor:
            return F.pad(t, (0, 0, 0, size - t.size(1))) if t.dim() == 3 else F.pad(t, (0, size - t.size(1)))

        return Seq2SeqState(torch.cat([pad(s.memory) for s in states]), torch.cat([pad(s.keys) for s in states]),
                            torch.cat([pad(s.mask) for s in states]), torch.cat([s.hidden for s in states], dim=1))

    def flops_per_token(self) -> int:
        # per reply token: decoder GRU, attention output and the head (the encoder runs once per input)
        n = sum(p.numel() for name, p in self.decoder.named_parameters() if name.startswith("weight"))
        return 2 * (n + self.combine.weight.numel() + self.head.weight.numel())
