"""A convolutional variational autoencoder (Kingma & Welling 2014; *Deep Learning with Python* §8.4): ``--model vae``.

Encoder q(z|x): n strided 4×4 convolutions with ReLU, doubling the width from ``width`` → linear → the mean
and log-variance of a diagonal Gaussian over a ``latent_size``-d latent (16 by default). Prior p(z) = N(0, I).
Decoder p(x|z): the DCGAN generator's shape without batch norm (linear → map → transposed convolutions with
ReLU between them) → one logit per pixel. There is no batch norm anywhere, so a picture's encoding and its
likelihood bounds never depend on the other pictures in its batch.

Pixel likelihood (``likelihood``), on intensities x = value / 255 in [0, 1], summed over pixels, in nats:

- ``"bernoulli"`` (the default, the book's binary cross-entropy): −log p(x|z) = −Σ x·log p + (1−x)·log(1−p)
  with p = sigmoid(logit). For pixels strictly between 0 and 1 this is not a normalised density, so its
  nats compare only with other models scored the same way (as the usual Fashion-MNIST figures are).
- ``"gaussian"``: N(x; sigmoid(logit), σ²) with one learned σ per channel: a density over continuous
  intensities, so its nats can be negative.

:meth:`VAE.elbo` gives the two terms of the bound at one latent sample per picture (the KL term in closed
form); :meth:`VAE.iwae_nll` the importance-weighted estimate of −log p(x) from ``k`` samples (Burda et al.
2016), which is never above the negative ELBO in expectation and approaches −log p(x) as ``k`` grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dreamwright.errors import InvalidArgument
from dreamwright.models.base import register_model
from dreamwright.models.image import ImageModel, down_stack, up_stack

LIKELIHOODS = ("bernoulli", "gaussian")
_LOG_2PI = math.log(2 * math.pi)


@dataclass
class ELBO:
    """The evidence lower bound's terms per picture, in nats: log p(x) ≥ −(reconstruction + kl)."""

    reconstruction: torch.Tensor  # −log p(x|z) at one z ~ q(z|x)
    kl: torch.Tensor  # KL(q(z|x) ‖ p(z)), in closed form

    @property
    def negative(self) -> torch.Tensor:
        """−ELBO per picture: the VAE's loss, an upper bound on −log p(x)."""
        return self.reconstruction + self.kl


def _gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    return -0.5 * (_LOG_2PI + log_var + (x - mean) ** 2 / log_var.exp())


@register_model("vae")
class VAE(ImageModel):
    family = "vae"

    def __init__(self, *, size: int = 28, channels: int = 1, num_classes: int = 0, conditional: bool = False,
                 latent_size: int = 16, width: int = 64, likelihood: str = "bernoulli") -> None:
        if conditional:
            raise InvalidArgument("the vae is not class-conditional; for pictures of a chosen class train "
                                  "--model dcgan --conditional", param="conditional")
        for name, value in (("latent_size", latent_size), ("width", width)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgument(f"{name} must be a positive integer, got {value!r}", param=name)
        if likelihood not in LIKELIHOODS:
            raise InvalidArgument(f"unknown pixel likelihood {likelihood!r}; choose {' or '.join(LIKELIHOODS)}",
                                  param="likelihood")
        super().__init__(size=size, channels=channels, num_classes=num_classes, conditional=False,
                         latent_size=latent_size, width=width, likelihood=likelihood)
        self.latent_size = latent_size
        self.likelihood = likelihood
        features, n_features = down_stack(size, channels, width, batch_norm=False, activation=nn.ReLU)
        self.encoder = nn.Sequential(features, nn.Linear(n_features, 2 * latent_size))
        self.decoder = up_stack(latent_size, size, channels, width, batch_norm=False)
        self.pixel_log_var = None  # the Gaussian's learned variance, one per channel (σ starts at 0.1)
        if likelihood == "gaussian":
            self.pixel_log_var = nn.Parameter(torch.full((channels,), math.log(0.1 ** 2)))

    def inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.to(torch.float32) / 255.0

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x), each (N, latent_size)."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        return mean, log_var

    def decode(self, latent: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(labels, len(latent))
        return torch.sigmoid(self.decoder(latent))

    def log_likelihood(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per picture, from the decoder's logits, in nats."""
        if self.likelihood == "bernoulli":
            per_pixel = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        else:
            assert self.pixel_log_var is not None
            log_var = self.pixel_log_var[None, :, None, None].expand_as(x)
            per_pixel = _gaussian_log_density(x, torch.sigmoid(logits), log_var)
        return per_pixel.flatten(1).sum(1)

    def elbo(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> ELBO:
        """The ELBO's terms for pictures ``x`` in [0, 1], at one reparameterised latent sample each."""
        mean, log_var = self.encode(x)
        noise = torch.randn(mean.shape, generator=generator).to(mean)
        z = mean + (0.5 * log_var).exp() * noise
        reconstruction = -self.log_likelihood(x, self.decoder(z))
        kl = 0.5 * (mean ** 2 + log_var.exp() - 1.0 - log_var).sum(1)
        return ELBO(reconstruction, kl)

    def iwae_nll(self, x: torch.Tensor, k: int = 100, *, generator: torch.Generator | None = None,
                 chunk: int = 25) -> torch.Tensor:
        """The importance-weighted estimate of −log p(x) per picture from ``k`` samples of q(z|x), in nats:
        −log (1/k) Σᵢ p(x|zᵢ) p(zᵢ) / q(zᵢ|x). The decoder runs on ``chunk`` samples at a time."""
        if not isinstance(k, int) or k < 1:
            raise InvalidArgument(f"k must be a positive integer, got {k!r}", param="k")
        mean, log_var = self.encode(x)
        log_weights = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            noise = torch.randn((m, *mean.shape), generator=generator).to(mean)
            z = mean + (0.5 * log_var).exp() * noise  # (m, N, latent)
            logits = self.decoder(z.flatten(0, 1))
            log_px = self.log_likelihood(x.repeat(m, 1, 1, 1), logits).view(m, -1)
            log_pz = _gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)
            log_qz = (-0.5 * (_LOG_2PI + log_var + noise ** 2)).sum(-1)
            log_weights.append(log_px + log_pz - log_qz)
        return math.log(k) - torch.logsumexp(torch.cat(log_weights), dim=0)
