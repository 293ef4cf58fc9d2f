"""The writer of the CLI and the Python API, a thin driver of :mod:`dreamwright.decoding`."""

from dreamwright.decoding import SamplingParams
from dreamwright.devices import resolve_device
from dreamwright.generation.generator import Completion, Generator, Request

__all__ = ["Completion", "Generator", "Request", "SamplingParams", "resolve_device"]
