"""How well dreamwright converses: does the seq2seq model read the input, are its replies varied, how fast is it.

    python benchmarks/bench_converse.py reads SEQ2SEQ_RUN BLIND_RUN      # held-out reply perplexity, both runs
    python benchmarks/bench_converse.py replies RUN [--n 300]             # diversity, blandness, copying, speed

``BLIND_RUN`` is the same model trained on the same pairs with the inputs blanked
(``benchmarks/converse_data.py``): a reply-only language model with the same data, split, order, token budget
and architecture. Both are scored on the same held-out replies in bits per reply character (their vocabularies
may differ by characters that occur only in inputs, so per-token figures would not compare).

Diversity is measured on replies to held-out inputs at the chat defaults (temperature 0.8, one sample each),
against the real held-out replies to the same inputs: distinct-1 and distinct-2 (distinct words, or characters
for Chinese, over all replies), the share of replies that are one of the 10 most frequent, and the share copied
whole from the training replies. Results go to docs/converse.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from collections import Counter
from pathlib import Path

import torch

import dreamwright
from dreamwright import plugins
from dreamwright.data.corpus import resolve_corpus
from dreamwright.data.pairs import Pair, read_pairs
from dreamwright.decoding import SamplingParams, sample_rows
from dreamwright.training.pairs import reply_loss

CHAT_TEMPERATURE = 0.8


def held_out_pairs(run: Path, limit: int | None = None):
    """The held-out and training pairs of the corpus ``run`` was trained on."""
    plugins.load_corpora()
    config = json.loads((run / "config.json").read_text())
    source = resolve_corpus(config["train"]["corpus"])
    valid = [p for f in source.valid_files or [] for p in read_pairs(f).pairs]
    train = [p for f in source.train_files for p in read_pairs(f).pairs]
    return valid[:limit] if limit else valid, train


def bits_per_reply_char(run: Path, pairs) -> float:
    generator = dreamwright.load(run)
    nats_per_token = reply_loss(generator.model, generator.tokenizer, pairs,
                                max_len=generator.config["train"]["seq_len"])
    tokens = sum(len(p.reply) + 1 for p in pairs)  # characters and the end of each reply
    return nats_per_token * tokens / sum(len(p.reply) for p in pairs) / math.log(2)


def reads(seq2seq: Path, blind: Path) -> dict:
    """Bits per held-out reply character of the seq2seq model (reading the input) and of the reply-only model
    (reading a blank input, as it was trained), over the pairs whose characters both models know."""
    valid, _ = held_out_pairs(seq2seq)
    known = [set(dreamwright.load(run).tokenizer.index) for run in (seq2seq, blind)]
    valid = [p for p in valid if set(p.source + p.reply) <= known[0] and set(p.reply) <= known[1]]
    with_input = bits_per_reply_char(seq2seq, valid)
    without = bits_per_reply_char(blind, [Pair("", p.reply) for p in valid])
    ppl_with, ppl_without = 2 ** with_input, 2 ** without
    return {"pairs": len(valid), "seq2seq_bpc": with_input, "reply_only_bpc": without,
            "seq2seq_ppl_per_char": ppl_with, "reply_only_ppl_per_char": ppl_without,
            "perplexity_lower_by": 1 - ppl_with / ppl_without}


def units(text: str) -> list[str]:
    """Words of English, characters of Chinese."""
    if re.search(r"[\u4e00-\u9fff]", text):
        return [c for c in text if not c.isspace()]
    return re.findall(r"[\w']+|[^\w\s]", text.lower())


def diversity(replies: list[str], training: set[str]) -> dict:
    grams1 = [u for r in replies for u in units(r)]
    grams2 = [g for r in replies for g in zip(units(r), units(r)[1:], strict=False)]
    top10 = sum(n for _, n in Counter(replies).most_common(10))
    return {"distinct_1": len(set(grams1)) / max(len(grams1), 1), "distinct_2": len(set(grams2)) / max(len(grams2), 1),
            "top10_share": top10 / len(replies), "copied": sum(r in training for r in replies) / len(replies),
            "mean_chars": sum(map(len, replies)) / len(replies)}


def write_replies(generator, sources: list[str], seed: int, max_new_tokens: int, batch: int = 32) -> list[str]:
    """One reply per source at the chat defaults, ``batch`` sources decoded together."""
    params = SamplingParams(temperature=CHAT_TEMPERATURE)
    out = []
    for start in range(0, len(sources), batch):
        chunk = sources[start:start + batch]
        prompts = [generator.encode_prompt(s, unknown="skip") for s in chunk]
        rows = sample_rows(params, seed + start, len(chunk), max_new_tokens, generator.stops(None))
        out.extend(c.text for c in generator.decode(prompts, rows).finish())
    return out


def speed(generator, sources: list[str], max_new_tokens: int) -> dict:
    """Seconds per reply one at a time, and replies per second 32 at a time (best of 3 rounds)."""
    single, batched = math.inf, math.inf
    for _ in range(3):
        t = time.perf_counter()
        alone = [write_replies(generator, [s], 0, max_new_tokens, batch=1)[0] for s in sources[:8]]
        single = min(single, (time.perf_counter() - t) / 8)
        t = time.perf_counter()
        together = write_replies(generator, sources[:32], 0, max_new_tokens, batch=32)
        batched = min(batched, time.perf_counter() - t)
    chars = sum(map(len, together)) / len(together)
    return {"seconds_per_reply_batch1": single, "replies_per_s_batch32": 32 / batched,
            "mean_reply_chars": chars, "alone_mean_chars": sum(map(len, alone)) / len(alone)}


def replies(run: Path, n: int, seed: int) -> dict:
    generator = dreamwright.load(run)
    valid, train = held_out_pairs(run, n)
    max_new = generator.config["train"]["seq_len"]
    written = write_replies(generator, [p.source for p in valid], seed, max_new)
    training = {p.reply for p in train}
    return {"n": len(valid), "written": diversity(written, training),
            "real": diversity([p.reply for p in valid], training), "speed": speed(generator, [p.source for p in valid],
                                                                                   max_new),
            "examples": [{"input": p.source, "reply": r, "real": p.reply} for p, r in zip(valid[:20], written[:20],
                                                                                        strict=True)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    r = sub.add_parser("reads", help="held-out reply perplexity with and without the input")
    r.add_argument("seq2seq", type=Path)
    r.add_argument("blind", type=Path)
    w = sub.add_parser("replies", help="diversity, blandness, copying and speed of replies")
    w.add_argument("run", type=Path)
    w.add_argument("--n", type=int, default=300)
    w.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = reads(args.seq2seq, args.blind) if args.what == "reads" else replies(args.run, args.n, args.seed)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
