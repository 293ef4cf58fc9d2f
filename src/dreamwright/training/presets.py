"""Training presets: one registry of named settings (``dreamwright presets`` lists them).

A preset is a description and a dict of :class:`~dreamwright.training.config.TrainConfig` overrides;
anything the user sets explicitly wins over it. Model families and tasks in other modules add theirs with
:func:`register_preset`.

The ``ptb-*`` presets follow Zaremba et al. 2014 (TensorFlow's ``ptb_word_lm``), which minimises the loss
*summed over the unrolled steps* (averaged over the batch) with SGD at learning rate 1 and the gradient's
global norm clipped at 5. dreamwright minimises the mean loss per token, whose gradient is ``num_steps``
times smaller; the same updates are therefore ``lr = num_steps`` and ``grad_clip = max_grad_norm /
num_steps``, which is what the ``ptb-*`` presets use.
"""

from __future__ import annotations

from typing import Any

from dreamwright.errors import InvalidArgument

#: name → (description, overrides). Parameter counts are printed by `dreamwright presets`.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "char-lstm-small": (
        "default for characters: 1×384 LSTM, dropout 0.1, tuned on Nietzsche for a 2-core CPU",
        {"model": "lstm", "model_args": {"n_layer": 1, "hidden_size": 384, "embedding_size": 64, "dropout": 0.1},
         "seq_len": 64, "batch_size": 32, "lr": 4e-3},
    ),
    "char-lstm-medium": (
        "characters, budgets of 10 minutes or more: 1×512 LSTM, dropout 0.2",
        {"model": "lstm", "model_args": {"n_layer": 1, "hidden_size": 512, "embedding_size": 64, "dropout": 0.2},
         "seq_len": 64, "batch_size": 32, "lr": 3e-3},
    ),
    "char-lstm-book": (
        "the books' model: one-hot input, LSTM(128), RMSprop lr 0.01",
        {"model": "lstm", "model_args": {"n_layer": 1, "hidden_size": 128, "embedding_size": 0},
         "optimizer": "rmsprop", "lr": 0.01, "schedule": "constant", "warmup_steps": 0, "weight_decay": 0.0,
         "seq_len": 60, "batch_size": 128},
    ),
    "word-lstm-small": (
        "word-level 2×200 LSTM (the ptb_word_lm small model's size) with AdamW",
        {"model": "lstm", "tokenizer": "word", "model_args": {"n_layer": 2, "hidden_size": 200,
         "embedding_size": 200, "dropout": 0.2, "tie_weights": True}, "seq_len": 35, "batch_size": 20, "lr": 3e-3},
    ),
}

#: image models: the DCGAN paper's Adam (lr 2e-4, β₁ 0.5) for a GAN; no schedule, clipping or early stopping
#: (a GAN's losses do not say when its pictures are best; a run keeps its latest weights)
_IMAGE_TRAINING = {"task": "image", "batch_size": 64, "optimizer": "adamw", "weight_decay": 0.0, "beta2": 0.999,
                   "schedule": "constant", "warmup_steps": 0, "grad_clip": 0.0, "patience": None, "eval_interval": 200}
PRESETS["dcgan"] = ("image default: DCGAN (Radford et al. 2016), Adam lr 2e-4 β₁ 0.5, batch 64",
                    {"model": "dcgan", **_IMAGE_TRAINING, "lr": 2e-4, "beta1": 0.5})
PRESETS["vae"] = ("convolutional VAE, 16-d latent, Adam lr 1e-3, batch 64",
                  {"model": "vae", **_IMAGE_TRAINING, "lr": 1e-3})

DEFAULT_PRESET = {"char": "char-lstm-small", "word": "word-lstm-small"}
#: the preset ``--model NAME`` alone picks for a tokenizer, where the default preset is for another model
MODEL_PRESETS: dict[tuple[str, str], str] = {("wavenet", "char"): "char-wavenet-small"}

#: the vocabulary a preset's parameter count assumes: (size, what the tokens are)
CHARACTERS = (65, "Shakespeare's characters")
PTB_WORDS = (10_000, "PTB's words")
PRESET_VOCAB: dict[str, tuple[int, str]] = {"word-lstm-small": PTB_WORDS}


def preset_overrides(name: str) -> dict[str, Any]:
    """The settings a preset stands for."""
    try:
        return dict(PRESETS[name][1])
    except KeyError:
        raise InvalidArgument(
            f"unknown preset {name!r}; `dreamwright presets` lists them ({', '.join(sorted(PRESETS))})",
            param="preset",
        ) from None


def register_preset(name: str, description: str, overrides: dict[str, Any],
                    vocab: tuple[int, str] | None = None) -> None:
    """Add a preset (model families and tasks in other modules use this).

    ``vocab`` is the vocabulary its parameter count assumes (default: 65 characters).
    """
    PRESETS[name] = (description, overrides)
    if vocab is not None:
        PRESET_VOCAB[name] = vocab


def preset_vocab(name: str) -> tuple[int, str]:
    """The vocabulary size ``dreamwright presets`` counts a preset's parameters for, and what its tokens are."""
    return PRESET_VOCAB.get(name, CHARACTERS)


def _zaremba(hidden: int, steps: int, dropout: float, epochs: int, decay: float, decay_after: int,
             clip: float, init: float) -> dict[str, Any]:
    return {
        "model": "lstm", "tokenizer": "word", "vocab_size": 10_000,
        "model_args": {"n_layer": 2, "hidden_size": hidden, "embedding_size": hidden, "dropout": dropout,
                       "tie_weights": False, "init_range": init},
        "seq_len": steps, "batch_size": 20, "optimizer": "sgd", "lr": float(steps), "weight_decay": 0.0,
        "schedule": "step", "lr_decay": decay, "decay_after_epochs": decay_after, "warmup_steps": 0,
        "grad_clip": clip / steps, "epochs": epochs, "patience": None, "eval_interval": 1000,
        "eval_tokens": None,
    }


register_preset(
    "ptb-small",
    "ptb_word_lm small: 2×200 LSTM, 20 steps, SGD, 13 epochs, lr ½ after epoch 4 (paper: test ppl 114.5)",
    _zaremba(200, 20, 0.0, 13, 0.5, 4, 5.0, 0.1), PTB_WORDS,
)
register_preset(
    "ptb-medium",
    "ptb_word_lm medium: 2×650 LSTM, dropout 0.5, 35 steps, 39 epochs, lr ×0.8 after 6 (paper: 82.7)",
    _zaremba(650, 35, 0.5, 39, 0.8, 6, 5.0, 0.05), PTB_WORDS,
)
register_preset(
    "ptb-large",
    "ptb_word_lm large: 2×1500 LSTM, dropout 0.65, 35 steps, 55 epochs, lr ÷1.15 after 14 (paper: 78.4)",
    _zaremba(1500, 35, 0.65, 55, 1 / 1.15, 14, 10.0, 0.04), PTB_WORDS,
)
register_preset(
    "ptb-tied",
    "ptb-small's budget (4.6M params) spent better: tied 2×310 LSTM, dropout 0.4, same SGD recipe, 13 epochs",
    {**_zaremba(310, 20, 0.4, 13, 0.5, 6, 5.0, 0.1),
     "model_args": {"n_layer": 2, "hidden_size": 310, "embedding_size": 310, "dropout": 0.4,
                    "tie_weights": True, "init_range": 0.1}},
    PTB_WORDS,
)
register_preset(
    "char-gpt-small",
    "characters: 4-layer GPT, 4 heads, 128 wide, block 128 (0.8M params), tuned for a 2-core CPU",
    {"model": "gpt", "model_args": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128,
                                    "dropout": 0.0, "tie_weights": True},
     "seq_len": 128, "batch_size": 16, "lr": 2e-3, "weight_decay": 0.1, "warmup_steps": 50,
     "min_lr_ratio": 0.1, "grad_clip": 1.0, "eval_interval": 250, "eval_tokens": 50_000},
)
register_preset(
    "word-gpt-small",
    "words or BPE: 4-layer GPT, 4 heads, 256 wide, block 128, dropout 0.2",
    {"model": "gpt", "model_args": {"n_layer": 4, "n_head": 4, "n_embd": 256, "block_size": 128,
                                    "dropout": 0.2, "tie_weights": True},
     "seq_len": 128, "batch_size": 16, "lr": 1e-3, "weight_decay": 0.1, "warmup_steps": 100},
    PTB_WORDS,
)

register_preset(
    "char-wavenet-small",
    "characters: WaveNet, 14 gated blocks (dilations 1…64 × 2, receptive field 255), 96 residual / 96 dilation / "
    "192 skip channels, tuned for a 2-core CPU",
    {"model": "wavenet", "model_args": {"residual_channels": 96, "dilation_channels": 96, "skip_channels": 192,
                                        "max_dilation": 64, "dilation_cycles": 2, "dropout": 0.0},
     "seq_len": 128, "batch_size": 32, "lr": 2e-3, "weight_decay": 0.0, "warmup_steps": 50, "grad_clip": 1.0},
)

#: the defaults of ``--init-from`` (:mod:`dreamwright.training.finetune`): optimisation only, no architecture
FINETUNE_PRESET = "finetune"
register_preset(
    FINETUNE_PRESET,
    "the defaults of --init-from (small corpora): lr 2e-3, warm-up 20 steps, evaluation every 100 steps, "
    "patience 4, dropout 0.2; the architecture is the source model's",
    {"lr": 2e-3, "warmup_steps": 20, "eval_interval": 100, "patience": 4, "min_lr_ratio": 0.1,
     "model_args": {"dropout": 0.2}},
)


def preset_settings() -> set[str]:
    """Names of the settings some registered preset sets: their default is the preset's, not the field's."""
    names: set[str] = set()
    for _, overrides in PRESETS.values():
        names |= set(overrides) | set(overrides.get("model_args", {}))
    return names
