"""The VAE: shapes, the ELBO's terms, the importance-weighted bound, refused settings, and its run files."""

from __future__ import annotations

import pytest
import torch

from dreamwright.errors import InvalidArgument
from dreamwright.models import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def small_vae(size: int = 28, channels: int = 1, likelihood: str = "bernoulli", seed: int = 0):
    torch.manual_seed(seed)
    return build_model("vae", size=size, channels=channels, latent_size=4, width=8, likelihood=likelihood)


def pictures(n: int = 6, size: int = 28, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """Bright squares of random place and size on black, as uint8."""
    rng = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, channels, size, size, dtype=torch.uint8)
    for i in range(n):
        top, left = torch.randint(0, size // 2, (2,), generator=rng).tolist()
        out[i, :, top:top + size // 3, left:left + size // 3] = int(torch.randint(128, 256, (1,), generator=rng))
    return out


@pytest.mark.parametrize("size", [28, 32, 64])
def test_shapes_for_every_size(size):
    vae = small_vae(size, channels=3)
    x = vae.inputs(pictures(3, size, 3))
    assert 0 <= x.min() and x.max() <= 1
    mean, log_var = vae.encode(x)
    assert mean.shape == log_var.shape == (3, 4)
    drawn = vae.draw(3)
    assert drawn.shape == (3, 3, size, size) and 0 <= drawn.min() and drawn.max() <= 1


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_elbo_terms_are_finite_and_kl_is_not_negative(likelihood):
    vae = small_vae(likelihood=likelihood)
    terms = vae.elbo(vae.inputs(pictures()), generator=torch.Generator().manual_seed(0))
    assert terms.reconstruction.shape == terms.kl.shape == (6,)
    assert torch.isfinite(terms.negative).all() and (terms.kl >= 0).all()
    if likelihood == "bernoulli":
        assert (terms.reconstruction >= 0).all()  # a cross-entropy
    terms.negative.mean().backward()
    assert all(p.grad is not None for p in vae.parameters())


def test_importance_weighted_bound_is_below_the_negative_elbo():
    vae = small_vae().eval()
    x = vae.inputs(pictures(8))
    seed = torch.Generator().manual_seed(0)
    with torch.no_grad():
        negative_elbo = vae.elbo(x.repeat(64, 1, 1, 1), generator=seed).negative.view(64, 8).mean(0)
        iwae = vae.iwae_nll(x, k=64, generator=seed, chunk=10)
    assert iwae.shape == (8,) and torch.isfinite(iwae).all()
    assert iwae.mean() < negative_elbo.mean()
    assert (iwae <= negative_elbo + 1e-3).all()


def test_one_sample_iwae_is_the_single_sample_elbo_in_expectation():
    vae = small_vae().eval()
    x = vae.inputs(pictures(4)).repeat(300, 1, 1, 1)  # 300 draws of each picture, in one batch
    seed = torch.Generator().manual_seed(1)
    with torch.no_grad():
        one = vae.iwae_nll(x, k=1, generator=seed).view(300, 4).mean(0)
        elbo = vae.elbo(x, generator=seed).negative.view(300, 4).mean(0)
    torch.testing.assert_close(one, elbo, rtol=0.02, atol=0.5)


def test_a_few_steps_lower_the_negative_elbo():
    vae = small_vae()
    x = vae.inputs(pictures(16))
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)
    seed = torch.Generator().manual_seed(0)
    first = vae.elbo(x, generator=seed).negative.mean().item()
    for _ in range(20):
        loss = vae.elbo(x, generator=seed).negative.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert vae.elbo(x, generator=seed).negative.mean().item() < 0.8 * first


def test_refused_settings():
    with pytest.raises(InvalidArgument, match="vae cannot produce 40×40 images; it makes 28, 32, 64"):
        build_model("vae", size=40)
    with pytest.raises(InvalidArgument, match="not class-conditional.*--model dcgan --conditional"):
        build_model("vae", num_classes=10, conditional=True)
    with pytest.raises(InvalidArgument, match="bernoulli or gaussian"):
        build_model("vae", likelihood="poisson")
    with pytest.raises(InvalidArgument, match="k must be a positive integer"):
        small_vae().iwae_nll(torch.zeros(1, 1, 28, 28), k=0)


def test_defaults():
    vae = build_model("vae")
    assert (vae.size, vae.channels, vae.latent_size, vae.likelihood) == (28, 1, 16, "bernoulli")
    assert vae.num_parameters() < 1_000_000


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_weights_round_trip_through_the_run_files(roundtrip, likelihood):
    vae = small_vae(32, channels=3, likelihood=likelihood).eval()
    again = roundtrip(vae).eval()
    assert again.config() == vae.config()
    x = vae.inputs(pictures(2, 32, 3))
    torch.testing.assert_close(again.elbo(x, generator=torch.Generator().manual_seed(0)).negative,
                               vae.elbo(x, generator=torch.Generator().manual_seed(0)).negative)
