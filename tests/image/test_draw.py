"""The drawing API: ``Drawer`` (``dreamwright.load(IMAGE_RUN)``) over small untrained GAN and VAE runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import dreamwright
from dreamwright import bundled
from dreamwright.errors import CheckpointError, InvalidArgument, WrongKindError
from dreamwright.image.draw import Drawer, picture_pixels
from dreamwright.models.image import to_uint8
from tests.image.helpers import FASHION_CLASSES, write_image_run, write_text_config

# pictures drawn in batches of different sizes agree up to float rounding of the batched convolutions
CLOSE = {"atol": 1e-5, "rtol": 0}


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    return write_image_run(tmp_path_factory.mktemp("draw") / "gan")


@pytest.fixture(scope="module")
def gan(gan_run) -> Drawer:
    return dreamwright.load(gan_run, device="cpu")


@pytest.fixture(scope="module")
def vae(tmp_path_factory) -> Drawer:
    return dreamwright.load(write_image_run(tmp_path_factory.mktemp("draw") / "vae", "vae", conditional=False),
                            device="cpu")


def test_load_gives_a_drawer_that_describes_its_model(gan, vae):
    assert isinstance(gan, Drawer) and isinstance(vae, Drawer)
    assert (gan.name, gan.family, gan.size, gan.channels, gan.conditional) == ("gan", "dcgan", 28, 1, True)
    assert gan.class_names == FASHION_CLASSES
    assert (vae.family, vae.conditional, vae.class_names) == ("vae", False, ())  # its data's labels are not its


def test_the_same_seed_draws_the_same_pictures_and_picture_i_is_seed_plus_i(gan):
    first = gan.draw(6, seed=7)
    assert first.shape == (6, 1, 28, 28) and first.dtype == torch.float32
    assert 0.0 <= float(first.min()) and float(first.max()) <= 1.0
    assert torch.equal(first, gan.draw(6, seed=7))
    assert not torch.allclose(first, gan.draw(6, seed=8))
    bags = gan.draw(6, seed=7, label="Bag")
    assert torch.allclose(bags[1:], gan.draw(5, seed=8, label="Bag"), **CLOSE)  # seed 8: seed 7's second picture
    for i in range(6):  # each picture alone, with its class (the classes in turn)
        assert torch.allclose(first[i], gan.draw(1, seed=7 + i, label=i % 10)[0], **CLOSE)


def test_a_label_is_a_name_in_any_case_or_a_number(gan):
    sneakers = gan.draw(3, label="Sneaker", seed=1)
    for same in ("sneaker", " SNEAKER ", 7, "7"):
        assert torch.equal(gan.draw(3, label=same, seed=1), sneakers), same
    assert not torch.allclose(gan.draw(3, label="Bag", seed=1), sneakers)  # the class changes the picture
    assert gan.labels(3, "t-shirt/TOP") == [0, 0, 0]


def test_without_a_label_a_conditional_model_draws_every_class_in_turn(gan):
    assert gan.labels(12) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert gan.grid_columns() == 10 and gan.grid_columns("Bag") == 8  # one column per class for a mix
    mix = gan.draw(12, seed=0)
    assert torch.allclose(mix[11], gan.draw(1, seed=11, label="Trouser")[0], **CLOSE)


def test_an_unknown_label_names_the_valid_ones(gan):
    with pytest.raises(InvalidArgument) as caught:
        gan.draw(2, label="Hat")
    assert caught.value.param == "label"
    assert "'Hat'" in str(caught.value) and "7 Sneaker" in str(caught.value) and "9 Ankle boot" in str(caught.value)
    with pytest.raises(InvalidArgument, match="unknown label 10"):
        gan.draw(2, label=10)


def test_an_unconditional_model_takes_no_label(vae):
    with pytest.raises(InvalidArgument, match="draws without classes") as caught:
        vae.draw(2, label=0)
    assert caught.value.param == "label"
    assert vae.labels(3) is None and vae.draw(3, seed=1).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("kwargs, param", [
    ({"n": 0}, "n"), ({"n": -3}, "n"), ({"n": 2.5}, "n"), ({"n": True}, "n"),
    ({"truncation": 0}, "truncation"), ({"truncation": -1.0}, "truncation"),
    ({"truncation": float("nan")}, "truncation"),
    ({"seed": "7"}, "seed"), ({"seed": 1.5}, "seed"),
])
def test_bad_draw_arguments_are_refused_by_name(gan, kwargs, param):
    with pytest.raises(InvalidArgument) as caught:
        gan.draw(**{"n": 2, **kwargs})
    assert caught.value.param == param and str(caught.value).startswith(param)


def test_truncation_keeps_the_latent_vectors_within_bounds(gan):
    plain, cut = gan.latents([1, 2, 3]), gan.latents([1, 2, 3], truncation=0.5)
    assert float(plain.abs().max()) > 1.0 and float(cut.abs().max()) <= 0.5
    assert torch.equal(gan.draw(2, seed=1, truncation=0.5), gan.draw(2, seed=1, truncation=0.5))


def test_a_walk_starts_and_ends_at_the_two_seeds_pictures(gan):
    walk = gan.interpolate(6, seeds=(3, 11), label="Bag")
    assert walk.shape == (6, 1, 28, 28)
    start, end = gan.draw(1, seed=3, label="Bag")[0], gan.draw(1, seed=11, label="Bag")[0]
    assert torch.allclose(walk[0], start, **CLOSE) and torch.allclose(walk[-1], end, **CLOSE)
    # the frames between are neither end, and they move away from the start step by step in latent space
    assert not torch.allclose(walk[2], start) and not torch.allclose(walk[2], end)
    a, b = gan.latents([3, 11])
    assert torch.equal(gan.interpolate(2, seeds=(3, 11), label="Bag"), gan.decode(torch.stack([a, b]), [8, 8]))
    # the truncation applies to both ends
    assert torch.allclose(gan.interpolate(3, seeds=(3, 11), label=0, truncation=0.7)[0],
                          gan.draw(1, seed=3, label=0, truncation=0.7)[0], **CLOSE)


def test_a_walk_keeps_one_class_the_first_by_default(gan):
    assert torch.equal(gan.interpolate(3, seeds=(1, 2)), gan.interpolate(3, seeds=(1, 2), label="T-shirt/top"))
    with pytest.raises(InvalidArgument) as caught:
        gan.interpolate(1, seeds=(1, 2))
    assert caught.value.param == "steps"


def test_a_vae_walks_between_the_encodings_of_two_pictures(vae, gan):
    a, b = to_uint8(vae.draw(2, seed=4))
    walk = vae.interpolate(5, images=(a, b))
    means = vae.encode([a, b])
    assert torch.allclose(walk[0], vae.decode(means[:1])[0], **CLOSE)
    assert torch.allclose(walk[-1], vae.decode(means[1:])[0], **CLOSE)
    # a PIL image works too (an image at the model's size as it is; a larger one cropped square and resized)
    assert torch.allclose(vae.encode([Image.fromarray(a[0].numpy())]), means[:1], **CLOSE)
    wide = Image.fromarray(np.tile(a[0].numpy(), (2, 3))).convert("RGB")  # 56×84, in colour
    assert picture_pixels(wide, 28, 1).shape == (1, 28, 28) and vae.encode([wide]).shape == (1, 16)
    with pytest.raises(InvalidArgument, match="either seeds or images"):
        vae.interpolate(3, seeds=(1, 2), images=(a, b))
    with pytest.raises(InvalidArgument, match=r"shaped \(1, 28, 28\)"):
        vae.interpolate(3, images=(a[:, :20], b))
    with pytest.raises(InvalidArgument, match="only a VAE encodes pictures"):
        gan.interpolate(3, images=(a, b))


def test_one_file_per_picture_named_by_index_and_class(gan, tmp_path):
    pictures = gan.draw(12, seed=2)
    written = gan.save(pictures, str(tmp_path / "out") + "/", labels=gan.labels(12))
    names = [p.name for p in written]
    assert names[:2] == ["000-t-shirt-top.png", "001-trouser.png"]
    assert names[9:] == ["009-ankle-boot.png", "010-t-shirt-top.png", "011-trouser.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    with Image.open(written[5]) as img:
        assert img.mode == "L" and img.size == (28, 28)
        assert np.array_equal(np.asarray(img), to_uint8(pictures[5])[0].numpy())
    # an existing folder takes the files too, without a trailing slash; one label names them all
    assert [p.name for p in gan.save(pictures[:2], tmp_path / "out", labels="bag")] == ["000-bag.png", "001-bag.png"]


def test_a_grid_is_one_image_row_by_row(gan, vae, tmp_path):
    pictures = gan.draw(12, seed=2)
    grid = gan.to_grid(pictures, columns=5)
    assert grid.mode == "L" and grid.size == (5 * 30 + 2, 3 * 30 + 2)  # 28 px pictures, 2 px apart
    cells = np.asarray(grid)
    assert np.array_equal(cells[32:60, 2:30], to_uint8(pictures[5])[0].numpy())  # second row, first column
    [path] = gan.save(pictures, tmp_path / "grid.png", columns=5)
    with Image.open(path) as img:
        assert img.size == grid.size and np.array_equal(np.asarray(img), cells)
    with Image.open(vae.save(vae.draw(3, seed=1), tmp_path / "vae.webp")[0]) as img:
        assert img.format == "WEBP" and img.size == (3 * 30 + 2, 32)  # the format follows the extension


def test_save_refuses_what_it_cannot_write(gan, tmp_path):
    pictures = gan.draw(2, seed=1)
    with pytest.raises(InvalidArgument, match="does not exist"):
        gan.save(pictures, tmp_path / "missing" / "grid.png")
    with pytest.raises(InvalidArgument, match="does not exist"):
        gan.save(pictures, str(tmp_path / "missing" / "deeper") + "/")
    with pytest.raises(InvalidArgument, match="no extension"):
        gan.save(pictures, tmp_path / "grid")
    assert not any(tmp_path.iterdir())


def test_a_colour_model_draws_rgb(tmp_path):
    drawer = Drawer.load(write_image_run(tmp_path / "rgb", size=32, channels=3, conditional=False), device="cpu")
    pictures = drawer.draw(4, seed=0)
    assert pictures.shape == (4, 3, 32, 32)
    assert drawer.to_grid(pictures).mode == "RGB" and drawer.to_images(pictures)[0].mode == "RGB"


def test_a_generator_only_gan_draws_as_the_full_run_does(gan, tmp_path):
    alone = Drawer.load(write_image_run(tmp_path / "g", generator_only=True), device="cpu")
    assert torch.equal(alone.draw(4, seed=9), gan.draw(4, seed=9))


def test_each_loader_refuses_the_other_kind(gan_run, tmp_path):
    text = write_text_config(tmp_path / "text")
    with pytest.raises(WrongKindError, match="dreamwright generate"):
        Drawer.load(text)
    with pytest.raises(WrongKindError, match="dreamwright draw"):
        from dreamwright.generation.generator import Generator

        Generator.load(gan_run)


def test_the_default_is_the_bundled_image_model(monkeypatch, tmp_path, gan):
    monkeypatch.setattr(bundled, "HERE", tmp_path)
    with pytest.raises(CheckpointError, match="no bundled image model.*give an image run directory"):
        Drawer.load()
    write_image_run(tmp_path / bundled.DEFAULT_IMAGE_MODEL, generator_only=True)
    default = Drawer.load(device="cpu")
    assert default.name == bundled.DEFAULT_IMAGE_MODEL
    assert torch.equal(default.draw(2, seed=3), gan.draw(2, seed=3))  # the helper builds the same weights
    by_name = dreamwright.load(bundled.DEFAULT_IMAGE_MODEL, device="cpu")
    assert isinstance(by_name, Drawer) and by_name.name == bundled.DEFAULT_IMAGE_MODEL
    assert bundled.image_models() == [tmp_path / bundled.DEFAULT_IMAGE_MODEL]
    with pytest.raises(CheckpointError, match="dreamwright models"):
        Drawer.load("no-such-model")


def test_bundled_describe_reads_an_image_config(gan_run, tmp_path):
    about = bundled.describe(gan_run)
    generator = sum(p.numel() for p in dreamwright.load(gan_run).model.generator.parameters())
    assert about["architecture"] == f"DCGAN (conditional, 28×28, 10 classes), {generator / 1e6:.2f}M params"
    assert about["trained_on"] == "fashion-mnist"
    rgb = bundled.describe(write_image_run(tmp_path / "rgb", "vae", conditional=False, size=32, channels=3))
    assert rgb["architecture"].startswith("VAE (unconditional, 32×32, RGB), ")
