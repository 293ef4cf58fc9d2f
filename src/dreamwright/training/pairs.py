"""The ``pairs`` training task: input → reply pairs, the loss on the reply only.

Every pair is stored as ``source GO reply EOS`` (:mod:`dreamwright.data.pair_tokens`) in the run's
``train.bin``/``valid.bin``. A batch left-pads its sources and right-pads its replies, so ``GO`` sits in one
column: a :mod:`~dreamwright.models.seq2seq` model encodes what is left of it, and a decoder-only model reads
the row as it is. Targets are the reply and its ``EOS``; the source and the padding are never scored.
Sources keep their last ``seq_len`` tokens and replies their first ``seq_len`` (a reply cut short has no
``EOS`` to learn). Validation scores every reply token (``EOS`` included) of the held-out pairs, in nats per
token, and bits per reply character.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dreamwright.data.corpus import CorpusSource, EncodedCorpus
from dreamwright.data.pair_tokens import EOS, GO, PAD, SPECIALS, TURN
from dreamwright.data.pairs import Pair, is_pair_file, read_pairs
from dreamwright.data.split import held_out
from dreamwright.errors import CorpusError, InvalidArgument
from dreamwright.models.base import LanguageModel
from dreamwright.tokenizers import Tokenizer
from dreamwright.tokenizers.char import CharTokenizer
from dreamwright.training.evaluate import Score, target_nats
from dreamwright.training.presets import register_preset
from dreamwright.training.tasks import IGNORE, BatchSource, Task, register_task

if TYPE_CHECKING:
    from dreamwright.training.config import TrainConfig

PRESET = "seq2seq"
#: batches per window of pairs sorted by length (larger: less padding, batches less mixed)
BUCKET_BATCHES = 16


def pair_ids(pairs: list[Pair], tokenizer: CharTokenizer) -> np.ndarray:
    """``source GO reply EOS`` of every pair, concatenated, as ids (unknown characters dropped)."""
    text = "".join((p.source or TURN) + GO + p.reply + EOS for p in pairs)
    return tokenizer.encode_chunk(text).astype(tokenizer.dtype())


def split_pairs(ids: np.ndarray, go: int, eos: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(source, reply)`` id arrays of an encoded split."""
    ids = np.asarray(ids, dtype=np.int64)
    ends = np.flatnonzero(ids == eos)
    gos = np.flatnonzero(ids == go)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [(ids[s:g], ids[g + 1:e]) for s, g, e in zip(starts, gos, ends, strict=True)]


def pad_batch(pairs: list[tuple[np.ndarray, np.ndarray]], ids: dict[str, int], max_len: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of a batch: ``PAD… source GO reply EOS PAD…`` rows, scored on ``reply EOS``."""
    sources = [s[-max_len:] for s, _ in pairs]
    replies = [np.append(r, ids["eos"]) if len(r) < max_len else r[:max_len] for _, r in pairs]
    width_s, width_r = max(map(len, sources)), max(map(len, replies))
    rows = np.full((len(pairs), width_s + 1 + width_r), ids["pad"], dtype=np.int64)
    for i, (s, r) in enumerate(zip(sources, replies, strict=True)):
        rows[i, width_s - len(s):width_s] = s
        rows[i, width_s] = ids["go"]
        rows[i, width_s + 1:width_s + 1 + len(r)] = r
    rows = torch.from_numpy(rows)
    x, y = rows[:, :-1], rows[:, 1:].clone()
    y[:, :width_s] = IGNORE
    y[y == ids["pad"]] = IGNORE
    return x, y


def prepare_pairs(source: CorpusSource, data_dir: Path, config: TrainConfig) -> tuple[CharTokenizer, EncodedCorpus]:
    """Read the pairs, fit the characters on the training pairs and write the run's token arrays."""
    if config.tokenizer != "char":
        raise InvalidArgument("pairs are trained with the character tokenizer; drop --tokenizer", param="tokenizer")
    files = source.train_files + list(source.valid_files or [])
    if not all(is_pair_file(f) for f in files):
        raise CorpusError(f"{source.name}: a pairs task reads .tsv (input<TAB>reply) or .jsonl (chat messages) "
                          "files; give one, or a built-in pair corpus (shakespeare-dialogue, tang-couplets)")
    skip = config.skip_bad_lines
    read = [read_pairs(f, skip_bad_lines=skip) for f in source.train_files]
    train = [p for r in read for p in r.pairs]
    if source.valid_files:
        valid = [p for f in source.valid_files for p in read_pairs(f, skip_bad_lines=skip).pairs]
    else:  # held out by pair, by a hash of its text (stable when the file grows)
        held = [held_out(p.source + "\t" + p.reply, config.valid_fraction) for p in train]
        valid = [p for p, h in zip(train, held, strict=True) if h]
        train = [p for p, h in zip(train, held, strict=True) if not h]
    if not train or not valid:
        raise CorpusError(f"{source.name} has {len(train)} training and {len(valid)} held-out pairs; a pairs task "
                          "needs both (more lines, or a larger --valid-fraction)")
    if config.lower:
        train = [Pair(p.source.lower(), p.reply.lower()) for p in train]
        valid = [Pair(p.source.lower(), p.reply.lower()) for p in valid]
    chars = {c for p in train for c in p.source + p.reply} | set(SPECIALS)
    tokenizer = CharTokenizer(chars)
    data_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"corpus": source.name, "dtype": tokenizer.dtype().name, "documents": False,
                            "skipped_lines": sum(r.skipped for r in read),
                            # the longest input read in training (对对子's default limit on a 上联)
                            "longest_source": min(max(len(p.source) for p in train), config.seq_len)}
    for split, pairs in (("train", train), ("valid", valid)):
        ids = pair_ids(pairs, tokenizer)
        (data_dir / f"{split}.bin").write_bytes(ids.tobytes())
        meta.update({f"{split}_tokens": len(ids), f"{split}_chars": sum(len(p.reply) for p in pairs),
                     f"{split}_pairs": len(pairs)})
    (data_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    if config.model == "seq2seq":
        config.model_args.update(go_id=tokenizer.index[GO], pad_id=tokenizer.index[PAD])
    return tokenizer, EncodedCorpus(data_dir, meta)


class PairSource(BatchSource):
    """Shuffled pairs, a new order each epoch, seeded by (seed, epoch)."""

    carries_state = False

    def __init__(self, encoded: EncodedCorpus, tokenizer: CharTokenizer, model: LanguageModel,
                 config: TrainConfig, rank: int = 0, world: int = 1) -> None:
        self.config, self.tokenizer = config, tokenizer
        self.ids = {"pad": tokenizer.index[PAD], "go": tokenizer.index[GO], "eos": tokenizer.index[EOS]}
        self.train = split_pairs(encoded.array("train"), self.ids["go"], self.ids["eos"])
        self.valid = split_pairs(encoded.array("valid"), self.ids["go"], self.ids["eos"])
        self.max_len = config.seq_len
        if not model.stateful and model.context_limit and model.context_limit < 2 * self.max_len + 1:
            raise InvalidArgument(f"a pair needs a context of {2 * self.max_len + 1} tokens (2 × --seq-len + 1); "
                                  "raise --block-size or lower --seq-len", param="block_size")
        self.batch_size = max(world, config.batch_size - config.batch_size % world)
        per_rank = self.batch_size // world
        self.rows = slice(rank * per_rank, (rank + 1) * per_rank)
        self.seq_len = 2 * int(np.mean([min(len(s), self.max_len) for s, _ in self.train[:1000]]) + 1)
        self.steps_per_epoch = max(1, len(self.train) // self.batch_size)
        self.lengths = np.array([min(len(s), self.max_len) + min(len(r), self.max_len) for s, r in self.train])

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        picks = self._epoch_batches(epoch)[index][self.rows]
        return pad_batch([self.train[i] for i in picks], self.ids, self.max_len)

    def _epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The batches of an epoch: pairs shuffled, then sorted by length within windows of
        :data:`BUCKET_BATCHES` batches (so a batch is little padding), and the batches shuffled."""
        cached = getattr(self, "_batches", None)
        if cached is not None and cached[0] == epoch:
            return cached[1]
        rng = np.random.default_rng([self.config.seed, epoch])
        order = rng.permutation(len(self.train))
        window = self.batch_size * BUCKET_BATCHES
        batches = []
        for start in range(0, self.steps_per_epoch * self.batch_size, window):
            chunk = order[start:min(start + window, self.steps_per_epoch * self.batch_size)]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        batches = [batches[i] for i in rng.permutation(len(batches))]
        self._batches = (epoch, batches)
        return batches

    def score(self, model: LanguageModel, device: torch.device, shard: tuple[int, int]) -> Score:
        """Nats over the held-out replies (and their EOS); bits per reply character."""
        total, tokens, chars = pair_nats(model, self.valid, self.ids, device, max_len=self.max_len, shard=shard,
                                         max_tokens=self.config.eval_tokens)
        return Score(total, tokens, chars)

    def sample_prompt(self, rng: np.random.Generator) -> list[int]:
        """A held-out pair's source, then GO."""
        source, _ = self.valid[int(rng.integers(len(self.valid)))]
        return [int(t) for t in source[-self.max_len:]] + [self.ids["go"]]

    sample_stops = (EOS,)

    def format_sample(self, prompt: str, text: str) -> str:
        return f"{prompt.removesuffix(GO).replace(TURN, ' | ')} → {text}"


@torch.inference_mode()
def pair_nats(model: LanguageModel, pairs: list[tuple[np.ndarray, np.ndarray]], ids: dict[str, int],
              device: torch.device | str = "cpu", *, max_len: int = 10_000, shard: tuple[int, int] = (0, 1),
              batch: int = 64, max_tokens: int | None = None) -> tuple[float, int, int]:
    """Total nats, scored tokens and reply characters of ``pairs`` (this shard's batches; sorted by length so
    little is padding). ``max_tokens`` caps the reply tokens scored (the first pairs in file order)."""
    if max_tokens is not None:
        kept, used = [], 0
        for pair in pairs:
            if used >= max_tokens:
                break
            kept.append(pair)
            used += min(len(pair[1]) + 1, max_len)
        pairs = kept
    was_training = model.training
    model.eval()
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), len(pairs[i][1])))
    total, tokens, chars = 0.0, 0, 0
    for k, start in enumerate(range(0, len(order), batch)):
        if k % shard[1] != shard[0]:
            continue
        chunk = [pairs[i] for i in order[start:start + batch]]
        x, y = pad_batch(chunk, ids, max_len)
        nats, scored = target_nats(model, x, y, device)
        total, tokens = total + nats, tokens + scored
        chars += sum(min(len(r), max_len) for _, r in chunk)
    model.train(was_training)
    return total, tokens, chars


def reply_loss(model: LanguageModel, tokenizer: Tokenizer, pairs: list[Pair], device: torch.device | str = "cpu",
               max_len: int = 10_000) -> float:
    """Mean nats per reply token (EOS included) of ``pairs``, scored as validation is (for benchmarks)."""
    ids = {"pad": tokenizer.index[PAD], "go": tokenizer.index[GO], "eos": tokenizer.index[EOS]}
    split = split_pairs(pair_ids(pairs, tokenizer), ids["go"], ids["eos"])
    total, tokens, _ = pair_nats(model, split, ids, device, max_len=max_len)
    return total / max(tokens, 1)


def register() -> None:
    """Add the ``pairs`` task and its default preset."""
    register_preset(
        PRESET,
        "pairs: sequence to sequence, bidirectional GRU encoder and GRU decoder with Luong attention, 1 layer "
        "of 256 units (the book's 2 layers: --n-layer 2), embeddings 128 shared and tied, 100 characters a side",
        {"model": "seq2seq", "model_args": {"n_layer": 1, "hidden_size": 256, "embedding_size": 128,
                                            "dropout": 0.2},
         "seq_len": 100, "batch_size": 64, "lr": 3e-3, "weight_decay": 0.01, "warmup_steps": 100,
         "grad_clip": 1.0, "eval_interval": 200, "sample_length": 100, "sample_temperatures": (0.0, 0.5, 0.8)},
        vocab=(65, "Shakespeare's characters"),
    )
    register_task(Task("pairs", prepare_pairs, PairSource, default_preset=PRESET))
