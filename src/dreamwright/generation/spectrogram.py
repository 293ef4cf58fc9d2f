"""Spectrograms of clips side by side (a generated one beside a real recording), as a PNG."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

#: analysis window and hop, in seconds (32 ms / 8 ms: the usual speech settings)
WINDOW_SECONDS = 0.032
HOP_SECONDS = 0.008


def power_db(samples: np.ndarray, rate: int) -> np.ndarray:
    """Log power ``[frequency bins, frames]`` in dB (Hann-windowed short-time Fourier transform)."""
    n = max(16, int(WINDOW_SECONDS * rate))
    hop = max(1, int(HOP_SECONDS * rate))
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < n:
        x = np.pad(x, (0, n - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop] * np.hanning(n)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return (10 * np.log10(power + 1e-10)).T


def spectrogram_png(panels: list[tuple[str, np.ndarray, int]]) -> bytes:
    """PNG bytes of ``(title, samples, rate)`` panels side by side, on one colour scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = [power_db(s, r) for _, s, r in panels]
    top = max(float(im.max()) for im in images)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (title, samples, rate), image in zip(axes[0], panels, images, strict=True):
        seconds = len(samples) / rate
        shown = ax.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                          extent=(0.0, max(seconds, 1e-3), 0.0, rate / 2000))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("seconds")
        ax.set_ylabel("kHz")
    fig.colorbar(shown, ax=axes[0].tolist(), label="dB", fraction=0.03)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def save_spectrograms(path: Path, panels: list[tuple[str, np.ndarray, int]]) -> None:
    """Write :func:`spectrogram_png` to ``path`` (atomically)."""
    from dreamwright.runs import atomic_write

    png = spectrogram_png(panels)
    atomic_write(Path(path), lambda tmp: Path(tmp).write_bytes(png))
