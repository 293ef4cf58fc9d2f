"""An independent check of 对联: its own reader of the plain simplified 平水韵 table, no code shared with dreamwright.

    python benchmarks/couplet_check.py pairs.tsv          # 上联<TAB>下联 per line (or - for stdin)

The table is 搜韵网's simplified one, ``$DREAMWRIGHT_DATA/rhyme/pingshui-souyun-simplified/oriYunDict.json``
(``{"一东平": "风中空…", …}``): each key names one of the 106 groups and ends in its tone, 平, 上, 去 or 入
(上, 去 and 入 are 仄); bracketed notes (``[丰收]``) are not characters. A character's readings are those of
every group it is listed under. A (上联, 下联) pair is judged on three rules:

- ``length``: both lines are the same number of Han characters (trailing ，。 and spaces ignored);
- ``tones``: at the 2nd, 4th, 6th … and the last character the two lines are opposite — some reading of the
  上联's character and some reading of the 下联's differ (a character the table lacks fails);
- ``ends_ping``: the 下联's last character has a 平 reading.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

PING, ZE = "平", "仄"
RULES = ("length", "tones", "ends_ping")
TABLE = Path("rhyme") / "pingshui-souyun-simplified" / "oriYunDict.json"
_TRAILING = "，。,.；;！!？? \t\r\n\u3000"


def han(ch: str) -> bool:
    """A CJK ideograph (the basic block, extension A, the astral extensions and the compatibility block)."""
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x3FFFF or 0xF900 <= cp <= 0xFAFF


def table_path() -> Path:
    """The simplified table in the data mirror ``$DREAMWRIGHT_DATA``."""
    root = os.environ.get("DREAMWRIGHT_DATA")
    if not root:
        raise SystemExit("error: set DREAMWRIGHT_DATA to the data mirror (it holds rhyme/pingshui-souyun-simplified/)")
    return Path(root) / TABLE


def read_table(path: Path | None = None) -> dict[str, frozenset[str]]:
    """character -> its tones (平 and/or 仄), read from the simplified 平水韵 JSON."""
    data = json.loads(Path(path or table_path()).read_text(encoding="utf-8-sig"))
    tones: dict[str, set[str]] = {}
    for key, members in data.items():
        tone = PING if key.strip("\ufeff \t").endswith("平") else ZE
        for ch in re.sub(r"\[[^\]]*\]", "", members):
            if han(ch):
                tones.setdefault(ch, set()).add(tone)
    return {ch: frozenset(t) for ch, t in tones.items()}


_TONES: dict[str, frozenset[str]] = {}


def tones_of(ch: str) -> frozenset[str]:
    """The tones the table gives ``ch`` (empty when it lacks it); the table is read on first use."""
    if not _TONES:
        _TONES.update(read_table())
    return _TONES.get(ch, frozenset())


def opposite(a: str, b: str) -> bool:
    """Some reading of ``a`` and some reading of ``b`` differ in tone (both must be in the table)."""
    ta, tb = tones_of(a), tones_of(b)
    return bool(ta and tb) and any(x != y for x in ta for y in tb)


def judge(upper: str, lower: str) -> dict[str, bool]:
    """Which of :data:`RULES` the pair keeps."""
    upper, lower = upper.strip().rstrip(_TRAILING), lower.strip().rstrip(_TRAILING)
    same = len(upper) == len(lower) > 0 and all(map(han, upper + lower))
    fixed = sorted({*range(1, len(upper), 2), len(upper) - 1}) if same else []
    return {
        "length": same,
        "tones": same and all(opposite(upper[i], lower[i]) for i in fixed),
        "ends_ping": bool(lower) and PING in tones_of(lower[-1]),
    }


def pass_rates(pairs: Iterable[tuple[str, str]]) -> tuple[int, dict[str, float]]:
    """How many pairs, and the share of them keeping each rule and all of them (``overall``)."""
    verdicts = [judge(u, d) for u, d in pairs]
    n = len(verdicts)
    rates = {rule: sum(v[rule] for v in verdicts) / max(n, 1) for rule in RULES}
    rates["overall"] = sum(all(v.values()) for v in verdicts) / max(n, 1)
    return n, rates


def read_pairs(lines: Iterable[str]) -> list[tuple[str, str]]:
    """``(上联, 下联)`` of every ``上联<TAB>下联`` line (blank lines skipped)."""
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) != 2:
            raise SystemExit(f"error: line {number} is not 上联<TAB>下联: {line.strip()[:40]!r}")
        pairs.append((parts[0], parts[1]))
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Pass rates of 对联 rules over a TSV of 上联<TAB>下联 lines.")
    parser.add_argument("pairs", help="the TSV file, or - for standard input")
    parser.add_argument("--table", type=Path, help=f"the simplified 平水韵 JSON (default: $DREAMWRIGHT_DATA/{TABLE})")
    args = parser.parse_args(argv)
    if args.table is not None:
        _TONES.update(read_table(args.table))
    if args.pairs == "-":
        pairs = read_pairs(sys.stdin)
    else:
        with open(args.pairs, encoding="utf-8") as f:
            pairs = read_pairs(f)
    n, rates = pass_rates(pairs)
    print(f"{n} pairs")
    for rule, rate in rates.items():
        print(f"{rule:10s} {100 * rate:6.1f}%")


if __name__ == "__main__":
    main()
