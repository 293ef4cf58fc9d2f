"""The ``poems`` training task: how the Tang corpus is read by the main trainer (what the bundled
``tang-poetry`` model is).

Unlike text (truncated BPTT over contiguous streams), every training row here is one whole poem,
``\\n【五绝】床前明月光，…。\\n``, read from a zero state — exactly how :mod:`dreamwright.poetry.decode` uses
the model. Poems of one form have one length, so a batch is drawn from a single form and needs no padding.
Only the poem is scored: the ``\\n【form】`` prompt is given, and characters seen fewer than ``min_count``
times become ``□``, which is never a target (so it is never generated). Validation scores the poem's
characters (Han and punctuation, not the closing newline), in nats per character.

``dreamwright train tang`` uses it (the corpus names this task); ``--task poems`` applies it to any file of
tagged poem lines, such as ``dreamwright poetry prepare`` output.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dreamwright.data.corpus import CorpusSource, EncodedCorpus
from dreamwright.data.split import held_out
from dreamwright.errors import CorpusError, InvalidArgument
from dreamwright.models.base import LanguageModel
from dreamwright.poetry.data import TRAIN_FILE, VALID_FILE, read_corpus, tag
from dreamwright.poetry.prosody import FORMS
from dreamwright.tokenizers.char import CharTokenizer
from dreamwright.training.evaluate import Score, target_nats
from dreamwright.training.presets import register_preset
from dreamwright.training.tasks import IGNORE, BatchSource, Task, register_task

if TYPE_CHECKING:
    from dreamwright.training.config import TrainConfig

UNK = "□"
SPECIALS = "\n【】，。" + UNK
PROMPT_LEN = 1 + len(tag("五绝"))  # "\n【五绝】": targets before the poem's first character are not scored
PRESET = "tang-gru"


def poem_tokenizer(poems: list[tuple[str, str]], min_count: int = 1) -> CharTokenizer:
    """Characters seen at least ``min_count`` times in ``(form, text)`` poems, the tags and the specials."""
    counts = Counter(c for _, text in poems for c in text)
    chars = {c for c, n in counts.items() if n >= min_count} | set(SPECIALS)
    chars |= {c for form in FORMS for c in tag(form)}
    return CharTokenizer(chars)


def encode_poems(poems: list[tuple[str, str]], tokenizer: CharTokenizer) -> np.ndarray:
    """``\\n【form】poem`` for every poem, then a closing ``\\n``, as ids (unknown characters become ``□``)."""
    unk = tokenizer.index[UNK]
    text = "".join("\n" + tag(form) + poem for form, poem in poems) + "\n"
    return np.array([tokenizer.index.get(c, unk) for c in text], dtype=tokenizer.dtype())


def poem_rows(ids: np.ndarray, newline: int) -> dict[int, np.ndarray]:
    """The poems of an encoded split, ``\\n…\\n`` each, as one ``[poems, length]`` array per length."""
    ids = np.asarray(ids, dtype=np.int64)
    ends = np.flatnonzero(ids == newline)
    starts, lengths = ends[:-1], np.diff(ends) + 1
    return {int(n): ids[starts[lengths == n][:, None] + np.arange(n)] for n in np.unique(lengths)}


def poem_targets(rows: torch.Tensor, unk: int, score_end: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of whole poems; the prompt's targets and ``□`` are :data:`IGNORE` (and the
    closing newline too unless ``score_end``)."""
    x, y = rows[:, :-1], rows[:, 1:].clone()
    y[:, : PROMPT_LEN - 1] = IGNORE
    if not score_end:
        y[:, -1] = IGNORE
    y[y == unk] = IGNORE
    return x, y


def prepare_poems(source: CorpusSource, data_dir: Path, config: TrainConfig, *,
                  tokenizer: CharTokenizer | None = None) -> tuple[CharTokenizer, EncodedCorpus]:
    """Read tagged poem lines, fit the vocabulary on the training poems (unless ``tokenizer`` is given: a poem
    model's own, when a run starts from it) and write the run's token arrays.

    A folder written by ``dreamwright poetry prepare`` keeps its split (``train.txt``/``valid.txt``). Other
    sources without validation files are split by a hash of each poem's text (``valid_fraction``), as
    ``prepare`` does.
    """
    if config.tokenizer != "char":
        raise InvalidArgument("poems are trained with the character tokenizer; drop --tokenizer", param="tokenizer")
    train_files, valid_files = source.train_files, source.valid_files
    by_name = {f.name: f for f in train_files}
    if not valid_files and TRAIN_FILE in by_name and VALID_FILE in by_name:
        train_files, valid_files = [by_name[TRAIN_FILE]], [by_name[VALID_FILE]]
    train = [p for f in train_files for p in read_corpus(f)]
    if valid_files:
        valid = [p for f in valid_files for p in read_corpus(f)]
    else:
        poems = train
        train = [p for p in poems if not held_out(p[1], config.valid_fraction)]
        valid = [p for p in poems if held_out(p[1], config.valid_fraction)]
    if not train or not valid:
        raise CorpusError(
            f"{source.name} has {len(train)} training and {len(valid)} validation poems (lines like "
            "【五绝】白日依山尽，…); build them with `dreamwright poetry prepare`"
        )
    if tokenizer is None:
        tokenizer = poem_tokenizer(train, config.min_count or 1)
    data_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"corpus": source.name, "dtype": tokenizer.dtype().name, "documents": False}
    for split, poems in (("train", train), ("valid", valid)):
        ids = encode_poems(poems, tokenizer)
        (data_dir / f"{split}.bin").write_bytes(ids.tobytes())
        meta.update({f"{split}_tokens": len(ids), f"{split}_chars": len(ids), f"{split}_poems": len(poems)})
    (data_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    return tokenizer, EncodedCorpus(data_dir, meta)


class PoemSource(BatchSource):
    """Batches of whole poems of one length (one form), drawn with replacement, seeded by (epoch, index)."""

    carries_state = False

    def __init__(self, encoded: EncodedCorpus, tokenizer: CharTokenizer, model: LanguageModel,
                 config: TrainConfig, rank: int = 0, world: int = 1) -> None:
        self.config, self.tokenizer = config, tokenizer
        self.unk, newline = tokenizer.index[UNK], tokenizer.index["\n"]
        self.train = poem_rows(encoded.array("train"), newline)
        self.valid = poem_rows(encoded.array("valid"), newline)
        self.lengths = sorted(self.train)
        longest = max(self.lengths + list(self.valid))
        if not model.stateful and model.context_limit and model.context_limit < longest - 1:
            raise InvalidArgument(f"the longest poem needs a context of {longest - 1} tokens; raise --block-size",
                                  param="block_size")
        sizes = np.array([len(self.train[n]) for n in self.lengths], dtype=np.float64)
        self.weights = sizes / sizes.sum()
        self.batch_size = max(world, config.batch_size - config.batch_size % world)
        per_rank = self.batch_size // world
        self.rows = slice(rank * per_rank, (rank + 1) * per_rank)
        self.seq_len = int(round(float(np.dot(self.weights, self.lengths)))) - 1
        self.steps_per_epoch = max(1, int(sizes.sum()) // self.batch_size)
        self.shard = (rank, world)

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.config.seed, epoch, index])
        data = self.train[self.lengths[int(rng.choice(len(self.lengths), p=self.weights))]]
        picks = rng.integers(0, len(data), size=self.batch_size)[self.rows]
        return poem_targets(torch.from_numpy(data[picks]), self.unk)

    def score(self, model: LanguageModel, device: torch.device, shard: tuple[int, int]) -> Score:
        """Nats over every validation poem character (this rank's share of the batches)."""
        total, count = poem_nats(model, self.valid, self.unk, device, shard=shard)
        return Score(total, count, count)

    def sample_prompt(self, rng: np.random.Generator) -> list[int]:
        """``\\n【form】`` of a random form."""
        form = list(FORMS)[int(rng.integers(len(FORMS)))]
        return [self.tokenizer.index[c] for c in "\n" + tag(form)]

    def config_extra(self) -> dict[str, Any]:
        return {"poetry": {"tag": "【{form}】", "prompt": "\\n【{form}】", "unk": UNK,
                           "min_count": self.config.min_count or 1}}


@torch.inference_mode()
def poem_nats(model: LanguageModel, rows: dict[int, np.ndarray], unk: int, device: torch.device | str = "cpu",
              *, shard: tuple[int, int] = (0, 1), batch: int = 256) -> tuple[float, int]:
    """Total nats and number of scored characters of whole poems (``poem_rows`` output); with
    ``shard=(rank, world)`` only every ``world``-th batch, from the ``rank``-th."""
    was_training = model.training
    model.eval()
    total, count, k = 0.0, 0, -1
    for n in sorted(rows):
        for start in range(0, len(rows[n]), batch):
            k += 1
            if k % shard[1] != shard[0]:
                continue
            x, y = poem_targets(torch.from_numpy(rows[n][start:start + batch]), unk, score_end=False)
            nats, scored = target_nats(model, x, y, device)
            total, count = total + nats, count + scored
    model.train(was_training)
    return total, count


def poem_loss(model: LanguageModel, poems: list[tuple[str, str]], tokenizer: CharTokenizer,
              device: torch.device | str = "cpu") -> float:
    """Mean nats per poem character of ``(form, text)`` poems, scored as validation is."""
    rows = poem_rows(encode_poems(poems, tokenizer), tokenizer.index["\n"])
    total, count = poem_nats(model, rows, tokenizer.index.get(UNK, IGNORE), device)
    return total / max(count, 1)


def register() -> None:
    """Add the ``poems`` task and its default preset (the bundled model's recipe)."""
    register_preset(
        PRESET,
        "poems (tang): the bundled tang-poetry recipe, 1×384 GRU, embedding 128 tied, □ below 5 sightings",
        {"model": "gru", "model_args": {"n_layer": 1, "hidden_size": 384, "embedding_size": 128, "dropout": 0.1,
                                        "tie_weights": True},
         "min_count": 5, "batch_size": 64, "lr": 3e-3, "weight_decay": 0.01, "warmup_steps": 50,
         "min_lr_ratio": 0.05, "grad_clip": 1.0, "eval_interval": 500, "sample_length": 64},
        vocab=(4_532, "the bundled tang-poetry model's characters"),
    )
    register_task(Task("poems", prepare_poems, PoemSource, default_preset=PRESET))
