"""An independent 近体诗 compliance check: its own reader of the plain simplified 平水韵 table, no code shared
with :mod:`dreamwright.poetry.prosody`.

    python benchmarks/poetry_strict.py "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"

The table is 搜韵网's simplified one (``oriYunDict.json``: ``{"一东平": "风中空…", …}``), with bracketed notes
(``[作为]``) removed; a key ends in 平, 上, 去 or 入, and its group is the key without that tone character.
A character's tones are those of every group it is listed under. For a poem of 4 or 8 lines of 5 or 7 Han
characters the rules are:

1. *rhyme*: the last characters of lines 2 and 4 (6, 8) are 平-capable and share one 平 group — and so does
   line 1's when it ends in a character that is only 平;
2. *alternation*: in every line the 2nd, 4th (and 6th) characters alternate 平/仄 wherever both characters
   of a pair are unambiguous (one tone in the table);
3. *粘/对*: the 2nd characters of lines 1–2, 3–4, … are opposite (对) and of lines 2–3, 4–5, … the same
   (粘), wherever both are unambiguous.

Characters the table lacks are ambiguous (they break no alternation rule), but a rhyme position needs a
character the table lists as 平.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

PING, ZE = "平", "仄"
_HERE = Path(__file__).resolve().parent
CANDIDATES = (
    _HERE.parent / "src" / "dreamwright" / "poetry" / "rhyme" / "oriYunDict.json",
    Path("/work/shared/data/rhyme/pingshui-souyun-simplified/oriYunDict.json"),
)


@dataclass
class SimpleTable:
    """char -> {group: tone} from the simplified table."""

    entries: dict[str, dict[str, str]]

    @classmethod
    def read(cls, path: Path | None = None) -> SimpleTable:
        path = path or next(p for p in CANDIDATES if p.is_file())
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
        entries: dict[str, dict[str, str]] = {}
        for key, chars in data.items():
            key = key.strip("\ufeff").strip()
            tone = PING if key[-1] == "平" else ZE
            group = key[:-1]
            for ch in re.sub(r"\[[^\]]*\]", "", chars):
                if "\u3400" <= ch <= "\u9fff" or ord(ch) >= 0x20000:
                    entries.setdefault(ch, {})[group] = tone
        return cls(entries)

    def tones(self, ch: str) -> set[str]:
        return set(self.entries.get(ch, {}).values())

    def ping_groups(self, ch: str) -> set[str]:
        return {g for g, t in self.entries.get(ch, {}).items() if t == PING}

    def one_tone(self, ch: str) -> str | None:
        t = self.tones(ch)
        return next(iter(t)) if len(t) == 1 else None


@dataclass
class Verdict:
    lines: list[str]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def split(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[，。？！；,.?!;\s]+", text) if p.strip()]


def check(text: str, table: SimpleTable) -> Verdict:
    """The rules above for one poem; an empty ``problems`` list means it complies."""
    lines = split(text)
    v = Verdict(lines)
    if len(lines) not in (4, 8) or len({len(x) for x in lines}) != 1 or len(lines[0]) not in (5, 7):
        v.problems.append("shape: not 4 or 8 lines of 5 or 7 characters")
        return v
    n = len(lines[0])
    ends = [x[-1] for x in lines]
    rhymes = [i for i in range(1, len(lines), 2)]
    for i in rhymes:
        if PING not in table.tones(ends[i]):
            v.problems.append(f"rhyme: line {i + 1} ends in {ends[i]}, not a 平 character of the table")
    if table.tones(ends[0]) == {PING}:
        rhymes = [0, *rhymes]
    shared = set.intersection(*(table.ping_groups(ends[i]) for i in rhymes))
    if not shared:
        v.problems.append(f"rhyme: {'/'.join(ends[i] for i in rhymes)} share no 平 group")
    fixed = [k for k in (1, 3, 5) if k < n]
    for li, line in enumerate(lines):
        for a, b in zip(fixed, fixed[1:], strict=False):
            ta, tb = table.one_tone(line[a]), table.one_tone(line[b])
            if ta and tb and ta == tb:
                v.problems.append(f"alternation: line {li + 1} has {ta} at both {a + 1} and {b + 1} ({line})")
    for li in range(len(lines) - 1):
        ta, tb = table.one_tone(lines[li][1]), table.one_tone(lines[li + 1][1])
        if ta and tb:
            dui = li % 2 == 0  # lines 1-2, 3-4: opposite; 2-3, 4-5: the same
            if dui and ta == tb:
                v.problems.append(f"对: lines {li + 1}-{li + 2} both {ta} at the 2nd character")
            if not dui and ta != tb:
                v.problems.append(f"粘: lines {li + 1}-{li + 2} differ at the 2nd character")
    return v


if __name__ == "__main__":
    t = SimpleTable.read()
    for poem in sys.argv[1:]:
        verdict = check(poem, t)
        print(("ok  " if verdict.ok else "BAD ") + poem)
        for p in verdict.problems:
            print("    " + p)
