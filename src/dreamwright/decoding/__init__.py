"""The decoding core: logits processors, one sampler, one stop-string watcher and one batch decoder.

Everything that writes text — :class:`~dreamwright.generation.generator.Generator` (CLI and Python API), the
server's engine, 作诗姬 and the trainer's samples — drives :class:`BatchDecoder`.
"""

from dreamwright.decoding.batch import BatchDecoder, Row, Snapshot
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
from dreamwright.decoding.sampler import RowStreams, choose, draw, fresh_seed, row_seed
from dreamwright.decoding.stops import StopWatcher, held_back

__all__ = [
    "AvoidRepeats", "BatchDecoder", "Bias", "History", "LogitsProcessor", "Mask", "RepetitionPenalty", "Row",
    "RowStreams", "SamplingParams", "Snapshot", "StopWatcher", "Temperature", "TopK", "TopP", "choose", "draw",
    "fresh_seed", "held_back", "row_seed",
]
