"""The language-model interface and the model registry.

Every model maps ``(tokens[B, T], state) -> (logits[B, T, V], state)``. ``state`` is whatever the model
needs to continue a sequence without re-reading it: the hidden state of an RNN, the key/value cache of a
transformer. Training, evaluation and generation only ever call this one method, so nothing outside a
model's own file branches on the model family.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from dreamwright.errors import InvalidArgument

State = Any


class LanguageModel(nn.Module):
    """Base class of every dreamwright model."""

    family: ClassVar[str]
    #: True when the trainer should carry ``state`` from one batch to the next (truncated BPTT)
    stateful: ClassVar[bool] = False
    #: longest context the model can attend to (None: unbounded, as for RNNs)
    context_limit: int | None = None

    def __init__(self, vocab_size: int, **hparams: Any) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.hparams = dict(hparams)

    def forward(self, tokens: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        raise NotImplementedError

    def detach_state(self, state: State) -> State:
        """Cut the autograd graph behind ``state`` (between truncated-BPTT segments)."""
        return state

    def state_tensors(self, state: State) -> dict[str, torch.Tensor]:
        """``state`` as named tensors, so a trainer can checkpoint it (RNN streams)."""
        return {}

    def state_from_tensors(self, tensors: dict[str, torch.Tensor]) -> State:
        return None

    def select_state(self, state: State, index: torch.Tensor) -> State:
        """Keep the batch rows ``index`` of ``state`` (to drop finished samples or fan one prompt out)."""
        raise NotImplementedError

    def concat_states(self, states: list[State]) -> State:
        """Join single-row states (each from its own prompt) into one batch."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {"family": self.family, "vocab_size": self.vocab_size, **self.hparams}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self) -> int:
        """Approximate forward FLOPs per token (2 × multiply-accumulates), for throughput figures."""
        return 2 * sum(p.numel() for n, p in self.named_parameters() if p.dim() >= 2 and "embed" not in n)


MODELS: dict[str, type[LanguageModel]] = {}


def register_model(*names: str):
    """Class decorator: make a model buildable by ``--model NAME``."""

    def wrap(cls: type[LanguageModel]) -> type[LanguageModel]:
        for name in names:
            MODELS[name] = cls
        return cls

    return wrap


def build_model(name: str, vocab_size: int, **hparams: Any) -> LanguageModel:
    """Instantiate the model registered as ``name``."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise InvalidArgument(
            f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}", param="model"
        ) from None
    return cls.build(name, vocab_size, **hparams)  # type: ignore[attr-defined]
