"""What a caller asks of the sampler: temperature, top-k, top-p, repetition penalty.

:class:`SamplingParams` is the knob set the CLI, the Python API, the server and the trainer's sample callback
all pass in. Each knob becomes one :mod:`~dreamwright.decoding.processors` class, validated in that class's
constructor; adding a knob means adding one processor class and one field here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dreamwright._validate import non_negative_float
from dreamwright.decoding.processors import (
    LogitsProcessor,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopP,
)


@dataclass(frozen=True)
class SamplingParams:
    """How to choose each next token. ``temperature=0`` is greedy (argmax after the other processors)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0
    chain: tuple[LogitsProcessor, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        non_negative_float("temperature", self.temperature)
        # every knob is validated, even the ones greedy decoding does not use
        filters: list[LogitsProcessor] = []
        if self.top_k is not None:
            filters.append(TopK(self.top_k))
        if self.top_p is not None:
            top_p = TopP(self.top_p)
            if top_p.p < 1.0:
                filters.append(top_p)
        chain: list[LogitsProcessor] = []
        if self.repetition_penalty != 1.0:
            chain.append(RepetitionPenalty(self.repetition_penalty))
        if not self.greedy:
            if self.temperature != 1.0:
                chain.append(Temperature(self.temperature))
            chain.extend(filters)
        object.__setattr__(self, "chain", tuple(chain))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0
