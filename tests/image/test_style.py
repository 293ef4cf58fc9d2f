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


# ------------------------------------------------------------------------ issue 14: the offline recipe


def test_colour_transfer_gives_the_photo_the_styles_mean_and_covariance():
    from dreamwright.image.style import colour_transfer

    gen = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 32, 40, generator=gen) * 0.4 + 0.3
    # a bluish style whose channels are correlated, away from 0 and 1 so that clipping does not bias it
    base = torch.rand(1, 1, 48, 48, generator=gen)
    style = 0.2 * base * torch.tensor([0.3, 0.6, 1.0]).view(1, 3, 1, 1) + 0.05 * torch.rand(1, 3, 48, 48, generator=gen)
    style = style + torch.tensor([0.15, 0.3, 0.6]).view(1, 3, 1, 1)
    out = colour_transfer(content, [style], [1.0])

    def stats(t):
        pix = t.reshape(3, -1).double()
        return pix.mean(1), torch.cov(pix, correction=0)

    (m_out, c_out), (m_style, c_style), (m_in, _) = stats(out), stats(style), stats(content)
    assert torch.allclose(m_out, m_style, atol=0.01) and not torch.allclose(m_in, m_style, atol=0.05)
    assert torch.allclose(c_out, c_style, atol=0.003)
    assert out.shape == content.shape and out.min() >= 0 and out.max() <= 1


def test_defaults_schedule_and_time_budget():
    from dreamwright.image.style import iteration_schedule, time_budget

    assert auto_scales(512) == [256, 512]
    assert iteration_schedule(None, [256, 512]) == [100, 50]
    assert iteration_schedule(None, [256, 512, 1024]) == [100, 50, 25]
    assert iteration_schedule(7, [256, 512]) == [7, 7] and iteration_schedule([9, 3], [256, 512]) == [9, 3]
    assert time_budget(None, 512) == 60 and time_budget(None, 1024) == 240 and time_budget(None, 128) == 60
    assert time_budget(0, 512) is None and time_budget(5, 512) == 5
    with pytest.raises(InvalidArgument, match="one per scale"):
        iteration_schedule([9], [256, 512])
    with pytest.raises(InvalidArgument, match="max_seconds"):
        time_budget(-1, 512)


def test_offline_default_uses_the_lite0_recipe_and_takes_the_styles_palette(images):
    content, style, _ = images
    from dreamwright.image.backbones import load_backbone

    assert load_backbone("efficientnet-lite0").style_recipe["match_colors"] is True
    assert load_backbone("vgg19", "random").style_recipe["match_colors"] is False
    common = dict(size=48, iterations=6, seed=0, backbone="efficientnet-lite0", progress=False)
    new = run_style_transfer(content, style, **common)
    old = run_style_transfer(content, style, match_colors=False, style_weight=100.0, gram_temperature=1.0, **common)
    style_img = Image.open(style).convert("RGB").resize(new.image.size)
    content_img = Image.open(content).convert("RGB").resize(new.image.size)
    # the palette moves to the style's (the stripes are blue and green, the photo red on a gradient)
    assert _chroma_hist_distance(new.image, style_img) < _chroma_hist_distance(old.image, style_img)
    assert _chroma_hist_distance(new.image, content_img) > _chroma_hist_distance(old.image, content_img)


def test_the_time_budget_cuts_iterations_short_and_says_so(images):
    content, style, _ = images
    # a budget far too small for 2 x 400 iterations: every pass stops after its minimum of 5
    result = run_style_transfer(content, style, size=64, scales=[32], iterations=400, max_seconds=0.01,
                                seed=0, **FAST)
    assert result.stopped_early and result.iterations == [400, 400]
    assert [h["scale"] for h in result.history] == [32.0] * 5 + [64.0] * 5
    assert result.image.size == (64, 48)
    # without a limit every iteration runs
    full = run_style_transfer(content, style, size=64, scales=[32], iterations=7, max_seconds=0, seed=0, **FAST)
    assert not full.stopped_early and len(full.history) == 14


def test_the_default_run_on_a_small_image_is_time_bounded(images):
    content, style, _ = images
    # every option at its default (offline backbone, schedule, 60 s budget): it finishes, well inside the
    # budget on a small image, and does all its iterations
    result = run_style_transfer(content, style, size=96, seed=0, progress=False)
    assert result.backbone == "efficientnet-lite0"
    assert result.scales == [96] and result.iterations == [100]
    assert not result.stopped_early and len(result.history) == 100
    assert result.seconds < 60


# ------------------------------------------------------------------------------- plan, progress, options


def _vgg_fast():
    from dreamwright.image.backbones import load_backbone

    return load_backbone("vgg19", "random"), FAST["content_layers"] + FAST["style_layers"]


def test_the_plan_sizes_every_scale_and_fits_whole_passes_when_memory_allows():
    from dreamwright.image.style import StyleOptions, plan_style

    net, layers = _vgg_fast()
    plan = plan_style(net, layers, (64, 48), StyleOptions(size=128, scales=[64]).checked(), 2**40)
    assert [(p.long_side, p.width, p.height) for p in plan.passes] == [(64, 64, 48), (128, 128, 96)]
    assert [p.tiles for p in plan.passes] == [[(0, 0, 48, 64)], [(0, 0, 96, 128)]]
    assert [p.iterations for p in plan.passes] == [100, 50]  # the default schedule halves at the finer scale
    assert plan.iterations == 150 and plan.work == 100 * 64 * 48 + 50 * 128 * 96
    assert plan.peak_estimate_bytes == estimate_style_memory(net, layers, 48, 64)


def test_the_plan_tiles_a_pass_that_does_not_fit_with_overlapping_tiles_that_do():
    from dreamwright.image.style import StyleOptions, plan_style, tile_overlap

    net, layers = _vgg_fast()
    budget = estimate_style_memory(net, layers, 64, 64)
    plan = plan_style(net, layers, (64, 48), StyleOptions(size=128, scales=[64], iterations=2).checked(), budget)
    coarse, fine = plan.passes
    assert coarse.whole and not fine.whole and len(fine.tiles) > 1
    _, _, th, tw = fine.tiles[0]
    assert fine.overlap == tile_overlap(th, tw) == max(8, min(th, tw) // 8)
    assert estimate_style_memory(net, layers, th, tw) <= budget
    covered = np.zeros((fine.height, fine.width), dtype=int)
    for y, x, h, w in fine.tiles:
        covered[y : y + h, x : x + w] += 1
    assert covered.min() >= 1  # the tiles cover the image, and neighbours share at least the overlap
    ys = sorted({y for y, *_ in fine.tiles})
    assert all(b - a <= th - fine.overlap for a, b in zip(ys, ys[1:], strict=False))
    assert plan.iterations == 2 + 2 * len(fine.tiles)
    # the coarsest pass must fit whole: one pass at 128 px is refused with what it needs
    with pytest.raises(DreamwrightError, match=r"needs about .* MiB"):
        plan_style(net, layers, (64, 48), StyleOptions(size=128, scales=[128]).checked(), budget)


def test_progress_is_reported_once_per_iteration_without_frames(images, monkeypatch):
    from dreamwright.image import io as iio

    content, style, _ = images
    reports, pictures = [], []
    real_to_image = iio.to_image
    monkeypatch.setattr(iio, "to_image", lambda t: pictures.append(1) or real_to_image(t))
    result = run_style_transfer(content, style, size=64, scales=[32], iterations=3, seed=0,
                                on_progress=lambda done, planned: reports.append((done, planned)), **FAST)
    assert reports == [(i, 6) for i in range(1, 7)]
    assert len(result.history) == 6
    assert len(pictures) == 1  # the result only: progress needs no frames


def test_progress_counts_every_tile_and_frames_come_only_when_asked(images):
    from dreamwright.image.backbones import load_backbone

    content, style, _ = images
    net = load_backbone("vgg19", "random")
    budget = estimate_style_memory(net, FAST["content_layers"] + FAST["style_layers"], 64, 64)
    reports, frames = [], []
    result = run_style_transfer(
        content, style, size=128, scales=[64], iterations=2, seed=0, max_memory=budget, save_every=2,
        on_progress=lambda done, planned: reports.append((done, planned)),
        on_frame=lambda i, img: frames.append((i, img.size)), **FAST,
    )
    planned = 2 * sum(result.tiles)
    assert reports == [(i, planned) for i in range(1, planned + 1)]
    # the first frame is the whole coarse pass; the later ones the fine pass with the tiles done so far
    assert frames == [(i, (64, 48) if i <= 2 else (128, 96)) for i in range(2, planned + 1, 2)]


def test_options_as_an_object_or_as_keywords_give_the_same_picture(images):
    from dreamwright.image.style import StyleOptions

    content, style, _ = images
    options = StyleOptions(size=32, iterations=3, seed=4, weights="random", content_layers=["conv3_1"],
                           style_layers=["conv1_1", "conv2_1", "conv3_1"])
    by_object = run_style_transfer(content, style, options, progress=False)
    by_keywords = style_transfer(content, style, **FAST, size=32, iterations=3, seed=4)
    mixed = style_transfer(content, style, options, seed=4, progress=False)
    assert np.array_equal(np.asarray(by_object.image), np.asarray(by_keywords))
    assert np.array_equal(np.asarray(mixed), np.asarray(by_keywords))
    assert options.checked() == options.checked().checked()  # checking twice changes nothing
    with pytest.raises(TypeError, match="'sizes'"):
        run_style_transfer(content, style, sizes=[32])
