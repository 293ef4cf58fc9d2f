"""Checkpoints of a training run: the run-directory I/O of :mod:`dreamwright.runs`, plus the format of
``trainer_state.safetensors`` — what resuming needs: the last weights, the optimizer state, the carried
RNN state of the training streams and the torch RNG state as tensors, and the scalar progress counters
(with the optimizer's non-tensor state) as JSON in the file's metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


def save_trainer_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                       stream: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write everything resuming needs to ``path`` (atomically); ``meta`` is JSON-serialisable scalars."""
    tensors = {f"model.{k}": v for k, v in model_tensors(model).items()}
    opt = optimizer.state_dict()
    opt_meta: dict[str, Any] = {"param_groups": opt["param_groups"], "state": {}}
    for pid, pstate in opt["state"].items():
        opt_meta["state"][str(pid)] = {}
        for key, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{key}"] = value
            else:
                opt_meta["state"][str(pid)][key] = value
    for k, v in stream.items():
        tensors[f"stream.{k}"] = v
    tensors["rng.torch"] = torch.get_rng_state()
    atomic_save_tensors(path, tensors, {"trainer": json.dumps({**meta, "optimizer": opt_meta}, default=float)})


def load_trainer_state(path: Path) -> TrainerState:
    """Read a file written by :func:`save_trainer_state`; a damaged one raises :class:`CheckpointError`."""
    tensors, metadata = load_tensors(path)
    try:
        meta = json.loads(metadata["trainer"])
        opt_meta = meta.pop("optimizer")
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(f"{path} has no trainer metadata; the run cannot resume") from None
    opt_state: dict[int, dict[str, Any]] = {int(pid): dict(scalars) for pid, scalars in opt_meta["state"].items()}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = value
    return TrainerState(
        model={k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
        optimizer={"state": opt_state, "param_groups": opt_meta["param_groups"]},
        stream={k[7:]: v for k, v in tensors.items() if k.startswith("stream.")},
        rng=tensors["rng.torch"],
        meta=meta,
    )
