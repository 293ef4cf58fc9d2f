"""Training configuration.

Every knob lives in :class:`TrainConfig`; a preset is a named set of overrides, and anything the user
sets explicitly wins over the preset ("progressive disclosure": the one-line command does the right thing).

A field declared with :func:`knob` is also an option of ``dreamwright train`` (``--field-name``), with the
help text it carries; :class:`ModelOptions` declares the model arguments the command offers. Adding a knob
is one edit here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from dreamwright._validate import fraction, positive_int
from dreamwright.errors import InvalidArgument
from dreamwright.training.presets import (  # noqa: F401  (PRESETS and register_preset re-exported)
    DEFAULT_PRESET,
    MODEL_PRESETS,
    PRESETS,
    preset_overrides,
    register_preset,
)


def knob(default: Any, help: str, *, flag: str | None = None, shown_default: str | None = None) -> Any:
    """A field that ``dreamwright train`` offers as an option.

    ``flag`` spells it when ``--field-name`` does not (``--samples/--no-samples``, ``--lower``);
    ``shown_default`` is what ``--help`` says the default is, when the field's own default would mislead.
    """
    return field(default=default, metadata={"help": help, "flag": flag, "shown_default": shown_default})


@dataclass
class TrainConfig:
    corpus: str = ""
    preset: str | None = knob(None, "Named settings; `dreamwright presets` lists them with their values.",
                              shown_default="char-lstm-small for characters, word-lstm-small for words, "
                                            "tang-gru for poems")
    task: str = knob("text", "How the corpus is read: text (streams) or poems (one tagged poem per row).",
                     shown_default="the corpus's own: poems for tang, else text")
    init_from: dict[str, Any] | None = None  # fine-tuning: the source model (dreamwright.training.finetune)
    # data
    lower: bool = knob(False, "Lowercase the text (as the books do).", flag="--lower")
    encoding: str = knob("utf-8", "Text encoding of the corpus, or auto to detect it.")
    valid_fraction: float = knob(0.1, "Held-out tail of the text.")
    sample_rate: int | None = knob(None, "Audio: samples per second; the files are resampled to it.",
                                   shown_default="8000")
    skip_bad_lines: bool = knob(False, "Pairs: skip malformed TSV/JSONL lines (counted) instead of stopping.",
                                flag="--skip-bad-lines")
    documents: bool = knob(False, "Folder corpus: mark the end of each file (document mode).", flag="--documents")
    tokenizer: str = knob("auto", "char | word | bpe.",
                          shown_default="the corpus's own: word for ptb and wikitext-2, else char")
    vocab_size: int | None = knob(None, "Word/BPE vocabulary size.", shown_default="10,000 for words")
    min_count: int | None = knob(None, "Poems: characters seen fewer times become □.",
                                 shown_default="the preset's (tang-gru: 5)")
    # model
    model: str = knob("lstm", "simplernn | lstm | gru | gpt.")
    model_args: dict[str, Any] = field(default_factory=dict)
    # optimisation
    seq_len: int = knob(64, "Tokens per training sequence (BPTT length).")
    batch_size: int = knob(32, "Sequences per batch.")
    optimizer: str = knob("adamw", "adamw | rmsprop | sgd.")
    lr: float = knob(3e-3, "Peak learning rate.")
    beta1: float | None = knob(None, "AdamW's first-moment decay.",
                               shown_default="0.9; 0.5 for dcgan (the DCGAN paper)")
    beta2: float | None = knob(None, "AdamW's second-moment decay.", shown_default="0.99; 0.999 for image models")
    weight_decay: float = knob(0.01, "AdamW weight decay.")
    schedule: str = knob("cosine", "cosine | plateau | constant | step.")
    warmup_steps: int = knob(50, "Linear warmup steps.")
    min_lr_ratio: float = 0.05
    lr_decay: float = 0.5  # plateau / step schedules: factor
    decay_after_epochs: float = 4  # step schedule: decay every epoch after this many
    grad_clip: float = knob(1.0, "Gradient norm clip (0: off).")
    grad_accum: int = knob(1, "Micro-batches per step (the global batch stays --batch-size).")
    precision: str = knob("fp32", "fp32 | bf16 | fp16 (autocast).")
    compile: bool = knob(False, "torch.compile the model.", flag="--compile")
    # image models
    size: int | None = knob(None, "Image models: side of the pictures in pixels (28, 32 or 64).",
                            shown_default="the data set's own: 28 for fashion-mnist, 64 for a folder")
    label_smoothing: float = knob(0.1, "GANs: the discriminator's target for real pictures is 1 minus this "
                                  "(one-sided label smoothing; 0: off).")
    ema: float = knob(0.999, "GANs: decay of the moving average of the generator's weights that draws "
                      "(0: draw with the live weights).")
    d_steps: int = knob(1, "GANs: discriminator steps per generator step (the k of Goodfellow et al.).")
    # budget (the first one reached ends training; none given → 10 minutes)
    epochs: float | None = knob(None, "Budget in epochs.")
    steps: int | None = knob(None, "Budget in optimizer steps (with --resume: the run's total).")
    minutes: float | None = knob(None, "Budget in wall-clock minutes (with --resume: the run's total, not extra "
                                 "time; see --more-minutes).", shown_default="10 when no budget is given")
    # evaluation and checkpoints
    eval_interval: int = knob(200, "Steps between evaluations.")
    eval_tokens: int | None = knob(200_000, "Cap on validation tokens scored.")
    patience: int | None = knob(8, "Stop after this many evaluations without improvement.")
    samples: bool = knob(True, "Print samples at each evaluation.", flag="--samples/--no-samples")
    sample_length: int = 200
    sample_temperatures: tuple[float, ...] = (0.2, 0.5, 1.0, 1.2)
    log_interval: int = knob(10, "Steps between metrics.jsonl lines.")
    seed: int = knob(1337, "Random seed (a run is reproducible with steps as its budget).")
    device: str = knob("auto", "auto | cpu | cuda | cuda:N.")
    threads: int | None = knob(None, "CPU threads for PyTorch.", shown_default="PyTorch's choice")

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
        positive_int("size", self.size, allow_none=True)
        positive_int("d_steps", self.d_steps)
        for name in ("beta1", "beta2", "label_smoothing", "ema"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 1:
                raise InvalidArgument(f"{name} must be in [0, 1), got {value!r}", param=name)
        for name in ("lr", "epochs", "minutes"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and value != float("inf")):
                raise InvalidArgument(f"{name} must be a positive number, got {value!r}", param=name)
        if self.grad_clip < 0 or self.weight_decay < 0 or self.warmup_steps < 0:
            raise InvalidArgument("grad_clip, weight_decay and warmup_steps must be >= 0")
        from dreamwright.training.optim import OPTIMIZERS, SCHEDULES  # (here: reading the knobs needs no torch)

        for name, allowed in (("optimizer", tuple(OPTIMIZERS)), ("schedule", tuple(SCHEDULES)),
                              ("precision", ("fp32", "bf16", "fp16"))):
            if getattr(self, name) not in allowed:
                raise InvalidArgument(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for key, value in self.model_args.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise InvalidArgument(f"{key} must be >= 0, got {value!r}", param=key)
            if key in POSITIVE_MODEL_ARGS and value is not None:
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


#: model arguments that must be positive integers
POSITIVE_MODEL_ARGS = ("n_layer", "hidden_size", "n_head", "n_embd", "block_size", "residual_channels",
                       "dilation_channels", "skip_channels", "max_dilation", "dilation_cycles")


@dataclass
class ModelOptions:
    """The model arguments ``dreamwright train`` offers (None: the preset's, else the model's default).

    Any other keyword argument of :func:`dreamwright.train` reaches the model too.
    """

    n_layer: int | None = knob(None, "Layers.")
    hidden_size: int | None = knob(None, "RNN hidden units.")
    embedding_size: int | None = knob(None, "RNN embedding size (0: one-hot input).")
    n_head: int | None = knob(None, "GPT attention heads.")
    n_embd: int | None = knob(None, "GPT width.")
    block_size: int | None = knob(None, "GPT context length.")
    dropout: float | None = knob(None, "Dropout probability.")
    tie_weights: bool | None = knob(None, "Share input and output embeddings.", flag="--tie-weights/--no-tie-weights")
    residual_channels: int | None = knob(None, "WaveNet: channels of the residual stream.", shown_default="64")
    dilation_channels: int | None = knob(None, "WaveNet: channels of the gated convolutions.", shown_default="64")
    skip_channels: int | None = knob(None, "WaveNet: channels of the skip connections.", shown_default="128")
    max_dilation: int | None = knob(None, "WaveNet: the last dilation of a cycle 1, 2, 4 and so on (a power of two).",
                                    shown_default="512")
    dilation_cycles: int | None = knob(None, "WaveNet: how many times the dilations repeat.", shown_default="2")
    conditional: bool | None = knob(None, "Image models: condition on the class (draw a chosen one; needs labels).",
                                    flag="--conditional/--unconditional")
    latent_size: int | None = knob(None, "VAE: size of the latent space.", shown_default="16")
    width: int | None = knob(None, "Image models: channels of the first convolution (doubling with each).",
                             shown_default="64")


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
    elif chosen is None and default_preset and preset_overrides(default_preset).get("model") == given["model"]:
        chosen = default_preset  # the task's own preset is for this model (pairs: seq2seq)
    elif chosen is None and default_preset is None:
        chosen = MODEL_PRESETS.get((given["model"], tokenizer))  # a model's own default (text WaveNet)
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

