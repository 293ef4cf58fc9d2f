"""The image-model interface, and the convolution stacks the image models are built from.

A language model maps tokens to logits; an image model draws pictures from a latent vector (and a class,
when it is conditional), so it has its own small base, :class:`ImageModel`. Both kinds live in the one
registry: ``build_model("gpt", vocab_size, ...)`` builds a language model, ``build_model("dcgan", size=28,
channels=1, num_classes=10, conditional=True)`` an image model.

Pixels: data sets hold uint8 pictures (N, C, H, W); :meth:`ImageModel.inputs` maps them to the range the
family trains in ([-1, 1] for a GAN's tanh, [0, 1] for a VAE), and :meth:`ImageModel.decode` returns
pictures in [0, 1] whatever the family, which :func:`to_uint8` turns back into bytes.

Every architecture here works on square pictures whose side is a small feature map doubled a few times:
28 = 7·2², 32 = 4·2³, 64 = 4·2⁴ (:func:`conv_plan`); another size is refused with the sizes there are.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from dreamwright.errors import InvalidArgument

#: the sides every image model here can produce
SIZES = (28, 32, 64)


def conv_plan(size: int) -> tuple[int, int]:
    """``(side of the smallest feature map, number of 2× steps)`` for ``size``×``size`` pictures."""
    start = 7 if size % 7 == 0 else 4
    return start, int(math.log2(size // start))


def up_stack(in_features: int, size: int, channels: int, width: int, *, batch_norm: bool) -> nn.Sequential:
    """A vector → (channels, size, size), before any output activation: a linear layer to a
    (width·2ⁿ⁻¹, s, s) map, then n transposed 4×4 stride-2 convolutions, each halving the width; every one
    but the last is preceded by ReLU (and batch norm when asked)."""
    start, steps = conv_plan(size)
    width_now = width * 2 ** (steps - 1)

    def norm_relu(features: int) -> list[nn.Module]:
        return [nn.BatchNorm2d(features), nn.ReLU()] if batch_norm else [nn.ReLU()]

    layers: list[nn.Module] = [nn.Linear(in_features, width_now * start * start, bias=not batch_norm),
                               nn.Unflatten(1, (width_now, start, start))]
    for _ in range(steps - 1):
        layers += [*norm_relu(width_now),
                   nn.ConvTranspose2d(width_now, width_now // 2, 4, 2, 1, bias=not batch_norm)]
        width_now //= 2
    layers += [*norm_relu(width_now), nn.ConvTranspose2d(width_now, channels, 4, 2, 1)]
    return nn.Sequential(*layers)


def down_stack(size: int, in_channels: int, width: int, *, batch_norm: bool,
               activation: Callable[[], nn.Module]) -> tuple[nn.Sequential, int]:
    """(in_channels, size, size) → flat features, and how many: n strided 4×4 convolutions doubling the
    width from ``width``, each followed by (batch norm, on all but the first, when asked and) ``activation``."""
    start, steps = conv_plan(size)
    layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), activation()]
    width_now = width
    for _ in range(steps - 1):
        layers += [nn.Conv2d(width_now, 2 * width_now, 4, 2, 1, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(2 * width_now)] if batch_norm else []
        layers += [activation()]
        width_now *= 2
    layers.append(nn.Flatten())
    return nn.Sequential(*layers), width_now * start * start


def to_uint8(pictures: torch.Tensor) -> torch.Tensor:
    """Pictures in [0, 1] → uint8 (rounded, clipped)."""
    return (pictures.clamp(0, 1) * 255).round().to(torch.uint8)


def picture_grid(pictures: torch.Tensor, columns: int = 8, padding: int = 2) -> np.ndarray:
    """Pictures in [0, 1] (N, C, H, W) → one uint8 image (rows, cols, C) of them in a grid, row by row,
    ``padding`` white pixels apart; ready for ``PIL.Image.fromarray`` (squeeze C = 1 for grayscale)."""
    n, c, h, w = pictures.shape
    rows = max(1, math.ceil(n / columns))
    columns = min(columns, max(n, 1))
    grid = torch.full((c, rows * (h + padding) + padding, columns * (w + padding) + padding), 255, dtype=torch.uint8)
    for i, picture in enumerate(to_uint8(pictures.detach().cpu())):
        top, left = padding + (i // columns) * (h + padding), padding + (i % columns) * (w + padding)
        grid[:, top:top + h, left:left + w] = picture
    return grid.permute(1, 2, 0).numpy()


def latent_walk(start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` latent vectors from ``start`` to ``end`` (both ends included) along the great circle
    (spherical interpolation), so that every point stays as typical of a Gaussian as the ends are."""
    if not isinstance(steps, int) or steps < 2:
        raise InvalidArgument(f"steps must be at least 2, got {steps!r}", param="steps")
    t = torch.linspace(0, 1, steps, device=start.device)[:, None]
    cos = torch.nn.functional.cosine_similarity(start, end, dim=0).clamp(-1, 1)
    angle = torch.arccos(cos)
    if angle < 1e-4:  # nearly parallel: a straight line is the same path
        return start + t * (end - start)
    return (torch.sin((1 - t) * angle) * start + torch.sin(t * angle) * end) / torch.sin(angle)


class ImageModel(nn.Module):
    """Base class of the models that draw pictures: ``decode(latent, labels) -> pictures in [0, 1]``."""

    family: ClassVar[str]
    modality: ClassVar[str] = "image"
    sizes: ClassVar[tuple[int, ...]] = SIZES
    #: dimensions of the latent vector a picture is drawn from
    latent_size: int

    def __init__(self, *, size: int, channels: int, num_classes: int, conditional: bool, **hparams: Any) -> None:
        super().__init__()
        if not isinstance(size, int) or isinstance(size, bool) or size not in self.sizes:
            raise InvalidArgument(f"{self.family} cannot produce {size}×{size} images; it makes "
                                  f"{', '.join(map(str, self.sizes))}", param="size")
        if channels not in (1, 3):
            raise InvalidArgument(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}", param="channels")
        if not isinstance(num_classes, int) or num_classes < 0:
            raise InvalidArgument(f"num_classes must be a whole number >= 0, got {num_classes!r}", param="num_classes")
        if conditional and num_classes < 2:
            raise InvalidArgument("--conditional needs labelled data, and this data has no labels (a folder has "
                                  "them when its images lie in one sub-folder per class)", param="conditional")
        self.size, self.channels, self.num_classes = size, channels, num_classes
        self.conditional = bool(conditional)
        self.hparams = dict(hparams)

    @classmethod
    def build(cls, name: str, **hparams: Any) -> ImageModel:
        """The model from registry settings; None means the default, an unknown setting is refused."""
        hparams = {k: v for k, v in hparams.items() if v is not None}
        known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        unknown = sorted(set(hparams) - set(known))
        if unknown:
            raise InvalidArgument(f"the {name} model has no setting {unknown[0]!r}; it takes {', '.join(known)}",
                                  param=unknown[0])
        return cls(**hparams)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------------ what a family defines
    def inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pictures (N, C, H, W) → floats in the range this family trains on."""
        raise NotImplementedError

    def decode(self, latent: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Pictures in [0, 1], (N, C, H, W), drawn from latent vectors (N, latent_size)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def latent(self, n: int, *, generator: torch.Generator | None = None,
               truncation: float | None = None) -> torch.Tensor:
        """``n`` standard-normal latent vectors, drawn on the CPU (the same numbers on any device). With
        ``truncation`` t, entries outside [-t, t] are drawn again (the truncation trick: typical pictures)."""
        z = torch.randn(n, self.latent_size, generator=generator)
        if truncation is not None:
            if not truncation > 0:
                raise InvalidArgument(f"truncation must be > 0, got {truncation!r}", param="truncation")
            while (outside := z.abs() > truncation).any():
                z[outside] = torch.randn(int(outside.sum()), generator=generator)
        return z.to(self.device)

    @torch.no_grad()
    def draw(self, n: int, *, labels: torch.Tensor | int | None = None, generator: torch.Generator | None = None,
             truncation: float | None = None) -> torch.Tensor:
        """``n`` new pictures in [0, 1]; a conditional model needs ``labels`` (one class for all, or one each)."""
        labels = self.check_labels(labels, n)
        return self.decode(self.latent(n, generator=generator, truncation=truncation), labels)

    def check_labels(self, labels: torch.Tensor | int | None, n: int) -> torch.Tensor | None:
        """``labels`` as a long tensor of ``n`` classes (one class is repeated), checked against the model."""
        if not self.conditional:
            if labels is not None:
                raise InvalidArgument(f"this {self.family} is not class-conditional: it takes no label", param="label")
            return None
        if labels is None:
            raise InvalidArgument(f"this {self.family} is class-conditional: give a label from 0 to "
                                  f"{self.num_classes - 1}", param="label")
        labels = torch.as_tensor(labels, dtype=torch.long, device=self.device).reshape(-1)
        if labels.numel() == 1:
            labels = labels.expand(n)
        if labels.numel() != n:
            raise InvalidArgument(f"{labels.numel()} labels for {n} pictures: give one, or one per picture",
                                  param="label")
        if labels.numel() and not bool(((labels >= 0) & (labels < self.num_classes)).all()):
            raise InvalidArgument(f"labels must be from 0 to {self.num_classes - 1}", param="label")
        return labels

    def config(self) -> dict[str, Any]:
        return {"family": self.family, "size": self.size, "channels": self.channels,
                "num_classes": self.num_classes, "conditional": self.conditional, **self.hparams}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
