"""Sampling and generation: temperature, top-k/top-p, and the stateful decoding loop."""

from dreamwright.generation.generator import Completion, Generator, resolve_device
from dreamwright.generation.sampling import SamplingParams, reweight, sample

__all__ = ["Completion", "Generator", "SamplingParams", "resolve_device", "reweight", "sample"]
