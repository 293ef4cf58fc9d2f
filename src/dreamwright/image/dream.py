"""DeepDream: gradient ascent on chosen layers' activations over several octaves, with jitter, loss
clipping and detail re-injection between octaves (as in the Keras DeepDream example)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dreamwright.errors import InvalidArgument
from dreamwright.image import io as iio

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

    from dreamwright.image.backbones import FeatureNet


@dataclass
class DreamResult:
    """A DeepDream run: the image, the loss at every step, the octave sizes and timing."""

    image: Image.Image
    history: list[dict[str, float]] = field(default_factory=list)
    octave_sizes: list[tuple[int, int]] = field(default_factory=list)
    seconds: float = 0.0
    seed: int = 0
    backbone: str = ""
    weights: str = ""


def parse_layer_weights(spec: str | Mapping[str, float] | Sequence[str] | None) -> dict[str, float] | None:
    """``"relu4_3:1,relu5_1:1.5"`` (or a mapping, or names with weight 1) -> {layer: weight}."""
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        parts = spec.split(",") if isinstance(spec, str) else list(spec)
        items = []
        for part in parts:
            part = part.strip()
            if not part:
                continue
            name, _, weight = part.partition(":")
            try:
                items.append((name.strip(), float(weight) if weight.strip() else 1.0))
            except ValueError:
                raise InvalidArgument(
                    f"layer weight {weight!r} in {part!r} is not a number; use name:weight,...",
                    param="layers",
                ) from None
    out: dict[str, float] = {}
    for name, weight in items:
        if not math.isfinite(float(weight)):
            raise InvalidArgument(f"layer weight for {name!r} must be finite", param="layers")
        out[str(name)] = float(weight)
    if not out:
        raise InvalidArgument(
            "layers is empty; use name:weight,... e.g. relu4_3:1,relu5_1:1.5", param="layers"
        )
    return out


def estimate_dream_memory(net: FeatureNet, layers: Sequence[str], height: int, width: int) -> int:
    """Approximate peak bytes for one gradient-ascent step on a ``height`` x ``width`` image."""
    return int(
        4 * height * width * (net.floats_per_pixel(layers) * 2.2 + 24) + net.param_bytes() + 96 * 1024**2
    )


def _dream_loss(net: FeatureNet, x: torch.Tensor, weights: dict[str, float]) -> torch.Tensor:
    feats = net(x, weights)
    total = x.new_zeros(())
    for name, w in weights.items():
        a = feats[name]
        # leave out a border so that the image edges do not dominate (as the Keras example does)
        b = 1 if min(a.shape[-2:]) > 4 else 0
        a = a[..., b : a.shape[-2] - b, b : a.shape[-1] - b]
        total = total + w * a.pow(2).mean()
    return total


def run_deep_dream(
    image: iio.ImageLike,
    *,
    layers: str | Mapping[str, float] | Sequence[str] | None = None,
    size: int | None = 512,
    octaves: int = 3,
    octave_scale: float = 1.4,
    steps: int = 20,
    step_size: float = 0.01,
    jitter: int = 16,
    max_loss: float | None = None,
    backbone: str = "auto",
    weights: str | os.PathLike | None = None,
    device: str = "auto",
    seed: int | None = None,
    max_memory: int | None = None,
    progress: bool = True,
    on_start: Callable[[FeatureNet], None] | None = None,
) -> DreamResult:
    """DeepDream with full results (image, loss history, timing); see :func:`deep_dream`.

    ``on_start(net)`` is called once every option has been checked, just before the work begins.
    """
    from dreamwright._validate import positive_int

    octaves = int(positive_int("octaves", octaves))
    steps = int(positive_int("steps", steps))
    octave_scale = float(octave_scale)
    if not math.isfinite(octave_scale) or not 1.0 < octave_scale <= 4.0:
        raise InvalidArgument(
            f"octave_scale must be > 1 and <= 4, got {octave_scale!r}", param="octave_scale"
        )
    step_size = float(step_size)
    if not math.isfinite(step_size) or step_size <= 0:
        raise InvalidArgument(f"step_size must be > 0, got {step_size!r}", param="step_size")
    if isinstance(jitter, bool) or int(jitter) != jitter or jitter < 0:
        raise InvalidArgument(f"jitter must be an integer >= 0 (pixels), got {jitter!r}", param="jitter")
    if max_loss is not None and (not math.isfinite(float(max_loss)) or max_loss <= 0):
        raise InvalidArgument(f"max_loss must be > 0, got {max_loss!r}", param="max_loss")
    layer_weights = parse_layer_weights(layers)

    img = iio.load_image(image, name="image")
    # torch is imported only once the input is known to be good, so that bad input fails fast
    import torch

    from dreamwright.image.backbones import load_backbone
    from dreamwright.progress import progress_bar
    if size is not None:
        img = iio.resize_long(img, iio.check_size("size", size))
    from dreamwright.devices import resolve_device

    dev = resolve_device(device)
    net = load_backbone(backbone, weights, dev, layers=layer_weights or ())
    layer_weights = layer_weights or dict(net.default_dream_layers)
    net.check_layers(layer_weights, option="layers")

    w, h = img.size
    shapes = []
    for i in range(octaves - 1, -1, -1):
        shapes.append(
            (
                max(iio.MIN_SIZE // 2, round(h / octave_scale**i)),
                max(iio.MIN_SIZE // 2, round(w / octave_scale**i)),
            )
        )
    need = estimate_dream_memory(net, list(layer_weights), h, w)
    budget = None if max_memory is None else int(max_memory)
    iio.check_memory(need, dev, f"DeepDream at {w}x{h}", "use a smaller --size", budget)

    seed = iio.seed_everything(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    result = DreamResult(
        image=img,
        octave_sizes=[(sw, sh) for sh, sw in shapes],
        seed=seed,
        backbone=net.name,
        weights=net.weights_source,
    )
    if on_start is not None:
        on_start(net)
    start = time.perf_counter()
    original = iio.to_tensor(img, dev)
    shrunk_original = iio.resize_tensor(original, *shapes[0])
    x = shrunk_original.clone()
    with progress_bar("deep dream", octaves * steps, enabled=progress) as bar:
        for octave, (sh, sw) in enumerate(shapes):
            x = iio.resize_tensor(x, sh, sw).clamp(0, 1)
            for step in range(steps):
                ox, oy = (
                    torch.randint(-jitter, jitter + 1, (2,), generator=gen).tolist() if jitter else (0, 0)
                )
                xj = torch.roll(x, shifts=(oy, ox), dims=(-2, -1)).detach().requires_grad_(True)
                loss = _dream_loss(net, xj, layer_weights)
                (grad,) = torch.autograd.grad(loss, xj)
                grad = torch.roll(grad, shifts=(-oy, -ox), dims=(-2, -1))
                grad = grad / (grad.abs().mean() + 1e-8)
                value = loss.item()
                result.history.append({"octave": float(octave), "loss": value})
                bar.advance(1)
                bar.update(info=f"octave {octave + 1}/{octaves} {sw}x{sh} loss {value:.4g}")
                if max_loss is not None and value > max_loss:
                    bar.advance(steps - step - 1)
                    break
                with torch.no_grad():
                    x = (x + step_size * grad).clamp(0, 1)
            # re-inject the detail that shrinking the original lost at this scale
            with torch.no_grad():
                upscaled_shrunk = iio.resize_tensor(shrunk_original, sh, sw)
                same_size_original = iio.resize_tensor(original, sh, sw)
                x = (x + same_size_original - upscaled_shrunk).clamp(0, 1)
                shrunk_original = same_size_original
    result.image = iio.to_image(x)
    result.seconds = time.perf_counter() - start
    return result


def deep_dream(image: iio.ImageLike, **options: object) -> Image.Image:
    """Run DeepDream on ``image`` and return the dreamt PIL image.

    Options (all keyword): ``layers`` ("name:weight,..." or a dict; default per backbone), ``size``
    (long side, default 512; None keeps the input size), ``octaves`` (3), ``octave_scale`` (1.4),
    ``steps`` per octave (20), ``step_size`` (0.01), ``jitter`` (pixels of random roll, 16), ``max_loss``
    (stop an octave once the loss exceeds it), ``backbone`` ("auto": VGG-19 when its weights are at hand,
    else EfficientNet-Lite0), ``weights``, ``device``, ``seed``, ``progress``.
    """
    return run_deep_dream(image, **options).image  # type: ignore[arg-type]
