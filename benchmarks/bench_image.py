"""Benchmark of dreamwright's image side: style transfer cost and quality, DeepDream cost.

Usage::

    PYTHONPATH=src python benchmarks/bench_image.py               # prints markdown tables
    PYTHONPATH=src python benchmarks/bench_image.py --examples docs/images   # also writes example PNGs

Every timing runs in a fresh child process so that its peak resident memory (``ru_maxrss``) is its own.
Content and style images are generated procedurally (no downloads). VGG-19 runs with its fixed-seed random
weights (same cost as the real ones); EfficientNet-Lite0 with its real ImageNet weights.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from style_pairs import landscape, swirls  # noqa: E402  (the procedural content and style images)

# ------------------------------------------------------------------------------------------ metrics


def ssim(a: Image.Image, b: Image.Image) -> float:
    """Mean SSIM of the luminance of two same-size images (Gaussian window 11, sigma 1.5)."""
    import torch
    import torch.nn.functional as F

    def lum(img: Image.Image) -> torch.Tensor:
        return torch.tensor(np.asarray(img.convert("L"), dtype=np.float64) / 255.0)[None, None]

    x, y = lum(a), lum(b)
    g = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    g = (g / g.sum())[:, None] * (g / g.sum())[None, :]
    win = g[None, None]

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, win)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def chroma_distance(a: Image.Image, b: Image.Image) -> float:
    """L1 distance (0..2) between the 2-D chroma (Cb, Cr) histograms of two images."""

    def hist(img: Image.Image) -> np.ndarray:
        ycc = np.asarray(img.convert("YCbCr"), dtype=np.float64)
        h, _, _ = np.histogram2d(ycc[..., 1].ravel(), ycc[..., 2].ravel(), bins=16, range=[[0, 256], [0, 256]])
        return h / h.sum()

    return float(np.abs(hist(a) - hist(b)).sum())


# ------------------------------------------------------------------------------------------- children


def child(spec: dict) -> dict:
    """Run one measurement in this (fresh) process and return its figures."""
    import torch

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    from dreamwright.image import DreamOptions, StyleOptions, load_backbone, run_deep_dream, run_style_transfer
    from dreamwright.image.style import estimate_style_memory

    net = load_backbone(spec["backbone"], spec.get("weights"), "cpu")
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    content, style = landscape(spec["size"]), swirls(spec["size"])
    out: dict = {"threads": torch.get_num_threads()}
    if spec["kind"] == "style":
        options = StyleOptions(
            size=spec["size"],
            iterations=spec["iterations"],
            backbone=spec["backbone"],
            weights=spec.get("weights"),
            device="cpu",
            seed=0,
            init=spec.get("init", "content"),
            preserve_color=spec.get("preserve_color", False),
        )
        r = run_style_transfer(content, style, options, progress=False)
        layers = list(dict.fromkeys(list(net.default_content_layers) + list(net.default_style_layers)))
        w, h = r.image.size
        out.update(
            seconds=r.seconds,
            # time between iterations, leaving out setup (style targets) and the first (warm-up) iteration
            per_iter=(r.history[-1]["time"] - r.history[0]["time"]) / max(1, len(r.history) - 1),
            estimate=estimate_style_memory(net, layers, h, w),
            start=r.history[0],
            final=r.final,
            ssim=ssim(r.image, content.resize(r.image.size, Image.Resampling.LANCZOS)),
            chroma=chroma_distance(r.image, content.resize(r.image.size, Image.Resampling.LANCZOS)),
            chroma_style=chroma_distance(style, content),
        )
        if spec.get("save"):
            r.image.save(spec["save"])
    else:
        options = DreamOptions(
            size=spec["size"],
            octaves=3,
            octave_scale=1.4,
            steps=spec["steps"],
            backbone=spec["backbone"],
            weights=spec.get("weights"),
            device="cpu",
            seed=0,
        )
        r = run_deep_dream(content, options, progress=False)
        out.update(seconds=r.seconds, start=r.history[0]["loss"], final=r.history[-1]["loss"])
        if spec.get("save"):
            r.image.save(spec["save"])
    out["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out["base_rss"] = base_rss
    return out


def run_child(spec: dict) -> dict:
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mib(n: float) -> str:
    return f"{n / 1024**2:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--iters", type=int, default=3, help="L-BFGS iterations timed per size")
    ap.add_argument("--quality-size", type=int, default=128)
    ap.add_argument("--quality-iters", type=int, default=60)
    ap.add_argument("--dream-steps", type=int, default=5)
    ap.add_argument("--examples", type=Path, default=None, help="write example PNGs to this folder")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    import torch

    sizes = [int(s) for s in args.sizes.split(",")]
    nets = [
        ("vgg19", "random", "VGG-19 (random weights)"),
        ("efficientnet-lite0", None, "EfficientNet-Lite0"),
    ]
    cpu = platform.processor() or platform.machine()
    try:
        model = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        model = cpu
    print(
        f"Machine: {model}, {os.cpu_count()} cores, no GPU used; torch {torch.__version__}; "
        f"load average at start {os.getloadavg()[0]:.1f}\n"
    )
    t0 = time.time()

    print("### Style transfer cost (L-BFGS, default layers, one pass)\n")
    print("| backbone | size | threads | s / iteration | peak RSS MiB | RSS above model MiB | estimate MiB |")
    print("|---|---|---|---|---|---|---|")
    for backbone, weights, label in nets:
        for size in sizes:
            r = run_child(
                {
                    "kind": "style",
                    "backbone": backbone,
                    "weights": weights,
                    "size": size,
                    "iterations": args.iters,
                    "threads": args.threads,
                }
            )
            print(
                f"| {label} | {size} | {r['threads']} | {r['per_iter']:.2f} | {mib(r['peak_rss'])} | "
                f"{mib(r['peak_rss'] - r['base_rss'])} | {mib(r['estimate'])} |",
                flush=True,
            )

    print(f"\n### DeepDream cost (3 octaves, scale 1.4, {args.dream_steps} steps per octave, 512 px)\n")
    print("| backbone | threads | seconds | s / step (avg) | loss start → end | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for backbone, weights, label in nets:
        r = run_child(
            {
                "kind": "dream",
                "backbone": backbone,
                "weights": weights,
                "size": 512,
                "steps": args.dream_steps,
                "threads": args.threads,
            }
        )
        print(
            f"| {label} | {r['threads']} | {r['seconds']:.1f} | "
            f"{r['seconds'] / (3 * args.dream_steps):.2f} | "
            f"{r['start']:.3g} → {r['final']:.3g} | {mib(r['peak_rss'])} |",
            flush=True,
        )

    q, n = args.quality_size, args.quality_iters
    print(f"\n### Quality after {n} L-BFGS iterations at {q} px (same fixed network for start and end)\n")
    print(
        "| backbone | init | content loss start → end | style loss start → end | style fall | "
        "SSIM to content | chroma-hist distance to content |"
    )
    print("|---|---|---|---|---|---|---|")
    for backbone, weights, label in nets:
        for init, preserve in (("content", False), ("noise", False), ("content", True)):
            r = run_child(
                {
                    "kind": "style",
                    "backbone": backbone,
                    "weights": weights,
                    "size": q,
                    "iterations": n,
                    "init": init,
                    "preserve_color": preserve,
                    "threads": args.threads,
                }
            )
            s0, s1 = r["start"]["style"], r["final"]["style"]
            name = init + (" + preserve-color" if preserve else "")
            print(
                f"| {label} | {name} | {r['start']['content']:.3g} → {r['final']['content']:.3g} | "
                f"{s0:.3g} → {s1:.3g} | {s0 / max(s1, 1e-12):.1f}× | {r['ssim']:.3f} | {r['chroma']:.3f} |",
                flush=True,
            )
    print(f"\n(chroma-hist distance between the style and content images themselves: {r['chroma_style']:.3f})")
    long_n = 4 * n
    r = run_child(
        {"kind": "style", "backbone": "efficientnet-lite0", "size": q, "iterations": long_n, "threads": args.threads}
    )
    s0, s1 = r["start"]["style"], r["final"]["style"]
    print(
        f"\nEfficientNet-Lite0, init content, {long_n} iterations: style loss {s0:.3g} → {s1:.3g} "
        f"({s0 / max(s1, 1e-12):.1f}× fall), content loss {r['final']['content']:.3g}, SSIM {r['ssim']:.3f}"
    )

    if args.examples:
        args.examples.mkdir(parents=True, exist_ok=True)
        landscape(192).save(args.examples / "content.png")
        swirls(192).save(args.examples / "style.png")
        ex = [
            ("style-vgg19-random.png", {"backbone": "vgg19", "weights": "random"}),
            ("style-efficientnet-lite0.png", {"backbone": "efficientnet-lite0"}),
            (
                "style-efficientnet-lite0-preserve-color.png",
                {"backbone": "efficientnet-lite0", "preserve_color": True},
            ),
        ]
        for name, extra in ex:
            run_child(
                {
                    "kind": "style",
                    "size": 192,
                    "iterations": 40,
                    "save": str(args.examples / name),
                    "threads": args.threads,
                    **extra,
                }
            )
        run_child(
            {
                "kind": "dream",
                "backbone": "efficientnet-lite0",
                "size": 192,
                "steps": 10,
                "save": str(args.examples / "dream-efficientnet-lite0.png"),
                "threads": args.threads,
            }
        )
        print(f"\nexamples written to {args.examples}")
    print(f"\n(total benchmark time {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
