"""Planning a poem's theme line by line (after Wang et al. 2016, planning-based poetry generation).

A theme (``秋思``) or the user's keywords expand into one keyword per line from corpus statistics shipped in
``keywords.json`` (built by ``scripts/build_poetry_keywords.py`` from the Tang training split): two-character
words read at the verse's word boundaries, and for each its partners of highest PMI of co-occurrence within a
poem. The writer then nudges each line toward its keyword (a :class:`~dreamwright.decoding.Bias` on the
keyword's characters until they appear in that line).

Planning: the user's keywords come first, in order, one per line; the remaining lines get, one at a time, the
keyword with the highest summed PMI to everything planned so far (theme included) that shares no character
with it, drawn among the best few with a seeded generator so poems of one request differ. A theme or keyword
the statistics lack stands for the frequent keywords that contain one of its characters (边塞 → 江边, 水边 …).
That fallback is visible: the plan shows what a theme stood for, and :meth:`Plan.warning` names the words of
more than one character the statistics lack (a user keyword among them stays in the plan, but the model
seldom writes a word it never read). Importing this module is cheap (no torch).
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
    #: the keywords a theme the statistics lack stood for (empty when the theme is a keyword itself)
    stand_ins: tuple[str, ...] = ()
    #: the user's keywords the statistics lack (words of two or more characters, or characters in no keyword)
    unknown: tuple[str, ...] = ()

    def render(self) -> str:
        """``（主题 秋思：计划 秋风｜明月｜…）`` for ``--marks``; a theme that stood for other keywords shows them
        (``主题 边塞→江边/水边/天边``)."""
        via = "→" + "/".join(self.stand_ins) if self.stand_ins else ""
        head = f"主题 {self.theme}{via}：" if self.theme else ""
        return f"（{head}计划 " + "｜".join(k or "–" for k in self.keywords) + "）"

    def warning(self) -> str | None:
        """One line naming the words the statistics lack and what became of them; None when all are known."""
        parts = []
        if self.theme and len(self.theme) > 1 and self.stand_ins:
            parts.append(f"theme {self.theme} is not in the Tang corpus's keyword statistics, so it was planned "
                         f"from keywords sharing a character with it: {', '.join(self.stand_ins)}")
        if self.unknown:
            words = f"keywords {', '.join(self.unknown)} are" if len(self.unknown) > 1 else \
                f"keyword {self.unknown[0]} is"
            parts.append(f"{words} not in the Tang corpus's keyword statistics: kept in the plan, but the model "
                         "seldom writes a word it never read (2-6% of such lines in docs/poetry.md)")
        return "; ".join(parts) or None


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
        stood_for = tuple(self.stand_ins(theme)) if theme and theme not in self.counts else ()
        return Plan(tuple(planned), theme, stood_for, tuple(k for k in keywords if not self.knows(k)))

    def knows(self, word: str) -> bool:
        """Whether the statistics have ``word``: as a keyword, or (a single character) inside one."""
        return word in self.counts or (len(word) == 1 and bool(self.stand_ins(word)))


def plans_warning(plans: Sequence[Plan | None]) -> str | None:
    """The warning of a request's plans (one per poem; they differ only in what the planner drew)."""
    return next((plan.warning() for plan in plans if plan is not None), None)


@functools.lru_cache(maxsize=1)
def _load_default() -> Planner:
    return Planner._read(KEYWORDS_FILE)
