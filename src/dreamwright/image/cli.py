"""``dreamwright style``, ``dreamwright dream`` and ``dreamwright draw``: register them on the main typer app with
:func:`register`.

This module imports nothing heavy; torch is loaded when a command runs.
"""

from __future__ import annotations

import inspect
import os
import re
import typing
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from dreamwright._cli_runner import knob_option, report_error, with_default
from dreamwright.bundled import DEFAULT_IMAGE_MODEL
from dreamwright.errors import DreamwrightError, InvalidArgument
from dreamwright.image import draw as drawing
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
    return typer.Exit(report_error(exc))


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


def _choose_backbone(backbone: str, weights: str | None, layers: list[str]) -> tuple[str, Callable[[Any], None]]:
    """Resolve ``--backbone`` (``auto`` included): the name, and an ``on_start`` callback that says on
    stderr which backbone runs and why (once every option has been checked, so an error stays one line)."""
    from dreamwright.image.backbones import select_backbone

    name, why = select_backbone(backbone, weights, layers)
    return name, lambda net: typer.echo(f"backbone: {name} ({why})", err=True)


def _default_size(device: str, cpu: int, gpu: int) -> int:
    from dreamwright.devices import resolve_device

    return gpu if resolve_device(device).type == "cuda" else cpu


_Output = Annotated[Path, typer.Option(
    "--output", "-o", help="Output image: .png, .jpg/.jpeg or .webp (the format follows the extension).",
    show_default=False,
)]
_Threads = Annotated[int | None, typer.Option(
    help="CPU threads for PyTorch (default: the cores other work leaves idle)."
)]
#: the options read as text and parsed here (sizes, lists), whatever their fields' types
_AS_TEXT = {"scales", "style_blend", "content_layers", "style_layers", "max_memory"}


def _with_fields(command: Callable[..., None], kind: type, after: dict[str, str]) -> Callable[..., None]:
    """Give ``command`` one option per :func:`~dreamwright.training.config.knob` field of ``kind``, in place of
    its ``**options`` (None when not given), as ``dreamwright train`` does; its own option ``o`` follows the
    field ``after[o]``, if named there."""
    signature = inspect.signature(command, eval_str=True)
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        return command  # done already (register called again)
    hints = typing.get_type_hints(kind)
    params = [p for p in signature.parameters.values() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    moved = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params if p.name in after]
    params = [p for p in params if p.name not in after]
    for f in fields(kind):
        if "help" in f.metadata:
            params.append(knob_option(f, str if f.name in _AS_TEXT else hints[f.name], set()))
            params += [p for p in moved if after[p.name] == f.name]
    params += [p for p in moved if p not in params]  # after no field: last
    command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return command


def _with_defaults(args: dict[str, Any], kind: type) -> dict[str, Any]:
    """``args`` with the ``kind`` fields not given (None) at their defaults."""
    return {**args, **{f.name: f.default for f in fields(kind) if args.get(f.name, f.default) is None}}


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

    args = _with_defaults(args, StyleOptions)
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
        args, StyleOptions, size=size, iterations=iterations, scales=scales,
        max_memory=parse_bytes(args["max_memory"]), backbone=chosen, content_layers=c_names, style_layers=s_names,
    )
    on_frame = _frame_writer(out) if options.save_every else None
    result = run_style_transfer(content_img, style_imgs, options, on_frame=on_frame, on_start=on_start)
    save_image(result.image, out)
    return result, out


def style(
    content: Annotated[Path, typer.Argument(help="Content photo (PNG/JPEG).", show_default=False)],
    styles: Annotated[list[Path], typer.Argument(help="One or more style images.", show_default=False)],
    output: _Output,
    preview: Annotated[bool, typer.Option(
        "--preview", help="A quick look: a 128-px result in a few seconds (overrides --size)."
    )] = False,
    multiscale: Annotated[bool, typer.Option(
        "--multiscale/--single-scale",
        help="Without --scales: work coarse to fine, halving the size down to 256 (the default), or in one pass "
        "at --size.",
    )] = True,
    threads: _Threads = None,
    **options: Any,
) -> None:
    """Neural style transfer (Gatys et al.): repaint CONTENT in the style of STYLE [STYLE ...]."""
    try:
        result, out = _run_style({**locals(), **options})
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
    size, args = args["size"], _with_defaults(args, DreamOptions)
    size = size or _default_size(args["device"], 384, 512)
    layers = parse_layer_weights(args["layers"])
    chosen, on_start = _choose_backbone(args["backbone"], args["weights"], list(layers or ()))
    options = _options_from(args, DreamOptions, size=size, backbone=chosen, max_memory=parse_bytes(args["max_memory"]))
    result = run_deep_dream(source, options, on_start=on_start)
    save_image(result.image, out)
    return result, out


def dream(
    image: Annotated[Path, typer.Argument(help="Input image (PNG/JPEG).", show_default=False)],
    output: _Output,
    threads: _Threads = None,
    **options: Any,
) -> None:
    """DeepDream: amplify what the network sees in IMAGE."""
    try:
        result, out = _run_dream({**locals(), **options})
    except DreamwrightError as exc:
        raise _fail(exc) from None
    typer.echo(f"loss {result.history[-1]['loss']:.4g} ({result.seconds:.1f} s, seed {result.seed})", err=True)
    typer.echo(str(out))


def _check_draw_options(args: dict[str, Any]) -> bool:
    """Check the options that need no model (so that a mistake costs no loading); whether this is a walk."""
    walk = args["interpolate"] or args["to_seed"] is not None or args["between"] is not None
    if walk and args["n"] is not None:
        raise InvalidArgument("a walk draws --steps pictures; leave out `n`", param="n")
    if not walk and args["steps"] is not None:
        raise InvalidArgument("--steps sets the length of a walk; add --interpolate (or --to-seed)", param="steps")
    drawing.check_count(64 if args["n"] is None else args["n"])
    drawing.check_steps(drawing.DEFAULT_STEPS if args["steps"] is None else args["steps"])
    drawing.check_truncation(args["truncation"])
    drawing.check_columns(args["columns"])
    if args["output"] is not None:
        drawing.check_output(args["output"], name="--output")
    if args["between"] is not None:
        from dreamwright.image.io import load_image

        for path in args["between"]:
            load_image(path, name="--between image")
    return walk


def _walk(drawer: Any, args: dict[str, Any], seed: int) -> tuple[Any, int, str, str]:
    """A walk's pictures, its length, its default file name and what it is (for stderr)."""
    steps = args["steps"] or drawing.DEFAULT_STEPS
    if args["between"] is not None:
        first, last = (Path(p) for p in args["between"])
        seeds, ends, what = None, f"{first.stem}-{last.stem}", f"from {first.name} to {last.name}"
    else:
        seeds = (seed, seed + 1 if args["to_seed"] is None else args["to_seed"])
        ends, what = f"{seeds[0]}-{seeds[1]}", f"from seed {seeds[0]} to seed {seeds[1]}"
    pictures = drawer.interpolate(steps, seeds=seeds, label=args["label"], images=args["between"],
                                  truncation=args["truncation"])
    return pictures, steps, f"{drawer.name}-walk-{ends}.png", f"a walk of {steps} pictures {what}"


def _run_draw(args: dict[str, Any]) -> tuple[Any, list[Path], str]:
    """Run ``draw`` with the command's arguments: the drawer, the files written, and what was drawn (for stderr)."""
    walk = _check_draw_options(args)
    drawer = drawing.Drawer.load(args["run"], device=args["device"])
    seed = drawing.check_seed(args["seed"])
    label = args["label"]
    if walk:
        pictures, steps, default_name, what = _walk(drawer, args, seed)
        labels = drawer.labels(steps, 0 if label is None else label) if drawer.conditional else None
        columns = args["columns"] or steps
    else:
        n = 64 if args["n"] is None else args["n"]
        labels = drawer.labels(n, label)
        pictures = drawer.draw(n, label=label, seed=seed, truncation=args["truncation"])
        columns = args["columns"] or drawer.grid_columns(label)
        part = f"-{drawing.slug(drawer.class_names[labels[0]])}" if label is not None else ""
        default_name, what = f"{drawer.name}{part}-seed{seed}.png", f"{n} pictures, seed {seed} (picture i: seed+i)"
    if labels is not None:
        what += f", class {drawer.class_names[labels[0]]}" if label is not None or walk else ", every class in turn"
    written = drawer.save(pictures, args["output"] or default_name, labels=labels, columns=columns)
    return drawer, written, what


def draw(
    run: Annotated[str | None, typer.Argument(help="Image run directory or bundled image model (default: the bundled "
                                                   f"{DEFAULT_IMAGE_MODEL}).", show_default=False)] = None,
    n: Annotated[int | None, typer.Option("--number", "-n", help=with_default("Pictures to draw.", "64"),
                                          show_default=False)] = None,
    label: Annotated[str | None, typer.Option(help="Class to draw, by name (any case) or number (default: every class "
                                              "in turn, one per grid column).", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed: picture i comes from seed + i (default: a fresh one, "
                                             "printed).", show_default=False)] = None,
    truncation: Annotated[float | None, typer.Option(help="Redraw latent entries beyond ±T: more typical, less varied "
                                                     "pictures (try 1).", show_default=False)] = None,
    columns: Annotated[int | None, typer.Option(help="Pictures per grid row (default: one per class for a mix, "
                                                "else 8; a walk's own length).", show_default=False)] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help=with_default(
        "A grid image (.png, .jpg or .webp), or a folder (DIR/) for one PNG per picture.", "MODEL-seedS.png"),
        show_default=False)] = None,
    interpolate: Annotated[bool, typer.Option("--interpolate", help="Walk the latent space from --seed to --to-seed: "
                                              "a strip of --steps pictures.")] = False,
    steps: Annotated[int | None, typer.Option(help=with_default("Pictures in a walk, both ends included.",
                                                                str(drawing.DEFAULT_STEPS)), show_default=False)]
    = None,
    to_seed: Annotated[int | None, typer.Option(help="Where a walk ends (default: --seed + 1); implies "
                                                "--interpolate.", show_default=False)] = None,
    between: Annotated[tuple[Path, Path] | None, typer.Option(metavar="IMG1 IMG2", help="VAE only: walk between the "
                                                              "encodings of two image files; implies --interpolate.",
                                                              show_default=False)] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda | cuda:N.", show_default=False)] = None,
) -> None:
    """Draw pictures with a GAN or VAE: a grid, one PNG per picture, or a walk through the latent space."""
    try:
        drawer, written, what = _run_draw(locals())
    except DreamwrightError as exc:
        raise _fail(exc) from None
    if run is None:
        typer.echo(f"using the bundled image model {drawer.name}", err=True)
    typer.echo(f"drew {what} with {drawer.name}", err=True)
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add the ``style``, ``dream`` and ``draw`` commands to ``app``."""
    from dreamwright.image.dream import DreamOptions
    from dreamwright.image.style import StyleOptions

    app.command("style", no_args_is_help=True)(
        _with_fields(style, StyleOptions, after={"preview": "size", "multiscale": "scales", "threads": "seed"})
    )
    app.command("dream", no_args_is_help=True)(_with_fields(dream, DreamOptions, after={"threads": "seed"}))
    app.command("draw")(draw)
