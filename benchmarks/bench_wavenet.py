"""WaveNet on spoken digits (FSDD): held-out bits per sample against baselines, generation speed, and an
independent judge of what the clips say.

    DREAMWRIGHT_DATA=../shared/data python benchmarks/bench_wavenet.py likelihood [--minutes 10]
    python benchmarks/bench_wavenet.py speed [--run fsdd-wavenet]
    python benchmarks/bench_wavenet.py judge [--run fsdd-wavenet] [--per-digit 100] [--judge PATH]
    python benchmarks/bench_wavenet.py listen [--run fsdd-wavenet] [--out docs/audio]

``likelihood`` trains ``dreamwright train fsdd --model wavenet --minutes M`` (the ``wavenet-audio`` preset) and
an LSTM with the same budget, windows and batch, one after the other, then scores every sample of the 300
upstream test recordings (0-4 of each digit and speaker) from each clip's start, beside two baselines that
need no model: 8 bits (uniform over 256 μ-law levels) and the cross-entropy of the test samples under the
training split's μ-law level frequencies (the unigram).

``speed`` measures seconds of audio written per second of compute (one thread), at batch 1 and 16, with the
fast WaveNet queues and naively (the whole receptive field re-run for every sample).

``judge`` generates ``--per-digit`` clips of each digit (speakers drawn in turn) and has the spoken-digit
classifier of ``benchmarks/digit_judge.py`` — trained only on the FSDD training split, sharing no code with
dreamwright — say which digit it hears; its accuracy on the real test recordings is the ceiling.

``listen`` writes ten clips (one per digit) as WAVs with their spectrograms beside real recordings.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def train(out: Path, minutes: float, extra: list[str], threads: int) -> None:
    cmd = [sys.executable, "-m", "dreamwright", "train", "fsdd", "--out", str(out), "--force", "--minutes",
           str(minutes), "--threads", str(threads), "--quiet", "--eval-interval", "250", *extra]
    subprocess.run(cmd, check=True)


def test_bits(run: Path) -> tuple[float, int]:
    """Bits per sample over every sample of the run's held-out clips (each scored from its start)."""
    import dreamwright
    from dreamwright.data.audio import split_clips
    from dreamwright.data.corpus import EncodedCorpus
    from dreamwright.training.audio import clip_nats

    gen = dreamwright.load(run, device="cpu")
    clips = split_clips(EncodedCorpus.open(run / "data"), "valid", gen.tokenizer.n_cond)
    total, count = clip_nats(gen.model, clips)
    return total / count / math.log(2), count


def unigram_bits(run: Path) -> float:
    """Cross-entropy (bits) of the held-out samples under the training samples' level frequencies (add-one)."""
    from dreamwright.data.audio import split_clips
    from dreamwright.data.corpus import EncodedCorpus

    encoded = EncodedCorpus.open(run / "data")
    n_cond = len(json.loads((run / "config.json").read_text())["tokenizer"]["conditions"])
    counts = [np.bincount(np.concatenate([s for _, s in split_clips(encoded, split, n_cond)]).astype(np.int64),
                          minlength=256)[:256] for split in ("train", "valid")]
    p = (counts[0] + 1) / (counts[0].sum() + 256)
    return float(-(counts[1] * np.log2(p)).sum() / counts[1].sum())


def tokens_per_s(run: Path) -> float:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rates = [r["tokens_per_s"] for r in rows if r["event"] == "train" and r.get("tokens_per_s")]
    return float(np.median(rates)) if rates else float("nan")


def likelihood(args) -> None:
    runs = Path(args.runs)
    shape = ["--seq-len", "1000", "--batch-size", "8", "--lr", "2e-3"]
    models = {"wavenet": ["--model", "wavenet"],
              "lstm": ["--model", "lstm", "--hidden-size", "384", "--embedding-size", "64", *shape]}
    rows = {}
    for name, extra in models.items():
        out = runs / f"fsdd-{name}-{args.minutes:g}min"
        if not args.score_only:
            train(out, args.minutes, extra, args.threads)
        bits, count = test_bits(out)
        rows[name] = {"bits_per_sample": bits, "samples": count, "tokens_per_s": tokens_per_s(out),
                      "params": sum(p.numel() for p in __import__("dreamwright").load(out).model.parameters())}
        print(name, json.dumps(rows[name]), flush=True)
    rows["unigram"] = {"bits_per_sample": unigram_bits(runs / f"fsdd-wavenet-{args.minutes:g}min")}
    rows["uniform"] = {"bits_per_sample": 8.0}
    print("\n| model | held-out bits/sample | training samples/s | parameters |\n| --- | --- | --- | --- |")
    for name, r in rows.items():
        print(f"| {name} | {r['bits_per_sample']:.3f} | {r.get('tokens_per_s', float('nan')):,.0f} | "
              f"{r.get('params', 0):,} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


def _time_speech(gen, batch: int, seconds: float) -> float:
    """Seconds of audio per second of (process) compute."""
    from dreamwright.generation.speech import speak

    speak(gen, seconds=0.01, num_samples=batch, seed=0, label="3")  # warm up
    t = time.process_time()
    speak(gen, seconds=seconds, num_samples=batch, seed=0, label="3")
    return batch * seconds / (time.process_time() - t)


def _steady_steps(model, cond: list[int], batch: int, steps: int) -> float:
    """Samples per second of (process) compute for single steps once the context fills the receptive field:
    a prompt of ``receptive_field`` silent samples is read first, then ``steps`` samples are fed one by one."""
    from dreamwright.tokenizers.audio import SILENCE

    prompt = torch.tensor([cond + [SILENCE] * model.receptive_field] * batch)
    token = torch.full((batch, 1), SILENCE)
    with torch.inference_mode():
        _, state = model(prompt)
        _, state = model(token, state)  # warm up
        t = time.process_time()
        for _ in range(steps):
            _, state = model(token, state)
    return batch * steps / (time.process_time() - t)


def speed(args) -> None:
    import dreamwright

    gen = dreamwright.load(args.run, device="cpu")
    rate = gen.tokenizer.sample_rate
    cond = gen.tokenizer.condition_ids(**{k: v[0] for k, v in gen.tokenizer.conditions.items()})
    out = {"receptive_field": gen.model.receptive_field, "blocks": len(gen.model.blocks)}
    for batch in (1, 16):
        out[f"speak_batch{batch}"] = _time_speech(gen, batch, args.seconds)  # the whole request, decoding included
        gen.model.use_cache = True
        out[f"fast_steps_batch{batch}"] = _steady_steps(gen.model, cond, batch, args.steps) / rate
        gen.model.use_cache = False
        out[f"naive_steps_batch{batch}"] = _steady_steps(gen.model, cond, batch, args.naive_steps) / rate
        gen.model.use_cache = True
    print(json.dumps(out, indent=2))
    print("\nseconds of audio per second of compute\n| batch | speak() (whole request) | model steps, queues | "
          "model steps, naive | queues ÷ naive |\n| --- | --- | --- | --- | --- |")
    for batch in (1, 16):
        fast, naive = out[f"fast_steps_batch{batch}"], out[f"naive_steps_batch{batch}"]
        print(f"| {batch} | {out[f'speak_batch{batch}']:.3f} | {fast:.3f} | {naive:.5f} | {fast / naive:.0f}× |")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


def load_judge_module():
    spec = importlib.util.spec_from_file_location("digit_judge", ROOT / "benchmarks" / "digit_judge.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["digit_judge"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def judge(args) -> None:
    import dreamwright
    from dreamwright.data.audio import write_wav
    from dreamwright.generation.speech import speak

    judge_mod = load_judge_module()
    the_judge = judge_mod.load_judge(args.judge)
    gen = dreamwright.load(args.run, device="cpu")
    speakers = gen.tokenizer.conditions.get("speaker", [None])
    out = Path(args.clips)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    t = time.perf_counter()
    for digit in gen.tokenizer.conditions["label"]:
        for i, speaker in enumerate(speakers):
            n = args.per_digit // len(speakers) + (i < args.per_digit % len(speakers))
            if n == 0:
                continue
            clips = speak(gen, seconds=args.seconds, num_samples=n, seed=1000 * int(digit) + i, label=digit,
                          speaker=speaker, temperature=args.temperature)
            for k, clip in enumerate(clips):
                path = out / f"{digit}_{speaker}_{k}.wav"
                write_wav(path, clip.samples, clip.rate)
                files.append((path, int(digit)))
        print(f"digit {digit}: {len(files)} clips, {time.perf_counter() - t:.0f} s", flush=True)
    result = judge_mod.score_files(the_judge, files)
    result.pop("files", None)
    result["ceiling_real_test_accuracy"] = the_judge.info.get("test_accuracy")
    result["temperature"], result["seconds"] = args.temperature, args.seconds
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


def listen(args) -> None:
    import dreamwright
    from dreamwright.data.audio import write_wav
    from dreamwright.generation.spectrogram import save_spectrograms
    from dreamwright.generation.speech import reference_clip, speak

    gen = dreamwright.load(args.run, device="cpu")
    out, images = Path(args.out), Path(args.images)
    out.mkdir(parents=True, exist_ok=True)
    images.mkdir(parents=True, exist_ok=True)
    speakers = gen.tokenizer.conditions.get("speaker", [None])
    for digit in gen.tokenizer.conditions["label"]:
        speaker = speakers[int(digit) % len(speakers)]
        clip = speak(gen, seconds=args.seconds, seed=int(digit), label=digit, speaker=speaker,
                     temperature=args.temperature)[0]
        write_wav(out / f"wavenet-{digit}-{speaker}.wav", clip.samples, clip.rate)
        panels = [(f"generated: {digit}, {speaker}", clip.samples, clip.rate)]
        real = reference_clip(gen, clip.conditions)
        if real is not None:
            panels.append(real)
        save_spectrograms(images / f"wavenet-{digit}-{speaker}.png", panels)
        print(f"wrote {digit} ({speaker})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("likelihood")
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--runs", default="/tmp/dreamwright-wavenet")
    p.add_argument("--score-only", action="store_true", help="score runs trained before")
    p.add_argument("--json")
    p = sub.add_parser("speed")
    p.add_argument("--run", default="fsdd-wavenet")
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--steps", type=int, default=500, help="single steps timed with the queues")
    p.add_argument("--naive-steps", type=int, default=10, help="single steps timed naively")
    p.add_argument("--json")
    p = sub.add_parser("judge")
    p.add_argument("--run", default="fsdd-wavenet")
    p.add_argument("--judge", default=str(ROOT / "benchmarks" / ".cache" / "digit-judge"))
    p.add_argument("--per-digit", type=int, default=100)
    p.add_argument("--seconds", type=float, default=0.8)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--clips", default="/tmp/dreamwright-wavenet/judged")
    p.add_argument("--json")
    p = sub.add_parser("listen")
    p.add_argument("--run", default="fsdd-wavenet")
    p.add_argument("--seconds", type=float, default=0.8)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--out", default=str(ROOT / "docs" / "audio"))
    p.add_argument("--images", default=str(ROOT / "docs" / "images"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    {"likelihood": likelihood, "speed": speed, "judge": judge, "listen": listen}[args.command](args)


if __name__ == "__main__":
    main()
