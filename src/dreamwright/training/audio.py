"""The ``audio`` training task: clips of μ-law samples, each led by its condition tokens.

A clip is stored as ``<label=3> <speaker=jackson> s₀ s₁ …`` (:mod:`dreamwright.tokenizers.audio`) in the run's
``train.bin``/``valid.bin``, with the offset of every clip in ``train-clips.bin``/``valid-clips.bin``. A
training row is a window of ``seq_len`` samples from a clip (clips picked in proportion to their length, so
every sample is as likely), after the clip's condition tokens; a window that runs past a short clip's end
is padded and the padding is not scored. Validation scores every sample of every held-out clip from its
start, in bits per sample.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dreamwright.data.audio import split_clips
from dreamwright.data.corpus import CorpusSource, EncodedCorpus
from dreamwright.errors import InvalidArgument
from dreamwright.models.base import LanguageModel
from dreamwright.tokenizers.audio import LEVELS, SILENCE, MuLawTokenizer
from dreamwright.training.evaluate import Score, target_nats
from dreamwright.training.presets import register_preset
from dreamwright.training.tasks import IGNORE, BatchSource, Task, register_task

if TYPE_CHECKING:
    from dreamwright.training.config import TrainConfig

PRESET = "wavenet-audio"
#: condition kinds, in the order their tokens lead a clip
KINDS = ("label", "speaker")


def prepare_audio(source: CorpusSource, data_dir: Path, config: TrainConfig) -> tuple[MuLawTokenizer, EncodedCorpus]:
    """Read, resample and μ-law encode the clips; write the run's token arrays and clip offsets."""
    from dreamwright.data.audio import DEFAULT_RATE, audio_files, read_clips

    if config.tokenizer not in ("char", "auto"):
        raise InvalidArgument("audio is read as μ-law samples; drop --tokenizer", param="tokenizer")
    rate = config.sample_rate or DEFAULT_RATE
    report = read_clips(audio_files(source), rate)
    clips = report.clips
    conditions = {kind: sorted({getattr(c, kind) or "none" for c in clips}, key=_natural)
                  for kind in KINDS if any(getattr(c, kind) for c in clips)}
    tokenizer = MuLawTokenizer(conditions, rate)
    splits = {"train": [c for c in clips if not c.held_out], "valid": [c for c in clips if c.held_out]}
    if not splits["valid"] or not splits["train"]:  # one clip, or a split the files left empty
        splits = {"train": clips[:-1] or clips, "valid": clips[-1:]}
    data_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"corpus": source.name, "dtype": tokenizer.dtype().name, "documents": False,
                            "sample_rate": rate, "skipped_files": len(report.skipped),
                            "mixed_down": report.mixed_down}
    for split, chosen in splits.items():
        rows, offsets, samples = [], [], 0
        for clip in chosen:
            cond = {kind: getattr(clip, kind) or "none" for kind in conditions}
            offsets.append(sum(len(r) for r in rows))
            rows.append(np.concatenate([tokenizer.condition_ids(**cond), clip.tokens.astype(np.int64)]))
            samples += len(clip.tokens)
        ids = np.concatenate(rows).astype(tokenizer.dtype())
        (data_dir / f"{split}.bin").write_bytes(ids.tobytes())
        (data_dir / f"{split}-clips.bin").write_bytes(np.asarray(offsets, dtype=np.int64).tobytes())
        meta.update({f"{split}_tokens": len(ids), f"{split}_chars": samples, f"{split}_clips": len(chosen),
                     f"{split}_seconds": round(samples / rate, 1)})
    (data_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    if config.model == "wavenet":  # the clip's condition tokens are read, never predicted
        config.model_args.update(n_cond=tokenizer.n_cond, predict=LEVELS)
    return tokenizer, EncodedCorpus(data_dir, meta)


def _natural(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 30, value)


def clip_rows(clips: list[tuple[np.ndarray, np.ndarray]], length: int | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of whole clips (or their first ``length`` samples), padded; only samples are scored."""
    n_cond = len(clips[0][0])
    samples = [s if length is None else s[:length] for _, s in clips]
    width = max(map(len, samples))
    x = np.full((len(clips), n_cond + width), SILENCE, dtype=np.int64)
    y = np.full((len(clips), n_cond + width), IGNORE, dtype=np.int64)
    for i, ((cond, _), s) in enumerate(zip(clips, samples, strict=True)):
        x[i, :n_cond] = cond
        x[i, n_cond:n_cond + len(s)] = s
        y[i, n_cond - 1:n_cond - 1 + len(s)] = s
    return torch.from_numpy(x[:, :-1].copy()), torch.from_numpy(y[:, :-1].copy())


class AudioSource(BatchSource):
    """Random windows of clips, a pure function of ``(seed, epoch, index)``."""

    carries_state = False

    def __init__(self, encoded: EncodedCorpus, tokenizer: MuLawTokenizer, model: LanguageModel,
                 config: TrainConfig, rank: int = 0, world: int = 1) -> None:
        self.config, self.tokenizer = config, tokenizer
        self.n_cond = tokenizer.n_cond
        self.train = split_clips(encoded, "train", self.n_cond)
        self.valid = split_clips(encoded, "valid", self.n_cond)
        self.window = config.seq_len
        self.batch_size = max(world, config.batch_size - config.batch_size % world)
        per_rank = self.batch_size // world
        self.rows = slice(rank * per_rank, (rank + 1) * per_rank)
        self.seq_len = self.window + self.n_cond
        lengths = np.array([len(s) for _, s in self.train], dtype=np.float64)
        self.weights = lengths / lengths.sum()
        self.steps_per_epoch = max(1, int(lengths.sum()) // (self.batch_size * self.window))

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.config.seed, epoch, index])
        picks = rng.choice(len(self.train), size=self.batch_size, p=self.weights)[self.rows]
        starts = rng.random(self.batch_size)[self.rows]
        windows = []
        for clip, u in zip(picks, starts, strict=True):
            cond, samples = self.train[clip]
            start = int(u * max(0, len(samples) - self.window - 1))
            windows.append((cond, samples[start:start + self.window + 1]))
        x, y = clip_rows(windows)
        return x, y

    def score(self, model: LanguageModel, device: torch.device, shard: tuple[int, int]) -> Score:
        total, count = clip_nats(model, self.valid, device, shard=shard, max_samples=self.config.eval_tokens)
        return Score(total, count, count)

    def sample_prompt(self, rng: np.random.Generator) -> list[int]:
        """A held-out clip's condition tokens."""
        return [int(t) for t in self.valid[int(rng.integers(len(self.valid)))][0]]

    def format_sample(self, prompt: str, text: str) -> str:
        return f"{prompt} {text}"


@torch.inference_mode()
def clip_nats(model: LanguageModel, clips: list[tuple[np.ndarray, np.ndarray]], device: torch.device | str = "cpu",
              *, shard: tuple[int, int] = (0, 1), batch: int = 8, max_samples: int | None = None
              ) -> tuple[float, int]:
    """Total nats and samples of ``clips``, each scored whole from its start (``max_samples`` caps the samples
    scored: the first clips in order)."""
    if max_samples is not None:
        kept, used = [], 0
        for clip in clips:
            if used >= max_samples:
                break
            kept.append(clip)
            used += len(clip[1])
        clips = kept
    was_training = model.training
    model.eval()
    order = sorted(range(len(clips)), key=lambda i: len(clips[i][1]))
    total, count = 0.0, 0
    for k, start in enumerate(range(0, len(order), batch)):
        if k % shard[1] != shard[0]:
            continue
        nats, scored = target_nats(model, *clip_rows([clips[i] for i in order[start:start + batch]]), device)
        total, count = total + nats, count + scored
    model.train(was_training)
    return total, count


def register() -> None:
    """Add the ``audio`` task and its WaveNet preset."""
    register_preset(
        PRESET,
        "audio: WaveNet, 16 gated blocks (dilations 1…128 × 2, receptive field 511 samples = 64 ms at 8 kHz), "
        "48 residual / 48 dilation / 96 skip channels, global conditioning on label and speaker",
        {"model": "wavenet", "model_args": {"residual_channels": 48, "dilation_channels": 48, "skip_channels": 96,
                                            "max_dilation": 128, "dilation_cycles": 2, "cond_channels": 32,
                                            "dropout": 0.0},
         "seq_len": 1000, "batch_size": 8, "lr": 2e-3, "weight_decay": 0.0, "warmup_steps": 100, "grad_clip": 1.0,
         "eval_interval": 250, "eval_tokens": 200_000, "sample_length": 40, "sample_temperatures": (1.0,)},
        vocab=(LEVELS + 16, "μ-law levels and FSDD's digits and speakers"),
    )
    register_task(Task("audio", prepare_audio, AudioSource, default_preset=PRESET))
