"""对对子, judged by a checker that shares no code with the decoder (``benchmarks/couplet_check.py``).

    python benchmarks/bench_couplets.py [RUN] [--n 300]

For the first ``n`` held-out 上联 of ``tang-couplets`` (held out by poem) it writes a 下联 three ways — with the
rules enforced while decoding (``dreamwright couplet`` at its defaults), and freely (the same model sampled at
the same temperature, and greedily, through ``generate``) — and scores them and the real held-out 下联 with the
independent checker: length, tone opposition at the 2nd, 4th, 6th and last characters, 下联 ending 平
(``overall_where_keepable``: over the 上联 for which some 下联 can keep every rule, see :func:`judgeable`). It also
reports distinct-1/2 and the share copied whole from the training 下联, and prints 20 couplets, not picked.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dreamwright  # noqa: E402
from bench_converse import diversity  # noqa: E402
from couplet_check import PING, pass_rates, tones_of  # noqa: E402
from dreamwright import plugins, poetry  # noqa: E402
from dreamwright.data.corpus import resolve_corpus  # noqa: E402
from dreamwright.data.pairs import read_pairs  # noqa: E402
from dreamwright.poetry.defaults import COUPLET_TEMPERATURE  # noqa: E402


def judgeable(upper: str) -> bool:
    """Whether some 下联 can keep every rule: the table knows the 上联's characters at the fixed positions (the
    checker fails a character it lacks), and the 上联 can end 仄 (else no 下联 is opposed at the end and ends 平)."""
    fixed = {*range(1, len(upper), 2), len(upper) - 1}
    return all(tones_of(upper[i]) for i in fixed) and bool(tones_of(upper[-1]) - {PING})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default=None, help="a couplet run (default: the bundled tang-couplet)")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    plugins.load_corpora()
    source = resolve_corpus("tang-couplets")
    valid = [p for f in source.valid_files for p in read_pairs(f).pairs][: args.n]
    training = {p.reply for f in source.train_files for p in read_pairs(f).pairs}
    writer = poetry.load_couplet_writer(args.run)
    known = [p for p in valid if all(c in writer.index for c in p.source + p.reply)]
    skipped, valid = len(valid) - len(known), known  # a character the model never saw cannot be asked for
    t = time.perf_counter()
    enforced = [writer.write(p.source, seed=i)[0].lower for i, p in enumerate(valid)]
    seconds = (time.perf_counter() - t) / len(valid)
    generator = dreamwright.load(args.run or "tang-couplet")
    rows = {"real": [p.reply for p in valid], "enforced (defaults)": enforced}
    rows[f"free, T={COUPLET_TEMPERATURE}"] = [
        generator.generate(p.source, temperature=COUPLET_TEMPERATURE, seed=i, max_new_tokens=12)[0]
        for i, p in enumerate(valid)]
    rows["free, greedy"] = [generator.generate(p.source, temperature=0, max_new_tokens=12)[0] for p in valid]
    report = {"n": len(valid), "skipped_unknown_characters": skipped, "seconds_per_couplet": seconds,
              "keepable": sum(map(judgeable, (p.source for p in valid)))}
    for name, lowers in rows.items():
        n, rates = pass_rates([(p.source, lower) for p, lower in zip(valid, lowers, strict=True)])
        keepable = [(p.source, lower) for p, lower in zip(valid, lowers, strict=True) if judgeable(p.source)]
        report[name] = {**{k: round(v, 4) for k, v in rates.items()},
                        "overall_where_keepable": round(pass_rates(keepable)[1]["overall"], 4),
                        **{k: round(v, 4) for k, v in diversity(lowers, training).items()}}
    report["examples"] = [f"{p.source} → {e}  (real: {p.reply})" for p, e in zip(valid[:20], enforced[:20],
                                                                                  strict=True)]
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
