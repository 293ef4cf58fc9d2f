"""DCGAN (Radford, Metz & Chintala 2016), class-conditional on request (Mirza & Osindero 2014): ``--model dcgan``.

Generator: 100-d noise (with a conditional model, a learned 50-d class embedding concatenated to it) →
linear → a (width·2ⁿ⁻¹, s, s) map → n transposed 4×4 stride-2 convolutions halving the width, with batch
norm and ReLU between them → tanh. s = 7 for 28×28 (7 → 14 → 28), 4 for 32 and 64 (4 → 8 → … → size).

Discriminator: the mirror image: n strided 4×4 convolutions doubling the width from ``width``, batch norm on
all but the first, LeakyReLU(0.2) → linear → one logit, real against fake (the trainer's loss applies the
sigmoid). A conditional discriminator sees the class as one-hot planes stacked on the picture's channels,
so it can learn that a sneaker drawn when a bag was asked for is fake.

Weights start as in the paper: N(0, 0.02), batch-norm scales N(1, 0.02). Pictures live in [-1, 1].
The default width 64 at 28×28 gives a generator of about 0.85 M parameters and a discriminator of 0.15 M
(plus 10 input planes' worth when conditional on 10 classes): a few epochs of Fashion-MNIST fit in minutes
on a 2-core CPU. Both players are submodules (``generator``, ``discriminator``), so a trainer gives each
its own optimizer and a checkpoint holds both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dreamwright.errors import InvalidArgument
from dreamwright.models.base import register_model
from dreamwright.models.image import ImageModel, down_stack, up_stack

LEAKY_SLOPE = 0.2


class Generator(nn.Module):
    """Noise (and a class) → pictures in [-1, 1]."""

    def __init__(self, noise_size: int, size: int, channels: int, width: int, num_classes: int,
                 embedding_size: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, embedding_size) if num_classes else None
        in_features = noise_size + (embedding_size if num_classes else 0)
        self.net = nn.Sequential(up_stack(in_features, size, channels, width, batch_norm=True), nn.Tanh())

    def forward(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            noise = torch.cat([noise, self.embed(labels)], dim=1)
        return self.net(noise)


class Discriminator(nn.Module):
    """Pictures in [-1, 1] (and their classes) → one logit each: how real they look."""

    def __init__(self, size: int, channels: int, width: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features, n_features = down_stack(size, channels + num_classes, width, batch_norm=True,
                                               activation=lambda: nn.LeakyReLU(LEAKY_SLOPE))
        self.logit = nn.Linear(n_features, 1)

    def forward(self, pictures: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            planes = F.one_hot(labels, self.num_classes).to(pictures.dtype)[:, :, None, None]
            pictures = torch.cat([pictures, planes.expand(-1, -1, *pictures.shape[2:])], dim=1)
        return self.logit(self.features(pictures)).squeeze(1)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@register_model("dcgan")
class DCGAN(ImageModel):
    family = "dcgan"

    def __init__(self, *, size: int = 28, channels: int = 1, num_classes: int = 0, conditional: bool = False,
                 noise_size: int = 100, width: int = 64, embedding_size: int = 50) -> None:
        for name, value in (("noise_size", noise_size), ("width", width), ("embedding_size", embedding_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgument(f"{name} must be a positive integer, got {value!r}", param=name)
        super().__init__(size=size, channels=channels, num_classes=num_classes, conditional=conditional,
                         noise_size=noise_size, width=width, embedding_size=embedding_size)
        self.latent_size = noise_size
        classes = num_classes if conditional else 0
        self.generator = Generator(noise_size, size, channels, width, classes, embedding_size)
        self.discriminator = Discriminator(size, channels, width, classes)
        self.apply(_init_weights)

    def inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.to(torch.float32) / 127.5 - 1.0

    def generate(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's pictures in [-1, 1] (what the discriminator judges)."""
        return self.generator(noise, self.check_labels(labels, len(noise)))

    def discriminate(self, pictures: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """One real-or-fake logit per picture (pictures in [-1, 1])."""
        return self.discriminator(pictures, self.check_labels(labels, len(pictures)))

    def decode(self, latent: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return (self.generate(latent, labels) + 1.0) / 2.0
