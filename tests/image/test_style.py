from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dreamwright.errors import DreamwrightError, InvalidArgument
from dreamwright.image import run_style_transfer, style_transfer
from dreamwright.image.style import auto_scales, estimate_style_memory, gram

# cheap VGG settings: stop at conv3_1 so that a 64 px run takes well under a second per iteration
FAST = {
    "weights": "random",
    "content_layers": ["conv3_1"],
    "style_layers": ["conv1_1", "conv2_1", "conv3_1"],
    "progress": False,
}


def test_losses_fall_and_output_has_the_asked_size(images):
    content, style, _ = images
    result = run_style_transfer(content, style, size=64, iterations=12, seed=0, **FAST)
    assert result.image.size == (64, 48) and result.image.mode == "RGB"
    first, last = result.history[0], result.final
    assert first["content"] == 0.0  # starts from the content image
    assert last["style"] < first["style"] / 3
    assert last["total"] < first["total"]
    assert len(result.history) == 12


def test_full_default_layers_style_loss_falls_ten_times(images):
    content, style, _ = images
    result = run_style_transfer(
        content, style, size=48, iterations=25, seed=0, weights="random", init="noise", progress=False
    )
    assert result.final["style"] < result.history[0]["style"] / 10


def test_efficientnet_lite0_real_weights(images):
    content, style, _ = images
    result = run_style_transfer(
        content, style, size=64, iterations=10, seed=0, backbone="efficientnet-lite0", progress=False
    )
    assert result.image.size == (64, 48)
    assert result.final["style"] < result.history[0]["style"] / 1.5
    assert "57934424" in result.weights


def test_seed_reproduces_noise_init(images):
    content, style, _ = images
    kwargs = dict(size=32, iterations=3, init="noise", **FAST)
    a = np.asarray(style_transfer(content, style, seed=5, **kwargs))
    b = np.asarray(style_transfer(content, style, seed=5, **kwargs))
    c = np.asarray(style_transfer(content, style, seed=6, **kwargs))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_multiscale_coarse_to_fine(images):
    content, style, _ = images
    result = run_style_transfer(content, style, size=64, scales=[32], iterations=4, seed=0, **FAST)
    assert result.scales == [32, 64]
    assert [h["scale"] for h in result.history] == [32.0] * 4 + [64.0] * 4
    assert result.image.size == (64, 48)
    # the fine pass starts from the upscaled coarse result, not from the content: content loss > 0
    assert result.history[4]["content"] > 0
    assert auto_scales(1024) == [256, 512, 1024]


def test_tiles_when_a_pass_does_not_fit(images):
    content, style, _ = images
    from dreamwright.image.backbones import load_backbone

    net = load_backbone("vgg19", "random")
    layers = FAST["content_layers"] + FAST["style_layers"]
    budget = estimate_style_memory(net, layers, 64, 64)  # a 64x64 tile fits; 128x96 does not
    assert estimate_style_memory(net, layers, 96, 128) > budget
    result = run_style_transfer(content, style, size=128, scales=[64], iterations=2, seed=0, max_memory=budget, **FAST)
    assert result.tiles[0] == 1 and result.tiles[1] > 1
    assert result.image.size == (128, 96)
    # one pass at 128 px without scales does not fit: the message says how much it needs
    with pytest.raises(DreamwrightError, match=r"needs about .* MiB .*--scales"):
        run_style_transfer(content, style, size=128, iterations=1, max_memory=budget, **FAST)


def _chroma_hist_distance(a: Image.Image, b: Image.Image) -> float:
    def hist(img: Image.Image) -> np.ndarray:
        ycc = np.asarray(img.convert("YCbCr"), dtype=np.float64)
        h, _, _ = np.histogram2d(ycc[..., 1].ravel(), ycc[..., 2].ravel(), bins=16, range=[[0, 256], [0, 256]])
        return h / h.sum()

    return float(np.abs(hist(a) - hist(b)).sum())


def test_preserve_color_keeps_the_content_colours(images):
    content, style, _ = images
    kwargs = dict(size=48, iterations=8, seed=0, style_weight=1000.0, **FAST)
    plain = style_transfer(content, style, **kwargs)
    kept = style_transfer(content, style, preserve_color=True, **kwargs)
    ref = Image.open(content).resize(kept.size)
    assert _chroma_hist_distance(kept, ref) < _chroma_hist_distance(plain, ref)
    assert _chroma_hist_distance(kept, ref) < 0.5
    # luminance still changed
    assert np.abs(np.asarray(kept.convert("L"), float) - np.asarray(ref.convert("L"), float)).mean() > 1.0


def test_style_blend_and_several_styles(images):
    content, style, style2 = images
    result = run_style_transfer(content, [style, style2], style_blend="3,1", size=32, iterations=3, seed=0, **FAST)
    assert result.image.size == (32, 24)
    with pytest.raises(InvalidArgument, match="one weight per style image"):
        run_style_transfer(content, [style, style2], style_blend=[1.0], size=32, iterations=1, **FAST)
    with pytest.raises(InvalidArgument, match="comma-separated"):
        run_style_transfer(content, [style], style_blend="a", size=32, iterations=1, **FAST)


def test_style_scale_and_init_style(images):
    content, style, _ = images
    kwargs = dict(size=64, iterations=1, seed=0, **FAST)
    base = run_style_transfer(content, style, **kwargs).history[0]["style"]
    scaled = run_style_transfer(content, style, style_scale=0.5, **kwargs).history[0]["style"]
    assert abs(base - scaled) > 0.05 * base  # the style image at 32 px instead of 64 gives other targets
    from_style = run_style_transfer(content, style, init="style", **{**kwargs, "size": 32})
    assert from_style.history[0]["content"] > 0.1  # starts far from the content
    assert from_style.image.size == (32, 24)


def test_adam_and_frames(images):
    content, style, _ = images
    frames: list[tuple[int, tuple[int, int]]] = []
    result = run_style_transfer(
        content,
        style,
        size=32,
        iterations=4,
        optimizer="adam",
        seed=0,
        save_every=2,
        on_frame=lambda i, im: frames.append((i, im.size)),
        **FAST,
    )
    assert frames == [(2, (32, 24)), (4, (32, 24))]
    assert result.final["style"] < result.history[0]["style"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"init": "zeros"}, "init must be one of"),
        ({"optimizer": "sgd"}, "optimizer must be one of"),
        ({"size": 10}, "size must be an integer"),
        ({"iterations": 0}, "iterations must be a positive integer"),
        ({"style_weight": -1}, "style_weight must be"),
        ({"scales": [64, 32]}, "scales must increase"),
        ({"style_layers": ["conv1_1", "bogus"]}, "unknown layer 'bogus'"),
    ],
)
def test_bad_options(images, options, message):
    content, style, _ = images
    kwargs = {**FAST, "size": 32, "iterations": 1, **options}
    with pytest.raises(InvalidArgument, match=message):
        run_style_transfer(content, style, **kwargs)


def test_softmax_gram_is_bounded():
    feat = torch.randn(1, 8, 4, 4) * 50
    g = gram(feat, softmax=True, temperature=float(feat.std()))
    assert torch.isfinite(g).all() and float(g.max()) < 1e4
    assert torch.allclose(gram(feat), feat.view(8, 16) @ feat.view(8, 16).t() / 16)
