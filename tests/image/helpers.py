"""Image runs for tests: a freshly built (untrained) DCGAN or VAE written as the trainer writes a run directory.

Untrained weights draw noise, but deterministic noise, in the whole range of greys, that depends on the seed and the
class, which is all the drawing, CLI and server tests need: no training, no download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def write_image_run(run_dir: Path, family: str = "dcgan", *, conditional: bool = True, size: int = 28,
                    channels: int = 1, generator_only: bool = False, seed: int = 0, **hparams: Any) -> Path:
    """Build a small ``family`` model and write it as an image run (config.json + model.safetensors) in
    ``run_dir``; ``generator_only`` leaves the discriminator's weights out, as a bundled GAN ships."""
    import torch

    from dreamwright import runs
    from dreamwright.models import build_model

    classes = FASHION_CLASSES
    hparams = {"width": 8, **hparams}
    torch.manual_seed(seed)
    model = build_model(family, size=size, channels=channels, num_classes=len(classes), conditional=conditional,
                        **hparams)
    with torch.no_grad():  # larger weights than a GAN starts with: pictures that use the whole range of greys
        for weight in model.parameters():
            if weight.dim() > 1:
                weight.normal_(0, 2 / weight[0].numel() ** 0.5)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    runs.write_config(run_dir, {
        "kind": "image",
        "model": {"name": family, **model.config()},
        "data": {"name": "fashion-mnist", "classes": list(classes), "size": size, "channels": channels},
        "train": {"steps": 0},
        "metrics": {},
    })
    tensors = runs.model_tensors(model)
    if generator_only:
        tensors = {k: v for k, v in tensors.items() if not k.startswith("discriminator.")}
    runs.atomic_save_tensors(run_dir / runs.WEIGHTS, tensors)
    return run_dir


def write_text_config(run_dir: Path) -> Path:
    """A language-model run's config.json alone: enough for the loaders to see which kind of run it is."""
    from dreamwright import runs

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    runs.write_config(run_dir, {"kind": "text", "model": {"name": "lstm"}, "tokenizer": {"kind": "char"}})
    return run_dir
