"""Procedurally drawn content "photos" and style "paintings" for the image benchmarks (no downloads, no
licences to check): five content/style pairs, each drawn at any size from a fixed seed.

``PAIRS`` lists them as ``(name, content_fn, style_fn)``; every function takes the long side in pixels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return y / h, x / w


def _image(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray((rgb.clip(0, 1) * 255).astype(np.uint8))


# ------------------------------------------------------------------------------------------ contents


def landscape(size: int = 512) -> Image.Image:
    """Sky gradient, sun, two mountain ranges, a lake with ripples, grass texture."""
    rng = np.random.default_rng(0)
    h, w = size * 3 // 4, size
    y, x = _grid(h, w)
    img = np.stack([0.35 + 0.5 * y, 0.55 + 0.35 * y, 0.95 - 0.1 * y], -1)
    sun = (x - 0.72) ** 2 + ((y - 0.22) * h / w) ** 2 < 0.004
    img[sun] = (1.0, 0.9, 0.5)
    ridge1 = 0.45 + 0.08 * np.sin(9 * x[0] + 1) + 0.04 * np.sin(23 * x[0])
    ridge2 = 0.58 + 0.05 * np.sin(5 * x[0] + 2) + 0.02 * np.sin(31 * x[0] + 1)
    far = y > ridge1[None, :]
    img[far] = np.array([0.45, 0.5, 0.6]) * (0.9 + 0.1 * rng.random((far.sum(), 1)))
    near = y > ridge2[None, :]
    shade = (0.25 + 0.25 * (1 - y))[near][:, None]
    img[near] = np.concatenate([shade * 0.6, shade * 1.4, shade * 0.5], 1) * (
        0.8 + 0.4 * rng.random((near.sum(), 1))
    )
    lake = (y > 0.78) & (np.abs(x - 0.4) < 0.35 - (y - 0.78))
    ripples = 0.5 + 0.5 * np.sin(180 * y + 6 * np.sin(20 * x))
    img[lake] = np.array([0.2, 0.35, 0.6]) + 0.15 * ripples[lake][:, None]
    return _image(img)


def still_life(size: int = 512) -> Image.Image:
    """A table edge, a wall, and three shaded spheres (an orange, an apple, a plum) with shadows."""
    h, w = size * 3 // 4, size
    y, x = _grid(h, w)
    wall = np.stack([0.82 - 0.2 * y, 0.78 - 0.2 * y, 0.7 - 0.15 * y], -1)
    table = y > 0.62
    wood = 0.5 + 0.5 * np.sin(70 * (y + 0.04 * np.sin(12 * x)))
    img = np.where(table[..., None], np.stack([0.45 + 0.1 * wood, 0.28 + 0.06 * wood, 0.15 + 0.03 * wood], -1), wall)
    aspect = h / w
    for cx, cy, r, colour in ((0.3, 0.55, 0.13, (1.0, 0.55, 0.1)), (0.55, 0.58, 0.1, (0.8, 0.1, 0.12)),
                              (0.74, 0.6, 0.08, (0.4, 0.15, 0.5))):
        shadow = ((x - cx - 0.06) / 1.6) ** 2 + ((y - cy - r / aspect * 0.9) * aspect) ** 2 < (r * 0.7) ** 2
        img[shadow & table] *= 0.55
        d2 = (x - cx) ** 2 + ((y - cy) * aspect) ** 2
        ball = d2 < r**2
        nz = np.sqrt(np.clip(1 - d2 / r**2, 0, 1))
        light = np.clip(0.25 + 0.75 * (nz * 0.7 - (x - cx) / r * 0.4 - (y - cy) * aspect / r * 0.5), 0, 1)
        spec = np.clip(nz * 0.7 - (x - cx) / r * 0.4 - (y - cy) * aspect / r * 0.5, 0, 1) ** 20
        ball_rgb = np.array(colour) * light[..., None] + spec[..., None] * 0.8
        img[ball] = ball_rgb[ball]
    return _image(img)


def city(size: int = 512) -> Image.Image:
    """Dusk skyline: a gradient sky, towers of several heights with lit windows, a road."""
    rng = np.random.default_rng(1)
    h, w = size * 3 // 4, size
    y, x = _grid(h, w)
    img = np.stack([0.95 - 0.6 * (1 - y), 0.55 - 0.25 * (1 - y), 0.45 + 0.2 * (1 - y)], -1)
    left = 0.0
    while left < 1.0:
        width = rng.uniform(0.06, 0.14)
        top = rng.uniform(0.2, 0.6)
        tone = rng.uniform(0.12, 0.28)
        body = (x >= left) & (x < left + width) & (y > top) & (y < 0.85)
        img[body] = (tone, tone * 0.95, tone * 1.2)
        win = body & (np.sin(x * w / 5.0) > 0.3) & (np.sin(y * h / 6.0) > 0.2)
        lit = rng.random(img.shape[:2]) < 0.6
        img[win & lit] = (1.0, 0.85, 0.45)
        left += width + rng.uniform(0.0, 0.02)
    road = y >= 0.85
    img[road] = (0.2, 0.2, 0.22)
    img[road & (np.abs(y - 0.92) < 0.006) & (np.sin(x * 60) > 0)] = (0.95, 0.95, 0.9)
    return _image(img)


def portrait(size: int = 512) -> Image.Image:
    """A head-and-shoulders silhouette: face oval with eyes and mouth, hair, a shirt, a plain backdrop."""
    h, w = size, size * 3 // 4
    img = Image.new("RGB", (w, h), (70, 110, 140))
    d = ImageDraw.Draw(img)
    s = w / 384
    d.ellipse([60 * s, 330 * s, 324 * s, 620 * s], fill=(190, 60, 50))  # shoulders
    d.rectangle([160 * s, 260 * s, 224 * s, 360 * s], fill=(225, 180, 150))  # neck
    d.ellipse([95 * s, 60 * s, 289 * s, 300 * s], fill=(60, 40, 30))  # hair
    d.ellipse([112 * s, 100 * s, 272 * s, 310 * s], fill=(235, 190, 160))  # face
    for ex in (155, 229):
        d.ellipse([(ex - 14) * s, 180 * s, (ex + 14) * s, 198 * s], fill=(250, 250, 250))
        d.ellipse([(ex - 6) * s, 183 * s, (ex + 6) * s, 195 * s], fill=(40, 70, 110))
    d.arc([160 * s, 235 * s, 224 * s, 270 * s], 20, 160, fill=(150, 60, 60), width=max(1, round(5 * s)))
    d.line([192 * s, 195 * s, 185 * s, 235 * s], fill=(200, 150, 125), width=max(1, round(4 * s)))
    return img.filter(ImageFilter.GaussianBlur(radius=1.2 * s))


def harbour(size: int = 512) -> Image.Image:
    """Boats with triangular sails on a wavy sea under clouds, a lighthouse on a rock."""
    rng = np.random.default_rng(2)
    h, w = size * 3 // 4, size
    y, x = _grid(h, w)
    img = np.stack([0.6 + 0.3 * y, 0.75 + 0.15 * y, 0.95 * np.ones_like(y)], -1)
    clouds = np.zeros_like(y)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.12)
        clouds = np.maximum(clouds, np.exp(-(((x - cx) / r) ** 2 + ((y - cy) / (r * 0.5)) ** 2)))
    img = img * (1 - clouds[..., None] * 0.8) + clouds[..., None] * 0.8
    sea = y > 0.55
    waves = 0.5 + 0.5 * np.sin(90 * y + 4 * np.sin(25 * x + 40 * y))
    img[sea] = (np.stack([0.05 + 0.1 * waves, 0.3 + 0.15 * waves, 0.5 + 0.15 * waves], -1))[sea]
    rock = (y > 0.45 + 0.5 * np.abs(x - 0.85) ** 1.2) & (y < 0.62)
    img[rock] = (0.3, 0.27, 0.25)
    tower = (np.abs(x - 0.85) < 0.018) & (y > 0.22) & (y < 0.47)
    img[tower] = np.where((np.sin(y * 80) > 0)[..., None], (0.9, 0.9, 0.9), (0.8, 0.15, 0.15))[tower]
    out = _image(img)
    d = ImageDraw.Draw(out)
    for bx, by, sc, sail in ((0.2, 0.7, 1.0, (250, 245, 230)), (0.5, 0.78, 0.8, (230, 90, 60)),
                             (0.65, 0.66, 0.6, (250, 220, 90))):
        px, py, k = bx * w, by * h, sc * w / 512
        d.polygon([(px - 40 * k, py), (px + 40 * k, py), (px + 28 * k, py + 14 * k), (px - 28 * k, py + 14 * k)],
                  fill=(90, 50, 30))
        d.polygon([(px, py - 90 * k), (px, py - 4 * k), (px + 45 * k, py - 4 * k)], fill=sail)
    return out


# -------------------------------------------------------------------------------------------- styles


def swirls(size: int = 512) -> Image.Image:
    """Brush-stroke bands flowing around vortices in blue and yellow (a starry night of sorts)."""
    y, x = _grid(size, size)
    angle = np.zeros_like(x)
    for cx, cy, s in ((0.3, 0.3, 1.0), (0.7, 0.35, -0.8), (0.5, 0.75, 0.9), (0.15, 0.8, -0.6)):
        r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2) + 0.03
        angle += s * np.arctan2(y - cy, x - cx) * np.exp(-r * 3)
        angle += s * 0.15 / r * 0.05
    strokes = 0.5 + 0.5 * np.sin(60 * (np.sqrt((x - 0.5) ** 2 + (y - 0.5) ** 2) + 0.25 * angle))
    fine = 0.5 + 0.5 * np.sin(220 * (x * np.cos(angle) + y * np.sin(angle)))
    t = (0.7 * strokes + 0.3 * fine)[..., None]
    deep, light, gold = np.array([0.08, 0.15, 0.45]), np.array([0.35, 0.55, 0.85]), np.array([0.95, 0.8, 0.25])
    img = deep * (1 - t) + light * t
    stars = ((strokes > 0.93) & (fine > 0.6))[..., None]
    return _image(np.where(stars, gold, img))


def stripes(size: int = 512) -> Image.Image:
    """Bold diagonal bands of red, black and cream with a slight wobble (a poster of sorts)."""
    y, x = _grid(size, size)
    t = (x + y + 0.03 * np.sin(25 * y)) * 9
    band = np.floor(t).astype(int) % 3
    palette = np.array([[0.85, 0.12, 0.1], [0.08, 0.08, 0.08], [0.96, 0.9, 0.75]])
    return _image(palette[band])


def mosaic(size: int = 512) -> Image.Image:
    """Voronoi tiles in saturated colours with dark grout (a stained-glass mosaic)."""
    rng = np.random.default_rng(3)
    n = 90
    pts = rng.random((n, 2))
    colours = np.array([[0.1, 0.45, 0.8], [0.95, 0.75, 0.1], [0.85, 0.2, 0.25], [0.15, 0.65, 0.35],
                        [0.55, 0.25, 0.7], [0.95, 0.5, 0.15]])[rng.integers(0, 6, n)]
    y, x = _grid(size, size)
    d = (x[..., None] - pts[:, 0]) ** 2 + (y[..., None] - pts[:, 1]) ** 2
    order = np.argsort(d, axis=-1)
    nearest, second = np.take_along_axis(d, order[..., :2], -1).transpose(2, 0, 1)
    img = colours[order[..., 0]] * (0.85 + 0.15 * rng.random((size, size, 1)))
    grout = (np.sqrt(second) - np.sqrt(nearest)) < 0.008
    img[grout] = (0.1, 0.08, 0.07)
    return _image(img)


def brushstrokes(size: int = 512) -> Image.Image:
    """Thousands of short, thick, slanted strokes of an impressionist palette (greens, pinks, violet)."""
    rng = np.random.default_rng(4)
    img = Image.new("RGB", (size, size), (235, 225, 200))
    d = ImageDraw.Draw(img)
    palette = [(60, 120, 70), (120, 170, 90), (230, 140, 160), (140, 100, 180), (250, 210, 120), (70, 90, 160)]
    k = size / 512
    for _ in range(3000):
        cx, cy = rng.uniform(0, size), rng.uniform(0, size)
        ang = 0.6 + 0.5 * np.sin(cx / size * 6) + rng.normal(0, 0.15)
        length = rng.uniform(12, 28) * k
        dx, dy = np.cos(ang) * length, np.sin(ang) * length
        colour = palette[rng.integers(0, len(palette))]
        d.line([cx - dx, cy - dy, cx + dx, cy + dy], fill=colour, width=max(1, int(rng.uniform(5, 9) * k)))
    return img.filter(ImageFilter.GaussianBlur(radius=0.6 * k))


def circles(size: int = 512) -> Image.Image:
    """Concentric rings in warm and cool colours on a dark ground (a Kandinsky study of sorts)."""
    rng = np.random.default_rng(5)
    y, x = _grid(size, size)
    img = np.zeros((size, size, 3)) + np.array([0.12, 0.1, 0.16])
    palette = np.array([[0.95, 0.35, 0.2], [0.2, 0.55, 0.9], [0.98, 0.85, 0.2], [0.3, 0.8, 0.5],
                        [0.9, 0.9, 0.85], [0.7, 0.2, 0.55]])
    for _ in range(16):
        cx, cy, r = rng.random(), rng.random(), rng.uniform(0.06, 0.16)
        dist = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
        rings = rng.integers(3, 6)
        for j in range(rings, 0, -1):
            img[dist < r * j / rings] = palette[rng.integers(0, len(palette))]
    return _image(img)


#: (name, content, style): five pairs, each a different kind of content and of style
PAIRS = (
    ("landscape × swirls", landscape, swirls),
    ("still life × mosaic", still_life, mosaic),
    ("city × brushstrokes", city, brushstrokes),
    ("portrait × stripes", portrait, stripes),
    ("harbour × circles", harbour, circles),
)
