"""Training configuration.

Every knob lives in :class:`TrainConfig`; a preset is a named set of overrides, and anything the user
sets explicitly wins over the preset ("progressive disclosure": the one-line command does the right thing).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from dreamwright._validate import fraction, positive_int
from dreamwright.errors import InvalidArgument
from dreamwright.training.optim import OPTIMIZERS, SCHEDULES
from dreamwright.training.presets import (  # noqa: F401  (PRESETS and register_preset re-exported)
    DEFAULT_PRESET,
    PRESETS,
    preset_overrides,
    register_preset,
)


@dataclass
class TrainConfig:
    corpus: str = ""
    preset: str | None = None
    task: str = "text"  # how the corpus is read and scored (dreamwright.training.tasks): text | poems
    init_from: dict[str, Any] | None = None  # fine-tuning: the source model (dreamwright.training.finetune)
    # data
    lower: bool = False
    encoding: str = "utf-8"
    valid_fraction: float = 0.1
    documents: bool = False  # a folder of files: put an end-of-document marker between files
    tokenizer: str = "auto"  # auto: the corpus's own (word for ptb / wikitext-2), else char
    vocab_size: int | None = None  # word: top-N words (default 10,000); bpe: merges target
    min_count: int | None = None  # poems: characters seen fewer times become the unknown character
    # model
    model: str = "lstm"
    model_args: dict[str, Any] = field(default_factory=dict)
    # optimisation
    seq_len: int = 64
    batch_size: int = 32
    optimizer: str = "adamw"  # adamw | rmsprop | sgd
    lr: float = 3e-3
    weight_decay: float = 0.01
    schedule: str = "cosine"  # cosine | plateau | constant | step
    warmup_steps: int = 50
    min_lr_ratio: float = 0.05
    lr_decay: float = 0.5  # plateau / step schedules: factor
    decay_after_epochs: float = 4  # step schedule: decay every epoch after this many
    grad_clip: float = 1.0
    grad_accum: int = 1  # micro-batches per step: global batch = batch_size (split over ranks and these)
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast; fp16 with a gradient scaler)
    compile: bool = False  # torch.compile the model
    # budget (the first one reached ends training; none given → 10 minutes)
    epochs: float | None = None
    steps: int | None = None
    minutes: float | None = None
    # evaluation and checkpoints
    eval_interval: int = 200
    eval_tokens: int | None = 200_000
    patience: int | None = 8
    samples: bool = True
    sample_length: int = 200
    sample_temperatures: tuple[float, ...] = (0.2, 0.5, 1.0, 1.2)
    log_interval: int = 10
    seed: int = 1337
    device: str = "auto"
    threads: int | None = None

    def validate(self) -> TrainConfig:
        positive_int("seq_len", self.seq_len)
        positive_int("batch_size", self.batch_size)
        positive_int("eval_interval", self.eval_interval)
        positive_int("grad_accum", self.grad_accum)
        positive_int("log_interval", self.log_interval)
        positive_int("sample_length", self.sample_length)
        positive_int("steps", self.steps, allow_none=True)
        positive_int("vocab_size", self.vocab_size, allow_none=True)
        positive_int("min_count", self.min_count, allow_none=True)
        positive_int("eval_tokens", self.eval_tokens, allow_none=True)
        positive_int("threads", self.threads, allow_none=True)
        fraction("valid_fraction", self.valid_fraction, high_closed=False)
        for name in ("lr", "epochs", "minutes"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and value != float("inf")):
                raise InvalidArgument(f"{name} must be a positive number, got {value!r}", param=name)
        if self.grad_clip < 0 or self.weight_decay < 0 or self.warmup_steps < 0:
            raise InvalidArgument("grad_clip, weight_decay and warmup_steps must be >= 0")
        for name, allowed in (("optimizer", tuple(OPTIMIZERS)), ("schedule", tuple(SCHEDULES)),
                              ("precision", ("fp32", "bf16", "fp16"))):
            if getattr(self, name) not in allowed:
                raise InvalidArgument(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for key, value in self.model_args.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise InvalidArgument(f"{key} must be >= 0, got {value!r}", param=key)
            if key in ("n_layer", "hidden_size", "n_head", "n_embd", "block_size") and value is not None:
                positive_int(key, value)
        if "dropout" in self.model_args and not 0 <= self.model_args["dropout"] < 1:
            raise InvalidArgument(f"dropout must be in [0, 1), got {self.model_args['dropout']!r}", param="dropout")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sample_temperatures"] = list(self.sample_temperatures)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in data.items() if k in names}
        if "sample_temperatures" in d:
            d["sample_temperatures"] = tuple(d["sample_temperatures"])
        return cls(**d)


def make_config(corpus: str, preset: str | None = None, default_tokenizer: str = "char",
                default_preset: str | None = None, **options: Any) -> TrainConfig:
    """Build a config: dataclass defaults < preset (or the task's, else the tokenizer's default preset) <
    explicit options.

    ``options`` with value None count as not given. Unknown keys are treated as model arguments.
    """
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    given = {k: v for k, v in options.items() if v is not None}
    model_args = dict(given.pop("model_args", {}) or {})
    for key in list(given):
        if key not in fields:
            model_args[key] = given.pop(key)
    tokenizer = given.get("tokenizer", "auto")
    if tokenizer == "auto":
        tokenizer = default_tokenizer
    values: dict[str, Any] = {}
    chosen = preset
    if chosen is None and "model" not in given:
        chosen = default_preset or DEFAULT_PRESET.get(tokenizer)
    if chosen is not None:
        values.update(preset_overrides(chosen))
    if "model" in given and given["model"] != values.get("model", given["model"]):
        values.pop("model_args", None)  # a preset's shape is for its own model family
    values.update(given)
    values["model_args"] = {**values.get("model_args", {}), **model_args}
    values.setdefault("tokenizer", tokenizer)
    if values["tokenizer"] == "auto":
        values["tokenizer"] = tokenizer
    return TrainConfig(corpus=str(corpus), preset=chosen, **values).validate()

