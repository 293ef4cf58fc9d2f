from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dreamwright.errors import DreamwrightError, InvalidArgument
from dreamwright.image import io as iio


def test_exif_orientation_is_honoured(tmp_path):
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    img.paste((10, 200, 10), (0, 0, 10, 20))  # green band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif, quality=95)
    loaded = iio.load_image(path)
    assert loaded.size == (20, 40)
    # after the rotation the green band is at the top
    top = np.asarray(loaded)[:5].mean(axis=(0, 1))
    assert top[1] > 150 and top[0] < 100


def test_load_variants(tmp_path):
    rgba = Image.new("RGBA", (8, 6), (255, 0, 0, 0))
    assert iio.load_image(rgba).getpixel((0, 0)) == (255, 255, 255)  # transparent -> white
    arr = np.zeros((5, 7, 3), dtype=np.uint8)
    assert iio.load_image(arr).size == (7, 5)
    assert iio.load_image(np.ones((4, 4), dtype=np.float32)).getpixel((0, 0)) == (255, 255, 255)
    with pytest.raises(InvalidArgument, match="uint8 or float"):
        iio.load_image(np.full((4, 4, 3), 7.0))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nope.png", "not found"),
        (lambda p: p, "is a directory"),
        (lambda p: (p / "a.png").write_text("hello") and p / "a.png", "not an image"),
        (lambda p: (p / "t.png").write_bytes(_png_bytes()[:60]) and p / "t.png", "truncated or corrupt"),
    ],
)
def test_bad_images_have_one_line_messages(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(iio.ImageError, match=message) as info:
        iio.load_image(path)
    assert "\n" not in str(info.value)


def _png_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_output_path_checks(tmp_path):
    for bad in ("x.gif", "x.PNG.bak", "x"):
        with pytest.raises(InvalidArgument, match=r"end it in \.png, \.jpg, \.jpeg or \.webp") as info:
            iio.check_output_path(tmp_path / bad)
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidArgument, match="does not exist"):
        iio.check_output_path(tmp_path / "missing" / "x.png")
    with pytest.raises(InvalidArgument, match="is a directory"):
        iio.check_output_path(tmp_path)


@pytest.mark.parametrize(
    ("name", "fmt"), [("ok.png", "PNG"), ("ok.jpg", "JPEG"), ("OK.JPEG", "JPEG"), ("ok.webp", "WEBP")]
)
def test_output_format_follows_the_extension(tmp_path, name, fmt):
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (12, 16, 3), dtype=np.uint8))
    out = iio.save_image(img, tmp_path / name)
    with Image.open(out) as written:
        assert written.format == fmt and written.size == (16, 12) and written.mode == "RGB"


def test_sizes_and_tensors():
    assert iio.fit_size(640, 480, 64) == (64, 48)
    with pytest.raises(InvalidArgument, match="from 32"):
        iio.check_size("size", 8)
    img = Image.new("RGB", (5, 4), (255, 0, 128))
    t = iio.to_tensor(img)
    assert t.shape == (1, 3, 4, 5) and float(t.max()) == 1.0
    assert iio.to_image(t).getpixel((1, 1)) == (255, 0, 128)


def test_memory_check_says_how_much():
    with pytest.raises(DreamwrightError, match=r"needs about 2\.0 GiB .* only 1\.0 GiB") as info:
        iio.check_memory(2 * 1024**3, "cpu", "style transfer at 9000x9000", "use a smaller --size", budget=1024**3)
    assert "smaller --size" in str(info.value)
    iio.check_memory(10, "cpu", "x", "y")  # fits: no error


def test_device_and_seed():
    import torch

    from dreamwright.devices import resolve_device

    assert not hasattr(iio, "resolve_device")  # one device resolver, in dreamwright.devices
    assert resolve_device("cpu").type == "cpu"
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(InvalidArgument, match="no CUDA GPU is available; use --device cpu"):
            resolve_device("cuda")
    with pytest.raises(InvalidArgument, match="auto, cpu, cuda or cuda:N"):
        resolve_device("tpu")
    with pytest.raises(InvalidArgument, match="seed"):
        iio.seed_everything(-1)
