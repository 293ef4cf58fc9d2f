"""Image data: the IDX reader, the decompressed-sha256 check, the folder cache and the Fashion-MNIST mirror."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamwright.data import images, registry
from dreamwright.errors import CorpusError, InvalidArgument

MIRROR = os.environ.get("DREAMWRIGHT_DATA")


def idx_bytes(array: np.ndarray) -> bytes:
    magic = images.IDX_IMAGES if array.ndim == 3 else images.IDX_LABELS
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMWRIGHT_CACHE", str(tmp_path / "cache"))


# ------------------------------------------------------------------------------------------ IDX
def test_idx_reader_reads_images_and_labels_plain_or_gzip(tmp_path):
    pictures = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    labels = np.array([2, 0, 1], dtype=np.uint8)
    (tmp_path / "x.idx").write_bytes(idx_bytes(pictures))
    (tmp_path / "y.idx.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    np.testing.assert_array_equal(images.read_idx(tmp_path / "x.idx"), pictures)
    np.testing.assert_array_equal(images.read_idx(tmp_path / "y.idx.gz"), labels)


@pytest.mark.parametrize("data, message", [
    ((2050).to_bytes(4, "big") + bytes(8), "not an IDX image or label file .magic 2050, expected 2051 or 2049"),
    (b"\x00\x00", "no header"),
    (idx_bytes(np.zeros((2, 3, 3)))[:-1], "is truncated: its header promises 2×3×3 = 18 bytes of data, it holds 17"),
    (idx_bytes(np.zeros(4)) + b"\x00", "has bytes past its end"),
])
def test_idx_reader_refuses_bad_files_in_one_line(tmp_path, data, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(data)
    with pytest.raises(CorpusError, match=message) as info:
        images.read_idx(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_idx_reader_names_a_truncated_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 3, 3))))[:-10])
    with pytest.raises(CorpusError, match="corrupt or truncated gzip"):
        images.read_idx(path)


# ------------------------------------------------------------------------------------------ decompressed sha256
def gunzipped_remote(content: bytes, relpath: str = "set/data.gz", url: str = "http://127.0.0.1:9/x.gz"):
    return registry.RemoteFile(relpath, url, hashlib.sha256(content).hexdigest(), len(content), gunzipped=True)


def test_decompressed_sha256_accepts_any_compression_and_refuses_other_bytes(tmp_path, monkeypatch):
    content = idx_bytes(np.arange(600, dtype=np.uint8).reshape(6, 10, 10))
    remote = gunzipped_remote(content)
    monkeypatch.setenv("DREAMWRIGHT_DATA", str(tmp_path))
    (tmp_path / "set").mkdir()
    target = tmp_path / "set" / "data.gz"
    repacks = [gzip.compress(content, compresslevel=1), gzip.compress(content, compresslevel=9, mtime=12345)]
    assert repacks[0] != repacks[1]
    for packed in repacks:
        target.write_bytes(packed)
        assert registry.fetch(remote) == target
    altered = bytearray(content)
    altered[-1] ^= 1  # same size, one bit changed
    target.write_bytes(gzip.compress(bytes(altered)))
    with pytest.raises(CorpusError, match="decompresses to bytes that do not match"):
        registry.fetch(remote)
    target.write_bytes(content)  # not gzip at all
    with pytest.raises(CorpusError, match="do not match"):
        registry.fetch(remote)


class _OneFile(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802  (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def serve_bytes():
    """Serve given bytes on a loopback port; yields a function that sets them and returns the URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OneFile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(body: bytes) -> str:
        _OneFile.body = body
        return f"http://127.0.0.1:{server.server_address[1]}/file.gz"

    yield serve
    server.shutdown()
    server.server_close()


def test_download_is_checked_by_its_decompressed_bytes(tmp_path, monkeypatch, serve_bytes):
    monkeypatch.delenv("DREAMWRIGHT_DATA", raising=False)
    content = idx_bytes(np.arange(40, dtype=np.uint8))
    remote = gunzipped_remote(content, url=serve_bytes(gzip.compress(content, compresslevel=3)))
    path = registry.fetch(remote)
    assert path.is_relative_to(registry.cache_dir()) and gzip.decompress(path.read_bytes()) == content
    other = gunzipped_remote(content, relpath="set/other.gz", url=serve_bytes(gzip.compress(content[::-1])))
    with pytest.raises(CorpusError, match="decompresses to bytes with sha256"):
        registry.fetch(other)
    assert not list(registry.cache_dir().rglob("*.part"))


# ------------------------------------------------------------------------------------------ folders
def write_picture(path: Path, size: tuple[int, int], colour: tuple[int, int, int], fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format=fmt)


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """Two classes of mixed-size PNG/JPEG/WebP pictures, one corrupt file and one that is not an image."""
    root = tmp_path / "photos"
    for i in range(6):
        write_picture(root / "cats" / f"c{i}.png", (40 + 7 * i, 30), (250, 10, 10))
        write_picture(root / "dogs" / f"d{i}.jpg", (20, 50 + i), (10, 10, 250))
    write_picture(root / "dogs" / "big.webp", (90, 60), (10, 10, 250))
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (root / "cats" / "notes.txt").write_text("not a picture")
    return root


def test_folder_is_cropped_resized_labelled_and_skips_corrupt_files(photo_folder, capsys):
    data = images.load_images(photo_folder, size=16)
    assert data.class_names == ("cats", "dogs") and data.channels == 3 and data.size == 16
    assert len(data.train) + len(data.test) == 13
    err = capsys.readouterr().err
    assert "broken.png" in err and "skipped 1 of 14 files" in err and "notes.txt" not in err
    everything = np.concatenate([data.train.images, data.test.images])
    labels = np.concatenate([data.train.labels, data.test.labels])
    assert everything.shape == (13, 3, 16, 16) and everything.dtype == np.uint8
    red = everything[:, 0].mean(axis=(1, 2)) > everything[:, 2].mean(axis=(1, 2))
    np.testing.assert_array_equal(red, labels == 0)  # cats are red, dogs blue
    pixels, batch_labels = data.train.batch(np.array([0, 1]))
    assert pixels.shape == (2, 3, 16, 16) and batch_labels.dtype == np.int64


def test_folder_cache_is_reused_then_rebuilt_when_a_file_changes(photo_folder, capsys):
    first = images.load_images(photo_folder, size=16)
    capsys.readouterr()
    again = images.load_images(photo_folder, size=16)
    assert again.directory == first.directory and capsys.readouterr().err == ""  # from the cache: no decoding
    write_picture(photo_folder / "cats" / "c0.png", (33, 33), (250, 250, 250))  # a white cat now
    os.utime(photo_folder / "cats" / "c0.png", ns=(1, 1))
    rebuilt = images.load_images(photo_folder, size=16)
    assert "broken.png" in capsys.readouterr().err
    everything = np.concatenate([rebuilt.train.images, rebuilt.test.images])
    assert (everything.min(axis=(1, 2, 3)) > 200).sum() == 1


def test_folder_without_subfolders_is_unlabelled_and_grayscale_on_request(tmp_path):
    for i in range(3):
        write_picture(tmp_path / "flat" / f"{i}.png", (10, 20), (i * 100, 0, 0))
    data = images.load_folder(tmp_path / "flat", 8, grayscale=True)
    assert not data.labelled and data.train.labels is None and data.channels == 1
    assert len(data.train) == 3 and len(data.test) == 0  # too few to hold any out


def test_a_larger_folder_holds_about_a_tenth_out_as_its_test_split(tmp_path):
    for i in range(80):
        write_picture(tmp_path / "many" / f"{i:02d}.png", (8, 8), (i, i, i))
    data = images.load_folder(tmp_path / "many", 8)
    assert 2 <= len(data.test) <= 20 and len(data.train) + len(data.test) == 80
    held_out = {int(x) for x in data.test.images[:, 0, 0, 0]}
    write_picture(tmp_path / "many" / "new.png", (8, 8), (255, 255, 255))
    again = images.load_folder(tmp_path / "many", 8)
    assert held_out <= {int(x) for x in again.test.images[:, 0, 0, 0]}  # adding a file moves no other


def test_folder_with_no_readable_image_is_one_line_naming_it(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(CorpusError, match="has no readable image") as info:
        images.load_images(tmp_path / "junk")
    assert str(tmp_path / "junk") in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no PNG, JPEG or WebP images"):
        images.load_images(tmp_path / "empty")


def test_unknown_source_and_bad_size_are_refused(tmp_path):
    with pytest.raises(CorpusError, match="fashion-mnist"):
        images.load_images("no-such-image-set")
    with pytest.raises(InvalidArgument, match="from 8 to 1024"):
        images.load_folder(tmp_path, 3)


def test_labels_resolve_by_name_or_number():
    names = images.FASHION_MNIST.class_names
    assert images.resolve_label("sneaker", names) == 7 == images.resolve_label("7", names)
    assert images.resolve_label(9, names) == 9
    with pytest.raises(InvalidArgument, match="0 T-shirt/top, 1 Trouser"):
        images.resolve_label("Sneakers", names)
    with pytest.raises(InvalidArgument, match="no labels"):
        images.resolve_label("cat", ())


def test_image_set_names_do_not_clash_with_text_corpora():
    assert all(registry.lookup(name) is None for name in images.BUILTIN_IMAGE_SETS)
    with pytest.raises(InvalidArgument, match="already a text corpus"):
        images.register_image_set(images.BuiltinImageSet("shakespeare", "", images.FASHION_MNIST.train,
                                                         images.FASHION_MNIST.test, (), 28))


# ------------------------------------------------------------------------------------------ the real mirror
@pytest.mark.skipif(not MIRROR or not Path(MIRROR, "fashion-mnist").is_dir(), reason="needs the data mirror")
def test_fashion_mnist_from_the_mirror():
    data = images.load_images("fashion-mnist")
    assert data.train.images.shape == (60000, 1, 28, 28) and data.test.images.shape == (10000, 1, 28, 28)
    assert isinstance(data.train.images, np.memmap)
    np.testing.assert_array_equal(np.bincount(data.train.labels), [6000] * 10)
    assert data.class_names[0] == "T-shirt/top" and data.label_index("Ankle boot") == 9
    padded = images.load_images("fashion-mnist", size=32)
    np.testing.assert_array_equal(padded.test.images[:50, :, 2:30, 2:30], data.test.images[:50])
    assert padded.test.images[:, :, :2].max() == 0
