"""The DCGAN: shapes for every size, the conditional label path, refused settings, and its run files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dreamwright.errors import InvalidArgument
from dreamwright.models import MODELS, ImageModel, build_model, model_names
from dreamwright.models.image import latent_walk, picture_grid, to_uint8

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = dict(width=8, noise_size=16, embedding_size=4)


def small_gan(size: int = 28, channels: int = 1, conditional: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    return build_model("dcgan", size=size, channels=channels, num_classes=10, conditional=conditional, **SMALL)


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("conditional", [False, True])
def test_shapes_for_every_size(size, conditional):
    gan = small_gan(size, channels=3, conditional=conditional)
    labels = torch.arange(5) % 10 if conditional else None
    noise = gan.latent(5)
    fake = gan.generate(noise, labels)
    assert noise.shape == (5, 16) and fake.shape == (5, 3, size, size)
    assert fake.min() >= -1 and fake.max() <= 1
    assert gan.discriminate(fake, labels).shape == (5,)
    pictures = gan.eval().draw(5, labels=labels)
    assert pictures.shape == (5, 3, size, size) and 0 <= pictures.min() and pictures.max() <= 1
    assert to_uint8(pictures).dtype == torch.uint8


@pytest.mark.parametrize("size", [16, 30, 48, 56, 128])
def test_sizes_the_architecture_cannot_produce_are_refused_with_those_it_can(size):
    with pytest.raises(InvalidArgument, match=f"cannot produce {size}×{size} images; it makes 28, 32, 64"):
        build_model("dcgan", size=size)


def test_defaults_are_a_small_conditional_gan_for_fashion_mnist():
    gan = build_model("dcgan", num_classes=10, conditional=True)
    assert (gan.size, gan.channels, gan.latent_size) == (28, 1, 100)
    assert 1_000_000 <= gan.num_parameters() <= 2_000_000
    assert isinstance(gan, ImageModel) and "dcgan" in model_names("image")
    assert "dcgan" not in model_names("text") and MODELS["dcgan"] is type(gan)


def test_the_label_changes_the_picture_and_the_judgement():
    gan = small_gan().eval()
    noise = gan.latent(2, generator=torch.Generator().manual_seed(1))
    sneakers, bags = gan.generate(noise, torch.tensor([7, 7])), gan.generate(noise, torch.tensor([8, 8]))
    assert not torch.allclose(sneakers, bags)
    assert not torch.allclose(gan.discriminate(sneakers, 7), gan.discriminate(sneakers, 8))
    one_label = gan.draw(3, labels=7, generator=torch.Generator().manual_seed(2))
    same = gan.draw(3, labels=torch.tensor([7, 7, 7]), generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(one_label, same)  # one class for all = that class for each


def test_labels_are_checked_against_the_model():
    conditional, plain = small_gan(), small_gan(conditional=False)
    with pytest.raises(InvalidArgument, match="class-conditional: give a label from 0 to 9"):
        conditional.draw(2)
    with pytest.raises(InvalidArgument, match="labels must be from 0 to 9"):
        conditional.draw(2, labels=10)
    with pytest.raises(InvalidArgument, match="3 labels for 2 pictures"):
        conditional.draw(2, labels=torch.tensor([1, 2, 3]))
    with pytest.raises(InvalidArgument, match="not class-conditional"):
        plain.draw(2, labels=1)


def test_conditional_needs_labelled_data():
    with pytest.raises(InvalidArgument, match="--conditional needs labelled data"):
        build_model("dcgan", num_classes=0, conditional=True)


def test_the_registry_keeps_text_and_image_models_apart():
    with pytest.raises(InvalidArgument, match="dcgan draws images"):
        build_model("dcgan", 65)
    with pytest.raises(InvalidArgument, match="gpt is a language model.*dcgan"):
        build_model("gpt")
    with pytest.raises(InvalidArgument, match="no setting 'n_layer'; it takes size, channels"):
        build_model("dcgan", n_layer=2)
    with pytest.raises(InvalidArgument, match="width must be a positive integer"):
        build_model("dcgan", width=0)


def test_truncation_keeps_the_noise_within_bounds_and_a_seed_repeats_a_draw():
    gan = small_gan().eval()
    assert gan.latent(500, truncation=0.5).abs().max() <= 0.5
    first = gan.draw(4, labels=1, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, gan.draw(4, labels=1, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(InvalidArgument, match="truncation must be > 0"):
        gan.latent(2, truncation=0)


def test_a_few_steps_teach_the_discriminator_real_from_fake():
    """Both players have gradients and the adversarial losses move the way the game says."""
    gan = small_gan(conditional=False)
    real = torch.zeros(16, 1, 28, 28)
    real[:, :, 8:20, 8:20] = 1  # a white square on black
    optimizer = torch.optim.Adam(gan.discriminator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    for _ in range(15):
        fake = gan.generate(gan.latent(16)).detach()
        loss = bce(gan.discriminate(real), torch.ones(16)) + bce(gan.discriminate(fake), torch.zeros(16))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    gan.eval()
    with torch.no_grad():
        assert gan.discriminate(real).mean() > gan.discriminate(gan.generate(gan.latent(16))).mean()
    g_loss = bce(gan.discriminate(gan.generate(gan.latent(4))), torch.ones(4))
    g_loss.backward()
    assert all(p.grad is not None for p in gan.generator.parameters())


@pytest.mark.parametrize("conditional", [False, True])
def test_weights_round_trip_through_the_run_files(roundtrip, conditional):
    gan = small_gan(32, channels=3, conditional=conditional)
    gan.generate(gan.latent(8), torch.arange(8) if conditional else None)  # move the batch-norm statistics
    again = roundtrip(gan.eval()).eval()
    assert again.config() == gan.config()
    labels = 4 if conditional else None
    seed = torch.Generator().manual_seed(5)
    torch.testing.assert_close(again.draw(3, labels=labels, generator=seed),
                               gan.draw(3, labels=labels, generator=torch.Generator().manual_seed(5)))


def test_grid_and_latent_walk():
    pictures = torch.rand(10, 3, 5, 5)
    grid = picture_grid(pictures, columns=4, padding=1)
    assert grid.shape == (3 * 6 + 1, 4 * 6 + 1, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[1:6, 7:12], to_uint8(pictures[1]).permute(1, 2, 0).numpy())
    assert (grid[13:18, 13:] == 255).all()  # the last row has two pictures, then white
    start, end = torch.randn(16), torch.randn(16)
    walk = latent_walk(start, end, 5)
    torch.testing.assert_close(walk[0], start)
    torch.testing.assert_close(walk[-1], end)
    assert walk.shape == (5, 16)
    with pytest.raises(InvalidArgument, match="steps must be at least 2"):
        latent_walk(start, end, 1)
