"""Fixtures for the image tests: small generated images, no downloads, one CPU thread."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

# the test machine is small and shared: one thread is several times faster than two fighting for cores
torch.set_num_threads(1)


def gradient_circle(width: int = 64, height: int = 64) -> Image.Image:
    """Colour gradient with a red disc: a content image."""
    y, x = np.mgrid[0:height, 0:width]
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    rgb = np.stack([u, v, np.full_like(u, 0.5)], axis=-1)
    disc = (u - 0.5) ** 2 + (v - 0.5) ** 2 < 0.08
    rgb[disc] = (0.9, 0.2, 0.1)
    return Image.fromarray((rgb * 255).round().astype(np.uint8))


def stripes(size: int = 64, period: int = 8, colors: tuple = ((13, 51, 230), (38, 128, 77))) -> Image.Image:
    """Diagonal two-colour stripes: a style image."""
    y, x = np.mgrid[0:size, 0:size]
    band = ((x + y) // (period // 2)) % 2
    arr = np.where(band[..., None] == 1, np.array(colors[0]), np.array(colors[1]))
    return Image.fromarray(arr.astype(np.uint8))


def checker(size: int = 64, period: int = 16) -> Image.Image:
    """Black-and-yellow checkerboard: a second style image."""
    y, x = np.mgrid[0:size, 0:size]
    band = ((x // (period // 2)) + (y // (period // 2))) % 2
    arr = np.where(band[..., None] == 1, np.array((250, 220, 30)), np.array((10, 10, 10)))
    return Image.fromarray(arr.astype(np.uint8))


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("DREAMWRIGHT_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch-home"))


@pytest.fixture()
def images(tmp_path):
    """Paths of a 64x48 content image and two 64 px style images."""
    content = tmp_path / "content.png"
    gradient_circle(64, 48).save(content)
    style = tmp_path / "stripes.png"
    stripes().save(style)
    style2 = tmp_path / "checker.png"
    checker().save(style2)
    return content, style, style2
