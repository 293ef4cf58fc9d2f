"""Optimizers and schedules are looked up by name in registries that other modules can add to."""

from __future__ import annotations

import pytest
import torch

from dreamwright.errors import InvalidArgument
from dreamwright.training import optim
from dreamwright.training.config import TrainConfig, make_config


def test_builtin_names_and_unknown_ones():
    assert {"adamw", "rmsprop", "sgd"} <= set(optim.OPTIMIZERS)
    assert {"cosine", "plateau", "constant", "step"} <= set(optim.SCHEDULES)
    with pytest.raises(InvalidArgument, match="schedule must be one of .*cosine.*got 'linear'"):
        make_config("x", schedule="linear")
    with pytest.raises(InvalidArgument, match="optimizer must be one of"):
        make_config("x", optimizer="lion")


def test_a_registered_schedule_and_optimizer_are_accepted_and_built(monkeypatch):
    monkeypatch.setattr(optim, "SCHEDULES", dict(optim.SCHEDULES))
    monkeypatch.setattr(optim, "OPTIMIZERS", dict(optim.OPTIMIZERS))

    @optim.register_schedule("halving")
    class Halving(optim.Schedule):
        def factor(self, progress: float, epoch: int) -> float:
            return 0.5 ** epoch

    @optim.register_optimizer("adagrad")
    def _adagrad(groups, c):
        return torch.optim.Adagrad(groups, lr=c.lr)

    config = make_config("x", schedule="halving", optimizer="adagrad", lr=0.1)
    assert optim.make_schedule(config).factor(0.3, 2) == 0.25
    model = torch.nn.Module()
    model.embed, model.head = torch.nn.Embedding(5, 3), torch.nn.Linear(3, 4)
    opt = optim.make_optimizer(model, config)
    assert isinstance(opt, torch.optim.Adagrad)
    decayed, plain = opt.param_groups  # weight decay on matrices other than embeddings only
    assert [p.shape for p in decayed["params"]] == [torch.Size([4, 3])] and plain["weight_decay"] == 0.0


def test_builtin_schedules():
    c = TrainConfig(min_lr_ratio=0.1, lr_decay=0.5, decay_after_epochs=2)
    cosine = optim.make_schedule(TrainConfig(**{**c.to_dict(), "schedule": "cosine"}))
    assert cosine.factor(0.0, 0) == pytest.approx(1.0) and cosine.factor(1.0, 5) == pytest.approx(0.1)
    assert cosine.factor(2.0, 9) == pytest.approx(0.1)  # past the budget it stays at the floor
    step = optim.make_schedule(TrainConfig(**{**c.to_dict(), "schedule": "step"}))
    assert [step.factor(0.0, e) for e in range(4)] == [1.0, 1.0, 0.5, 0.25]
    plateau = optim.make_schedule(TrainConfig(**{**c.to_dict(), "schedule": "plateau"}))
    for improved in (True, False, True, False, False):
        plateau.observe(improved)
    assert plateau.factor(0.5, 0) == 0.5  # two evaluations in a row without improvement
    again = optim.make_schedule(TrainConfig(**{**c.to_dict(), "schedule": "plateau"}))
    again.load_state_dict(plateau.state_dict())
    again.observe(False)
    again.observe(False)
    assert again.factor(0.5, 0) == 0.25


def test_optim_sits_below_the_config():
    """The registries are below the config that names them: optim imports nothing of the config, not even for types."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(optim.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "dreamwright.training.config" not in imported
