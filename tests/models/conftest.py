"""Shared by the image models' tests: the round trip of a model through a run directory's files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dreamwright import runs
from dreamwright.models import build_model


def through_run_files(model: torch.nn.Module, run_dir: Path) -> torch.nn.Module:
    """Save ``model`` as a run does (config.json + model.safetensors) and build it again from those files."""
    runs.write_config(run_dir, {"model": {"name": model.family, **model.config()}})
    runs.atomic_save_tensors(run_dir / runs.WEIGHTS, runs.model_tensors(model))
    settings = dict(runs.read_config(run_dir)["model"])
    name = settings.pop("name")
    settings.pop("family")
    again = build_model(name, **settings)
    tensors, _ = runs.load_tensors(run_dir / runs.WEIGHTS)
    runs.load_model_weights(again, tensors, run_dir / runs.WEIGHTS)
    return again


@pytest.fixture
def roundtrip(tmp_path):
    return lambda model: through_run_files(model, tmp_path / "run")


@pytest.fixture
def one_thread():
    """Small convolutions on a shared 2-core machine run faster on one thread than fighting for two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
