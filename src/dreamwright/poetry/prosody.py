"""近体诗 prosody: 平水韵 tones and rhyme groups, the standard tone patterns, and a checker.

Tones and rhyme groups come from two 平水韵 tables shipped in the package's ``rhyme/`` folder (sources and
licences in its ``NOTICE.md``). 搜韵网's simplified table is primary: a character it lists has exactly the
groups it is listed under there (polyphonic characters are listed under each reading, and satisfy any of
them). Wikisource's traditional table, through OpenCC, only fills characters the simplified table lacks.
Only characters missing from both fall back to their Mandarin tones (pypinyin: 1–2 平, 3–4 仄), which is
wrong for 入声 characters; the decoder never places such a character where a rule depends on its tone.

Patterns: the four line types of 五言 verse are

    A 仄仄平平仄   B 平平仄仄平   C 平平平仄仄   D 仄仄仄平平

and a 七言 line prefixes two characters of the opposite tone to the 五言 line's second one. A quatrain is one
of ABCD, DBCD, CDAB, BDAB (粘 and 对 built in); a 律诗 continues with the first four lines' 首句不入韵 form.
With 一三五不论 the 1st and 3rd (and 5th, in 七言) characters are free, except that a B line may not leave
its only 平 before the rhyme alone (孤平: the free characters of ``平平仄仄平`` may not both be 仄)
and a D line may not end in three 平 (三平尾).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dreamwright.errors import DreamwrightError, InvalidArgument

if TYPE_CHECKING:
    from dreamwright.data.registry import RemoteFile

PING, ZE = "平", "仄"
BOTH = frozenset({PING, ZE})

#: form name -> (characters per line, number of lines)
FORMS: dict[str, tuple[int, int]] = {"五绝": (5, 4), "七绝": (7, 4), "五律": (5, 8), "七律": (7, 8)}

LINE_TYPES5 = {"A": "仄仄平平仄", "B": "平平仄仄平", "C": "平平平仄仄", "D": "仄仄仄平平"}
#: quatrain line-type sequences: (types, first line rhymes)
QUATRAINS = (("ABCD", False), ("DBCD", True), ("CDAB", False), ("BDAB", True))

LINE_BREAKS = "，。？！；"
_NUMS = "一二三四五六七八九十"


def is_han(ch: str) -> bool:
    """True for a CJK ideograph (any block, including the extensions)."""
    if len(ch) != 1:
        return False
    cp = ord(ch)
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x3FFFF or 0xF900 <= cp <= 0xFAFF:
        return True
    return cp == 0x3007  # 〇


def check_form(form: str) -> tuple[int, int]:
    """``(characters per line, lines)`` of ``form``; raises for an unknown form."""
    try:
        return FORMS[form]
    except KeyError:
        raise InvalidArgument(
            f"unknown form {form!r}; choose one of {', '.join(FORMS)}", param="form"
        ) from None


def line_pattern(kind: str, length: int) -> str:
    """The 平/仄 string of line type ``kind`` (A–D) for a ``length``-character line."""
    five = LINE_TYPES5[kind]
    if length == 5:
        return five
    opposite = ZE if five[1] == PING else PING
    return opposite * 2 + five


@dataclass(frozen=True)
class Pattern:
    """One standard tone pattern of a form: a line type per line, and whether line 1 rhymes."""

    length: int
    types: str
    first_rhymes: bool

    @property
    def lines(self) -> list[str]:
        return [line_pattern(t, self.length) for t in self.types]

    @property
    def rhyme_lines(self) -> tuple[int, ...]:
        """0-based indices of the rhyming lines."""
        return tuple(i for i in range(len(self.types)) if i % 2 == 1 or (i == 0 and self.first_rhymes))

    @property
    def name(self) -> str:
        start = "平起" if self.lines[0][1] == PING else "仄起"
        return f"{start}首句{'入' if self.first_rhymes else '不入'}韵"

    def __str__(self) -> str:
        return f"{self.name} ({'，'.join(self.lines)})"


def patterns(form: str) -> list[Pattern]:
    """The four standard patterns of ``form``."""
    length, n_lines = check_form(form)
    out = []
    for types, first in QUATRAINS:
        if n_lines == 8:
            plain = {"A": "A", "D": "A", "C": "C", "B": "C"}[types[0]] + types[1:]
            types = types + plain
        out.append(Pattern(length, types, first))
    return out


def allowed_tones(
    kind: str, length: int, pos: int, prefix: Sequence[frozenset[str]], exceptions: bool = True
) -> frozenset[str]:
    """Tones allowed at ``pos`` of a line of type ``kind``, given the tone sets already placed before it.

    一三五不论 frees the odd positions (1st, 3rd, and 5th in 七言) except the last; with ``exceptions``,
    孤平 (a B line with both its free characters 仄) and 三平尾 (a D line ending 平平平) are excluded.
    """
    pattern = line_pattern(kind, length)
    off = length - 5
    if pos == length - 1 or pos % 2 == 1:
        return frozenset({pattern[pos]})
    if exceptions:
        if kind == "D" and pos == off + 2:
            return frozenset({ZE})  # 三平尾
        if kind == "B" and pos == off + 2 and len(prefix) > off and PING not in prefix[off]:
            return frozenset({PING})  # 孤平: the first free position went 仄, this one must be 平
    return BOTH


def line_fits(kind: str, tones: Sequence[frozenset[str]], exceptions: bool = True) -> bool:
    """Whether a line whose characters have tone sets ``tones`` fits line type ``kind``."""
    for pos, t in enumerate(tones):
        allowed = allowed_tones(kind, len(tones), pos, tones[:pos], exceptions)
        if allowed != BOTH and not t & allowed:  # a free position takes anything, even an unknown tone
            return False
    return True


@dataclass(frozen=True)
class RhymeGroup:
    """One of the 106 平水韵 groups."""

    id: str  # the group's name character, e.g. "东"
    name: str  # e.g. "上平一东"
    section: str  # 上平, 下平, 上, 去, 入
    index: int  # 0..105 in table order

    @property
    def tone(self) -> str:
        return PING if self.section in ("上平", "下平") else ZE


class RhymeTable:
    """Tones and 平水韵 groups of characters.

    ``members`` maps a group id to its characters; ``fill`` (optional) does the same for characters the
    primary table lacks, read from a secondary table. A character of the primary table takes its readings
    from it alone; ``fill`` only supplies characters that ``members`` does not list at all.
    """

    def __init__(
        self,
        groups: Sequence[RhymeGroup],
        members: dict[str, Iterable[str]],
        fill: dict[str, Iterable[str]] | None = None,
    ) -> None:
        self.groups = list(groups)
        self.by_id = {g.id: g for g in self.groups}
        self.char_groups: dict[str, frozenset[str]] = {}
        for gid, chars in members.items():
            for ch in chars:
                self.char_groups[ch] = self.char_groups.get(ch, frozenset()) | {gid}
        self.primary: frozenset[str] = frozenset(self.char_groups)
        for gid, chars in (fill or {}).items():
            for ch in chars:
                if ch not in self.primary:
                    self.char_groups[ch] = self.char_groups.get(ch, frozenset()) | {gid}

    # ------------------------------------------------------------------ lookups
    def groups_of(self, ch: str) -> frozenset[str]:
        """Ids of the rhyme groups ``ch`` belongs to (empty when the table lacks it)."""
        return self.char_groups.get(ch, frozenset())

    def in_table(self, ch: str) -> bool:
        """Whether a table lists ``ch`` (its tones do not come from Mandarin)."""
        return ch in self.char_groups

    def in_primary(self, ch: str) -> bool:
        """Whether the primary (simplified 搜韵) table lists ``ch``."""
        return ch in self.primary

    def table_tones(self, ch: str) -> frozenset[str]:
        """平 and/or 仄 for ``ch`` from the tables only; empty when neither lists it."""
        return frozenset(self.by_id[g].tone for g in self.char_groups.get(ch, ()))

    def tones(self, ch: str) -> frozenset[str]:
        """平 and/or 仄 for ``ch``: from the table, else its Mandarin tones; empty when unknown."""
        return self.table_tones(ch) if ch in self.char_groups else mandarin_tones(ch)

    def ping_groups(self) -> list[RhymeGroup]:
        return [g for g in self.groups if g.tone == PING]

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_files(cls, simplified: Path | None, traditional: Path | None) -> RhymeTable:
        """Build the table from the 搜韵 simplified JSON and/or the Wikisource traditional JSON.

        The simplified table is primary: a character it lists keeps exactly its entries there (it lists a
        polyphonic character under each reading). The traditional table only fills characters the simplified
        one lacks — the traditional character itself and its OpenCC simplification — and never adds a
        reading to a character the simplified table has (simplification merges characters: 闇 → 暗).
        """
        groups = _standard_groups()
        members: dict[str, set[str]] = {g.id: set() for g in groups}
        fill: dict[str, set[str]] = {g.id: set() for g in groups}
        if simplified is not None:
            data = json.loads(Path(simplified).read_text(encoding="utf-8-sig"))
            for key, text in data.items():
                key = key.strip("\ufeff")
                gid = _souyun_group_id(key, groups)
                text = re.sub(r"\[[^\]]*\]", "", text)
                members[gid].update(ch for ch in text if is_han(ch))
        if traditional is not None:
            data = json.loads(Path(traditional).read_text(encoding="utf-8-sig"))
            cc = _t2s()
            for tone in data.values():
                for rhymes in tone.values():
                    for key, strings in rhymes.items():
                        gid = _group_id(cc.convert(key[-1]), groups)
                        for ch in "".join(strings):
                            if is_han(ch):
                                fill[gid].add(ch)
                                simp = cc.convert(ch)
                                if len(simp) == 1 and is_han(simp):
                                    fill[gid].add(simp)
        return cls(groups, members, fill)

    @classmethod
    def load(cls, *, download: bool = False) -> RhymeTable:
        """The table from the 平水韵 files shipped in the package; cached per process.

        A file missing from the package (a trimmed install) is read through the data registry instead:
        ``$DREAMWRIGHT_DATA``, the user cache, and a download only when ``download`` is true.
        """
        return _load_default(download)


_SECTIONS = (
    ("上平", "东冬江支微鱼虞齐佳灰真文元寒删"),
    ("下平", "先萧肴豪歌麻阳庚青蒸尤侵覃盐咸"),
    ("上", "董肿讲纸尾语麌荠蟹贿轸吻阮旱潸铣筱巧皓哿马养梗迥有寝感琰豏"),
    ("去", "送宋绛寘未御遇霁泰卦队震问愿翰谏霰啸效号个祃漾敬径宥沁勘艳陷"),
    ("入", "屋沃觉质物月曷黠屑药陌锡职缉合叶洽"),
)
_ALIASES = {"俭": "琰", "篠": "筱", "筿": "筱", "豔": "艳", "箇": "个", "個": "个", "禡": "祃"}


def _number(n: int) -> str:
    if n <= 10:
        return _NUMS[n - 1]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _NUMS[tens - 1]) + "十" + (_NUMS[ones - 1] if ones else "")


@functools.lru_cache(maxsize=1)
def _standard_groups() -> tuple[RhymeGroup, ...]:
    out = []
    for section, names in _SECTIONS:
        for i, ch in enumerate(names, 1):
            out.append(RhymeGroup(ch, f"{section}{_number(i)}{ch}", section, len(out)))
    return tuple(out)


def _group_id(name_char: str, groups: Sequence[RhymeGroup]) -> str:
    name_char = _ALIASES.get(name_char, name_char)
    if not any(g.id == name_char for g in groups):
        raise DreamwrightError(
            f"unknown 平水韵 group {name_char!r} in the rhyme table; the file is not the expected one"
        )
    return name_char


def _souyun_group_id(key: str, groups: Sequence[RhymeGroup]) -> str:
    # keys look like 一东平, 二十一个去, 二十八俭上
    return _group_id(key[-2], groups)


@functools.lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


@functools.lru_cache(maxsize=4096)
def mandarin_tones(ch: str) -> frozenset[str]:
    """平/仄 from the Mandarin readings of ``ch`` (1–2 平, 3–4 仄): fallback when the table lacks it."""
    if not is_han(ch):
        return frozenset()
    from pypinyin import Style, pinyin

    out = set()
    readings = pinyin(ch, style=Style.TONE3, heteronym=True, errors="ignore")
    for reading in readings[0] if readings else []:
        digit = reading[-1:]
        if digit in ("1", "2"):
            out.add(PING)
        elif digit in ("3", "4"):
            out.add(ZE)
    return frozenset(out)


#: the folder of the 平水韵 tables shipped in the package (see its NOTICE.md)
PACKAGED_RHYME_DIR = Path(__file__).with_name("rhyme")


def _table_file(remote: RemoteFile, download: bool) -> Path:
    """The packaged copy of ``remote``, else the registry's (mirror, cache, download when allowed)."""
    from dreamwright.data.registry import fetch
    from dreamwright.errors import CorpusError

    packaged = PACKAGED_RHYME_DIR / Path(remote.relpath).name
    if packaged.is_file():
        return packaged
    try:
        return fetch(remote, download=download)
    except CorpusError as exc:
        # one piece of advice each: the download error says how to get the file, this says what else helps
        why = str(exc) if download else "it is not in $DREAMWRIGHT_DATA or the cache either"
        raise CorpusError(
            f"the 平水韵 rhyme table {packaged.name} is missing from the installed package ({packaged.parent}) "
            f"and {why}; reinstalling dreamwright restores it"
        ) from None


@functools.lru_cache(maxsize=2)
def _load_default(download: bool) -> RhymeTable:
    from dreamwright.poetry.sources import PINGSHUI_SIMPLIFIED, PINGSHUI_TRADITIONAL

    simplified = _table_file(PINGSHUI_SIMPLIFIED, download)
    traditional = _table_file(PINGSHUI_TRADITIONAL, download)
    return RhymeTable.from_files(simplified, traditional)


# ---------------------------------------------------------------------------------------------- checker
def split_lines(text: str) -> list[str]:
    """The lines of a poem: split at ，。？！； and line breaks, spaces and other marks dropped."""
    text = unicodedata.normalize("NFKC", text).replace(",", "，").replace(".", "。")
    text = text.replace("?", "？").replace("!", "！").replace(";", "；")
    parts = re.split(r"[，。？！；\n]+", text)
    return [p for p in (re.sub(r"\s+", "", p) for p in parts) if p]


@dataclass
class PoemReport:
    """What the checker found in one poem."""

    lines: list[str]
    form: str | None  # 五绝 / 七绝 / 五律 / 七律, or None when the shape is none of them
    tones: list[list[frozenset[str]]] = field(default_factory=list)
    format_ok: bool = False
    rhyme_ok: bool = False  # lines 2, 4 (6, 8) share a 平水韵 group
    rhyme_group: RhymeGroup | None = None
    tone_ok: bool = False  # fits a standard pattern (一三五不论, no 孤平 / 三平尾)
    pattern: Pattern | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def regulated(self) -> bool:
        """Strictly regulated: a standard tone pattern, rhymed in one 平 group."""
        return (
            self.tone_ok and self.rhyme_ok and self.rhyme_group is not None and self.rhyme_group.tone == PING
        )


def form_of(lines: Sequence[str]) -> str | None:
    """The form whose shape ``lines`` have, or None."""
    for name, (length, n_lines) in FORMS.items():
        if len(lines) == n_lines and all(len(line) == length and all(map(is_han, line)) for line in lines):
            return name
    return None


def _common_group(chars: Iterable[str], table: RhymeTable, prefer_ping: bool = True) -> RhymeGroup | None:
    sets = [table.groups_of(c) for c in chars]
    if not sets or not all(sets):
        return None
    common = frozenset.intersection(*sets)
    if not common:
        return None
    ordered = sorted(
        (table.by_id[g] for g in common), key=lambda g: (prefer_ping and g.tone != PING, g.index)
    )
    return ordered[0]


def check_poem(
    text: str | Sequence[str], table: RhymeTable | None = None, form: str | None = None
) -> PoemReport:
    """Check shape, rhyme and tone pattern of a poem (a string, or its lines)."""
    table = table or RhymeTable.load()
    lines = (
        split_lines(text)
        if isinstance(text, str)
        else [split_lines(x)[0] if split_lines(x) else "" for x in text]
    )
    found = form_of(lines)
    report = PoemReport(lines=lines, form=found)
    report.tones = [[table.tones(c) for c in line] for line in lines]
    if form is not None:
        check_form(form)
        report.format_ok = found == form
    else:
        report.format_ok = found is not None
    if found is None:
        report.problems.append("not a 五绝/七绝/五律/七律 shape (4 or 8 lines of 5 or 7 Han characters)")
        return report
    ends = [line[-1] for line in lines]
    report.rhyme_group = _common_group(ends[1::2], table)
    report.rhyme_ok = report.rhyme_group is not None
    if not report.rhyme_ok:
        report.problems.append(
            f"lines {', '.join(str(i + 1) for i in range(1, len(lines), 2))} share no rhyme group"
        )
    best: tuple[int, Pattern] | None = None
    first_rhymes = report.rhyme_group is not None and report.rhyme_group.id in table.groups_of(ends[0])
    for pat in sorted(patterns(found), key=lambda p: p.first_rhymes != first_rhymes):
        pairs = enumerate(zip(pat.types, report.tones, strict=True))
        bad = [i for i, (kind, tones) in pairs if not line_fits(kind, tones)]
        if (
            pat.first_rhymes
            and report.rhyme_group is not None
            and report.rhyme_group.id not in table.groups_of(ends[0])
        ):
            bad.append(0)
        if best is None or len(set(bad)) < best[0]:
            best = (len(set(bad)), pat)
        if not bad:
            report.tone_ok, report.pattern = True, pat
            break
    if not report.tone_ok and best is not None:
        report.problems.append(
            f"no standard tone pattern fits (closest: {best[1].name}, {best[0]} line(s) off)"
        )
    return report


def tone_marks(line: str, table: RhymeTable) -> str:
    """One mark per character: 平, 仄, 中 (either tone) or ？ (unknown)."""
    out = []
    for ch in line:
        t = table.tones(ch)
        out.append("中" if t == BOTH else PING if t == {PING} else ZE if t == {ZE} else "？")
    return "".join(out)
