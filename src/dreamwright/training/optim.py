"""Optimizers and learning-rate schedules, registered by name (``--optimizer NAME``, ``--schedule NAME``).

Adding one is a decorated function (optimizer) or class (schedule) here or in any module imported before
training starts; :class:`~dreamwright.training.config.TrainConfig` accepts every registered name. This module
sits below the config: factories and schedules read only the settings of :class:`OptimSettings`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import torch

from dreamwright.errors import InvalidArgument


class OptimSettings(Protocol):
    """The settings optimizers and schedules read (a :class:`~dreamwright.training.config.TrainConfig` has them)."""

    optimizer: str
    schedule: str
    lr: float
    weight_decay: float
    beta1: float | None  # AdamW's betas (None: 0.9 and 0.99)
    beta2: float | None
    min_lr_ratio: float
    lr_decay: float
    decay_after_epochs: float


OptimizerFactory = Callable[[list[dict[str, Any]], OptimSettings], torch.optim.Optimizer]

#: name → factory(param_groups, config)
OPTIMIZERS: dict[str, OptimizerFactory] = {}
#: name → schedule class
SCHEDULES: dict[str, type[Schedule]] = {}


def register_optimizer(name: str) -> Callable[[OptimizerFactory], OptimizerFactory]:
    """Decorator: make ``factory(param_groups, config)`` the optimizer called ``name``."""

    def add(factory: OptimizerFactory) -> OptimizerFactory:
        OPTIMIZERS[name] = factory
        return factory

    return add


def register_schedule(name: str) -> Callable[[type[Schedule]], type[Schedule]]:
    """Decorator: make a :class:`Schedule` subclass the schedule called ``name``."""

    def add(cls: type[Schedule]) -> type[Schedule]:
        SCHEDULES[name] = cls
        return cls

    return add


def _lookup(table: dict[str, Any], kind: str, name: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise InvalidArgument(f"{kind} must be one of {', '.join(sorted(table))}, got {name!r}", param=kind) from None


def make_optimizer(model: torch.nn.Module, config: OptimSettings) -> torch.optim.Optimizer:
    """The configured optimizer; weight decay applies to matrices other than embeddings."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": other, "weight_decay": 0.0}]
    return _lookup(OPTIMIZERS, "optimizer", config.optimizer)(groups, config)


@register_optimizer("adamw")
def _adamw(groups: list[dict[str, Any]], c: OptimSettings) -> torch.optim.Optimizer:
    betas = (0.9 if c.beta1 is None else c.beta1, 0.99 if c.beta2 is None else c.beta2)
    return torch.optim.AdamW(groups, lr=c.lr, betas=betas)


@register_optimizer("rmsprop")
def _rmsprop(groups: list[dict[str, Any]], c: OptimSettings) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(groups, lr=c.lr, alpha=0.9, eps=1e-7)  # Keras defaults (rho=0.9)


@register_optimizer("sgd")
def _sgd(groups: list[dict[str, Any]], c: OptimSettings) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=c.lr)


class Schedule:
    """A learning-rate multiplier in (0, 1]; the trainer multiplies it by the peak lr and the warm-up ramp.

    ``progress`` is the fraction of the budget spent (steps, epochs or minutes, whichever is furthest).
    Schedules that react to validation loss do so in :meth:`observe`; their state goes into
    ``trainer_state`` through :meth:`state_dict`.
    """

    def __init__(self, config: OptimSettings) -> None:
        self.config = config

    def factor(self, progress: float, epoch: int) -> float:
        return 1.0

    def observe(self, improved: bool) -> None:
        """Called after every evaluation."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def make_schedule(config: OptimSettings) -> Schedule:
    return _lookup(SCHEDULES, "schedule", config.schedule)(config)


@register_schedule("constant")
class Constant(Schedule):
    """The peak learning rate throughout."""


@register_schedule("cosine")
class Cosine(Schedule):
    """Cosine decay from the peak to ``min_lr_ratio`` of it over the budget."""

    def factor(self, progress: float, epoch: int) -> float:
        c, p = self.config, min(progress, 1.0)
        return c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p))


@register_schedule("step")
class Step(Schedule):
    """×``lr_decay`` every epoch after ``decay_after_epochs`` (Zaremba et al.)."""

    def factor(self, progress: float, epoch: int) -> float:
        c = self.config
        return c.lr_decay ** max(epoch + 1 - c.decay_after_epochs, 0)


@register_schedule("plateau")
class Plateau(Schedule):
    """×``lr_decay`` after two evaluations in a row without improvement."""

    def __init__(self, config: OptimSettings) -> None:
        super().__init__(config)
        self.scale, self.bad = 1.0, 0

    def factor(self, progress: float, epoch: int) -> float:
        return self.scale

    def observe(self, improved: bool) -> None:
        self.bad = 0 if improved else self.bad + 1
        if self.bad >= 2:
            self.scale *= self.config.lr_decay
            self.bad = 0

    def state_dict(self) -> dict[str, Any]:
        return {"plateau_factor": self.scale, "plateau_bad": self.bad}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale, self.bad = float(state.get("plateau_factor", 1.0)), int(state.get("plateau_bad", 0))
