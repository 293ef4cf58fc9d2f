"""The writer of the CLI and the Python API, a thin driver of :mod:`dreamwright.decoding`."""

from dreamwright.decoding import SamplingParams
from dreamwright.generation.generator import Completion, Generator, Request, resolve_device

__all__ = ["Completion", "Generator", "Request", "SamplingParams", "resolve_device"]
