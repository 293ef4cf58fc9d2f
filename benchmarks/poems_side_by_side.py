"""Poems of two (or more) 作诗姬 models at the defaults, seed by seed, as Markdown for docs/poetry.md.

    PYTHONPATH=src python benchmarks/poems_side_by_side.py --run-dir v1=old \
        --run-dir v2=src/dreamwright/bundled/tang-poetry \
        [--forms 五绝,七绝] [--seeds 0-9]

Not picked: every model writes the first poem of each form and seed with the writer's defaults (candidates,
temperature, strict rhyme and tones), and the table shows them all, one row per form and seed.
"""

from __future__ import annotations

import argparse

import torch


def seed_range(text: str) -> list[int]:
    """``"0-19"`` -> 0..19; ``"3,5"`` -> [3, 5]."""
    if "-" in text:
        first, last = (int(part) for part in text.split("-", 1))
        return list(range(first, last + 1))
    return [int(part) for part in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", action="append", required=True, help="LABEL=PATH; repeat for each model")
    p.add_argument("--forms", default="五绝,七绝", help="comma-separated forms")
    p.add_argument("--seeds", default="0-9", help="a range FIRST-LAST or a comma-separated list")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    from dreamwright.poetry import load_writer

    labels, writers = [], []
    for item in a.run_dir:
        label, _, path = item.rpartition("=")
        labels.append(label or path)
        writers.append(load_writer(path))
    print(f"| form | seed | {' | '.join(labels)} |")
    print(f"| --- | ---: | {' | '.join('---' for _ in labels)} |")
    for form in a.forms.split(","):
        for seed in seed_range(a.seeds):
            poems = [writer.write(form, seed=seed)[0].text.replace("\n", "") for writer in writers]
            print(f"| {form} | {seed} | {' | '.join(poems)} |")


if __name__ == "__main__":
    main()
