"""Image loading and saving, sizes, devices, seeding and memory estimates shared by style and dream."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union

from dreamwright.errors import DreamwrightError, InvalidArgument

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from PIL import Image

_Options = TypeVar("_Options")

#: Anything the Python API accepts as an image.
ImageLike = Union[str, os.PathLike, "Image.Image", "np.ndarray"]

#: smallest long side the backbones can work on (VGG-19 pools 5 times)
MIN_SIZE = 32
#: largest long side we accept at all, whatever the memory
MAX_SIZE = 16384


class ImageError(DreamwrightError):
    """An input image is missing, unreadable or not an image."""


def load_image(source: ImageLike, *, name: str = "image") -> Image.Image:
    """Load a PNG/JPEG path, a PIL image or an HxWx3 uint8 array as RGB (EXIF orientation applied)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(source, Image.Image):
        img = source
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageError(f"{name} not found: {path}; check the path", param=name)
        if path.is_dir():
            raise ImageError(f"{name} {path} is a directory; give the path of a PNG or JPEG file", param=name)
        try:
            with Image.open(path) as opened:
                opened.load()
                img = ImageOps.exif_transpose(opened)
                if img is opened:
                    img = opened.copy()
        except UnidentifiedImageError:
            raise ImageError(
                f"{name} {path} is not an image Pillow can read; give a PNG or JPEG file", param=name
            ) from None
        except PermissionError:
            raise ImageError(f"cannot read {name} {path}: permission denied", param=name) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(
                f"cannot read {name} {path}: {exc}; the file may be truncated or corrupt", param=name
            ) from None
    else:
        import numpy as np

        if not isinstance(source, np.ndarray):
            raise InvalidArgument(
                f"{name} must be a path, a PIL image or a numpy array, got {type(source).__name__}",
                param=name,
            )
        arr = source
        if arr.dtype != np.uint8:
            if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.min() >= 0 and arr.max() <= 1:
                arr = (arr * 255).round().astype(np.uint8)
            else:
                raise InvalidArgument(f"{name} array must be uint8 or float in [0, 1]", param=name)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise InvalidArgument(
                f"{name} array must be HxW, HxWx3 or HxWx4, got shape {arr.shape}", param=name
            )
        img = Image.fromarray(arr)
    if img.width < 1 or img.height < 1:
        raise ImageError(f"{name} is empty (0 pixels)", param=name)
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def fit_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) scaled so that the long side is ``long_side`` (aspect kept, each side >= 1)."""
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_long(img: Image.Image, long_side: int) -> Image.Image:
    """Resize so that the long side is ``long_side`` (Lanczos)."""
    from PIL import Image

    size = fit_size(img.width, img.height, long_side)
    return img if size == img.size else img.resize(size, Image.Resampling.LANCZOS)


def with_changes(
    options: _Options | None, changes: dict[str, Any], kind: type[_Options], caller: str
) -> _Options:
    """``options`` (an instance of the dataclass ``kind``, or None for its defaults) with the keyword
    ``changes`` applied: the Python API takes its knobs as an options object, as keywords, or both."""
    from dataclasses import fields, replace

    unknown = sorted(set(changes) - {f.name for f in fields(kind)})  # type: ignore[arg-type]
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    return replace(options if options is not None else kind(), **changes)  # type: ignore[type-var]


def check_size(name: str, value: int) -> int:
    """Validate a long-side size in pixels."""
    if isinstance(value, bool) or int(value) != value or not MIN_SIZE <= value <= MAX_SIZE:
        raise InvalidArgument(
            f"{name} must be an integer from {MIN_SIZE} to {MAX_SIZE} pixels, got {value!r}", param=name
        )
    return int(value)


def to_tensor(img: Image.Image, device: Any = "cpu") -> torch.Tensor:
    """RGB PIL image -> float tensor (1, 3, H, W) in [0, 1]."""
    import numpy as np
    import torch

    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


def to_image(tensor: torch.Tensor) -> Image.Image:
    """Float tensor (1, 3, H, W) or (3, H, W) in [0, 1] -> RGB PIL image."""
    import torch
    from PIL import Image

    t = tensor.detach()
    if t.dim() == 4:
        t = t[0]
    arr = (t.clamp(0, 1) * 255).round().to("cpu", dtype=torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr, mode="RGB")


def resize_tensor(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bicubic (antialiased when shrinking) resize of a (1, 3, H, W) tensor."""
    import torch.nn.functional as F

    if t.shape[-2:] == (height, width):
        return t
    shrink = height < t.shape[-2] or width < t.shape[-1]
    return F.interpolate(t, size=(height, width), mode="bicubic", align_corners=False, antialias=shrink)


#: output extension -> Pillow format; the format of an output follows its extension
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
#: encoder settings per format (lossy formats at high quality)
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}


def output_format(path: str | os.PathLike, *, name: str = "output") -> str:
    """The Pillow format that ``path``'s extension names (PNG, JPEG or WEBP); raises for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InvalidArgument(
            f"{name} {path} has {'extension ' + suffix if suffix else 'no extension'}; end it in "
            f"{', '.join(list(OUTPUT_FORMATS)[:-1])} or {list(OUTPUT_FORMATS)[-1]} (the format follows the extension)",
            param=name,
        )
    fmt = OUTPUT_FORMATS[suffix]
    from PIL import features

    if fmt == "WEBP" and not features.check("webp"):
        raise InvalidArgument(f"this Pillow was built without WebP support; write {name} as .png or .jpg", param=name)
    return fmt


def check_output_path(path: str | os.PathLike, *, name: str = "output") -> Path:
    """An output path must end in a supported extension (.png, .jpg/.jpeg, .webp) and its folder must exist."""
    out = Path(path)
    if out.is_dir():
        raise InvalidArgument(f"{name} {out} is a directory; give a file name such as {out / 'out.png'}", param=name)
    output_format(out, name=name)
    if not out.parent.exists():
        raise InvalidArgument(f"folder {out.parent} for {name} does not exist; create it first", param=name)
    return out


def save_image(img: Image.Image, path: str | os.PathLike) -> Path:
    """Write ``img`` to ``path`` as PNG, JPEG or WebP, by its extension (checked, as is the folder)."""
    out = check_output_path(path)
    fmt = output_format(out)
    try:
        img.convert("RGB").save(out, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
    except OSError as exc:
        raise DreamwrightError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


#: the name this function had when outputs were PNG only
save_png = save_image


def seed_everything(seed: int | None) -> int:
    """Seed torch (CPU and CUDA); returns the seed used (a fresh one when ``seed`` is None)."""
    import torch

    if seed is None:
        from dreamwright.decoding.sampler import fresh_seed

        seed = fresh_seed()
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise InvalidArgument(f"seed must be an integer >= 0, got {seed!r}", param="seed")
    torch.manual_seed(int(seed))
    return int(seed)


def available_memory(device: Any) -> int:
    """Bytes that a new computation can use on ``device`` (free GPU memory, or available RAM)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        free, _total = torch.cuda.mem_get_info(dev)
        return int(free)
    try:
        import psutil  # optional

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 1024**3  # no psutil and no /proc (macOS, Windows): assume 8 GiB


def format_bytes(n: float) -> str:
    """Human-readable size (MiB/GiB)."""
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GiB"
    return f"{n / 1024**2:.0f} MiB"


def check_memory(needed: int, device: Any, what: str, hint: str, budget: int | None = None) -> None:
    """Raise a one-line error when ``needed`` bytes do not fit in ``budget`` (default: available memory)."""
    have = available_memory(device) if budget is None else budget
    if needed > have:
        raise DreamwrightError(
            f"{what} needs about {format_bytes(needed)} of memory but only {format_bytes(have)} is "
            f"available; {hint}",
            param="size",
        )
