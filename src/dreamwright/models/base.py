"""The language-model interface and the model registry (language models and image models alike).

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
    """Base class of every dreamwright language model."""

    family: ClassVar[str]
    #: what the model makes: "text" here, "image" for :class:`dreamwright.models.image.ImageModel`
    modality: ClassVar[str] = "text"
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


#: every model, text or image, by the name ``--model`` gives
MODELS: dict[str, type[nn.Module]] = {}


def register_model(*names: str):
    """Class decorator: make a model buildable by ``--model NAME``."""

    def wrap(cls: type[nn.Module]) -> type[nn.Module]:
        for name in names:
            MODELS[name] = cls
        return cls

    return wrap


def model_names(modality: str) -> list[str]:
    """The registered names of the models that make ``modality`` ("text" or "image"), sorted."""
    return sorted(name for name, cls in MODELS.items() if getattr(cls, "modality", "text") == modality)


def build_model(name: str, vocab_size: int | None = None, **hparams: Any) -> Any:
    """Instantiate the model registered as ``name``: a language model from its vocabulary size, an image
    model from its settings alone (``size``, ``channels``, ``num_classes``, …)."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise InvalidArgument(
            f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}", param="model"
        ) from None
    if getattr(cls, "modality", "text") == "image":
        if vocab_size is not None:
            raise InvalidArgument(f"{name} draws images: train it on an image set (fashion-mnist or a folder of "
                                  f"images); the text models are {', '.join(model_names('text'))}", param="model")
        return cls.build(name, **hparams)  # type: ignore[attr-defined]
    if vocab_size is None:
        raise InvalidArgument(f"{name} is a language model: train it on text; the image models are "
                              f"{', '.join(model_names('image'))}", param="model")
    return cls.build(name, vocab_size, **hparams)  # type: ignore[attr-defined]
