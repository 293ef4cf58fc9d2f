"""Drawn Fashion-MNIST pictures judged by an independent classifier; a VAE's test likelihood in nats.

    DREAMWRIGHT_DATA=../shared/data PYTHONPATH=src python benchmarks/bench_draw.py RUN [RUN ...] --out FILE.md
    DREAMWRIGHT_DATA=../shared/data PYTHONPATH=src python benchmarks/bench_draw.py --out FILE.md   # references only

The judge is the CNN of ``fashion_judge.py`` (trained on the training split on first use, then cached). For
each image run it draws ``--n`` pictures (10,000; a conditional model 1/10 of them per class, asked in
class order) from one generator seeded with ``--seed``, and gives

- the judge's accuracy on them against the class asked for (conditional models only);
- the Fréchet distance between the judge's 128 penultimate features of those pictures and of the 10,000 test
  pictures: "FD (judge features)". It is not the Inception FID, which needs Inception-v3's ImageNet weights,
  a download this offline machine cannot make; its values are on another scale and compare only with each
  other (same judge, same sample sizes);
- the smallest and largest share of the pictures the judge puts in one class (10% each is an even spread;
  a small minimum means classes the model rarely or never draws).

Reference rows (left out with ``--no-reference``): the floor, 10,000 training pictures (seeded choice)
against the test pictures, which is as close as two real samples of this size come; the ceilings, the test
pictures Gaussian-blurred (σ = 2 px), uniform noise, and Gaussian noise with the training split's per-pixel
mean and standard deviation (clipped to [0, 1]).

For a VAE run it also gives, in nats per picture on the test split, the negative ELBO (one latent sample per
picture, all 10,000 pictures) and, on a seeded subset of ``--vae-pictures`` test pictures (2,000 by
default: the importance-weighted bound costs k decoder passes per picture), the negative ELBO again and the
IWAE estimate of −log p(x) with ``--iwae-k`` samples (100). Under the default Bernoulli pixel likelihood on
intensities in [0, 1] these are not negative log densities of grey pictures (the Bernoulli is not a
normalised density for values between 0 and 1); they compare with other models scored the same way.

The markdown goes to stdout and to ``--out``; the raw numbers to the same name with ``.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fashion_judge as fj  # noqa: E402

BLUR_SIGMA = 2.0


@dataclass
class Row:
    """One line of the main table."""

    name: str
    n: int
    fd: float
    share_min: float
    share_max: float
    accuracy: float | None = None  # against the class asked for (or the true class of real pictures)
    seconds: float | None = None  # drawing + judging
    training: str = ""
    per_class: list[float] = field(default_factory=list)


@dataclass
class Likelihood:
    """A VAE's test-split figures, in nats per picture."""

    name: str
    likelihood: str
    nelbo_all: float
    n_all: int
    nelbo_sub: float
    iwae_sub: float
    n_sub: int
    k: int
    seconds: float


# ---------------------------------------------------------------------------------------------- judging
class Judging:
    """The judge and the test split's feature statistics, shared by every row."""

    def __init__(self, judge: fj.Judge, test_images: np.ndarray) -> None:
        self.judge = judge
        self.test_stats = fj.feature_stats(fj.features(judge, test_images))

    def row(self, name: str, pictures: np.ndarray | torch.Tensor, asked: np.ndarray | None = None,
            **extra) -> Row:
        """FD, class shares and (with ``asked``) accuracy of ``pictures`` (floats in [0, 1] or uint8)."""
        feats = fj.features(self.judge, pictures)
        fd = fj.frechet_from_stats(*fj.feature_stats(feats), *self.test_stats)
        predicted = fj.predict(self.judge, pictures)
        shares = np.bincount(predicted, minlength=10) / len(predicted)
        accuracy, per_class = None, []
        if asked is not None:
            hits = predicted == asked
            accuracy = float(hits.mean())
            per_class = [float(hits[asked == c].mean()) for c in range(10) if (asked == c).any()]
        return Row(name, len(pictures), fd, float(shares.min()), float(shares.max()), accuracy,
                   per_class=per_class, **extra)


def gaussian_blur(pictures: torch.Tensor, sigma: float) -> torch.Tensor:
    """Pictures (N, 1, H, W) blurred by a separable Gaussian (radius 3σ); the background (0) pads the edges."""
    radius = math.ceil(3 * sigma)
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-taps ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    out = F.conv2d(pictures, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return F.conv2d(out, kernel.view(1, 1, -1, 1), padding=(radius, 0))


def reference_rows(judging: Judging, data: dict[str, np.ndarray], n: int, seed: int) -> list[Row]:
    """The floor (training pictures) and the ceilings (blurred test pictures, two kinds of noise)."""
    rng = np.random.default_rng(seed)
    train, train_labels = data["train"], data["train_labels"]
    pick = np.sort(rng.choice(len(train), size=min(n, len(train)), replace=False))
    rows = [judging.row(f"floor: {len(pick):,} training pictures", train[pick], train_labels[pick])]
    test = fj.as_float(data["test"])
    rows.append(judging.row(f"ceiling: test pictures blurred (σ = {BLUR_SIGMA:g} px)",
                            gaussian_blur(test, BLUR_SIGMA), data["test_labels"]))
    noise = torch.Generator().manual_seed(seed)
    rows.append(judging.row("ceiling: uniform noise U(0, 1)", torch.rand(n, 1, 28, 28, generator=noise)))
    train_f = fj.as_float(train)
    mean, std = train_f.mean(0), train_f.std(0)
    gauss = (mean + std * torch.randn(n, 1, 28, 28, generator=noise)).clamp(0, 1)
    rows.append(judging.row("ceiling: Gaussian noise, per-pixel mean and std of the training split", gauss))
    return rows


# ---------------------------------------------------------------------------------------------- runs
def training_note(config: dict) -> str:
    """What the run's config says of its training: steps, epochs, minutes (blank when it says nothing)."""
    metrics = config.get("metrics") or {}
    parts = []
    if metrics.get("steps") is not None:
        parts.append(f"{metrics['steps']:,} steps")
    if metrics.get("epochs") is not None:
        parts.append(f"{metrics['epochs']} epochs")
    if metrics.get("elapsed_s") is not None:
        parts.append(f"{metrics['elapsed_s'] / 60:.1f} min")
    return ", ".join(parts)


@torch.no_grad()
def draw(model, n: int, seed: int, batch: int) -> tuple[torch.Tensor, np.ndarray | None]:
    """``n`` pictures in [0, 1] on the CPU from one seeded generator; with a conditional model, n/classes
    of each class in class order, and the classes asked for."""
    generator = torch.Generator().manual_seed(seed)
    asked = None
    if model.conditional:
        if n % model.num_classes:
            raise SystemExit(f"--n {n} is not a multiple of the model's {model.num_classes} classes")
        asked = np.repeat(np.arange(model.num_classes), n // model.num_classes)
    out = []
    for start in range(0, n, batch):
        m = min(batch, n - start)
        labels = None if asked is None else torch.as_tensor(asked[start:start + m])
        out.append(model.draw(m, labels=labels, generator=generator).float().cpu())
    return torch.cat(out), asked


@torch.no_grad()
def vae_likelihood(model, name: str, test: np.ndarray, args: argparse.Namespace) -> Likelihood:
    """Negative ELBO on every test picture; negative ELBO and IWAE on a seeded subset; nats per picture."""
    t0 = time.perf_counter()
    device = model.device
    generator = torch.Generator().manual_seed(args.seed)
    nelbo = []
    for start in range(0, len(test), args.batch):
        x = model.inputs(torch.as_tensor(test[start:start + args.batch])).to(device)
        nelbo.append(model.elbo(x, generator=generator).negative.double().cpu())
    nelbo_all = torch.cat(nelbo)
    pick = np.sort(np.random.default_rng(args.seed).choice(len(test), min(args.vae_pictures, len(test)),
                                                           replace=False))
    generator = torch.Generator().manual_seed(args.seed)
    sub_nelbo, sub_iwae = [], []
    step = max(1, args.batch // 10)  # the IWAE runs the decoder on (chunk × step) pictures at once
    for start in range(0, len(pick), step):
        x = model.inputs(torch.as_tensor(test[pick[start:start + step]])).to(device)
        sub_nelbo.append(model.elbo(x, generator=generator).negative.double().cpu())
        sub_iwae.append(model.iwae_nll(x, k=args.iwae_k, generator=generator).double().cpu())
    return Likelihood(name, model.likelihood, float(nelbo_all.mean()), len(test), float(torch.cat(sub_nelbo).mean()),
                      float(torch.cat(sub_iwae).mean()), len(pick), args.iwae_k, time.perf_counter() - t0)


def judge_run(run_dir: Path, judging: Judging, data: dict[str, np.ndarray],
              args: argparse.Namespace) -> tuple[Row, Likelihood | None]:
    from dreamwright.runs import load_image_run

    model, config = load_image_run(run_dir, device=args.device)
    if (model.size, model.channels) != (28, 1):
        raise SystemExit(f"{run_dir} draws {model.channels}-channel {model.size}×{model.size} pictures; the judge "
                         f"reads Fashion-MNIST's 1-channel 28×28")
    t0 = time.perf_counter()
    pictures, asked = draw(model, args.n, args.seed, args.batch)
    name = f"{run_dir.name} ({model.family}{', conditional' if model.conditional else ''})"
    row = judging.row(name, pictures, asked, training=training_note(config))
    row.seconds = time.perf_counter() - t0
    likelihood = vae_likelihood(model, name, data["test"], args) if model.family == "vae" else None
    return row, likelihood


# ---------------------------------------------------------------------------------------------- report
def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def report(rows: list[Row], likelihoods: list[Likelihood], info: dict, args: argparse.Namespace,
           class_names: tuple[str, ...]) -> str:
    lines = [
        f"Judge: `benchmarks/fashion_judge.py`, test accuracy {100 * info['test_accuracy']:.2f}% "
        f"({info['epochs']} epochs, {info['train_seconds']:.0f} s to train). FD (judge features) of each row's "
        f"pictures against the 10,000 test pictures; drawn rows: n = {args.n:,}, seed {args.seed}. "
        f"Accuracy: against the class asked for (real pictures: their true class; the training pictures were "
        f"the judge's own training data). Machine: {platform.machine()}, {torch.get_num_threads()} torch "
        f"thread(s), load average {os.getloadavg()[0]:.1f}.",
        "",
        "| pictures | n | judge accuracy | FD (judge features) | judge's class shares, min–max | "
        "draw + judge s | training |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        seconds = "" if r.seconds is None else f"{r.seconds:.0f}"
        lines.append(f"| {r.name} | {r.n:,} | {pct(r.accuracy)} | {r.fd:.2f} | {pct(r.share_min)}–"
                     f"{pct(r.share_max)} | {seconds} | {r.training} |")
    conditional = [r for r in rows if r.per_class and r.seconds is not None]
    if conditional:
        lines += ["", "Judge accuracy per class asked for:", "",
                  "| run | " + " | ".join(class_names) + " |", "| --- |" + " ---: |" * len(class_names)]
        lines += [f"| {r.name} | " + " | ".join(f"{100 * a:.0f}%" for a in r.per_class) + " |" for r in conditional]
    if likelihoods:
        lines += ["", "VAE test likelihood, nats per picture (lower is better; −ELBO at one latent sample per "
                  "picture, IWAE: importance-weighted estimate of −log p(x)):", "",
                  "| run | pixel likelihood | −ELBO, all test | test subset | −ELBO, subset | IWAE, subset | "
                  "seconds |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for v in likelihoods:
            lines.append(f"| {v.name} | {v.likelihood} | {v.nelbo_all:.2f} (n = {v.n_all:,}) | {v.n_sub:,} "
                         f"(seed {args.seed}) | {v.nelbo_sub:.2f} | {v.iwae_sub:.2f} (k = {v.k}) | "
                         f"{v.seconds:.0f} |")
        if any(v.likelihood == "bernoulli" for v in likelihoods):
            lines += ["", "Bernoulli likelihood on intensities in [0, 1] (binary cross-entropy): not a normalised "
                      "density for grey pixels, so these nats compare only with models scored the same way."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", type=Path, help="image run directories (28×28 grayscale)")
    p.add_argument("--out", type=Path, default=None, help="also write the markdown here (and the numbers as .json)")
    p.add_argument("--n", type=int, default=10_000, help="pictures drawn per run and per reference row")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vae-pictures", type=int, default=2000, help="test pictures for the IWAE estimate")
    p.add_argument("--iwae-k", type=int, default=100)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--no-reference", action="store_true", help="leave out the floor and ceiling rows")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="where the drawing models run (the judge stays on the CPU)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    judge, info = fj.load_judge()
    data = dict(zip(("train", "train_labels"), fj.fashion_split("train"), strict=True))
    data.update(zip(("test", "test_labels"), fj.fashion_split("test"), strict=True))
    from dreamwright.data.images import load_images

    class_names = load_images("fashion-mnist").class_names
    judging = Judging(judge, data["test"])
    rows = [] if args.no_reference else reference_rows(judging, data, args.n, args.seed)
    likelihoods = []
    for run_dir in args.runs:
        row, likelihood = judge_run(run_dir, judging, data, args)
        rows.append(row)
        print(f"{row.name}: FD {row.fd:.2f}, accuracy {pct(row.accuracy)} ({row.seconds:.0f} s)", file=sys.stderr)
        if likelihood is not None:
            likelihoods.append(likelihood)
            print(f"  −ELBO {likelihood.nelbo_all:.2f}, IWAE {likelihood.iwae_sub:.2f} ({likelihood.seconds:.0f} s)",
                  file=sys.stderr)
    text = report(rows, likelihoods, info, args, class_names)
    print(text)
    print(f"(total {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        numbers = {"judge": info, "rows": [asdict(r) for r in rows], "vae": [asdict(v) for v in likelihoods],
                   "n": args.n, "seed": args.seed}
        args.out.with_suffix(".json").write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
