"""Loss curves from metrics.jsonl, drawn with matplotlib (no display needed)."""

from __future__ import annotations

import json
from pathlib import Path


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


def plot_loss_curve(metrics_path: Path, out_path: Path, title: str = "") -> None:
    """Train and validation loss against step, saved as a PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dreamwright.runs import atomic_write

    rows = read_metrics(metrics_path)
    train = [(r["step"], r["loss"]) for r in rows if r.get("event") == "train"]
    valid = [(r["step"], r["val_loss"]) for r in rows if r.get("event") == "eval"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="train", color="#4c72b0", alpha=0.8, linewidth=1)
    if valid:
        ax.plot(*zip(*valid, strict=True), label="validation", color="#dd8452", marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats / token)")
    ax.set_title(title or "loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(out_path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
