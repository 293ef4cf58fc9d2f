"""Loss curves from metrics.jsonl, drawn with matplotlib (no display needed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Curve:
    """One line of a loss plot: ``key`` of the metrics.jsonl records of kind ``event``, against step."""

    event: str
    key: str
    label: str
    marker: bool = False


#: a language model's plot: its training loss, and the validation loss at each evaluation
TEXT_CURVES = (Curve("train", "loss", "train"), Curve("eval", "val_loss", "validation", marker=True))
_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


def read_metrics(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
    return rows


def focused_limits(points: list[tuple[float, float]], settle: float = 0.1) -> tuple[float, float] | None:
    """y-limits that show the loss after the first ``settle`` of the steps, when the first steps' far higher loss
    would squash it into a flat line at the bottom (a run's first loss is ~ln(vocabulary), its later progress
    hundredths of a nat); None when the whole range is worth showing."""
    if len(points) < 10:
        return None
    first, last = min(s for s, _ in points), max(s for s, _ in points)
    late = [y for s, y in points if s >= first + settle * (last - first)]
    low, top, late_top = min(y for _, y in points), max(y for _, y in points), max(late)
    if top - low <= 2 * (late_top - low):
        return None
    margin = 0.1 * (late_top - low) or 0.05 * abs(late_top) or 0.1
    return low - margin, late_top + margin


def plot_loss_curve(metrics_path: Path, out_path: Path, title: str = "", *,
                    curves: tuple[Curve, ...] = TEXT_CURVES, ylabel: str = "loss (nats / token)") -> None:
    """The ``curves`` against step, saved as a PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dreamwright.runs import atomic_write

    rows = read_metrics(metrics_path)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    drawn: list[tuple[float, float]] = []
    for curve, colour in zip(curves, _COLOURS, strict=False):
        points = [(r["step"], r[curve.key]) for r in rows if r.get("event") == curve.event and curve.key in r]
        if points:
            style = {"marker": "o", "markersize": 3} if curve.marker else {"alpha": 0.8, "linewidth": 1}
            ax.plot(*zip(*points, strict=True), label=curve.label, color=colour, **style)
            drawn += points
    if limits := focused_limits(drawn):
        ax.set_ylim(*limits)
        ax.text(0.01, 0.02, f"y-axis cut: the first steps, up to {max(y for _, y in drawn):.2f}, run off the top",
                transform=ax.transAxes, fontsize=8, color="0.4")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "loss")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    fig.tight_layout()
    atomic_write(out_path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
