"""Turn a run directory into a bundled model: its config.json (with a ``trained_on`` line) and its best weights
in float16 — half the size, and what ``dreamwright generate``/``--init-from``/``draw`` read back as float32.
An image run's discriminator is left out: drawing needs only the generator. An audio run keeps one held-out
recording of each (label, speaker) in ``references/`` — what ``--spectrogram`` draws beside a generated clip.

    python scripts/bundle_model.py RUN_DIR src/dreamwright/bundled/NAME --trained-on "what it read"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dreamwright.runs import WEIGHTS, atomic_save_tensors, load_tensors, read_config, run_kind, write_config


def bundle(run_dir: Path, dest: Path, trained_on: str, version: int = 1) -> None:
    """Write ``dest/config.json`` (with ``version``: a bundled model keeps its name as it improves) and a
    float16 ``dest/model.safetensors`` from ``run_dir``."""
    config = read_config(run_dir)
    tensors, metadata = load_tensors(run_dir / WEIGHTS)
    if run_kind(config) == "image":
        tensors = {k: v for k, v in tensors.items() if not k.startswith("discriminator.")}
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    dest.mkdir(parents=True, exist_ok=True)
    atomic_save_tensors(dest / WEIGHTS, half, {**metadata, "dtype": "float16"})
    body = {k: v for k, v in config.items() if k not in ("format", "format_version")}
    write_config(dest, {"trained_on": trained_on, "version": version, **body, "weights": "float16"})
    if config.get("tokenizer", {}).get("kind") == "mulaw":
        keep_references(run_dir / "data", dest / "references", len(config["tokenizer"]["conditions"]))
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by all once installed (atomic writes make 0600)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"{dest}: {size / 1e6:.1f} MB", file=sys.stderr)


def keep_references(data: Path, dest: Path, n_cond: int) -> None:
    """The first held-out clip of every combination of conditions, as a run's ``valid`` split."""
    import json

    import numpy as np

    from dreamwright.data.audio import split_clips
    from dreamwright.data.corpus import EncodedCorpus

    encoded = EncodedCorpus.open(data)
    chosen: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
    for cond, samples in split_clips(encoded, "valid", n_cond):
        chosen.setdefault(tuple(int(c) for c in cond), (cond, np.asarray(samples)))
    rows = [np.concatenate([c, s]).astype(encoded.dtype) for c, s in chosen.values()]
    offsets = np.cumsum([0, *map(len, rows[:-1])]).astype(np.int64)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "valid.bin").write_bytes(np.concatenate(rows).tobytes())
    (dest / "valid-clips.bin").write_bytes(offsets.tobytes())
    meta = {**encoded.meta, "valid_tokens": int(sum(map(len, rows))), "valid_clips": len(rows),
            "train_tokens": 0, "train_clips": 0, "references_only": True}
    (dest / "meta.json").write_text(json.dumps(meta, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--trained-on", required=True, help="one line: what the model was trained on")
    parser.add_argument("--version", type=int, default=1, help="the model's version under its name")
    args = parser.parse_args(argv)
    bundle(args.run_dir, args.dest, args.trained_on, args.version)


if __name__ == "__main__":
    main()
