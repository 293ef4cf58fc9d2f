"""Planning a poem's theme line by line (after Wang et al. 2016, planning-based poetry generation).

A theme (``秋思``) or the user's keywords expand into one keyword per line from corpus statistics shipped in
``keywords.json`` (built by ``scripts/build_poetry_keywords.py`` from the Tang training split): two-character
words read at the verse's word boundaries, and for each its partners of highest PMI of co-occurrence within a
poem. The writer then nudges each line toward its keyword (a :class:`~dreamwright.decoding.Bias` on the
keyword's characters until they appear in that line).

Planning: the user's keywords come first, in order, one per line; the remaining lines get, one at a time, the
keyword with the highest summed PMI to everything planned so far (theme included) that shares no character
with it, drawn among the best few with a seeded generator so poems of one request differ. A theme or keyword
the statistics lack stands for the frequent keywords that contain one of its characters (秋思 → 相思, 秋风 …).
Importing this module is cheap (no torch).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dreamwright.errors import InvalidArgument

KEYWORDS_FILE = Path(__file__).with_name("keywords.json")
#: a line's keyword is drawn among this many best-scoring candidates
TOP = 4
#: a theme absent from the statistics stands for at most this many keywords containing its characters
STAND_INS = 3


@dataclass(frozen=True)
class Plan:
    """One keyword per line (``None`` where nothing could be planned) and where they came from."""

    keywords: tuple[str | None, ...]
    theme: str | None = None

    def render(self) -> str:
        """``（计划 秋风｜明月｜…）`` for ``--marks``."""
        head = f"主题 {self.theme}：" if self.theme else ""
        return f"（{head}计划 " + "｜".join(k or "–" for k in self.keywords) + "）"


class Planner:
    """Keyword statistics and the planning rule of the module docstring."""

    def __init__(self, counts: dict[str, int], neighbours: dict[str, Sequence[Sequence]]) -> None:
        self.counts = counts
        self.neighbours = {w: {str(y): float(v) for y, v in nb} for w, nb in neighbours.items()}

    @classmethod
    def load(cls, path: Path | None = None) -> Planner:
        """The statistics shipped in the package (cached per process for the default file)."""
        return _load_default() if path is None else cls._read(path)

    @classmethod
    def _read(cls, path: Path) -> Planner:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data["keywords"], data["neighbours"])

    def stand_ins(self, word: str) -> list[str]:
        """``word`` itself when the statistics know it, else its most frequent keywords sharing a character."""
        if word in self.counts:
            return [word]
        found = [w for w in self.counts if set(w) & set(word)]
        return sorted(found, key=lambda w: -self.counts[w])[:STAND_INS]

    def plan(
        self,
        n_lines: int,
        *,
        theme: str | None = None,
        keywords: Sequence[str] = (),
        seed: int = 0,
        allowed: Callable[[str], bool] | None = None,
    ) -> Plan:
        """One keyword per line for a poem of ``n_lines`` lines; planned keywords satisfy ``allowed`` (e.g. the
        model knows their characters)."""
        if len(keywords) > n_lines:
            raise InvalidArgument(
                f"{len(keywords)} keywords for a poem of {n_lines} lines; give at most {n_lines}", param="keywords"
            )
        anchors: list[str] = []
        if theme:
            anchors += self.stand_ins(theme)
            if not anchors:
                raise InvalidArgument(
                    f"theme {theme!r}: none of its characters occurs in a keyword of the Tang corpus; "
                    "try another theme or give --keywords",
                    param="theme",
                )
        for k in keywords:
            anchors += self.stand_ins(k)
        planned: list[str | None] = list(keywords)
        rng = random.Random(seed)
        used = set("".join(keywords))
        while len(planned) < n_lines:
            scores: dict[str, float] = {}
            for a in dict.fromkeys(anchors + [p for p in planned if p]):
                for y, v in self.neighbours.get(a, {}).items():
                    if not set(y) & used and y not in anchors and (allowed is None or allowed(y)):
                        scores[y] = scores.get(y, 0.0) + v
            if not scores:
                planned.append(None)
                continue
            best = sorted(scores, key=lambda w: (-scores[w], w))[:TOP]
            pick = rng.choice(best)
            planned.append(pick)
            used |= set(pick)
        return Plan(tuple(planned), theme)


@functools.lru_cache(maxsize=1)
def _load_default() -> Planner:
    return Planner._read(KEYWORDS_FILE)
