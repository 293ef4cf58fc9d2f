"""DeepDream: gradient ascent on chosen layers' activations over several octaves, with jitter, loss
clipping and detail re-injection between octaves (as in the Keras DeepDream example)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dreamwright.errors import InvalidArgument
from dreamwright.image import io as iio
from dreamwright.image.style import BACKBONE_HELP
from dreamwright.training.config import knob

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


@dataclass
class DreamOptions:
    """The knobs of a DeepDream run (see :func:`deep_dream` for each).

    A field declared with :func:`~dreamwright.training.config.knob` is also an option of ``dreamwright dream``,
    with the help text it carries (in this order)."""

    layers: str | Mapping[str, float] | Sequence[str] | None = knob(
        None, "name:weight,... (default: vgg19 relu4_3:1,relu5_1:1.5; efficientnet-lite0 block7:1,block10:1.5)."
    )
    #: long side in pixels; None keeps the input's size (the command's default depends on the device)
    size: int | None = knob(512, "Long side in pixels.", shown_default="384 on CPU, 512 on CUDA")
    octaves: int = knob(3, "Number of scales.")
    octave_scale: float = knob(1.4, "Size ratio between octaves.")
    steps: int = knob(20, "Gradient-ascent steps per octave.")
    step_size: float = knob(0.01, "Step size (pixel values run from 0 to 1).")
    jitter: int = knob(16, "Random roll in pixels before each step.")
    max_loss: float | None = knob(None, "Stop an octave once the loss exceeds this.")
    backbone: str = knob("auto", BACKBONE_HELP)
    weights: str | os.PathLike | None = knob(None, "Weights file, or 'random'.")
    max_memory: int | None = knob(None, "Memory budget, e.g. 2G.")
    device: str = knob("auto", "auto | cpu | cuda.")
    seed: int | None = knob(None, "Random seed (jitter).")

    def checked(self) -> DreamOptions:
        """A validated copy, with ``layers`` parsed into {layer: weight} (None: the backbone's)."""
        from dreamwright._validate import positive_int

        octave_scale = float(self.octave_scale)
        if not math.isfinite(octave_scale) or not 1.0 < octave_scale <= 4.0:
            raise InvalidArgument(f"octave_scale must be > 1 and <= 4, got {octave_scale!r}", param="octave_scale")
        step_size = float(self.step_size)
        if not math.isfinite(step_size) or step_size <= 0:
            raise InvalidArgument(f"step_size must be > 0, got {step_size!r}", param="step_size")
        jitter = self.jitter
        if isinstance(jitter, bool) or int(jitter) != jitter or jitter < 0:
            raise InvalidArgument(f"jitter must be an integer >= 0 (pixels), got {jitter!r}", param="jitter")
        if self.max_loss is not None and (not math.isfinite(float(self.max_loss)) or self.max_loss <= 0):
            raise InvalidArgument(f"max_loss must be > 0, got {self.max_loss!r}", param="max_loss")
        return replace(
            self, octaves=int(positive_int("octaves", self.octaves) or 0),
            steps=int(positive_int("steps", self.steps) or 0), octave_scale=octave_scale, step_size=step_size,
            jitter=int(jitter), layers=parse_layer_weights(self.layers),
            size=None if self.size is None else iio.check_size("size", self.size),
        )


def octave_shapes(height: int, width: int, octaves: int, octave_scale: float) -> list[tuple[int, int]]:
    """(height, width) of every octave, the smallest first and the image's own last."""
    smallest = iio.MIN_SIZE // 2
    return [
        (max(smallest, round(height / octave_scale**i)), max(smallest, round(width / octave_scale**i)))
        for i in range(octaves - 1, -1, -1)
    ]


def _dream_octave(
    x: torch.Tensor,
    net: FeatureNet,
    layer_weights: dict[str, float],
    options: DreamOptions,
    gen: torch.Generator,
    on_step: Callable[[float, int], None],
) -> torch.Tensor:
    """``options.steps`` steps of jittered gradient ascent on ``x`` at one octave; ``on_step(loss, skipped)``
    after each, ``skipped`` being the steps left out when the loss passed ``max_loss``."""
    import torch

    jitter, steps = options.jitter, options.steps
    for step in range(steps):
        ox, oy = torch.randint(-jitter, jitter + 1, (2,), generator=gen).tolist() if jitter else (0, 0)
        xj = torch.roll(x, shifts=(oy, ox), dims=(-2, -1)).detach().requires_grad_(True)
        loss = _dream_loss(net, xj, layer_weights)
        (grad,) = torch.autograd.grad(loss, xj)
        grad = torch.roll(grad, shifts=(-oy, -ox), dims=(-2, -1))
        grad = grad / (grad.abs().mean() + 1e-8)
        value = loss.item()
        if options.max_loss is not None and value > options.max_loss:
            on_step(value, steps - step - 1)
            break
        on_step(value, 0)
        with torch.no_grad():
            x = (x + options.step_size * grad).clamp(0, 1)
    return x


def run_deep_dream(
    image: iio.ImageLike,
    options: DreamOptions | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    on_start: Callable[[FeatureNet], None] | None = None,
    progress: bool = True,
    **changes: Any,
) -> DreamResult:
    """DeepDream with full results (image, loss history, timing); see :func:`deep_dream`.

    The knobs come as a :class:`DreamOptions`, as keywords naming its fields, or both (keywords win).
    ``on_progress(done, planned)`` is called after every step; ``on_start(net)`` once every option has been
    checked, before the work begins.
    """
    opts = iio.with_changes(options, changes, DreamOptions, "run_deep_dream").checked()
    img = iio.load_image(image, name="image")
    # torch is imported only once the input is known to be good, so that bad input fails fast
    import torch

    from dreamwright.devices import resolve_device
    from dreamwright.image.backbones import load_backbone
    from dreamwright.progress import progress_bar

    if opts.size is not None:
        img = iio.resize_long(img, opts.size)
    dev = resolve_device(opts.device)
    asked = dict(opts.layers or {})  # type: ignore[arg-type]
    net = load_backbone(opts.backbone, opts.weights, dev, layers=asked)
    layer_weights = asked or dict(net.default_dream_layers)
    net.check_layers(layer_weights, option="layers")
    w, h = img.size
    shapes = octave_shapes(h, w, opts.octaves, opts.octave_scale)
    need = estimate_dream_memory(net, list(layer_weights), h, w)
    budget = None if opts.max_memory is None else int(opts.max_memory)
    iio.check_memory(need, dev, f"DeepDream at {w}x{h}", "use a smaller --size", budget)

    seed = iio.seed_everything(opts.seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    result = DreamResult(
        image=img, octave_sizes=[(sw, sh) for sh, sw in shapes], seed=seed, backbone=net.name,
        weights=net.weights_source,
    )
    if on_start is not None:
        on_start(net)
    start = time.perf_counter()
    original = iio.to_tensor(img, dev)
    shrunk_original = iio.resize_tensor(original, *shapes[0])
    x = shrunk_original.clone()
    planned = opts.octaves * opts.steps
    with progress_bar("deep dream", planned, enabled=progress) as bar:
        for octave, (sh, sw) in enumerate(shapes):

            def on_step(value: float, skipped: int, octave: int = octave, size: str = f"{sw}x{sh}") -> None:
                result.history.append({"octave": float(octave), "loss": value})
                bar.advance(1 + skipped)
                bar.update(info=f"octave {octave + 1}/{opts.octaves} {size} loss {value:.4g}")
                if on_progress is not None:
                    on_progress(len(result.history), planned)

            x = _dream_octave(iio.resize_tensor(x, sh, sw).clamp(0, 1), net, layer_weights, opts, gen, on_step)
            # re-inject the detail that shrinking the original lost at this scale
            with torch.no_grad():
                upscaled_shrunk = iio.resize_tensor(shrunk_original, sh, sw)
                same_size_original = iio.resize_tensor(original, sh, sw)
                x = (x + same_size_original - upscaled_shrunk).clamp(0, 1)
                shrunk_original = same_size_original
    result.image = iio.to_image(x)
    result.seconds = time.perf_counter() - start
    return result


def deep_dream(image: iio.ImageLike, options: DreamOptions | None = None, **changes: Any) -> Image.Image:
    """Run DeepDream on ``image`` and return the dreamt PIL image.

    Options (a :class:`DreamOptions`, or keywords naming its fields): ``layers`` ("name:weight,..." or a dict;
    default per backbone), ``size`` (long side, default 512; None keeps the input size), ``octaves`` (3),
    ``octave_scale`` (1.4), ``steps`` per octave (20), ``step_size`` (0.01), ``jitter`` (pixels of random roll,
    16), ``max_loss`` (stop an octave once the loss exceeds it), ``backbone`` ("auto": VGG-19 when its weights
    are at hand, else EfficientNet-Lite0), ``weights``, ``device``, ``seed``, ``max_memory`` (bytes). Keywords
    of :func:`run_deep_dream` (``on_progress``, ``on_start``, ``progress``) pass through.
    """
    return run_deep_dream(image, options, **changes).image
