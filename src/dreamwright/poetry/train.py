"""Train a poem-level character model on a prepared Tang corpus (what the bundled ``tang-poetry`` model is).

Unlike the general trainer (truncated BPTT over contiguous text), every training sequence here is one whole
poem, ``\\n【五绝】床前明月光，…。\\n``, read from a zero state — exactly how :mod:`dreamwright.poetry.decode`
uses the model. Poems of one form have one length, so a batch is drawn from a single form and needs no
padding. Characters seen fewer than ``min_count`` times become ``□`` (never generated). The result is an
ordinary run directory (``config.json`` + ``model.safetensors``) that :meth:`Generator.load` reads.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from dreamwright.errors import CorpusError, InvalidArgument
from dreamwright.poetry.data import TRAIN_FILE, VALID_FILE, read_corpus, tag

UNK = "□"
SPECIALS = "\n【】，。" + UNK


def _encode(form: str, text: str, index: dict[str, int]) -> list[int]:
    unk = index[UNK]
    return [index.get(c, unk) for c in "\n" + tag(form) + text + "\n"]


def _buckets(poems: list[tuple[str, str]], index: dict[str, int]) -> dict[int, torch.Tensor]:
    by_len: dict[int, list[list[int]]] = {}
    for form, text in poems:
        ids = _encode(form, text, index)
        by_len.setdefault(len(ids), []).append(ids)
    return {n: torch.tensor(rows, dtype=torch.long) for n, rows in by_len.items()}


PROMPT_LEN = 1 + len(tag("五绝"))  # "\n【五绝】": targets before this are not scored


def _loss(model, batch: torch.Tensor, unk: int, score_end: bool = True) -> tuple[torch.Tensor, int]:
    x, y = batch[:, :-1], batch[:, 1:]
    logits, _ = model(x, None)
    mask = torch.zeros_like(y, dtype=torch.bool)
    mask[:, PROMPT_LEN - 1 :] = True
    if not score_end:
        mask[:, -1] = False
    mask &= y != unk
    loss = F.cross_entropy(logits[mask].float(), y[mask], reduction="sum")
    return loss, int(mask.sum())


@torch.no_grad()
def evaluate(model, buckets: dict[int, torch.Tensor], unk: int, batch_size: int = 256) -> float:
    """Mean cross-entropy (nats) per poem character (Han and punctuation; not the tag or the end)."""
    model.eval()
    total, count = 0.0, 0
    for data in buckets.values():
        for i in range(0, len(data), batch_size):
            loss, n = _loss(model, data[i : i + batch_size], unk, score_end=False)
            total, count = total + float(loss), count + n
    model.train()
    return total / max(count, 1)


def train_poetry_model(
    data_dir: str | Path,
    out: str | Path,
    *,
    min_count: int = 3,
    cell: str = "gru",
    hidden_size: int = 384,
    embedding_size: int = 128,
    n_layer: int = 1,
    dropout: float = 0.1,
    batch_size: int = 64,
    lr: float = 3e-3,
    minutes: float = 15.0,
    steps: int | None = None,
    eval_interval: int = 250,
    seed: int = 0,
    threads: int | None = 2,
    half: bool = True,
    log=print,
) -> dict[str, Any]:
    """Train on ``data_dir/train.txt`` (validated on ``valid.txt``) and write a run directory to ``out``."""
    from dreamwright.models import build_model
    from dreamwright.tokenizers.char import CharTokenizer
    from dreamwright.training.checkpoint import atomic_save_tensors, model_tensors, write_config

    data_dir, out = Path(data_dir), Path(out)
    if not (data_dir / TRAIN_FILE).is_file():
        raise CorpusError(
            f"{data_dir} has no {TRAIN_FILE}; run `dreamwright poetry prepare {data_dir}` first"
        )
    if minutes <= 0 or min_count < 1:
        raise InvalidArgument("minutes must be > 0 and min_count >= 1")
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    train = read_corpus(data_dir / TRAIN_FILE)
    valid = read_corpus(data_dir / VALID_FILE) if (data_dir / VALID_FILE).is_file() else []
    counts = Counter(c for _, text in train for c in text)
    chars = {c for c, n in counts.items() if n >= min_count} | set(SPECIALS)
    chars |= {c for form, _ in train for c in tag(form)}
    tokenizer = CharTokenizer(chars)
    index = tokenizer.index
    unk = index[UNK]
    train_b, valid_b = _buckets(train, index), _buckets(valid, index)
    sizes = torch.tensor([len(v) for v in train_b.values()], dtype=torch.float)
    keys = list(train_b)
    model = build_model(
        cell,
        tokenizer.vocab_size,
        n_layer=n_layer,
        hidden_size=hidden_size,
        embedding_size=embedding_size,
        dropout=dropout,
        tie_weights=True,
    )
    log(
        f"{len(train):,} training poems, {len(valid):,} validation poems, "
        f"vocabulary {tokenizer.vocab_size:,} "
        f"(min_count {min_count}), {model.num_parameters():,} parameters"
    )
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    budget = minutes * 60
    start = time.time()
    best = math.inf
    step = 0
    history = []
    model.train()
    while True:
        elapsed = time.time() - start
        done = elapsed >= budget or (steps is not None and step >= steps)
        if step % eval_interval == 0 or done:
            v = evaluate(model, valid_b, unk) if valid_b else float("nan")
            history.append({"step": step, "minutes": round(elapsed / 60, 2), "valid_loss": v})
            log(f"step {step:6d}  {elapsed / 60:5.1f} min  valid loss {v:.4f}  ppl/char {math.exp(v):.1f}")
            if v < best or not valid_b:
                best = v
                tensors = model_tensors(model)
                if half:
                    tensors = {k: t.half() if t.is_floating_point() else t for k, t in tensors.items()}
                atomic_save_tensors(
                    out / "model.safetensors", tensors, {"step": str(step), "valid_loss": str(v)}
                )
                write_config(
                    out,
                    {
                        "name": out.name,
                        "tokenizer": tokenizer.to_dict(),
                        "model": {"name": cell, **model.config()},
                        "poetry": {
                            "tag": "【{form}】",
                            "prompt": "\\n【{form}】",
                            "unk": UNK,
                            "min_count": min_count,
                        },
                        "metrics": {
                            "step": step,
                            "valid_loss": v,
                            "valid_ppl_per_char": math.exp(v),
                            "weights": "float16" if half else "float32",
                        },
                        "training": {
                            "trainer": "dreamwright.poetry.train",
                            "data": str(data_dir),
                            "cell": cell,
                            "hidden_size": hidden_size,
                            "embedding_size": embedding_size,
                            "n_layer": n_layer,
                            "dropout": dropout,
                            "batch_size": batch_size,
                            "lr": lr,
                            "minutes": minutes,
                            "steps": steps,
                            "seed": seed,
                            "history": history,
                        },
                    },
                )
        if done:
            break
        # with a step budget the schedule depends on steps only (repeatable); else on elapsed time
        frac = step / steps if steps is not None else min(elapsed / budget, 1.0)
        for group in opt.param_groups:
            group["lr"] = (
                lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))) * min(1.0, (step + 1) / 50)
            )
        key = keys[int(torch.multinomial(sizes, 1, generator=gen))]
        data = train_b[key]
        rows = torch.randint(len(data), (batch_size,), generator=gen)
        loss, n = _loss(model, data[rows], unk)
        opt.zero_grad(set_to_none=True)
        (loss / n).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0:
            log(f"step {step:6d}  {elapsed / 60:5.1f} min  train loss {loss.item() / n:.4f}")
    return {"run_dir": str(out), "valid_loss": best, "valid_ppl_per_char": math.exp(best), "steps": step}


def main(argv: list[str] | None = None) -> None:
    """``python -m dreamwright.poetry.train DATA_DIR OUT [--minutes M] [--hidden-size H] ...``."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data_dir")
    p.add_argument("out")
    for name, kind, default in (
        ("min-count", int, 3),
        ("cell", str, "gru"),
        ("hidden-size", int, 384),
        ("embedding-size", int, 128),
        ("n-layer", int, 1),
        ("dropout", float, 0.1),
        ("batch-size", int, 64),
        ("lr", float, 3e-3),
        ("minutes", float, 15.0),
        ("steps", int, None),
        ("eval-interval", int, 250),
        ("seed", int, 0),
        ("threads", int, 2),
    ):
        p.add_argument(f"--{name}", type=kind, default=default)
    a = p.parse_args(argv)
    train_poetry_model(
        a.data_dir,
        a.out,
        min_count=a.min_count,
        cell=a.cell,
        hidden_size=a.hidden_size,
        embedding_size=a.embedding_size,
        n_layer=a.n_layer,
        dropout=a.dropout,
        batch_size=a.batch_size,
        lr=a.lr,
        minutes=a.minutes,
        steps=a.steps,
        eval_interval=a.eval_interval,
        seed=a.seed,
        threads=a.threads,
    )


if __name__ == "__main__":
    main()
