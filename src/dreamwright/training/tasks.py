"""Training tasks: what a corpus is cut into and how it is scored, plugged into the one :class:`Trainer`.

A task has two parts:

- ``prepare(source, data_dir, config)`` encodes a corpus into ``data_dir`` (the run's ``data/``: the
  ``train.bin``/``valid.bin``/``meta.json`` layout of :class:`~dreamwright.data.corpus.EncodedCorpus`) and
  returns its tokenizer — run once, by rank 0, when a run starts;
- ``source(encoded, tokenizer, model, config, rank, world)`` builds the :class:`BatchSource` the trainer reads
  — also when a run resumes.

``text`` (contiguous streams with truncated BPTT, or random windows for stateless models) is built in;
other modules add theirs with :func:`register_task` (poetry adds ``poems``: one whole poem per row, scored
on the poem's characters only). A corpus names its task (:attr:`~dreamwright.data.registry.BuiltinCorpus.task`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dreamwright.data.corpus import CorpusSource, EncodedCorpus, encode_corpus
from dreamwright.errors import CorpusError, InvalidArgument
from dreamwright.models.base import LanguageModel
from dreamwright.tokenizers import Tokenizer
from dreamwright.training.batches import StreamBatches, WindowBatches
from dreamwright.training.evaluate import IGNORE, Score, score_tokens  # noqa: F401  (IGNORE re-exported)

if TYPE_CHECKING:
    from dreamwright.training.config import TrainConfig



class BatchSource(ABC):
    """What the trainer reads: batches that are pure functions of ``(epoch, index)``, a validation score,
    and prompts for samples. Under data parallelism each rank builds its own and takes its rows."""

    #: rows of the global batch (all ranks together)
    batch_size: int
    #: input positions per row (for tokens/s)
    seq_len: int
    steps_per_epoch: int
    #: the model's recurrent state carries from batch ``index`` to ``index + 1`` (contiguous streams)
    carries_state: bool = False
    #: this rank's rows of the global batch (to restore a carried state on resume)
    rows: Any = None

    @abstractmethod
    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets ``[rows, seq_len]``; targets equal to :data:`IGNORE` are not scored."""

    @abstractmethod
    def score(self, model: LanguageModel, device: torch.device, shard: tuple[int, int]) -> Score:
        """This rank's share (``shard = (rank, world)``) of the validation score."""

    @abstractmethod
    def sample_prompt(self, rng: np.random.Generator) -> list[int]:
        """Token ids to continue when printing samples at an evaluation."""

    #: strings that end a sample (a pair's reply ends at EOS)
    sample_stops: tuple[str, ...] = ()

    def format_sample(self, prompt: str, text: str) -> str:
        """How a sample reads in the console and the log: the prompt, then what the model wrote."""
        return prompt + text

    def config_extra(self) -> dict[str, Any]:
        """Extra top-level sections of the run's ``config.json``."""
        return {}


Prepare = Callable[[CorpusSource, Path, "TrainConfig"], tuple[Tokenizer, EncodedCorpus]]
SourceFactory = Callable[[EncodedCorpus, Tokenizer, LanguageModel, "TrainConfig", int, int], BatchSource]


@dataclass(frozen=True)
class Task:
    """A named way to train: how a corpus is encoded and read."""

    name: str
    prepare: Prepare
    source: SourceFactory
    #: the preset used when neither ``--preset`` nor ``--model`` is given (None: the tokenizer's default)
    default_preset: str | None = None


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Make ``task`` available under its name (corpora name it in ``BuiltinCorpus.task``)."""
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise InvalidArgument(
            f"unknown training task {name!r} (known: {', '.join(sorted(TASKS))}); the module that defines it "
            "is not installed", param="task",
        ) from None


# ---------------------------------------------------------------------- text
def prepare_text(source: CorpusSource, data_dir: Path, config: TrainConfig, *,
                 tokenizer: Tokenizer | None = None) -> tuple[Tokenizer, EncodedCorpus]:
    """Fit the configured tokenizer (unless one is given) and encode the corpus as contiguous token arrays."""
    if config.min_count is not None:
        raise InvalidArgument("--min-count applies to poem corpora only; use --vocab-size", param="min_count")
    tokenizer_options: dict[str, Any] = {"vocab_size": config.vocab_size} if config.vocab_size else {}
    if config.tokenizer == "word" and "vocab_size" not in tokenizer_options:
        tokenizer_options["vocab_size"] = 10_000
    tokenizer, encoded = encode_corpus(
        source, data_dir, tokenizer=tokenizer, tokenizer_kind=config.tokenizer, tokenizer_options=tokenizer_options,
        lower=config.lower, encoding=config.encoding, valid_fraction=config.valid_fraction,
        documents=config.documents,
    )
    if encoded.meta["valid_tokens"] < 2:
        raise CorpusError(
            f"the validation split of {source.name} has {encoded.meta['valid_tokens']} tokens; "
            "use a longer corpus or a larger --valid-fraction"
        )
    return tokenizer, encoded


class TextSource(BatchSource):
    """Contiguous streams (stateful models: the state carries over) or random windows (stateless models)."""

    def __init__(self, encoded: EncodedCorpus, tokenizer: Tokenizer, model: LanguageModel, config: TrainConfig,
                 rank: int = 0, world: int = 1) -> None:
        self.encoded, self.tokenizer, self.config = encoded, tokenizer, config
        self.train_data = encoded.array("train")
        self.valid_data = encoded.array("valid")
        seq_len = config.seq_len
        if not model.stateful and model.context_limit:
            seq_len = min(seq_len, model.context_limit)
        cls = StreamBatches if model.stateful else WindowBatches
        self.batches = cls(self.train_data, config.batch_size, seq_len, config.seed, rank=rank, world=world)
        self.batch_size, self.seq_len = self.batches.batch_size, self.batches.seq_len
        self.steps_per_epoch, self.rows = self.batches.steps_per_epoch, self.batches.rows
        self.carries_state = model.stateful

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batches.batch(epoch, index)

    def score(self, model: LanguageModel, device: torch.device, shard: tuple[int, int]) -> Score:
        c, data = self.config, self.valid_data
        if c.eval_tokens is not None:
            data = data[: c.eval_tokens + 1]
        chars = self.encoded.chars("valid") * len(data) / max(len(self.valid_data), 1)
        return score_tokens(model, data, chars=chars, seq_len=max(c.seq_len, 128), device=device, shard=shard)

    def sample_prompt(self, rng: np.random.Generator) -> list[int]:
        """A random slice of the validation text."""
        n_prompt = 40 if self.tokenizer.kind == "char" else 10
        start = int(rng.integers(0, max(1, len(self.valid_data) - n_prompt)))
        return [int(t) for t in self.valid_data[start:start + n_prompt]]


register_task(Task("text", prepare_text, TextSource))
