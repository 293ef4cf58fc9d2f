"""A tiny audio run (a random WaveNet over μ-law samples, conditioned on a digit and a speaker) for tests."""

from __future__ import annotations

from pathlib import Path

LABELS = [str(d) for d in range(10)]
SPEAKERS = ["jackson", "theo"]
RATE = 8000


def make_audio_run(path: Path, *, seed: int = 0) -> Path:
    """Write a run directory (config.json + model.safetensors) holding a small random WaveNet whose tokenizer is
    a :class:`~dreamwright.tokenizers.audio.MuLawTokenizer` over FSDD's conditions at 8 kHz; return ``path``."""
    import torch

    from dreamwright import runs
    from dreamwright.models.wavenet import WaveNet
    from dreamwright.tokenizers.audio import MuLawTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = MuLawTokenizer({"label": LABELS, "speaker": SPEAKERS}, RATE)
    torch.manual_seed(seed)
    model = WaveNet(tokenizer.vocab_size, n_cond=tokenizer.n_cond, residual_channels=8, dilation_channels=8,
                    skip_channels=16, max_dilation=8, dilation_cycles=1, predict=256)
    runs.write_config(path, {"model": {"name": model.family, **model.config()}, "tokenizer": tokenizer.to_dict()})
    runs.atomic_save_tensors(path / runs.WEIGHTS, runs.model_tensors(model))
    return path
