"""Image data sets: the built-in Fashion-MNIST and any folder of images, cached once as memory-mapped arrays.

A sibling of the text-corpus registry (:mod:`dreamwright.data.registry`) rather than a part of it: a
:class:`~dreamwright.data.registry.BuiltinCorpus` is text files cut into train/valid and tokenized, and an
image set is paired image/label files with class names, so image sets have their own small registry
(:data:`BUILTIN_IMAGE_SETS`). They reuse the text registry's :class:`RemoteFile` and :func:`fetch`: the same
``$DREAMWRIGHT_DATA`` mirror, cache and sha256-checked download. Names of both registries share one namespace.

Cache layout, ``<cache>/images/<key>/``: ``train.bin`` and ``test.bin`` hold uint8 pixels (N, C, H, W);
``train-labels.bin`` and ``test-labels.bin`` hold int16 labels when the set has them (kept out of the JSON so
that it stays small); ``meta.json`` holds the shapes, the class names and the source's fingerprint. A
fingerprint that no longer matches the source (a folder whose files changed) re-caches it.

Sizes and channels: Fashion-MNIST keeps one channel and its own 28×28 by default (the models here build
28×28 directly); 32 pads 2 background pixels on each side (the LeNet convention: the background is 0, so
nothing is invented); any other size is resized. A folder of images is read as RGB (or grayscale when asked),
each image centre-cropped to a square and resized to ``size`` (64 by default).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dreamwright.data import registry
from dreamwright.data.registry import RemoteFile
from dreamwright.errors import CorpusError, InvalidArgument

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

FORMAT = 1
IDX_IMAGES = 2051  # idx3: uint8, 3 dimensions (count, rows, columns)
IDX_LABELS = 2049  # idx1: uint8, 1 dimension (count)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
#: default side of a folder's images
FOLDER_SIZE = 64
#: share of a folder's images held out as its test split (chosen per file by a hash of its path)
TEST_FRACTION = 0.1
#: a smaller folder keeps every image for training
MIN_FOLDER_FOR_TEST = 50
SIZE_RANGE = (8, 1024)
LABEL_DTYPE = np.dtype("<i2")
SPLITS = ("train", "test")


# ---------------------------------------------------------------------------------------------- built-ins
@dataclass(frozen=True)
class BuiltinImageSet:
    """A named image set stored as IDX files: (images, labels) for each of train and test."""

    name: str
    description: str
    train: tuple[RemoteFile, RemoteFile]
    test: tuple[RemoteFile, RemoteFile]
    class_names: tuple[str, ...]
    native_size: int
    aliases: tuple[str, ...] = ()


_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"


def _fashion_file(name: str, sha256: str, size: int) -> RemoteFile:
    # the mirror's gzip files are a repack of the canonical ones: check the decompressed bytes
    return RemoteFile(f"fashion-mnist/{name}.gz", f"{_FASHION_URL}/{name}.gz", sha256, size, gunzipped=True)


FASHION_MNIST = BuiltinImageSet(
    name="fashion-mnist",
    description="Fashion-MNIST (Zalando): 70,000 28×28 grayscale clothes in 10 classes, 60,000 for training",
    train=(
        _fashion_file("train-images-idx3-ubyte",
                      "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47040016),
        _fashion_file("train-labels-idx1-ubyte",
                      "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008),
    ),
    test=(
        _fashion_file("t10k-images-idx3-ubyte",
                      "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016),
        _fashion_file("t10k-labels-idx1-ubyte",
                      "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008),
    ),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    native_size=28,
    aliases=("fashion_mnist", "fashionmnist"),
)

BUILTIN_IMAGE_SETS: dict[str, BuiltinImageSet] = {FASHION_MNIST.name: FASHION_MNIST}


def register_image_set(image_set: BuiltinImageSet) -> None:
    """Add a built-in image set; a name the text corpora already use is refused."""
    if registry.lookup(image_set.name) is not None:
        raise InvalidArgument(f"{image_set.name!r} is already a text corpus; give the image set another name")
    BUILTIN_IMAGE_SETS[image_set.name] = image_set


def lookup_image_set(name: str) -> BuiltinImageSet | None:
    """The built-in image set called ``name`` (or one of its aliases), or None."""
    key = name.lower()
    return next((s for s in BUILTIN_IMAGE_SETS.values() if key == s.name or key in s.aliases), None)


# ---------------------------------------------------------------------------------------------- IDX
def _read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, decompressed when it is gzip."""
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
        if not gzipped:
            return path.read_bytes()
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise CorpusError(f"{path} is a corrupt or truncated gzip file ({exc}); get a good copy") from None
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_idx(path: Path) -> np.ndarray:
    """The uint8 array of an IDX file (gzip or not): images (N, rows, cols) from idx3, labels (N,) from idx1."""
    data = _read_bytes(Path(path))
    magic = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if magic not in (IDX_IMAGES, IDX_LABELS):
        found = "no header" if magic is None else f"magic {magic}"
        raise CorpusError(f"{path} is not an IDX image or label file ({found}, expected {IDX_IMAGES} or {IDX_LABELS})")
    ndim = magic & 0xFF
    start = 4 + 4 * ndim
    if len(data) < start:
        raise CorpusError(f"{path} is truncated: {len(data)} bytes, shorter than its {start}-byte IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(shape)
    if len(data) - start != expected:
        what = "is truncated" if len(data) - start < expected else "has bytes past its end"
        raise CorpusError(f"{path} {what}: its header promises {'×'.join(map(str, shape))} = {expected} bytes of "
                          f"data, it holds {len(data) - start}; get a good copy")
    return np.frombuffer(data, dtype=np.uint8, count=expected, offset=start).reshape(shape)


# ---------------------------------------------------------------------------------------------- data set
@dataclass(frozen=True)
class ImageSplit:
    """One split: ``images`` uint8 (N, C, H, W), memory-mapped; ``labels`` (N,) or None."""

    images: np.ndarray
    labels: np.ndarray | None

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """In-memory copies of rows ``index``: uint8 images and int64 labels (or None)."""
        labels = None if self.labels is None else np.asarray(self.labels[index], dtype=np.int64)
        return np.asarray(self.images[index]), labels


@dataclass(frozen=True)
class ImageDataset:
    """A cached image set: train and test splits, and the class names (empty when it has no labels)."""

    name: str
    directory: Path
    train: ImageSplit
    test: ImageSplit
    class_names: tuple[str, ...]

    @property
    def size(self) -> int:
        return int(self.train.images.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.train.images.shape[1])

    @property
    def labelled(self) -> bool:
        return bool(self.class_names)

    def split(self, name: str) -> ImageSplit:
        if name not in SPLITS:
            raise InvalidArgument(f"unknown split {name!r}; choose train or test", param="split")
        return self.train if name == "train" else self.test

    def label_index(self, label: str | int) -> int:
        """The class number of ``label``: a class name (any case) or its number."""
        return resolve_label(label, self.class_names)

    @classmethod
    def open(cls, directory: Path) -> ImageDataset:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        shape = (meta["channels"], meta["size"], meta["size"])

        def split(name: str) -> ImageSplit:
            n = meta["splits"][name]
            if n == 0:  # np.memmap cannot map an empty file
                empty_labels = np.zeros(0, LABEL_DTYPE) if meta["labelled"] else None
                return ImageSplit(np.zeros((0, *shape), np.uint8), empty_labels)
            images = np.memmap(directory / f"{name}.bin", dtype=np.uint8, mode="r", shape=(n, *shape))
            labels = None
            if meta["labelled"]:
                labels = np.memmap(directory / f"{name}-labels.bin", dtype=LABEL_DTYPE, mode="r", shape=(n,))
            return ImageSplit(images, labels)

        return cls(meta["name"], directory, split("train"), split("test"), tuple(meta["class_names"]))


def resolve_label(label: str | int, class_names: tuple[str, ...] | list[str]) -> int:
    """The number of class ``label`` (a name in any case, or a number); an unknown one lists the valid ones."""
    if not class_names:
        raise InvalidArgument("this model or data set has no labels; leave the label out", param="label")
    if isinstance(label, str) and label.strip().isdigit():
        label = int(label)
    if isinstance(label, int) and 0 <= label < len(class_names):
        return label
    if isinstance(label, str):
        lowered = [name.lower() for name in class_names]
        if label.strip().lower() in lowered:
            return lowered.index(label.strip().lower())
    valid = ", ".join(f"{i} {name}" for i, name in enumerate(class_names))
    raise InvalidArgument(f"unknown label {label!r}; choose one of: {valid}", param="label")


class _CacheBuilder:
    """Writes a cache directory aside, split by split, and moves it into place when it is complete."""

    def __init__(self, final: Path, labelled: bool) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        self.final = final
        self.labelled = labelled
        self.tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".building-"))
        self.files = {s: open(self.tmp / f"{s}.bin", "wb") for s in SPLITS}
        self.label_files = {s: open(self.tmp / f"{s}-labels.bin", "wb") for s in SPLITS} if labelled else {}
        self.counts = dict.fromkeys(SPLITS, 0)

    def add(self, split: str, images: np.ndarray, labels: np.ndarray | list[int] | None) -> None:
        """Append uint8 images (n, C, H, W) and, for a labelled set, their n labels."""
        self.files[split].write(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
        if self.labelled:
            assert labels is not None and len(labels) == len(images)
            self.label_files[split].write(np.asarray(labels, dtype=LABEL_DTYPE).tobytes())
        self.counts[split] += len(images)

    def _close(self) -> None:
        for f in (*self.files.values(), *self.label_files.values()):
            f.close()

    def finish(self, meta: dict[str, Any]) -> ImageDataset:
        self._close()
        if self.counts["train"] == 0:  # every image hashed into test (a large test_fraction): train on them
            for suffix in ("", "-labels") if self.labelled else ("",):
                os.replace(self.tmp / f"test{suffix}.bin", self.tmp / f"train{suffix}.bin")
            self.counts = {"train": self.counts["test"], "test": 0}
        meta = {**meta, "format": FORMAT, "labelled": self.labelled, "splits": self.counts}
        (self.tmp / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        if self.final.exists():  # a stale cache: move it aside first, so the rename below cannot fail on it
            stale = Path(tempfile.mkdtemp(dir=self.final.parent, prefix=".stale-"))
            os.replace(self.final, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(self.tmp, self.final)
        return ImageDataset.open(self.final)

    def abort(self) -> None:
        self._close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _cached(directory: Path, fingerprint: str) -> ImageDataset | None:
    """The cache in ``directory`` when it was built from a source with this fingerprint."""
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if meta.get("format") != FORMAT or meta.get("fingerprint") != fingerprint:
        return None
    try:
        return ImageDataset.open(directory)
    except (OSError, KeyError, ValueError):  # a damaged cache is rebuilt
        return None


def _digest(parts: Iterable[Any]) -> str:
    return hashlib.sha256(json.dumps(list(parts), default=str).encode()).hexdigest()


def _check_size(size: int) -> int:
    low, high = SIZE_RANGE
    if not isinstance(size, int) or isinstance(size, bool) or not low <= size <= high:
        raise InvalidArgument(f"image size must be a whole number of pixels from {low} to {high}, got {size!r}",
                              param="size")
    return size


# ---------------------------------------------------------------------------------------------- built-in sets
def _fit_idx_images(images: np.ndarray, size: int) -> np.ndarray:
    """(N, h, w) → (N, 1, size, size): as is, padded with background by up to 2 px a side, or resized."""
    native = images.shape[-1]
    margin = size - native
    if margin == 0:
        return images[:, None]
    if 0 < margin <= 4 and margin % 2 == 0:
        pad = margin // 2
        return np.pad(images, ((0, 0), (pad, pad), (pad, pad)))[:, None]
    from PIL import Image

    out = np.empty((len(images), 1, size, size), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i, 0] = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))
    return out


def load_builtin(image_set: BuiltinImageSet, size: int | None = None, *, download: bool = True) -> ImageDataset:
    """A built-in image set at ``size`` (its native size by default), fetched and cached on first use."""
    size = _check_size(size or image_set.native_size)
    remotes = (*image_set.train, *image_set.test)
    paths = [registry.fetch(remote, download=download) for remote in remotes]
    fingerprint = _digest([FORMAT, *(r.sha256 for r in remotes), size])
    directory = registry.cache_dir() / "images" / f"{image_set.name}-{size}px"
    cached = _cached(directory, fingerprint)
    if cached is not None:
        return cached
    builder = _CacheBuilder(directory, labelled=True)
    try:
        for split, (images_path, labels_path) in zip(SPLITS, (paths[:2], paths[2:]), strict=True):
            images, labels = read_idx(images_path), read_idx(labels_path)
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise CorpusError(f"{images_path} and {labels_path} are not a matching pair of IDX image and "
                                  f"label files ({images.shape} and {labels.shape})")
            builder.add(split, _fit_idx_images(images, size), labels)
        return builder.finish({"name": image_set.name, "source": image_set.name, "fingerprint": fingerprint,
                               "size": size, "channels": 1, "class_names": list(image_set.class_names)})
    except BaseException:
        builder.abort()
        raise


# ---------------------------------------------------------------------------------------------- folders
def image_files(folder: Path) -> list[Path]:
    """PNG, JPEG and WebP files under ``folder`` (any depth, hidden ones left out), in sorted order."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).parts
        if path.suffix.lower() in IMAGE_SUFFIXES and not any(p.startswith(".") for p in relative) and path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def folder_classes(folder: Path, files: list[Path]) -> tuple[str, ...]:
    """Class names from sub-folder names (sorted) when every image lies in one of two or more sub-folders;
    else none."""
    tops = {p.relative_to(folder).parts[0] for p in files}
    if any(len(p.relative_to(folder).parts) < 2 for p in files) or len(tops) < 2:
        return ()
    return tuple(sorted(tops))


def _folder_fingerprint(folder: Path, files: list[Path], settings: dict[str, Any]) -> str:
    """Changes when a file is added, removed, or rewritten (its size or modification time changes)."""
    stats = []
    for path in files:
        st = path.stat()
        stats.append((path.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns))
    return _digest([FORMAT, settings, stats])


def _in_test_split(relpath: str, fraction: float) -> bool:
    """A file's split, from a hash of its path: adding files never moves the others."""
    return int(hashlib.sha256(relpath.encode()).hexdigest()[:8], 16) < fraction * (1 << 32)


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """Transparent pixels become white (not the black their colour channels often hold)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba)
    return image


def decode_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One image file, EXIF-rotated, centre-cropped to a square and resized: uint8 (channels, size, size).
    A file that is not a readable image raises ``OSError``, ``ValueError`` or Pillow's own errors."""
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        opened.load()
        image = _flatten_alpha(ImageOps.exif_transpose(opened))
        image = image.convert("L" if channels == 1 else "RGB")
        image = ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _decoded(files: list[Path], size: int, channels: int, skipped: list[str]) -> Iterator[tuple[Path, np.ndarray]]:
    """``(path, pixels)`` of each readable file; each unreadable one is skipped, with why, in ``skipped``."""
    from PIL import Image

    unreadable = (OSError, EOFError, ValueError, SyntaxError, Image.DecompressionBombError)
    for path in files:
        try:
            yield path, decode_image(path, size, channels)
        except unreadable as exc:
            reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            skipped.append(f"skipped {path}: not a readable image ({reason})")


def load_folder(folder: Path, size: int = FOLDER_SIZE, *, grayscale: bool = False,
                test_fraction: float = TEST_FRACTION) -> ImageDataset:
    """A folder of PNG/JPEG/WebP images, labelled by sub-folder when it has them, cached on first use.

    About ``test_fraction`` of the images (chosen by a hash of each path) form the test split; a folder of
    fewer than :data:`MIN_FOLDER_FOR_TEST` images keeps them all for training."""
    folder = Path(folder).expanduser().resolve()
    size = _check_size(size)
    if not 0 <= test_fraction < 1:
        raise InvalidArgument(f"test_fraction must be in [0, 1), got {test_fraction!r}", param="test_fraction")
    files = image_files(folder)
    if not files:
        raise CorpusError(f"folder {folder} has no PNG, JPEG or WebP images: put some in it or name another folder")
    channels = 1 if grayscale else 3
    if len(files) < MIN_FOLDER_FOR_TEST:
        test_fraction = 0.0
    class_names = folder_classes(folder, files)
    settings = {"size": size, "channels": channels, "test_fraction": test_fraction}
    fingerprint = _folder_fingerprint(folder, files, settings)
    key = _digest([str(folder), settings])[:16]
    directory = registry.cache_dir() / "images" / f"{folder.name}-{key}"
    cached = _cached(directory, fingerprint)
    if cached is not None:
        return cached
    builder = _CacheBuilder(directory, labelled=bool(class_names))
    try:
        _write_folder(builder, folder, files, class_names, settings)
        return builder.finish({"name": folder.name, "source": str(folder), "fingerprint": fingerprint,
                               "size": size, "channels": channels, "class_names": list(class_names)})
    except BaseException:
        builder.abort()
        raise


def _write_folder(builder: _CacheBuilder, folder: Path, files: list[Path], class_names: tuple[str, ...],
                  settings: dict[str, Any]) -> None:
    """Decode every file into the builder's splits; report the skipped ones; refuse a folder with none readable."""
    class_of = {name: i for i, name in enumerate(class_names)}
    skipped: list[str] = []
    for path, pixels in _decoded(files, settings["size"], settings["channels"], skipped):
        relative = path.relative_to(folder).as_posix()
        split = "test" if _in_test_split(relative, settings["test_fraction"]) else "train"
        labels = [class_of[path.relative_to(folder).parts[0]]] if class_names else None
        builder.add(split, pixels[None], labels)
    read = sum(builder.counts.values())
    if read == 0:
        raise CorpusError(f"folder {folder} has no readable image: all {len(files)} image files were skipped")
    if read < len(files):
        print("\n".join(skipped), file=sys.stderr)
        print(f"skipped {len(files) - read} of {len(files)} files in {folder}: not readable images",
              file=sys.stderr)


def load_images(source: str | os.PathLike[str], *, size: int | None = None, download: bool = True) -> ImageDataset:
    """A folder of images or a built-in image set's name, cached as memory-mapped arrays on first use."""
    path = Path(source).expanduser()
    if path.is_dir():
        return load_folder(path, size or FOLDER_SIZE)
    if path.is_file():
        raise CorpusError(f"{path} is a file: give a folder of images, or a built-in image set "
                          f"({', '.join(sorted(BUILTIN_IMAGE_SETS))})")
    image_set = lookup_image_set(str(source))
    if image_set is None:
        raise CorpusError(f"no such folder or built-in image set: {source!s} (give a folder of PNG, JPEG or WebP "
                          f"images, or one of: {', '.join(sorted(BUILTIN_IMAGE_SETS))})")
    return load_builtin(image_set, size, download=download)


def is_image_data(corpus: str | os.PathLike[str], *, image_model: bool = False) -> bool:
    """Whether ``corpus`` names image data: a built-in image set, or a folder with more images than ``.txt``
    files (any images at all when an image model is asked for)."""
    path = Path(corpus).expanduser()
    if path.is_dir():
        pictures = len(image_files(path))
        return pictures > 0 and (image_model or pictures > sum(1 for _ in path.rglob("*.txt")))
    return not path.exists() and lookup_image_set(str(corpus)) is not None
