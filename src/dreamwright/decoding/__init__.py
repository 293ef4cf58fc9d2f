"""The decoding core: logits processors, one sampler, one stop-string watcher, one batch decoder, beam search.

Everything that writes text — :class:`~dreamwright.generation.generator.Generator` (CLI and Python API), the
server's engine, 作诗姬 and the trainer's samples — drives :class:`BatchDecoder`.

Names are loaded on first use, so ``dreamwright.decoding.defaults`` can be read by the CLI without importing
torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "batch": ("BatchDecoder", "Row", "Snapshot", "sample_rows"),
    "beam": ("BeamParams", "Hypothesis", "beam_search"),
    "defaults": ("DEFAULT_MAX_NEW_TOKENS", "DEFAULT_TEMPERATURE"),
    "params": ("SamplingParams",),
    "processors": ("AvoidRepeats", "Bias", "History", "LogitsProcessor", "Mask", "RepetitionPenalty",
                   "Temperature", "TopK", "TopP"),
    "sampler": ("RowStreams", "choose", "draw", "fresh_seed", "resolve_seed", "row_seed"),
    "stops": ("StopWatcher", "held_back"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS", "DEFAULT_TEMPERATURE", "AvoidRepeats", "BatchDecoder", "BeamParams", "Bias",
    "History", "Hypothesis", "LogitsProcessor", "Mask", "RepetitionPenalty", "Row", "RowStreams", "SamplingParams",
    "Snapshot", "StopWatcher", "Temperature", "TopK", "TopP", "beam_search", "choose", "draw", "fresh_seed",
    "held_back", "resolve_seed", "row_seed", "sample_rows",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from dreamwright.decoding.batch import BatchDecoder, Row, Snapshot, sample_rows
    from dreamwright.decoding.beam import BeamParams, Hypothesis, beam_search
    from dreamwright.decoding.defaults import DEFAULT_MAX_NEW_TOKENS, DEFAULT_TEMPERATURE
    from dreamwright.decoding.params import SamplingParams
    from dreamwright.decoding.processors import (
        AvoidRepeats,
        Bias,
        History,
        LogitsProcessor,
        Mask,
        RepetitionPenalty,
        Temperature,
        TopK,
        TopP,
    )
    from dreamwright.decoding.sampler import RowStreams, choose, draw, fresh_seed, resolve_seed, row_seed
    from dreamwright.decoding.stops import StopWatcher, held_back
