"""The training loop — the only one: warm-up and a registered schedule, clipping, gradient accumulation,
mixed precision, data parallelism, evaluation, samples at the books' four temperatures, best-model
checkpoints, early stopping and exact resume.

What is read and how it is scored is the run's task (:mod:`dreamwright.training.tasks`): contiguous text
streams with truncated BPTT by default, whole poems for the poetry corpus.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import shlex
import shutil
import signal
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dreamwright import plugins
from dreamwright._validate import positive_int
from dreamwright._version import __version__
from dreamwright.data.corpus import EncodedCorpus, resolve_corpus
from dreamwright.decoding import SamplingParams, sample_rows
from dreamwright.devices import resolve_device
from dreamwright.errors import CheckpointError, InvalidArgument
from dreamwright.generation.generator import Generator
from dreamwright.models import build_model
from dreamwright.models.base import LanguageModel, model_names
from dreamwright.progress import console, progress_bar
from dreamwright.runs import run_kind
from dreamwright.training import checkpoint as ckpt
from dreamwright.training import distributed
from dreamwright.training.config import ModelOptions, TrainConfig, make_config
from dreamwright.training.evaluate import Score
from dreamwright.training.finetune import InitSource, gain_summary
from dreamwright.training.optim import make_optimizer, make_schedule
from dreamwright.training.plots import plot_loss_curve, read_metrics
from dreamwright.training.presets import preset_settings
from dreamwright.training.tasks import IGNORE, get_task

METRICS = "metrics.jsonl"
LOSS_PLOT = "loss.png"
DATA_DIR = "data"
BUDGET_KEYS = ("steps", "minutes", "epochs", "patience", "eval_interval", "samples", "device", "threads", "compile")


@dataclass
class TrainResult:
    """What a finished (or stopped) training run left behind."""

    run_dir: Path
    steps: int
    best_val_loss: float
    best_step: int
    val_bpc: float
    val_perplexity: float
    stop_reason: str  # budget | early-stopping | interrupted
    #: fine-tuning: the starting model's validation loss (the step-0 evaluation); None for other runs
    start_val_loss: float | None = None
    #: what ``val_bpc`` counts bits per: ``bpc`` (characters), or ``bits/sample`` for audio
    unit: str = "bpc"

    @property
    def finetune_summary(self) -> str | None:
        """What fine-tuning gained over the starting model (None when the run was not fine-tuned)."""
        if self.start_val_loss is None or not math.isfinite(self.best_val_loss):
            return None
        return gain_summary(self.start_val_loss, self.best_val_loss, self.best_step)

    def __str__(self) -> str:
        line = (f"{self.run_dir}: best validation loss {self.best_val_loss:.4f} nats/token "
                f"({self.val_bpc:.3f} {self.unit}, perplexity {self.val_perplexity:.2f}) at step {self.best_step}")
        summary = self.finetune_summary
        return line if summary is None else f"{line}\n{summary}"


def default_run_dir(corpus_name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{Path(corpus_name).name}-{stamp}"


def _prepare_new_run_dir(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InvalidArgument(f"out={str(out)!r} is a file; choose a directory path", param="out")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise InvalidArgument(
                f"run directory {out} already exists: pass resume={str(out)!r} to continue it, force=True to "
                "replace it, or choose another `out`", param="out",
            )
        if not (out / ckpt.CONFIG).exists() and not (out / DATA_DIR).exists():
            raise InvalidArgument(
                f"force=True will not delete {out}: it is not a dreamwright run directory; choose another `out`",
                param="out",
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def train(corpus: str | Path | None = None, out: str | Path | None = None, *, force: bool = False,
          resume: str | Path | None = None, preset: str | None = None, quiet: bool = False,
          init_from: str | Path | None = None, more_steps: int | None = None, more_minutes: float | None = None,
          **options: Any) -> TrainResult:
    """Train a language model on ``corpus`` (a file, a folder of .txt files, or a built-in name).

    ``resume=RUN_DIR`` continues a stopped run exactly where it stopped. Its budget options may change
    (``steps``/``minutes``/``epochs`` are the run's total; ``more_steps``/``more_minutes`` give it that much
    more); any other option may only repeat the run's own value, and so may ``corpus`` and ``out``.
    ``init_from=RUN_OR_BUNDLED`` fine-tunes: the new run starts from that model's weights and architecture
    with the ``finetune`` preset's defaults (:mod:`dreamwright.training.finetune`).
    Other keyword arguments are :class:`~dreamwright.training.config.TrainConfig` fields or model
    arguments (``n_layer``, ``hidden_size``, ...). The corpus's task decides how it is read (the ``tang``
    corpus trains poem by poem). Returns a :class:`TrainResult`.
    """
    distributed.init()
    plugins.load()  # corpora and tasks of optional parts (poetry's ``tang``)
    if resume is not None:
        _check_resume_arguments(Path(resume), corpus, out, force=force, init_from=init_from)
        extends = more_steps is not None or more_minutes is not None
        if extends and any(options.get(name) is not None for name in ("steps", "minutes", "epochs")):
            raise InvalidArgument("give the run's total budget (`steps`, `minutes`, `epochs`) or more of it "
                                  "(`more_steps`, `more_minutes`), not both", param="more_steps")
        kind = run_kind(ckpt.read_config(Path(resume)))
        trainer = trainer_class(kind).resume(Path(resume), quiet=quiet, preset=preset, **options)
        trainer.extend_budget(more_steps, more_minutes)
        return trainer.run()
    if more_steps is not None or more_minutes is not None:
        raise InvalidArgument("`more_steps` and `more_minutes` extend a run you resume; a new run's budget is "
                              "`steps`, `minutes` or `epochs`", param="more_steps" if more_steps else "more_minutes")
    if corpus is None:
        raise InvalidArgument("give a corpus to train on (a file, a folder or a built-in name), or a run to "
                              "continue with `resume`", param="corpus")
    if _trains_pictures(corpus, options.get("model")):
        return _train_image_model(corpus, out, force=force, preset=preset, quiet=quiet, init_from=init_from,
                                  options=options)
    if options.get("size") is not None:
        raise InvalidArgument(f"size is the side of the pictures of an image model, and {corpus} is text; leave "
                              "it out", param="size")
    rank, world = distributed.rank_world()
    init = InitSource.open(init_from) if init_from is not None else None
    source = resolve_corpus(corpus)
    task = get_task(options.pop("task", None) or source.task)
    if init is not None:
        preset, options = init.options(preset, options)
    config = make_config(str(corpus), preset=preset, default_tokenizer=source.default_tokenizer,
                         default_preset=task.default_preset, task=task.name, **options)
    if init is not None:
        config.init_from = init.record()
    run_dir = Path(out) if out is not None else default_run_dir(source.name)
    if rank == 0:
        _prepare_new_run_dir(run_dir, force)
        try:
            if init is not None:
                tokenizer, encoded = init.prepare(task, source, run_dir / DATA_DIR, config)
            else:
                tokenizer, encoded = task.prepare(source, run_dir / DATA_DIR, config)
            ckpt.atomic_write_json(run_dir / DATA_DIR / "tokenizer.json", tokenizer.to_dict())
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing of value was written yet
            raise
    distributed.barrier(world)
    if rank != 0:
        from dreamwright.tokenizers import tokenizer_from_dict

        encoded = EncodedCorpus.open(run_dir / DATA_DIR)
        tokenizer = tokenizer_from_dict(json.loads((run_dir / DATA_DIR / "tokenizer.json").read_text()))
    trainer = Trainer(config, run_dir, tokenizer, encoded, quiet=quiet)
    if init is not None:
        note = init.load_into(trainer.model, tokenizer)
        trainer.evaluate_start = True
        if rank == 0 and not quiet:
            console.print(f"fine-tuning from {init.name}: {note}")
    trainer.write_config()
    return trainer.run()


def _trains_pictures(corpus: str | Path, model: str | None) -> bool:
    """Whether this run trains an image model: on image data; an image model on text is refused."""
    from dreamwright.data.images import is_image_data

    image_models = model_names("image")
    if is_image_data(corpus, image_model=model in image_models):
        if model is not None and model not in image_models:
            raise InvalidArgument(f"{corpus} is a set of pictures, and {model} is a language model; train an image "
                                  f"model on it (model: {' or '.join(image_models)})", param="model")
        return True
    if model in image_models:
        raise InvalidArgument(f"{model} draws pictures, and {corpus} is not a set of them: give fashion-mnist or a "
                              "folder of PNG, JPEG or WebP images", param="model")
    return False


def _train_image_model(corpus: str | Path, out: str | Path | None, *, force: bool, preset: str | None, quiet: bool,
                       init_from: str | Path | None, options: dict[str, Any]) -> TrainResult:
    """A new image run (:mod:`dreamwright.training.images`): the preset named after the model by default."""
    if init_from is not None:
        raise InvalidArgument("init_from fine-tunes language models; an image model trains from scratch",
                              param="init_from")
    if distributed.rank_world()[1] > 1:
        raise InvalidArgument("image models train in one process; leave out --nproc", param="nproc")
    if options.get("precision") not in (None, "fp32"):
        raise InvalidArgument("image models train in fp32; leave out precision", param="precision")
    chosen = preset or options.get("model") or "dcgan"
    config = make_config(str(corpus), preset=chosen, **{**options, "task": "image"})
    run_dir = Path(out) if out is not None else default_run_dir(Path(str(corpus)).name)
    _prepare_new_run_dir(run_dir, force)
    try:
        trainer = trainer_class("image").start(config, run_dir, quiet=quiet)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing of value was written yet
        raise
    trainer.write_config()
    return trainer.run()


#: the trainers of other kinds of run than text, by kind; :mod:`dreamwright.training.images` adds ``image``
#: when the image plugin loads (:mod:`dreamwright.training.image_plugin`), so that this module needs no import of it
TRAINERS: dict[str, type[Trainer]] = {}


def trainer_class(kind: str) -> type[Trainer]:
    """The trainer of a ``kind`` of run: ``text`` (this module's :class:`Trainer`) or one a plugin registered."""
    if kind == "text":
        return Trainer
    plugins.load()
    try:
        return TRAINERS[kind]
    except KeyError:
        raise CheckpointError(f"this dreamwright cannot train {kind} runs (known: text, "
                              f"{', '.join(sorted(TRAINERS))})") from None


def _check_resume_arguments(run_dir: Path, corpus: str | Path | None, out: str | Path | None, *, force: bool,
                            init_from: str | Path | None) -> None:
    """Refuse what resuming ``run_dir`` cannot honour: another corpus or run directory, force, fine-tuning."""
    stored = str(ckpt.read_config(run_dir).get("train", {}).get("corpus", ""))
    if corpus is not None and not _same_path(corpus, stored):
        raise InvalidArgument(f"corpus {str(corpus)!r} is not the corpus of the run you resume ({stored!r}); "
                              "leave it out, or start a new run", param="corpus")
    if out is not None and not _same_path(out, run_dir):
        raise InvalidArgument(f"out={str(out)!r} is not the run you resume ({run_dir}); leave it out",
                              param="out")
    if force:
        raise InvalidArgument(f"force=True would replace the run that resume={str(run_dir)!r} continues; give one "
                              "of them", param="force")
    if init_from is not None:
        raise InvalidArgument("init_from cannot be given when resuming: a fine-tuned run resumes from its own "
                              "checkpoint", param="init_from")


def _same_path(given: str | Path, stored: str | Path) -> bool:
    """Whether two spellings name the same corpus or directory (``shakespeare``, ``t.txt``, ``./t.txt``)."""
    return str(given) == str(stored) or Path(given).expanduser().resolve() == Path(stored).expanduser().resolve()


def _values_differ(old: Any, new: Any) -> bool:
    if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(new, bool):
        return not math.isclose(old, new, rel_tol=1e-9)
    return old != new


def _signature_with_knobs(function: Any) -> inspect.Signature:
    """``function``'s signature with every ``train`` option as a keyword (``help()`` and editors show them).

    A knob whose default a preset decides shows None (not given); the rest show their own default.
    """
    by_preset = preset_settings()
    own = inspect.signature(function)
    fixed = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    taken = {p.name for p in fixed}
    knobs = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=f.type,
                               default=None if f.metadata.get("shown_default") or f.name in by_preset else f.default)
             for cls in (TrainConfig, ModelOptions) for f in dataclasses.fields(cls)
             if "help" in f.metadata and f.name not in taken]
    return own.replace(parameters=[*fixed, *knobs, own.parameters["options"]])


train.__signature__ = _signature_with_knobs(train)  # type: ignore[attr-defined]


class Trainer:
    """One training run in one run directory."""

    def __init__(self, config: TrainConfig, run_dir: Path, tokenizer, encoded: EncodedCorpus,
                 *, quiet: bool = False) -> None:
        self.config, self.run_dir, self.tokenizer, self.encoded = config, run_dir, tokenizer, encoded
        self.quiet = quiet
        if config.threads:
            torch.set_num_threads(config.threads)
        self.rank, self.world = distributed.rank_world()
        self.device = distributed.local_device(resolve_device(config.device), self.world)
        torch.manual_seed(config.seed)
        self.model: LanguageModel = build_model(config.model, tokenizer.vocab_size, **config.model_args)
        self.model.to(self.device)
        self.ddp_model = distributed.wrap(self.model, self.device) if self.world > 1 else self.model
        if config.compile:
            self.ddp_model = torch.compile(self.ddp_model)
        # loss scaling for fp16 (a no-op otherwise)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.precision == "fp16")
        self.source = get_task(config.task).source(encoded, tokenizer, self.model, config, self.rank, self.world)
        self.optimizer = make_optimizer(self.model, config)
        self.schedule = make_schedule(config)
        self._start_counters()

    def _start_counters(self) -> None:
        """The progress counters of a new run (all restored on resume)."""
        self.step = 0
        self.epoch = 0
        self.index = 0
        self.elapsed = 0.0
        self.best_val_loss = math.inf
        self.best_step = 0
        self.bad_evals = 0
        self.state = None
        self.last_score: Score | None = None
        self._stop_requested = False
        #: fine-tuning scores the starting model as step 0 (set by :func:`train`), and remembers its loss
        self.evaluate_start = False
        self.start_val_loss: float | None = None

    # ------------------------------------------------------------------ resume
    @classmethod
    def resume(cls, run_dir: Path, *, quiet: bool = False, **overrides: Any) -> Trainer:
        config = cls.resumed_config(run_dir, overrides)
        from dreamwright.tokenizers import tokenizer_from_dict

        try:
            encoded = EncodedCorpus.open(run_dir / DATA_DIR)
        except (OSError, json.JSONDecodeError):
            raise CheckpointError(f"{run_dir}/{DATA_DIR} is missing or damaged; the run cannot resume") from None
        stored = ckpt.read_config(run_dir)
        trainer = cls(config, run_dir, tokenizer_from_dict(stored["tokenizer"]), encoded, quiet=quiet)
        trainer._load_state(run_dir / ckpt.TRAINER_STATE)
        return trainer

    @staticmethod
    def resumed_config(run_dir: Path, overrides: dict[str, Any]) -> TrainConfig:
        """The stored config of ``run_dir`` with the budget ``overrides``; any other override may only repeat it."""
        stored = ckpt.read_config(run_dir)
        if not (run_dir / ckpt.TRAINER_STATE).is_file():
            raise CheckpointError(
                f"{run_dir} has no {ckpt.TRAINER_STATE} to resume from (it stopped before its first "
                "checkpoint); start it again with force=True"
            )
        config = TrainConfig.from_dict(stored["train"])
        for key, value in overrides.items():
            if value is None:
                continue
            if key in BUDGET_KEYS:
                setattr(config, key, value)
                continue
            if key == "tokenizer" and value == "auto":
                continue  # auto chose the run's own tokenizer when it started
            old = getattr(config, key) if hasattr(config, key) else config.model_args.get(
                key, stored.get("model", {}).get(key))
            if _values_differ(old, value):
                raise InvalidArgument(
                    f"{key} cannot change when resuming (the run has {old!r}, you gave {value!r}); only "
                    f"{', '.join(f'`{k}`' for k in BUDGET_KEYS)} can; start a new run instead", param=key,
                )
        return config.validate()

    def extend_budget(self, more_steps: int | None, more_minutes: float | None) -> None:
        """Give a resumed run this many more steps and/or minutes, in place of its budget."""
        if more_steps is None and more_minutes is None:
            return
        c = self.config
        positive_int("more_steps", more_steps, allow_none=True)
        if more_minutes is not None and not (0 < more_minutes < math.inf):
            raise InvalidArgument(f"more_minutes must be a positive number, got {more_minutes!r}",
                                  param="more_minutes")
        c.steps = self.step + more_steps if more_steps is not None else None
        c.minutes = self.elapsed / 60 + more_minutes if more_minutes is not None else None
        c.epochs = None

    # ------------------------------------------------------------------ schedule
    def progress(self) -> float:
        c, fracs = self.config, []
        if c.steps:
            fracs.append(self.step / c.steps)
        if c.epochs:
            fracs.append(self.step / (c.epochs * self.source.steps_per_epoch))
        if c.minutes:
            fracs.append(self.elapsed / (c.minutes * 60))
        if not fracs:
            fracs.append(self.elapsed / 600)
        return max(fracs)

    def lr(self) -> float:
        c = self.config
        warm = min(1.0, (self.step + 1) / c.warmup_steps) if c.warmup_steps else 1.0
        return c.lr * warm * self.schedule.factor(self.progress(), self.epoch)

    # ------------------------------------------------------------------ main loop
    def run(self) -> TrainResult:
        c = self.config
        is_main = self.rank == 0
        finished = self._finished()
        if finished is not None:
            if is_main and not self.quiet:
                console.print(self._finished_note(finished))
            return self._result(finished)
        stop_reason = "budget"
        metrics_path = self.run_dir / METRICS
        half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(c.precision)
        autocast = torch.autocast(self.device.type, dtype=half) if half is not None else nullcontext()
        if is_main and not self.quiet:
            console.print(f"[bold]dreamwright[/] training {c.model} ({self.model.num_parameters():,} parameters) on "
                          f"{self.describe_data()}, device {self.device}, run {self.run_dir}")
            if hasattr(self.model, "describe"):  # the model's own shape line (WaveNet: its receptive field)
                console.print(self.model.describe())
        total = c.steps or None
        previous_handler = self._install_sigint()
        log = open(metrics_path, "a", encoding="utf-8") if is_main else None
        ema = None
        tokens_per_step = self.source.batch_size * self.source.seq_len
        window_start, window_tokens = time.perf_counter(), 0
        tok_rate = 0.0
        try:
            if self.evaluate_start and self.step == 0:
                self._evaluate_and_checkpoint(log)
            with progress_bar("training", total=total if total else 100.0,
                              enabled=is_main and not self.quiet) as bar:
                self.model.train()
                last_tick = time.perf_counter()
                while True:
                    if self._budget_reached():
                        break
                    if self._stop_requested:
                        stop_reason = "interrupted"
                        break
                    if self.index >= self.source.steps_per_epoch:
                        self.epoch, self.index, self.state = self.epoch + 1, 0, None
                    if self.index == 0:
                        self.state = None
                    lr = self.lr()
                    for optimizer in self.optimizers():
                        for group in optimizer.param_groups:
                            group["lr"] = lr
                    x, y = self.source.batch(self.epoch, self.index)
                    loss_value = self._train_step(x, y, autocast)
                    self.step += 1
                    self.index += 1
                    now = time.perf_counter()
                    self.elapsed += now - last_tick
                    last_tick = now
                    if not math.isfinite(loss_value):
                        raise InvalidArgument(
                            f"training diverged at step {self.step} (loss {loss_value}); lower `lr` or "
                            "keep `grad_clip` on"
                        )
                    ema = loss_value if ema is None else 0.95 * ema + 0.05 * loss_value
                    window_tokens += tokens_per_step  # the global batch
                    if now - window_start > 2.0:
                        tok_rate = window_tokens / (now - window_start)
                        window_start, window_tokens = now, 0
                    if log is not None and self.step % c.log_interval == 0:
                        log.write(json.dumps({"event": "train", "step": self.step, "epoch": self.epoch,
                                              "loss": loss_value, **self.step_terms, "lr": lr,
                                              "elapsed": round(self.elapsed, 3),
                                              f"{self.unit}_per_s": round(tok_rate, 1)}) + "\n")
                        log.flush()
                    bar.update(completed=self.step if total else 100 * min(self.progress(), 1.0),
                               info=self.progress_info(ema, tok_rate))
                    if self.step % c.eval_interval == 0:
                        if self._evaluate_and_checkpoint(log):
                            stop_reason = "early-stopping"
                            break
                        last_tick = time.perf_counter()
        finally:
            self._restore_sigint(previous_handler)
        last_eval = self.last_score is not None and self._last_eval_step == self.step
        if not last_eval and self.step > 0:
            self._evaluate_and_checkpoint(log)
        if log is not None:
            log.close()
        if is_main:
            self.write_config()
            self.plot(metrics_path)
        result = self._result(stop_reason)
        if is_main and not self.quiet:
            again = f"dreamwright train --resume {shlex.quote(str(self.run_dir))}"
            note = {"interrupted": f" (interrupted; continue with: {again})",
                    "early-stopping": " (stopped early: validation loss stopped improving)"}.get(stop_reason, "")
            console.print(f"[bold green]done[/]{note}: {result}")
        distributed.barrier(self.world)
        return result

    _last_eval_step = -1
    #: what a row of a batch is, for rates (``tokens_per_s``)
    unit = "tokens"
    #: terms of the last step's loss that metrics.jsonl records beside it (a GAN's two players)
    step_terms: dict[str, float] = {}  # noqa: RUF012 (replaced, never mutated)

    # ------------------------------------------------------------------ what a kind of run defines
    def describe_data(self) -> str:
        """The header line's account of the data."""
        meta = self.encoded.meta
        if self.tokenizer.kind == "mulaw":
            return (f"{meta['corpus']}: {meta['train_clips']:,} clips ({meta['train_seconds']:,} s) for training / "
                    f"{meta['valid_clips']:,} held out ({meta['valid_seconds']:,} s) at {meta['sample_rate']:,} Hz, "
                    f"8-bit μ-law")
        return (f"{meta['corpus']}: {meta['train_tokens']:,} training / {meta['valid_tokens']:,} validation "
                f"{self.config.tokenizer} tokens, vocabulary {self.tokenizer.vocab_size:,}")

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """Every optimizer the learning-rate schedule drives."""
        return [self.optimizer]

    def progress_info(self, loss_ema: float, rate: float) -> str:
        return f"loss {loss_ema:.3f}  {rate / 1000:.1f}k tok/s"

    def plot(self, metrics_path: Path) -> None:
        plot_loss_curve(metrics_path, self.run_dir / LOSS_PLOT, title=f"{self.run_dir.name}")

    def improved(self, score: Score) -> bool:
        """Whether ``score`` is the best so far (its weights become ``model.safetensors``)."""
        return score.loss < self.best_val_loss - 1e-6

    def eval_record(self, score: Score) -> dict[str, Any]:
        """What metrics.jsonl records of an evaluation, beside step, epoch and time."""
        return {"val_loss": score.loss, "val_bpc": score.bpc, "val_perplexity": score.perplexity}

    def eval_line(self, score: Score) -> str:
        """How the console reports an evaluation's score."""
        measure = {"char": f"{score.bpc:.3f} bpc", "mulaw": f"{score.bpc:.3f} bits/sample"}.get(
            self.tokenizer.kind, f"perplexity {score.perplexity:.2f} ({score.bpc:.3f} bpc)")
        return f"val {score.loss:.4f} nats  {measure}"

    def show_samples(self, log) -> None:
        """Samples at an evaluation (printed and logged): a short text at each of the four temperatures."""
        for temperature, text in self.samples():
            if log is not None:
                log.write(json.dumps({"event": "sample", "step": self.step, "temperature": temperature,
                                      "text": text}, ensure_ascii=False) + "\n")
            if not self.quiet:
                console.print(f"[dim]--- T={temperature}:[/] {text!r}")

    def best_tensors(self) -> dict[str, torch.Tensor]:
        """The weights ``model.safetensors`` keeps."""
        return ckpt.model_tensors(self.model)

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, autocast) -> float:
        """One optimizer step over this rank's rows, in ``grad_accum`` micro-batches; returns the global loss."""
        c = self.config
        masked = bool((y == IGNORE).any())  # (checked before the copy to the device: no sync)
        n_scored = max(int((y != IGNORE).sum()), 1)
        x = x.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        accum = max(1, min(c.grad_accum, x.size(0)))
        chunks = torch.arange(x.size(0), device=self.device).chunk(accum)
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        new_states = []
        for m, rows in enumerate(chunks):
            state = self.state
            if accum > 1:
                state = None if state is None else self.model.select_state(state, rows)
            xs, ys = (x, y) if accum == 1 else (x[rows], y[rows])
            sync = nullcontext() if self.world == 1 or m == accum - 1 else self.ddp_model.no_sync()
            with sync:
                with autocast:
                    logits, state = self.ddp_model(xs, state)
                # mean over the scored targets (IGNORE targets are skipped), weighted by their share
                scored = int((ys != IGNORE).sum()) if masked else ys.numel()
                loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), ys.reshape(-1),
                                       ignore_index=IGNORE) if scored else logits.sum() * 0.0
                weight = scored / n_scored if masked else len(rows) / x.size(0)
                self.scaler.scale(loss * weight).backward()
            total += loss.item() * weight
            new_states.append(state)
        if c.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.source.carries_state:
            state = new_states[0] if accum == 1 else self.model.concat_states(new_states)
            self.state = self.model.detach_state(state)
        return distributed.mean(total, self.device, self.world)

    def _finished(self) -> str | None:
        """Why a resumed run has nothing left to do ("budget", "early-stopping"), or None."""
        c = self.config
        if self.step == 0:
            return None
        if c.patience is not None and self.bad_evals >= c.patience:
            return "early-stopping"
        return "budget" if self._budget_reached() else None

    def _finished_note(self, reason: str) -> str:
        """What to tell the user who resumed a finished run: that it is, and how to train on."""
        again = f"dreamwright train --resume {shlex.quote(str(self.run_dir))}"
        best = f"best validation loss {self.best_val_loss:.4f} at step {self.best_step}"
        if reason == "early-stopping":
            return (f"{self.run_dir} is finished: it stopped early at step {self.step} ({best}) after "
                    f"{self.bad_evals} evaluations without improvement; to train on, raise the patience: "
                    f"{again} --patience {self.bad_evals + 4}")
        c = self.config
        budget = ", ".join(f"{value:g} {name}" for name, value in
                           (("steps", c.steps), ("minutes", c.minutes), ("epochs", c.epochs)) if value)
        return (f"{self.run_dir} is finished: it has trained its budget ({budget or '10 minutes'}; {best}); "
                f"to train on, give it more: {again} --more-steps N (or --more-minutes M)")

    def _budget_reached(self) -> bool:
        c = self.config
        if not (c.steps or c.epochs or c.minutes):
            return self.elapsed >= 600
        return ((c.steps is not None and self.step >= c.steps)
                or (c.epochs is not None and self.step >= c.epochs * self.source.steps_per_epoch)
                or (c.minutes is not None and self.elapsed >= c.minutes * 60))

    # ------------------------------------------------------------------ evaluation
    def _evaluate_and_checkpoint(self, log) -> bool:
        """Score the validation split, print samples, save checkpoints. True means stop early."""
        c = self.config
        tick = time.perf_counter()
        score = self.evaluate()
        self.last_score = score
        self._last_eval_step = self.step
        improved = self.improved(score)
        if self.step == 0:
            self.start_val_loss = score.loss
        if improved:
            self.best_val_loss, self.best_step, self.bad_evals = score.loss, self.step, 0
        else:
            self.bad_evals += 1
        self.schedule.observe(improved)
        stream_state = self._gather_stream_state()
        if self.rank == 0:
            record = {"event": "eval", "step": self.step, "epoch": self.epoch, "elapsed": round(self.elapsed, 3),
                      **self.eval_record(score), "lr": self.lr(), "best": improved}
            if not self.quiet:
                console.print(f"step {self.step:>6}  epoch {self.epoch}  {self.elapsed:7.1f}s  "
                              f"{self.eval_line(score)}{'  *' if improved else ''}")
            if c.samples:
                self.show_samples(log)
            if log is not None:
                log.write(json.dumps(record) + "\n")
                log.flush()
            if improved:
                ckpt.atomic_save_tensors(
                    self.run_dir / ckpt.WEIGHTS, self.best_tensors(),
                    {"step": str(self.step), "val_loss": repr(score.loss)},
                )
                self.write_config()
            self._save_state(stream_state)
        self.elapsed += time.perf_counter() - tick
        return c.patience is not None and self.bad_evals >= c.patience

    def evaluate(self) -> Score:
        """The validation score: each rank scores its share, and the sums are all-reduced."""
        score = self.source.score(self.model, self.device, (self.rank, self.world))
        return distributed.sum_score(score, self.device, self.world)

    def samples(self) -> list[tuple[float, str]]:
        """One short sample per temperature, continuing a seeded prompt from the task (validation text)."""
        c = self.config
        prompt = self.source.sample_prompt(np.random.default_rng([c.seed, self.step]))
        generator = Generator(self.model, self.tokenizer, device=self.device)
        temps = list(c.sample_temperatures)
        params = [SamplingParams(temperature=t) for t in temps]
        rng_state = torch.get_rng_state()
        rows = sample_rows(params, c.seed + self.step, len(temps), c.sample_length, self.source.sample_stops)
        completions = generator.decode([prompt] * len(temps), rows).finish()
        torch.set_rng_state(rng_state)
        self.model.train()
        prefix = self.tokenizer.decode(prompt)
        return [(t, self.source.format_sample(prefix, comp.text)) for t, comp in zip(temps, completions, strict=True)]

    # ------------------------------------------------------------------ checkpoints
    def write_config(self) -> None:
        if self.rank != 0:
            return
        s = self.last_score
        ckpt.write_config(self.run_dir, {
            "dreamwright_version": __version__,
            "model": {"name": self.config.model, **self.model.config()},
            "tokenizer": self.tokenizer.to_dict(),
            "train": self.config.to_dict(),
            "corpus": self.encoded.meta,
            **({"init_from": self.config.init_from} if self.config.init_from else {}),
            **self.source.config_extra(),
            "metrics": {
                "steps": self.step, "epochs": self.epoch, "elapsed_s": round(self.elapsed, 2),
                "best_val_loss": None if math.isinf(self.best_val_loss) else self.best_val_loss,
                "best_step": self.best_step,
                **({"start_val_loss": self._starting_loss()} if self.config.init_from else {}),
                "last_val_loss": None if s is None else s.loss,
                "last_val_bpc": None if s is None else s.bpc,
                "parameters": self.model.num_parameters(),
            },
        })

    def _gather_stream_state(self) -> dict[str, torch.Tensor]:
        """The carried RNN state of the whole global batch (rows of every rank, in order)."""
        if self.state is None:
            return {}
        # state tensors are [layers, batch, hidden]: gather every rank's rows of the batch
        return distributed.gather_rows(self.model.state_tensors(self.state), self.world)

    def _save_state(self, stream_state: dict[str, torch.Tensor]) -> None:
        meta = {
            "step": self.step, "epoch": self.epoch, "index": self.index, "elapsed": self.elapsed,
            "best_val_loss": self.best_val_loss, "best_step": self.best_step, "bad_evals": self.bad_evals,
            "schedule": self.schedule.state_dict(), "scaler": self.scaler.state_dict(), "world": self.world,
        }
        ckpt.save_trainer_state(self.run_dir / ckpt.TRAINER_STATE, self.model, self.optimizer, stream_state, meta)

    def _load_state(self, path: Path) -> None:
        saved = ckpt.load_trainer_state(path)
        meta = saved.meta
        ckpt.load_model_weights(self.model, saved.model, path)
        self.optimizer.load_state_dict(saved.optimizer)
        stream = {k: v.to(self.device) for k, v in saved.stream.items()}
        self.state = None
        if stream:  # the global batch's state: keep this rank's rows
            full = self.model.state_from_tensors(stream)
            rows = torch.as_tensor(self.source.rows if self.source.rows is not None else np.arange(0),
                                   device=self.device)
            if next(iter(stream.values())).size(1) == self.source.batch_size:
                self.state = self.model.select_state(full, rows.long())
        torch.set_rng_state(saved.rng)
        if meta.get("scaler"):
            self.scaler.load_state_dict(meta["scaler"])
        self._restore_counters(meta)

    def _restore_counters(self, meta: dict[str, Any]) -> None:
        """Progress counters and schedule from a checkpoint's metadata; metrics.jsonl cut back to its step."""
        for key in ("step", "epoch", "index", "elapsed", "best_val_loss", "best_step", "bad_evals"):
            setattr(self, key, meta[key])
        self.schedule.load_state_dict(meta.get("schedule", meta))  # (older files: plateau keys at the top)
        self.best_val_loss = float(self.best_val_loss)
        if self.rank == 0:
            metrics = self.run_dir / METRICS
            kept = [r for r in read_metrics(metrics) if r.get("step", 0) <= self.step]
            ckpt.atomic_write_text(metrics, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
            if not self.quiet:
                console.print(f"resuming {self.run_dir} at step {self.step} (epoch {self.epoch})")

    def _starting_loss(self) -> float | None:
        """Fine-tuning: the starting model's validation loss (step 0 of metrics.jsonl, also after a resume)."""
        if self.start_val_loss is None and self.config.init_from:
            self.start_val_loss = next((r["val_loss"] for r in read_metrics(self.run_dir / METRICS)
                                        if r.get("event") == "eval" and r.get("step") == 0), None)
        return self.start_val_loss

    def _result(self, stop_reason: str) -> TrainResult:
        s = self.last_score
        best = self.best_val_loss
        meta = self.encoded.meta
        if s is not None:
            chars_per_token = s.chars / s.tokens
        else:  # a resumed run that did not evaluate: the validation split's ratio
            chars_per_token = meta.get("valid_chars", 1) / max(meta.get("valid_tokens", 1), 1)
        return TrainResult(self.run_dir, self.step, best, self.best_step,
                           best / chars_per_token / math.log(2) if math.isfinite(best) else math.nan,
                           math.exp(best) if math.isfinite(best) else math.nan, stop_reason,
                           start_val_loss=self._starting_loss(),
                           unit="bits/sample" if self.tokenizer.kind == "mulaw" else "bpc")

    # ------------------------------------------------------------------ Ctrl-C
    def _install_sigint(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            console.print("[yellow]stopping after this step and saving a checkpoint (Ctrl-C again to abort)[/]")

        return signal.signal(signal.SIGINT, handler)

    @staticmethod
    def _restore_sigint(previous) -> None:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
