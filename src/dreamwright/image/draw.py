"""Drawing with an image model (a GAN or VAE run): :class:`Drawer`, the one driver behind ``dreamwright draw``,
``dreamwright.load(RUN).draw()`` and ``POST /v1/images/generations``.

A thin layer over :class:`~dreamwright.models.image.ImageModel`: it turns class names into numbers, seeds into
latent vectors and pictures into PIL images and files.

Seeds follow the text sampler's convention: picture ``i`` of ``draw(n, seed=s)`` comes from the latent vector of
seed ``s + i`` alone, so ``draw(1, seed=s + i, label=its class)`` draws it again, whatever ``n`` was, and a walk
from seed ``a`` to seed ``b`` (:meth:`Drawer.interpolate`) starts and ends at exactly those two pictures. A
request without a seed gets a fresh one below :data:`FRESH_SEED_LIMIT`, short enough to read back and type.

Pictures are float tensors (N, C, H, W) in [0, 1] on the CPU. torch is imported on first use, so the CLI checks
its options (and fails in one line) before paying for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from dreamwright.errors import CheckpointError, DreamwrightError, InvalidArgument, WrongKindError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from PIL import Image

    from dreamwright.models.image import ImageModel

#: a class: its name (any case) or its number
Label = str | int
#: a picture to encode: a path, a PIL image, or uint8 pixels (C, H, W) or (H, W)
PictureLike = Union[str, os.PathLike, "Image.Image", "np.ndarray", "torch.Tensor"]

#: pictures decoded at a time, so that a large ``n`` stays within memory
CHUNK = 256
#: a seed drawn for a request that gave none is below this
FRESH_SEED_LIMIT = 1_000_000
#: pictures per grid row, unless a mix of classes asks for one column per class
DEFAULT_COLUMNS = 8
#: frames of a walk between two latent vectors
DEFAULT_STEPS = 10
_SEED_SPACE = 2**64  # torch.Generator.manual_seed takes 0 .. 2**64 - 1


# ---------------------------------------------------------------------------------------------- small checks
def fresh_seed() -> int:
    """A random seed in [0, :data:`FRESH_SEED_LIMIT`), from the operating system."""
    from dreamwright.decoding.sampler import fresh_seed as os_seed

    return os_seed() % FRESH_SEED_LIMIT


def check_seed(seed: int | None, name: str = "seed") -> int:
    """``seed`` as an integer (a fresh one when None)."""
    if seed is None:
        return fresh_seed()
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidArgument(f"{name} must be an integer, got {seed!r}", param=name)
    return seed


def check_count(n: Any) -> int:
    """``n``, the number of pictures: a positive integer."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidArgument(f"n must be a positive integer (pictures to draw), got {n!r}", param="n")
    return n


def check_steps(steps: Any) -> int:
    """``steps``, the frames of a walk: at least 2 (both ends)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise InvalidArgument(f"steps must be an integer >= 2 (a walk includes both ends), got {steps!r}",
                              param="steps")
    return steps


def check_truncation(truncation: Any) -> float | None:
    """``truncation``: None (none) or a number > 0 (latent entries beyond ±truncation are drawn again)."""
    if truncation is None:
        return None
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not truncation > 0:
        raise InvalidArgument(f"truncation must be a number > 0 (try 0.5 to 1.5), got {truncation!r}",
                              param="truncation")
    return float(truncation)


def check_columns(columns: Any) -> int | None:
    if columns is not None and (isinstance(columns, bool) or not isinstance(columns, int) or columns < 1):
        raise InvalidArgument(f"columns must be a positive integer, got {columns!r}", param="columns")
    return columns


def slug(name: str) -> str:
    """A class name as a file-name part: ``"T-shirt/top"`` → ``t-shirt-top``, ``"Ankle boot"`` → ``ankle-boot``."""
    return re.sub(r"[\W_]+", "-", name.lower()).strip("-")


def wants_folder(out: str | os.PathLike) -> bool:
    """True when ``out`` names a folder (ends with ``/`` or is one): one PNG per picture goes there."""
    text = os.fspath(out)
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def check_output(out: str | os.PathLike, *, name: str = "out") -> Path:
    """Where :meth:`Drawer.save` may write: a folder (``DIR/``; it is created if its parent exists) or an image
    file (.png, .jpg or .webp) in an existing folder."""
    from dreamwright.image.io import output_format

    path = Path(out).expanduser()
    if wants_folder(out):
        if path.exists() and not path.is_dir():
            raise InvalidArgument(f"{name} {path} is a file, not a folder", param=name)
        if not path.exists() and not path.parent.is_dir():
            raise InvalidArgument(f"folder {path.parent} for {name} does not exist; create it first", param=name)
        return path
    output_format(path, name=name)
    if not path.parent.is_dir():
        raise InvalidArgument(f"folder {path.parent} for {name} does not exist; create it first", param=name)
    return path


def class_names_of(config: dict[str, Any], *, conditional: bool, num_classes: int) -> tuple[str, ...]:
    """The classes a model can draw: its run's data ``classes`` (numbers when the run names none); none for an
    unconditional model, whatever its data had."""
    if not conditional:
        return ()
    names = (config.get("data") or {}).get("classes") or ()
    if len(names) == num_classes:
        return tuple(str(name) for name in names)
    return tuple(str(i) for i in range(num_classes))


def resolve_image_path(path: str | os.PathLike[str] | None) -> Path:
    """The run directory ``path`` names: a folder, or a bundled model's name; the default bundled image model
    when None."""
    from dreamwright import bundled

    if path is None:
        return bundled.default_image_model_dir()
    found = bundled.resolve(path)
    if found is None:
        raise CheckpointError(f"no such run directory or bundled model: {path}; "
                              "`dreamwright models` lists the models you can use")
    return found


def picture_pixels(picture: PictureLike, size: int, channels: int, *, name: str = "image") -> torch.Tensor:
    """uint8 pixels (channels, size, size) of ``picture``: an image file or PIL image is converted to the
    model's channels, centre-cropped to a square and resized; an array must already have the model's shape."""
    import numpy as np
    import torch
    from PIL import Image

    if isinstance(picture, (str, os.PathLike, Image.Image)):
        from dreamwright.image.io import load_image

        img = load_image(picture, name=name).convert("L" if channels == 1 else "RGB")
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
        arr = np.array(img)
        return torch.from_numpy(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1).copy())
    pixels = torch.as_tensor(np.asarray(picture) if isinstance(picture, np.ndarray) else picture)
    if pixels.ndim == 2:
        pixels = pixels[None]
    if pixels.dtype != torch.uint8 or tuple(pixels.shape) != (channels, size, size):
        raise InvalidArgument(f"{name} must be uint8 pixels shaped ({channels}, {size}, {size}) or an image file, "
                              f"got {pixels.dtype} {tuple(pixels.shape)}", param=name)
    return pixels


# ---------------------------------------------------------------------------------------------- the drawer
class Drawer:
    """An image model ready to draw. Build one with :meth:`load` or :func:`dreamwright.load`."""

    def __init__(self, model: ImageModel, *, name: str = "model", config: dict[str, Any] | None = None) -> None:
        self.model = model.eval()
        self.name = name
        self.config = config or {}
        self.class_names = class_names_of(self.config, conditional=model.conditional,
                                          num_classes=model.num_classes)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *, device: str | None = None) -> Drawer:
        """Load an image run directory or bundled image model (the default bundled one when None)."""
        run_dir = resolve_image_path(path)  # first: a wrong name is answered before PyTorch loads
        from dreamwright.devices import resolve_device
        from dreamwright.runs import load_image_run

        try:
            model, config = load_image_run(run_dir, device=resolve_device(device))
        except WrongKindError as exc:  # a bundled model is named as the user named it, not by its folder
            if path is None or Path(path).expanduser().exists():
                raise
            raise WrongKindError(str(exc).replace(str(run_dir), str(path))) from None
        return cls(model, name=run_dir.name, config=config)

    def __repr__(self) -> str:
        return f"Drawer({self.name!r}, {self.family}, {self.size}×{self.size}, {len(self.class_names)} classes)"

    # ------------------------------------------------------------------ what the model is
    @property
    def conditional(self) -> bool:
        """Whether it draws a chosen class."""
        return self.model.conditional

    @property
    def family(self) -> str:
        return self.model.family

    @property
    def size(self) -> int:
        """Side of its pictures, in pixels."""
        return self.model.size

    @property
    def channels(self) -> int:
        return self.model.channels

    # ------------------------------------------------------------------ classes
    def label_number(self, label: Label) -> int:
        """The class number of ``label`` (a name in any case, or a number); an unknown one lists the valid ones."""
        from dreamwright.data.images import resolve_label

        if not self.conditional:
            raise InvalidArgument(f"{self.name} ({self.family}) draws without classes; leave `label` out",
                                  param="label")
        if isinstance(label, bool):
            raise InvalidArgument(f"label must be a class name or number, got {label!r}", param="label")
        return resolve_label(label, self.class_names)

    def labels(self, n: int, label: Label | None = None) -> list[int] | None:
        """The class of each of ``n`` pictures: ``label`` for all; for a conditional model without one, the
        classes in turn (0, 1, …, K−1, 0, …), so a grid :meth:`grid_columns` wide has one class per column;
        None for an unconditional model."""
        check_count(n)
        if label is not None:
            return [self.label_number(label)] * n
        if not self.conditional:
            return None
        return [i % len(self.class_names) for i in range(n)]

    def class_name(self, number: int | None) -> str | None:
        return None if number is None else self.class_names[number]

    def grid_columns(self, label: Label | None = None) -> int:
        """Pictures per row that suit a draw: one per class for a mix of up to 16 classes, else 8."""
        if label is None and self.conditional and len(self.class_names) <= 16:
            return len(self.class_names)
        return DEFAULT_COLUMNS

    # ------------------------------------------------------------------ latents and pictures
    def latents(self, seeds: Sequence[int], *, truncation: float | None = None) -> torch.Tensor:
        """One latent vector per seed (each from its own generator, so a seed always gives the same vector)."""
        import torch

        truncation = check_truncation(truncation)
        vectors = [self.model.latent(1, generator=torch.Generator().manual_seed(seed % _SEED_SPACE),
                                     truncation=truncation) for seed in seeds]
        return torch.cat(vectors)

    def decode(self, latent: torch.Tensor, labels: Sequence[int] | None = None) -> torch.Tensor:
        """Pictures in [0, 1] (N, C, H, W), on the CPU, from latent vectors (and classes), :data:`CHUNK` at a time."""
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(latent), CHUNK):
                chunk = latent[start:start + CHUNK].to(self.model.device)
                classes = None
                if labels is not None:
                    classes = torch.tensor(list(labels[start:start + CHUNK]), dtype=torch.long,
                                           device=self.model.device)
                out.append(self.model.decode(chunk, classes).float().cpu())
        return torch.cat(out)

    def draw(self, n: int = 64, *, label: Label | None = None, seed: int | None = None,
             truncation: float | None = None) -> torch.Tensor:
        """``n`` pictures in [0, 1] (N, C, H, W): of class ``label`` (a name in any case, or a number), or for a
        conditional model without one, the classes in turn. Picture ``i`` comes from seed ``seed + i``; the same
        seed draws the same pictures. ``truncation`` t redraws latent entries beyond ±t (more typical pictures)."""
        n = check_count(n)
        labels = self.labels(n, label)
        truncation = check_truncation(truncation)
        seed = check_seed(seed)
        return self.decode(self.latents([seed + i for i in range(n)], truncation=truncation), labels)

    def encode(self, pictures: Sequence[PictureLike]) -> torch.Tensor:
        """The latent means of ``pictures`` under a VAE's encoder (N, latent_size)."""
        import torch

        if not hasattr(self.model, "encode"):
            raise InvalidArgument(f"only a VAE encodes pictures, and {self.name} is a {self.family}: walk between "
                                  "two seeds instead", param="images")
        pixels = torch.stack([picture_pixels(p, self.size, self.channels, name=f"image {i + 1}")
                              for i, p in enumerate(pictures)])
        with torch.inference_mode():
            mean, _ = self.model.encode(self.model.inputs(pixels.to(self.model.device)))
        return mean

    def interpolate(self, steps: int = DEFAULT_STEPS, *, seeds: tuple[int, int] | None = None,
                    label: Label | None = None, images: tuple[PictureLike, PictureLike] | None = None,
                    truncation: float | None = None) -> torch.Tensor:
        """``steps`` pictures walking the latent space (along the great circle) from one end to the other.

        The ends are the latent vectors of ``seeds=(a, b)`` (default: a fresh seed and the next one), so the first
        and last frames are ``draw(1, seed=a)`` and ``draw(1, seed=b)``; or, for a VAE, ``images=(A, B)``: the
        encodings (means) of two pictures. A conditional model keeps one class, ``label`` (default: the first).
        """
        from dreamwright.models.image import latent_walk

        steps = check_steps(steps)
        labels = None
        if self.conditional:
            labels = [0 if label is None else self.label_number(label)] * steps
        elif label is not None:
            self.label_number(label)  # raises: this model has no classes
        if images is not None:
            if seeds is not None:
                raise InvalidArgument("give either seeds or images to walk between, not both", param="images")
            if len(images) != 2:
                raise InvalidArgument(f"images must be two pictures, got {len(images)}", param="images")
            start, end = self.encode(images)
        else:
            if seeds is None:
                first = fresh_seed()
                seeds = (first, first + 1)
            if len(seeds) != 2:
                raise InvalidArgument(f"seeds must be two seeds (a, b), got {seeds!r}", param="seeds")
            start, end = self.latents([check_seed(s, "seeds") for s in seeds], truncation=truncation)
        walk = latent_walk(start, end, steps)
        walk[0], walk[-1] = start, end  # exactly the ends, not their slerp round trip
        return self.decode(walk, labels)

    # ------------------------------------------------------------------ images and files
    def to_grid(self, pictures: torch.Tensor, columns: int | None = None) -> Image.Image:
        """Pictures (N, C, H, W) in [0, 1] laid out row by row, ``columns`` wide, on white: one PIL image
        (mode ``L`` for grayscale, ``RGB`` for colour)."""
        from PIL import Image

        from dreamwright.models.image import picture_grid

        grid = picture_grid(pictures, check_columns(columns) or DEFAULT_COLUMNS)
        return Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)

    def to_images(self, pictures: torch.Tensor) -> list[Image.Image]:
        """Each picture as its own PIL image (``L`` or ``RGB``), at the model's size."""
        from PIL import Image

        from dreamwright.models.image import to_uint8

        arrays = to_uint8(pictures.detach().cpu()).permute(0, 2, 3, 1).numpy()
        return [Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a) for a in arrays]

    def file_names(self, n: int, labels: Label | Sequence[Label] | None = None) -> list[str]:
        """``000-sneaker.png``, ``001-bag.png``, … (``000.png``, … without classes)."""
        if labels is None:
            return [f"{i:03d}.png" for i in range(n)]
        if isinstance(labels, (str, int)):
            labels = [labels] * n
        if len(labels) != n:
            raise InvalidArgument(f"{len(labels)} labels for {n} pictures: give one, or one per picture",
                                  param="labels")
        names = []
        for i, label in enumerate(labels):
            number = self.label_number(label)
            names.append(f"{i:03d}-{slug(self.class_names[number]) or number}.png")
        return names

    def save(self, pictures: torch.Tensor, out: str | os.PathLike, *, labels: Label | Sequence[Label] | None = None,
             columns: int | None = None) -> list[Path]:
        """Write ``pictures``: to a folder (``out`` ends with ``/`` or is one), one PNG per picture named by its
        index and class (``labels``: one for all or one per picture); else one grid image (.png, .jpg or .webp,
        by the extension). Returns the paths written."""
        path = check_output(out)
        try:
            if not wants_folder(out):
                self._write(self.to_grid(pictures, columns), path)
                return [path]
            names = self.file_names(len(pictures), labels)
            path.mkdir(exist_ok=True)
            written = []
            for name, img in zip(names, self.to_images(pictures), strict=True):
                self._write(img, path / name)
                written.append(path / name)
            return written
        except OSError as exc:
            raise DreamwrightError(f"cannot write {exc.filename or path}: {exc.strerror or exc}") from None

    @staticmethod
    def _write(img: Image.Image, path: Path) -> None:
        from dreamwright.image.io import output_format

        fmt = output_format(path)
        if fmt == "WEBP" and img.mode == "L":
            img = img.convert("RGB")
        img.save(path, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
