"""Fine-tuning: start a new run from another run's (or a bundled model's) weights — ``--init-from``.

- The architecture is the source's; options that would change it are an error (``dropout`` is not part of
  the architecture and may be set).
- Character models map vocabularies: the new run's vocabulary is the source's characters plus the new
  corpus's. Shared characters keep their rows (input embedding or one-hot input weights, output layer);
  new characters get the mean of the source's rows as input, the mean output row and the lowest output
  bias (they start rare and are learnt from the corpus); characters the corpus never uses keep their rows
  and are pushed down by training like any other wrong answer.
- Word and BPE models keep the source's tokenizer: the corpus is encoded with it (a different
  ``--tokenizer`` or ``--vocab-size`` is refused). So do poem models (``--task poems``, from a poem model
  only): characters outside the source's vocabulary become ``□``.
- Optimisation defaults come from the ``finetune`` preset (lower learning rate, short warm-up, frequent
  evaluation with short patience, dropout), chosen for small corpora; every knob stays overridable.
- The run's ``config.json`` records the source (``init_from``: name, path (not for a bundled model, which
  its name identifies), sha256 of its weights, the dreamwright version that wrote it). Resuming a
  fine-tuned run is resuming any run.
- The starting model is scored on the new validation split before the first step (step 0 of
  ``metrics.jsonl``, and the first best checkpoint); the run ends by saying what fine-tuning gained over it
  (:func:`gain_summary`), plainly when nothing or nearly nothing was gained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dreamwright.errors import CheckpointError, InvalidArgument
from dreamwright.runs import WEIGHTS, load_tensors, read_config
from dreamwright.tokenizers import Tokenizer, tokenizer_from_dict
from dreamwright.training.presets import FINETUNE_PRESET, preset_overrides

#: options that shape the network; with ``--init-from`` they come from the source
ARCHITECTURE_KEYS = ("model", "cell", "n_layer", "hidden_size", "embedding_size", "n_head", "n_embd",
                     "block_size", "tie_weights", "init_range")
#: a gain over the starting model below this share of its validation loss is reported as within noise: the
#: validation split of a small corpus is small, and issue 25's fine-tune that gained 0.07% on its split was
#: 3.6% worse than the base model on another held-out file
NOISE_FRACTION = 0.005


def resolve_source(init_from: str | Path) -> Path:
    """The run directory ``init_from`` names: a path, or the name of a bundled model."""
    from dreamwright import bundled

    found = bundled.resolve(init_from)
    if found is None:
        raise CheckpointError(f"--init-from {init_from}: no such run directory or bundled model; "
                              "`dreamwright models` lists the models you can start from")
    return found


def gain_summary(start_loss: float, best_loss: float, best_step: int) -> str:
    """One line on what fine-tuning gained over the starting model's validation loss (nats/token)."""
    if best_step == 0 or best_loss >= start_loss:
        return (f"fine-tuning did not improve on the base model: no evaluation beat its starting validation "
                f"loss ({start_loss:.4f} nats/token), so the run's best checkpoint is the starting model")
    gain = start_loss - best_loss
    figures = f"{gain:.4f} nats/token over the base model ({start_loss:.4f} -> {best_loss:.4f}, " \
              f"{100 * gain / start_loss:.2f}%)"
    if gain < NOISE_FRACTION * start_loss:
        return (f"fine-tuning gained only {figures}, within noise (< {100 * NOISE_FRACTION:g}%): "
                "the fine-tuned model is no better than the base model")
    return f"fine-tuning gained {figures}"


@dataclass
class InitSource:
    """The model a fine-tuning run starts from: its config, best weights and tokenizer."""

    name: str
    path: Path
    config: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    tokenizer: Tokenizer
    sha256: str
    bundled: bool
    #: the characters of the new corpus (set by :meth:`prepare` for character models)
    corpus_chars: list[str] | None = None

    @classmethod
    def open(cls, init_from: str | Path) -> InitSource:
        from dreamwright import bundled
        from dreamwright.data.registry import sha256_of

        path = resolve_source(init_from)
        try:
            config = read_config(path)
        except CheckpointError as exc:
            raise CheckpointError(f"--init-from: {exc}") from None
        weights = path / WEIGHTS
        if not weights.is_file():
            raise CheckpointError(f"--init-from {init_from}: {path} has no {WEIGHTS} yet (the run has not "
                                  "reached its first evaluation)")
        tensors, _ = load_tensors(weights)
        try:
            tokenizer = tokenizer_from_dict(config["tokenizer"])
            config["model"]["name"]  # noqa: B018  (checked to exist)
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"--init-from: {path / 'config.json'} is missing a field ({exc})") from None
        is_bundled = bundled.find(path.name) is not None and bundled.find(path.name).resolve() == path.resolve()
        return cls(path.name if is_bundled else str(init_from), path, config,
                   {k: v.float() for k, v in tensors.items()}, tokenizer, sha256_of(weights), is_bundled)

    # ------------------------------------------------------------------ configuration
    @property
    def architecture(self) -> tuple[str, dict[str, Any]]:
        """The source's model name and its constructor arguments (dropout included)."""
        cfg = dict(self.config["model"])
        name = cfg.pop("name")
        for key in ("family", "vocab_size"):
            cfg.pop(key, None)
        return name, cfg

    def record(self) -> dict[str, Any]:
        """What ``config.json`` says about the source (``init_from``). A bundled source is named, not located:
        its path is where this machine installed the package, which means nothing to the next one."""
        where = {} if self.bundled else {"path": str(self.path.resolve())}
        return {"name": self.name, **where, "bundled": self.bundled,
                "sha256": self.sha256, "dreamwright_version": self.config.get("dreamwright_version"),
                "corpus": self.config.get("train", {}).get("corpus"),
                "tokenizer": self.tokenizer.kind}

    def options(self, preset: str | None, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The preset and options of the new run: the source's architecture (user options that would change
        it are refused), its tokenizer kind, sequence length and batch size, and the ``finetune`` preset."""
        name, arch = self.architecture
        given = {k: v for k, v in options.items() if v is not None}
        if preset is not None and preset != FINETUNE_PRESET:
            shape = {k for k in preset_overrides(preset) if k in ("model", "model_args")}
            if shape:
                raise InvalidArgument(f"--preset {preset} sets an architecture; with --init-from the architecture "
                                      f"is {self.name}'s (use --preset {FINETUNE_PRESET} or none)", param="preset")
        source_values = {"model": name, **arch}
        for key in ARCHITECTURE_KEYS:
            if key in given:
                value = given.pop(key)
                if key in source_values and value != source_values[key] or key not in source_values:
                    raise InvalidArgument(
                        f"--{key.replace('_', '-')} cannot change when fine-tuning: the architecture comes from "
                        f"{self.name} ({key}={source_values.get(key)!r}); drop the option", param=key)
        kind = self.tokenizer.kind
        if given.get("tokenizer", "auto") not in ("auto", kind):
            raise InvalidArgument(
                f"--tokenizer {given['tokenizer']}: {self.name} is a {kind} model; fine-tuning keeps its "
                f"tokenizer (only character models map vocabularies)", param="tokenizer")
        if given.get("vocab_size") is not None:
            raise InvalidArgument(f"--vocab-size: fine-tuning keeps the tokenizer of {self.name}; drop the option",
                                  param="vocab_size")
        source_train = self.config.get("train", {})
        model_args = {k: v for k, v in arch.items() if k != "dropout"}
        if "dropout" in given:
            model_args["dropout"] = given.pop("dropout")
        out = {**given, "model": name, "model_args": model_args, "tokenizer": kind}
        for key in ("seq_len", "batch_size"):
            if key not in given and source_train.get(key):
                out[key] = source_train[key]
        return preset or FINETUNE_PRESET, out

    # ------------------------------------------------------------------ data
    def prepare(self, task, source, data_dir: Path, config) -> tuple[Tokenizer, Any]:
        """Encode the corpus for the new run: with the source's tokenizer (word/BPE), or with the source's
        characters plus the corpus's (char)."""
        if task.name == "poems":
            return self.prepare_poems(task, source, data_dir, config)
        if task.name != "text":
            raise InvalidArgument(f"--init-from trains text or poem corpora (task text or poems), not task "
                                  f"{task.name!r}", param="init_from")
        from dreamwright.tokenizers.char import CharTokenizer
        from dreamwright.training.tasks import prepare_text

        if self.tokenizer.kind != "char":
            return prepare_text(source, data_dir, config, tokenizer=self.tokenizer)
        fitted, encoded = prepare_text(source, data_dir, config)
        self.corpus_chars = list(fitted.chars)
        union = CharTokenizer([*self.tokenizer.chars, *fitted.chars])
        if union.chars == fitted.chars:
            return fitted, encoded
        for path in data_dir.iterdir():  # unlinked, never overwritten: they may be hard links into the cache
            path.unlink()
        return prepare_text(source, data_dir, config, tokenizer=union)

    def prepare_poems(self, task, source, data_dir: Path, config) -> tuple[Tokenizer, Any]:
        """Poems keep the source poem model's vocabulary: its characters, tags and ``□``, which every character
        it lacks becomes (as rare ones do in any poem run)."""
        if self.config.get("train", {}).get("task") != "poems":
            raise InvalidArgument(f"--init-from {self.name}: a poem run starts from a poem model (trained with "
                                  "--task poems, as the bundled tang-poetry is)", param="init_from")
        return task.prepare(source, data_dir, config, tokenizer=self.tokenizer)

    # ------------------------------------------------------------------ weights
    def load_into(self, model: torch.nn.Module, tokenizer: Tokenizer) -> str:
        """Copy the source's weights into ``model`` (built for ``tokenizer``), mapping character rows.

        Returns a note on the vocabulary (characters shared, new, unused by the corpus)."""
        tensors = dict(self.tensors)
        note = f"{self.tokenizer.kind} tokenizer of {self.name} ({tokenizer.vocab_size:,} tokens)"
        if self.tokenizer.kind == "char":
            source_chars = list(self.tokenizer.chars)
            tensors = map_char_tensors(tensors, source_chars, list(tokenizer.chars),
                                       one_hot=not self.architecture[1].get("embedding_size", 1))
            corpus = set(self.corpus_chars or tokenizer.chars)
            shared = sum(1 for c in source_chars if c in corpus)
            note = (f"{shared} characters shared with {self.name}, {len(corpus) - shared} new, "
                    f"{len(source_chars) - shared} of its characters unused by the corpus")
        from dreamwright.runs import load_model_weights

        with torch.no_grad():
            load_model_weights(model, tensors, self.path / WEIGHTS)
        return note


#: tensors with one row (dim 0) or column (dim 1) per token
_VOCAB_DIMS = {"embed.weight": 0, "head.weight": 0, "head.bias": 0}


def map_char_tensors(tensors: dict[str, torch.Tensor], source_chars: list[str], target_chars: list[str], *,
                     one_hot: bool = False) -> dict[str, torch.Tensor]:
    """The source's tensors re-indexed for ``target_chars``.

    Shared characters keep their rows; new ones get the mean row (the lowest output bias); source characters
    missing from ``target_chars`` are dropped. With one-hot input (``one_hot``) the first recurrent layer's
    input weights have one column per character and are mapped the same way.
    """
    index = {c: i for i, c in enumerate(source_chars)}
    src_rows = torch.tensor([index.get(c, -1) for c in target_chars])
    shared = src_rows >= 0
    dims = dict(_VOCAB_DIMS)
    if one_hot:
        dims["rnn.weight_ih_l0"] = 1
    out = dict(tensors)
    for name, dim in dims.items():
        if name not in tensors:
            continue
        t = tensors[name].movedim(dim, 0)
        fill = t.min(0).values if name == "head.bias" else t.mean(0)
        mapped = fill.unsqueeze(0).repeat(len(target_chars), *([1] * (t.dim() - 1)))
        mapped[shared] = t[src_rows[shared]]
        out[name] = mapped.movedim(0, dim).contiguous()
    return out
