"""Checkpoints of a training run: the run-directory I/O of :mod:`dreamwright.runs`, plus the format of
``trainer_state.safetensors`` — what resuming needs: the last weights, the optimizer state, the carried
RNN state of the training streams and the torch RNG state as tensors, and the scalar progress counters
(with the optimizer's non-tensor state) as JSON in the file's metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dreamwright.errors import CheckpointError
from dreamwright.runs import (  # noqa: F401  (the run I/O the trainer uses, re-exported)
    CONFIG,
    FORMAT,
    FORMAT_VERSION,
    WEIGHTS,
    atomic_save_tensors,
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    load_model_weights,
    load_run,
    load_tensors,
    model_tensors,
    read_config,
    write_config,
)

TRAINER_STATE = "trainer_state.safetensors"


@dataclass
class TrainerState:
    """The contents of a ``trainer_state.safetensors``."""

    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]  # ready for ``Optimizer.load_state_dict``
    stream: dict[str, torch.Tensor]  # the carried state of the whole global batch (may be empty)
    rng: torch.Tensor
    meta: dict[str, Any]  # the trainer's progress counters
    #: the states of further optimizers, by name (a GAN's discriminator has its own)
    other_optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: further tensors a trainer keeps, by name (a GAN's moving average of the generator's weights)
    extra: dict[str, torch.Tensor] = field(default_factory=dict)


def _optimizer_parts(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's state as tensors named ``{prefix}.{param id}.{key}`` and JSON for the rest."""
    opt = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    opt_meta: dict[str, Any] = {"param_groups": opt["param_groups"], "state": {}}
    for pid, pstate in opt["state"].items():
        opt_meta["state"][str(pid)] = {}
        for key, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{pid}.{key}"] = value
            else:
                opt_meta["state"][str(pid)][key] = value
    return tensors, opt_meta


def _optimizer_state(prefix: str, tensors: dict[str, torch.Tensor], opt_meta: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`_optimizer_parts`: a state ready for ``Optimizer.load_state_dict``."""
    opt_state: dict[int, dict[str, Any]] = {int(pid): dict(scalars) for pid, scalars in opt_meta["state"].items()}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, pid, name = key.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = value
    return {"state": opt_state, "param_groups": opt_meta["param_groups"]}


def save_trainer_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                       stream: dict[str, torch.Tensor], meta: dict[str, Any], *,
                       other_optimizers: dict[str, torch.optim.Optimizer] | None = None,
                       extra: dict[str, torch.Tensor] | None = None) -> None:
    """Write everything resuming needs to ``path`` (atomically); ``meta`` is JSON-serialisable scalars."""
    tensors = {f"model.{k}": v for k, v in model_tensors(model).items()}
    optim_tensors, opt_meta = _optimizer_parts("optim", optimizer)
    tensors.update(optim_tensors)
    others: dict[str, Any] = {}
    for name, other in (other_optimizers or {}).items():
        other_tensors, others[name] = _optimizer_parts(f"optim-{name}", other)
        tensors.update(other_tensors)
    for k, v in stream.items():
        tensors[f"stream.{k}"] = v
    for k, v in (extra or {}).items():
        tensors[f"extra.{k}"] = v
    tensors["rng.torch"] = torch.get_rng_state()
    record = {**meta, "optimizer": opt_meta, **({"other_optimizers": others} if others else {})}
    atomic_save_tensors(path, tensors, {"trainer": json.dumps(record, default=float)})


def load_trainer_state(path: Path) -> TrainerState:
    """Read a file written by :func:`save_trainer_state`; a damaged one raises :class:`CheckpointError`."""
    tensors, metadata = load_tensors(path)
    try:
        meta = json.loads(metadata["trainer"])
        opt_meta = meta.pop("optimizer")
        others = meta.pop("other_optimizers", {})
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(f"{path} has no trainer metadata; the run cannot resume") from None
    return TrainerState(
        model={k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
        optimizer=_optimizer_state("optim", tensors, opt_meta),
        stream={k[7:]: v for k, v in tensors.items() if k.startswith("stream.")},
        rng=tensors["rng.torch"],
        meta=meta,
        other_optimizers={name: _optimizer_state(f"optim-{name}", tensors, m) for name, m in others.items()},
        extra={k[6:]: v for k, v in tensors.items() if k.startswith("extra.")},
    )
