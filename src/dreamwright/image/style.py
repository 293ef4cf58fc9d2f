"""Neural style transfer (Gatys et al.): optimise an image so that its deep features match one photo's
content and the Gram statistics of one or more style images.

Losses are made scale-free so that the same weights work for every backbone (and random weights): the
content loss at a layer is ``mse(F(x), F(c)) / mean(F(c)^2)`` and the style loss
``mse(G(x), G*) / mean(G*^2)``
with ``G = F F^T / (H W)``, each averaged over its layers; the total-variation loss is the mean squared
difference of neighbouring pixels. For backbones other than VGG the activations pass through a softmax
before the Gram matrix (Wang et al., "Rethinking and Improving the Robustness of Image Style Transfer",
CVPR 2021), which is what makes their style features usable. Each backbone carries its own *recipe*
(style weight, colour matching, softmax temperature: ``FeatureNet.style_recipe``), measured by
``benchmarks/bench_style.py`` with networks the optimiser does not use.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dreamwright.errors import DreamwrightError, InvalidArgument
from dreamwright.image import io as iio

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

    from dreamwright.image.backbones import FeatureNet

INITS = ("content", "style", "noise")
OPTIMIZERS = ("lbfgs", "adam")
LBFGS_HISTORY = 50
MIN_TILE = 64
#: iterations at the coarsest scale by default (halved at each finer scale, down to MIN_FINE_ITERATIONS)
DEFAULT_ITERATIONS = 100
MIN_FINE_ITERATIONS = 20
#: the default time budget for a 512-px result, in seconds (scaled by area above 512 px)
DEFAULT_SECONDS = 60.0
#: iterations every pass gets even when the time budget has run out
MIN_BUDGET_ITERATIONS = 5
#: ``--preview``: long side and iterations of a quick look
PREVIEW_SIZE = 128
PREVIEW_ITERATIONS = 60
FrameCallback = Callable[[int, "Image.Image"], None]


@dataclass
class StyleResult:
    """What a style-transfer run produced: the image plus per-iteration losses and timing."""

    image: Image.Image
    #: one dict per iteration (all scales/tiles in order): content, style, tv, total (weighted), scale
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    seed: int = 0
    scales: list[int] = field(default_factory=list)
    #: number of tiles used at each scale (1 = one pass over the whole image)
    tiles: list[int] = field(default_factory=list)
    backbone: str = ""
    weights: str = ""
    peak_estimate_bytes: int = 0
    #: losses of the returned image (best seen) in the last pass (last tile when tiled)
    final: dict[str, float] = field(default_factory=dict)
    #: iterations planned at each scale (per tile)
    iterations: list[int] = field(default_factory=list)
    #: True when the time budget (``max_seconds``) cut some scale's iterations short
    stopped_early: bool = False


# ------------------------------------------------------------------------------------------ losses


def gram(feat: torch.Tensor, softmax: bool = False, temperature: float = 1.0) -> torch.Tensor:
    """Gram matrix of a (1, C, H, W) activation, normalised by H*W.

    With ``softmax`` the activations first go through a softmax over the whole layer (Wang et al. 2021),
    at ``temperature`` (we use the style activations' standard deviation so that it is not peaky), rescaled
    so that their mean is 1.
    """
    import torch

    _, c, h, w = feat.shape
    f = feat.reshape(c, h * w)
    if softmax:
        f = torch.softmax(f.reshape(-1) / temperature, dim=0).reshape(c, h * w) * f.numel()
    return f @ f.t() / (h * w)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean()
    dw = (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()
    return dh + dw


class _Targets:
    """Content features and blended style Grams, with the loss of an image against them."""

    def __init__(self, net: FeatureNet, content_layers: list[str], style_layers: list[str],
                 style_layer_weights: Sequence[float] | None = None, temperature: float = 1.0,
                 softmax: bool | None = None) -> None:
        self.net, self.content_layers, self.style_layers = net, content_layers, style_layers
        weights = _parse_blend(style_layer_weights, len(style_layers), "style layer", "style layer")
        self.style_weights = dict(zip(style_layers, weights, strict=True))
        self.temperature = temperature
        self.softmax = net.softmax_gram if softmax is None else softmax
        self.layers = list(dict.fromkeys(content_layers + style_layers))
        self.content: dict[str, torch.Tensor] = {}
        self.content_scale: dict[str, float] = {}
        self.grams: dict[str, torch.Tensor] = {}
        self.gram_scale: dict[str, float] = {}
        self.temps: dict[str, float] = {}

    def set_content(self, content: torch.Tensor) -> None:
        import torch

        with torch.no_grad():
            feats = self.net(content, self.content_layers)
        self.content = {k: v.detach() for k, v in feats.items()}
        self.content_scale = {k: float(v.pow(2).mean()) + 1e-8 for k, v in self.content.items()}

    def set_styles(self, styles: list[torch.Tensor], blend: list[float]) -> None:
        import torch

        grams: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for img, w in zip(styles, blend, strict=True):
                feats = self.net(img, self.style_layers)
                if not self.temps:
                    self.temps = {k: self.temperature * float(feats[k].std()) + 1e-6 for k in self.style_layers}
                for k in self.style_layers:
                    g = gram(feats[k], self.softmax, self.temps[k]) * w
                    grams[k] = g if k not in grams else grams[k] + g
        self.grams = grams
        self.gram_scale = {k: float(g.pow(2).mean()) + 1e-12 for k, g in grams.items()}

    def losses(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feats = self.net(x, self.layers)
        c = sum(
            (feats[k] - self.content[k]).pow(2).mean() / self.content_scale[k] for k in self.content_layers
        )
        s = sum(
            (gram(feats[k], self.softmax, self.temps[k]) - self.grams[k]).pow(2).mean()
            / self.gram_scale[k] * self.style_weights[k]
            for k in self.style_layers
        )
        return c / len(self.content_layers), s, tv_loss(x)


# ------------------------------------------------------------------------------------- colour helpers


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> YIQ."""
    import torch

    m = torch.tensor(
        [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
        dtype=x.dtype,
        device=x.device,
    )
    return torch.einsum("ij,njhw->nihw", m, x)


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) YIQ -> RGB."""
    import torch

    m = torch.tensor(
        [[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]], dtype=x.dtype, device=x.device
    )
    return torch.einsum("ij,njhw->nihw", m, x)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Grey RGB image holding only the luminance of ``x``."""
    y = rgb_to_yiq(x)[:, :1]
    return y.expand(-1, 3, -1, -1).contiguous()


def match_luminance(style_grey: torch.Tensor, content_grey: torch.Tensor) -> torch.Tensor:
    """Shift/scale the style luminance to the content's mean and spread (Gatys et al. 2016, colour paper)."""
    ms, ss = style_grey.mean(), style_grey.std() + 1e-6
    mc, sc = content_grey.mean(), content_grey.std()
    return ((style_grey - ms) * (sc / ss) + mc).clamp(0, 1)


def recolor(output_grey: torch.Tensor, content_rgb: torch.Tensor) -> torch.Tensor:
    """Luminance of ``output_grey`` with the chrominance (I, Q) of ``content_rgb``."""
    import torch

    yiq = rgb_to_yiq(content_rgb)
    y = rgb_to_yiq(output_grey)[:, :1]
    return yiq_to_rgb(torch.cat([y, yiq[:, 1:]], dim=1)).clamp(0, 1)


def colour_transfer(content: torch.Tensor, styles: Sequence[torch.Tensor], blend: Sequence[float]) -> torch.Tensor:
    """``content`` (1, 3, H, W) with its RGB mean and covariance moved to the styles' (blended), by the
    affine map ``x -> S^1/2 C^-1/2 (x - m_c) + m_s`` (Gatys et al. 2016, "Preserving colour", run the
    other way: the photo takes the painting's palette)."""
    import torch

    def stats(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pix = t.reshape(3, -1).double()
        mean = pix.mean(1, keepdim=True)
        centred = pix - mean
        return mean, centred @ centred.t() / pix.shape[1] + 1e-5 * torch.eye(3, dtype=pix.dtype, device=pix.device)

    def sqrtm(m: torch.Tensor, power: float) -> torch.Tensor:
        vals, vecs = torch.linalg.eigh(m)
        return vecs @ torch.diag(vals.clamp_min(1e-8) ** power) @ vecs.t()

    mc, cc = stats(content)
    ms = sum(w * stats(s)[0] for s, w in zip(styles, blend, strict=True))
    cs = sum(w * stats(s)[1] for s, w in zip(styles, blend, strict=True))
    a = sqrtm(cs, 0.5) @ sqrtm(cc, -0.5)
    out = a @ (content.reshape(3, -1).double() - mc) + ms
    return out.reshape(content.shape).to(content.dtype).clamp(0, 1)


# ----------------------------------------------------------------------------------------- memory


def estimate_style_memory(
    net: FeatureNet, layers: Sequence[str], height: int, width: int, optimizer: str = "lbfgs"
) -> int:
    """Approximate peak bytes for one optimisation pass over a ``height`` x ``width`` image."""
    px = height * width
    # saved activations, their gradients during backward, and the backbone's own temporaries
    act = net.floats_per_pixel(layers) * 2.0
    # image, gradient, content copy, optimiser state (L-BFGS keeps 2 vectors per history step)
    opt = 3 * (2 * LBFGS_HISTORY + 8) if optimizer == "lbfgs" else 3 * 8
    return int(4 * px * (act + opt) + net.param_bytes() + 96 * 1024**2)


def _parse_budget(max_memory: int | None, device: Any) -> int:
    if max_memory is None:
        return int(iio.available_memory(device) * 0.85)
    if isinstance(max_memory, bool) or int(max_memory) != max_memory or max_memory < 1:
        raise InvalidArgument(
            f"max_memory must be a positive number of bytes, got {max_memory!r}", param="max_memory"
        )
    return int(max_memory)


def _tile_side(net: FeatureNet, layers: Sequence[str], budget: int, optimizer: str) -> int:
    """Largest square tile side (multiple of 32) that fits in ``budget``."""
    side = MIN_TILE
    while estimate_style_memory(net, layers, side + 32, side + 32, optimizer) <= budget and side < 8192:
        side += 32
    return side


def _tiles(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with at least ``overlap`` overlap."""
    if tile >= length:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    step = (length - tile) / (n - 1)
    return [round(i * step) for i in range(n)]


def _feather(
    h: int, w: int, overlap: int, top: bool, left: bool, bottom: bool, right: bool, device: Any
) -> torch.Tensor:
    """Blend mask (1, 1, h, w): linear ramps on the sides that overlap a neighbour."""
    import torch

    def ramp(n: int, lo: bool, hi: bool) -> torch.Tensor:
        r = torch.ones(n, device=device)
        k = min(overlap, n // 2)
        if k > 0:
            ramp_up = (torch.arange(k, device=device, dtype=torch.float32) + 1) / (k + 1)
            if lo:
                r[:k] = ramp_up
            if hi:
                r[n - k :] = ramp_up.flip(0)
        return r

    return (ramp(h, top, bottom)[:, None] * ramp(w, left, right)[None, :]).view(1, 1, h, w)


# ------------------------------------------------------------------------------------------- API


def _parse_blend(
    blend: Sequence[float] | str | None, n: int, name: str = "style blend", per: str = "style image"
) -> list[float]:
    """Non-negative weights, one per ``per`` (``n`` of them), normalised to sum 1; None means equal."""
    param = name.replace(" ", "_")
    if blend is None:
        return [1.0 / n] * n
    if isinstance(blend, str):
        try:
            blend = [float(b) for b in blend.split(",") if b.strip()]
        except ValueError:
            raise InvalidArgument(
                f"{name} must be comma-separated numbers like 0.7,0.3, got {blend!r}",
                param=param,
            ) from None
    values = [float(b) for b in blend]
    if len(values) != n:
        raise InvalidArgument(
            f"{name} has {len(values)} weights but there are {n} {per}s; give one "
            f"weight per {per}",
            param=param,
        )
    if any(not math.isfinite(v) or v < 0 for v in values) or sum(values) <= 0:
        raise InvalidArgument(f"{name} weights must be >= 0 with a positive sum", param=param)
    total = sum(values)
    return [v / total for v in values]


def _check_scales(scales: Sequence[int] | None, size: int) -> list[int]:
    if not scales:
        return [size]
    out = [iio.check_size("scales", int(s)) for s in scales]
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise InvalidArgument(f"scales must increase, got {','.join(map(str, out))}", param="scales")
    if out[-1] < size:
        out.append(size)
    elif out[-1] > size:
        raise InvalidArgument(
            f"scales must not exceed --size {size}, got {','.join(map(str, out))}", param="scales"
        )
    return out


def auto_scales(size: int, smallest: int = 256) -> list[int]:
    """Coarse-to-fine long sides ending at ``size``, halving down to ``smallest`` (e.g. 256, 512, 1024)."""
    out = [size]
    while out[0] // 2 >= max(smallest, iio.MIN_SIZE) and out[0] > smallest:
        out.insert(0, out[0] // 2)
    return out


def iteration_schedule(iterations: int | Sequence[int] | None, scales: Sequence[int]) -> list[int]:
    """Iterations per scale: an int is used at every scale, a list gives one per scale, and None is the
    default schedule: :data:`DEFAULT_ITERATIONS` at the coarsest scale, halved at each finer one (each finer
    iteration costs about four coarse ones, and starts from an already styled picture)."""
    from dreamwright._validate import positive_int

    if iterations is None:
        return [max(MIN_FINE_ITERATIONS, DEFAULT_ITERATIONS >> i) for i in range(len(scales))]
    if isinstance(iterations, (list, tuple)):
        values = [int(positive_int("iterations", i)) for i in iterations]
        if len(values) != len(scales):
            raise InvalidArgument(
                f"iterations lists {len(values)} numbers for {len(scales)} scales "
                f"({','.join(map(str, scales))}); give one per scale, or one number for all",
                param="iterations",
            )
        return values
    return [int(positive_int("iterations", iterations))] * len(scales)


def time_budget(max_seconds: float | None, size: int) -> float | None:
    """Seconds allowed (None: no limit): ``max_seconds``, 0 for no limit, or by default
    :data:`DEFAULT_SECONDS` for a 512-px result, scaled by area for larger ones."""
    if max_seconds is None:
        return DEFAULT_SECONDS * max(1.0, (size / 512) ** 2)
    value = float(max_seconds)
    if not math.isfinite(value) or value < 0:
        raise InvalidArgument(f"max_seconds must be >= 0 (0: no limit), got {max_seconds!r}", param="max_seconds")
    return value or None


def run_style_transfer(
    content: iio.ImageLike,
    styles: iio.ImageLike | Sequence[iio.ImageLike],
    *,
    size: int = 512,
    iterations: int | Sequence[int] | None = None,
    optimizer: str = "lbfgs",
    learning_rate: float | None = None,
    content_weight: float = 1.0,
    style_weight: float | None = None,
    tv_weight: float = 10.0,
    init: str = "content",
    style_blend: Sequence[float] | str | None = None,
    style_scale: float = 1.0,
    preserve_color: bool = False,
    match_colors: bool | None = None,
    style_layer_weights: Sequence[float] | None = None,
    gram_temperature: float | None = None,
    softmax_gram: bool | None = None,
    scales: Sequence[int] | None = None,
    max_seconds: float | None = None,
    max_memory: int | None = None,
    backbone: str = "auto",
    weights: str | os.PathLike | None = None,
    content_layers: Sequence[str] | None = None,
    style_layers: Sequence[str] | None = None,
    device: str = "auto",
    seed: int | None = None,
    save_every: int | None = None,
    on_frame: FrameCallback | None = None,
    progress: bool = True,
    on_start: Callable[[FeatureNet], None] | None = None,
) -> StyleResult:
    """Style transfer with full results (image, loss history, timing); see :func:`style_transfer`.

    ``on_start(net)`` is called once every option has been checked, just before the work begins.
    """
    from dreamwright._validate import non_negative_float, positive_int

    # ---- validate options before any heavy work
    size = iio.check_size("size", size)
    optimizer = (optimizer or "lbfgs").lower()
    if optimizer not in OPTIMIZERS:
        raise InvalidArgument(
            f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}", param="optimizer"
        )
    init = (init or "content").lower()
    if init not in INITS:
        raise InvalidArgument(f"init must be one of {', '.join(INITS)}, got {init!r}", param="init")
    content_weight = non_negative_float("content_weight", content_weight)
    if style_weight is not None:
        style_weight = non_negative_float("style_weight", style_weight)
    if gram_temperature is not None and (not math.isfinite(gram_temperature) or gram_temperature <= 0):
        raise InvalidArgument(f"gram_temperature must be > 0, got {gram_temperature!r}", param="gram_temperature")
    tv_weight = non_negative_float("tv_weight", tv_weight)
    style_scale = float(style_scale)
    if not math.isfinite(style_scale) or not 0.05 <= style_scale <= 8:
        raise InvalidArgument(
            f"style_scale must be between 0.05 and 8, got {style_scale!r}", param="style_scale"
        )
    if learning_rate is None:
        learning_rate = 1.0 if optimizer == "lbfgs" else 0.02
    learning_rate = float(learning_rate)
    if not math.isfinite(learning_rate) or learning_rate <= 0:
        raise InvalidArgument(f"learning_rate must be > 0, got {learning_rate!r}", param="learning_rate")
    save_every = positive_int("save_every", save_every, allow_none=True)
    scale_list = _check_scales(scales, size) if scales else auto_scales(size)
    schedule = iteration_schedule(iterations, scale_list)
    budget_seconds = time_budget(max_seconds, size)
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if not style_list:
        raise InvalidArgument("give at least one style image", param="styles")
    blend = _parse_blend(style_blend, len(style_list))

    content_img = iio.load_image(content, name="content image")
    style_imgs = [iio.load_image(s, name="style image") for s in style_list]
    # torch is imported only once the inputs are known to be good, so that bad input fails fast
    import torch

    from dreamwright.devices import resolve_device
    from dreamwright.image.backbones import load_backbone
    from dreamwright.progress import progress_bar

    dev = resolve_device(device)
    budget = _parse_budget(max_memory, dev)
    net = load_backbone(backbone, weights, dev, layers=[*(content_layers or ()), *(style_layers or ())])
    c_layers = net.check_layers(content_layers or net.default_content_layers, option="content layers")
    s_layers = net.check_layers(style_layers or net.default_style_layers, option="style layers")
    all_layers = list(dict.fromkeys(c_layers + s_layers))
    _parse_blend(style_layer_weights, len(s_layers), "style layer", "style layer")  # fail before work
    recipe = net.style_recipe
    style_weight = recipe["style_weight"] if style_weight is None else style_weight
    match_colors = recipe["match_colors"] if match_colors is None else match_colors
    gram_temperature = recipe["gram_temperature"] if gram_temperature is None else gram_temperature

    # ---- memory: the coarsest pass must fit whole; finer passes may be tiled
    w0, h0 = iio.fit_size(content_img.width, content_img.height, scale_list[0])
    first_need = estimate_style_memory(net, all_layers, h0, w0, optimizer)
    hint = (
        f"use a smaller --size, or --scales (e.g. {','.join(map(str, auto_scales(size)))}) so that large "
        "passes run in tiles"
        if len(scale_list) == 1
        else "start --scales at a smaller size"
    )
    iio.check_memory(first_need, dev, f"style transfer at {w0}x{h0}", hint, budget)
    tile_side = _tile_side(net, all_layers, budget, optimizer)

    seed = iio.seed_everything(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    targets = _Targets(net, c_layers, s_layers, style_layer_weights, gram_temperature, softmax_gram)
    result = StyleResult(
        image=content_img,
        seed=seed,
        scales=scale_list,
        backbone=net.name,
        weights=net.weights_source,
        peak_estimate_bytes=first_need,
    )
    start = time.perf_counter()
    it_global = 0
    current: torch.Tensor | None = None

    # tiles per scale, decided up front for the progress bar
    plans = []
    for s in scale_list:
        w, h = iio.fit_size(content_img.width, content_img.height, s)
        if estimate_style_memory(net, all_layers, h, w, optimizer) <= budget:
            plans.append((s, w, h, [(0, 0, h, w)]))
            continue
        side = min(tile_side, max(h, w))
        if (
            side < MIN_TILE + 32
            and estimate_style_memory(net, all_layers, MIN_TILE, MIN_TILE, optimizer) > budget
        ):
            raise DreamwrightError(
                f"not even a {MIN_TILE}px tile fits in {iio.format_bytes(budget)} of memory; "
                "free memory or use a smaller --size",
                param="size",
            )
        th, tw = min(side, h), min(side, w)
        overlap = max(8, min(th, tw) // 8)
        boxes = [(y, x, th, tw) for y in _tiles(h, th, overlap) for x in _tiles(w, tw, overlap)]
        plans.append((s, w, h, boxes))
    result.tiles = [len(p[3]) for p in plans]
    result.iterations = schedule
    # progress and the time budget count work in pixels: an iteration at 512 px costs about four at 256 px
    total_work = float(sum(n * sum(th * tw for *_, th, tw in p[3]) for n, p in zip(schedule, plans, strict=True)))
    work_done = 0.0
    if on_start is not None:
        on_start(net)

    def emit_frame(img_t: torch.Tensor, content_rgb: torch.Tensor) -> None:
        if on_frame is not None:
            out = recolor(img_t, content_rgb) if preserve_color else img_t
            on_frame(it_global, iio.to_image(out))

    with progress_bar("style transfer", total_work, enabled=progress, counts=False) as bar:
        for scale_idx, ((s, w, h, boxes), iterations) in enumerate(zip(plans, schedule, strict=True)):
            content_rgb = iio.to_tensor(iio.resize_long(content_img, s), dev)
            content_t = luminance(content_rgb) if preserve_color else content_rgb
            style_ts = []
            for simg in style_imgs:
                st = iio.to_tensor(iio.resize_long(simg, max(iio.MIN_SIZE, round(s * style_scale))), dev)
                style_ts.append(match_luminance(luminance(st), content_t) if preserve_color else st)
            if match_colors and not preserve_color:
                content_t = colour_transfer(content_t, style_ts, blend)
            targets.set_styles(style_ts, blend)

            if current is None:
                if init == "content":
                    current = content_t.clone()
                elif init == "style":
                    current = iio.resize_tensor(style_ts[0], h, w).clamp(0, 1)
                else:
                    noise = torch.rand(content_t.shape, generator=gen).to(dev)
                    current = (noise * 0.5 + 0.25) if not preserve_color else luminance(noise * 0.5 + 0.25)
            else:
                current = iio.resize_tensor(current, h, w).clamp(0, 1)

            canvas = current.clone()
            for y, x, th, tw in boxes:
                whole = len(boxes) == 1
                tile_content = content_t[..., y : y + th, x : x + tw]
                targets.set_content(tile_content)
                img = canvas[..., y : y + th, x : x + tw].clone().requires_grad_(True)
                if optimizer == "lbfgs":
                    opt: torch.optim.Optimizer = torch.optim.LBFGS(
                        [img],
                        lr=learning_rate,
                        max_iter=1,
                        history_size=LBFGS_HISTORY,
                        tolerance_grad=0.0,
                        tolerance_change=0.0,
                    )
                else:
                    opt = torch.optim.Adam([img], lr=learning_rate)
                last: dict[str, float] = {}
                # L-BFGS without line search can overshoot now and then: keep the best image seen
                best: dict[str, Any] = {"total": math.inf, "image": img.detach().clone(), "losses": {}}

                def closure(
                    img: torch.Tensor = img,
                    opt: torch.optim.Optimizer = opt,
                    last: dict[str, float] = last,
                    best: dict[str, Any] = best,
                ) -> torch.Tensor:
                    opt.zero_grad(set_to_none=True)
                    c, st, tv = targets.losses(img)
                    total = content_weight * c + style_weight * st + tv_weight * tv
                    total.backward()
                    last.update(content=c.item(), style=st.item(), tv=tv.item(), total=total.item())
                    if last["total"] < best["total"]:
                        best.update(total=last["total"], image=img.detach().clone(), losses=dict(last))
                    return total

                # this tile's share of the time budget ends when its share of the work would
                work_done += iterations * th * tw
                deadline = None if budget_seconds is None else start + budget_seconds * work_done / total_work
                for i in range(iterations):
                    if deadline is not None and i >= MIN_BUDGET_ITERATIONS and time.perf_counter() > deadline:
                        result.stopped_early = True
                        bar.advance(th * tw * (iterations - i))
                        break
                    opt.step(closure)
                    with torch.no_grad():
                        img.clamp_(0, 1)
                    if not math.isfinite(last.get("total", 0.0)):
                        raise DreamwrightError(
                            "the loss became NaN/inf; lower --style-weight or the learning "
                            "rate, or use --optimizer lbfgs"
                        )
                    it_global += 1
                    result.history.append({**last, "scale": float(s), "time": time.perf_counter() - start})
                    bar.advance(th * tw)
                    bar.update(
                        info=f"{w}x{h} {i + 1}/{iterations}  content {last['content']:.3g} "
                        f"style {last['style']:.3g}"
                    )
                    if save_every and it_global % save_every == 0:
                        if whole:
                            emit_frame(img.detach(), content_rgb)
                        else:
                            tmp = canvas.clone()
                            tmp[..., y : y + th, x : x + tw] = img.detach()
                            emit_frame(tmp, content_rgb)
                with torch.no_grad():
                    c, st, tv = targets.losses(img)
                    total = content_weight * c + style_weight * st + tv_weight * tv
                    if total.item() < best["total"]:
                        best.update(
                            total=total.item(),
                            image=img.detach().clone(),
                            losses=dict(content=c.item(), style=st.item(), tv=tv.item(), total=total.item()),
                        )
                    result.final = dict(best["losses"])
                    img = best["image"]
                    if whole:
                        canvas = img.clone()
                    else:
                        overlap = max(8, min(th, tw) // 8)
                        mask = _feather(th, tw, overlap, y > 0, x > 0, y + th < h, x + tw < w, dev)
                        region = canvas[..., y : y + th, x : x + tw]
                        canvas[..., y : y + th, x : x + tw] = region * (1 - mask) + img.detach() * mask
                del opt
            current = canvas
            if scale_idx == len(plans) - 1:
                final = recolor(current, content_rgb) if preserve_color else current
                result.image = iio.to_image(final)
    result.seconds = time.perf_counter() - start
    return result


def style_transfer(
    content: iio.ImageLike,
    styles: iio.ImageLike | Sequence[iio.ImageLike],
    **options: Any,
) -> Image.Image:
    """Repaint ``content`` in the style of ``styles`` and return the result as a PIL image.

    Options (all keyword): ``size`` (long side, default 512), ``scales`` (coarse-to-fine long sides; default
    halving down to 256, e.g. [256, 512]; finer passes are tiled when they do not fit in memory),
    ``iterations`` (per scale and tile: an int, one per scale, or None for 100 at the coarsest scale halved at
    each finer one), ``max_seconds`` (time budget; None: 60 s for 512 px, scaled by area; 0: no limit),
    ``optimizer`` ("lbfgs" or "adam"), ``learning_rate``, ``content_weight`` (1), ``style_weight`` (None: the
    backbone's recipe, VGG-19 100, EfficientNet-Lite0 1000), ``tv_weight`` (10), ``init`` ("content", "style",
    "noise"), ``style_blend`` (one weight per style), ``style_scale`` (style image size relative to the output),
    ``preserve_color`` (luminance-only transfer), ``softmax_gram`` (None: the backbone's),
    ``match_colors`` (move the photo's colour mean and covariance
    to the style's first; None: the recipe's, on for EfficientNet-Lite0), ``gram_temperature`` (softmax-Gram
    temperature relative to the style activations' spread; None: the recipe's), ``style_layer_weights``,
    ``max_memory`` (bytes), ``backbone`` ("auto", "vgg19", "efficientnet-lite0"), ``weights`` (path,
    ``"random"`` or None), ``content_layers``, ``style_layers``, ``device``, ``seed``, ``save_every`` with
    ``on_frame(iteration, image)``, ``progress``.
    """
    return run_style_transfer(content, styles, **options).image
