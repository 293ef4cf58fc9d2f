"""Loss plots: the later progress stays readable when the first steps' loss is far higher."""

from __future__ import annotations

import json
import math

from dreamwright.training.plots import focused_limits, plot_loss_curve


def lm_curve(steps: int = 400) -> list[tuple[float, float]]:
    """A language model's loss: ln(90) at the start, down to ~1.35 with small wiggles."""
    return [(s, 1.3 + 3.2 * math.exp(-s / 15) + 0.05 * math.sin(s)) for s in range(0, steps, 2)]


def test_a_curve_whose_start_dwarfs_the_rest_is_cut_to_the_rest():
    points = lm_curve()
    low, high = focused_limits(points)
    late = [y for s, y in points if s >= 40]
    assert low < min(y for _, y in points) and max(late) < high < max(late) + 0.2
    assert high < 2.0  # the first loss (4.5) is off the top


def test_a_curve_without_a_dominant_start_keeps_its_whole_range():
    assert focused_limits([(s, 2.0 - s / 400) for s in range(400)]) is None  # steady descent
    assert focused_limits([(s, 1.0 + (s % 7) / 10) for s in range(400)]) is None  # GAN-like oscillation
    assert focused_limits(lm_curve()[:5]) is None  # too few points to judge


def test_the_plot_says_when_its_axis_is_cut(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = tmp_path / "metrics.jsonl"
    rows = [{"event": "train", "step": s, "loss": y} for s, y in lm_curve()]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    saved = []
    original = plt.Figure.savefig

    def keep(fig, *args, **kwargs):
        saved.append(([t.get_text() for t in fig.axes[0].texts], fig.axes[0].get_ylim()))
        return original(fig, *args, **kwargs)

    plt.Figure.savefig = keep
    try:
        plot_loss_curve(metrics, tmp_path / "loss.png")
    finally:
        plt.Figure.savefig = original
    (texts, (low, high)), = saved
    assert high < 2.0 and any("run off the top" in t and "4.5" in t for t in texts)
    assert (tmp_path / "loss.png").stat().st_size > 1000
