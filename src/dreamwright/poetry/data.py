"""`dreamwright poetry prepare`: the Tang collection as a training corpus of 绝句 and 律诗.

Reads 全唐诗 (chinese-poetry, traditional characters) through the data registry, converts it to simplified
characters with OpenCC (``t2s``), keeps poems of 4 or 8 lines that are all 5 or all 7 Han characters, and
writes one poem per line, prefixed by its form tag::

    【五绝】床前明月光，疑是地上霜。举头望明月，低头思故乡。

Editorial notes in parentheses and quotation/title marks are removed; poems with missing or composed
glyphs (□, {…}) are dropped; ？！； line ends become ，/。 so every couplet reads ``…，…。``. Duplicates are
dropped, and a validation set is held out by poem (a hash of its text, so the split is stable).

:func:`register` makes it the built-in corpus ``tang`` (prepared once into the cache).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dreamwright.data.pairs import Pair
from dreamwright.data.registry import BuiltinCorpus, cache_dir, register_corpus
from dreamwright.data.split import held_out
from dreamwright.errors import InvalidArgument
from dreamwright.poetry.prosody import FORMS, form_of, is_han
from dreamwright.poetry.sources import TANG_FILES

TAG_OPEN, TAG_CLOSE = "【", "】"
TRAIN_FILE, VALID_FILE, COUNTS_FILE = "train.txt", "valid.txt", "counts.json"

_NOTES = re.compile(r"（[^（）]*）|\([^()]*\)|〖[^〖〗]*〗|\[[^\[\]]*\]")
_MARKS = re.compile(r"[「」『』《》〈〉“”‘’·\s]")


def tag(form: str) -> str:
    """The conditioning prefix of ``form``, e.g. ``【五绝】``."""
    return f"{TAG_OPEN}{form}{TAG_CLOSE}"


def format_poem(lines: list[str]) -> str:
    """Lines joined as couplets: ``line1，line2。line3，line4。``."""
    return "".join(line + ("，" if i % 2 == 0 else "。") for i, line in enumerate(lines))


def parse_line(text: str) -> tuple[str | None, str]:
    """Split a corpus line into ``(form, poem text)``."""
    if text.startswith(TAG_OPEN) and TAG_CLOSE in text:
        end = text.index(TAG_CLOSE)
        return text[1:end], text[end + 1 :]
    return None, text


def clean_poem(paragraphs: list[str]) -> list[str] | None:
    """The lines of a poem (punctuation removed), or None when it has non-Han text left after cleaning."""
    text = "".join(paragraphs)
    for _ in range(2):
        text = _NOTES.sub("", text)
    text = _MARKS.sub("", text)
    lines = [p for p in re.split(r"[，。？！；]", text) if p]
    if not lines or not all(is_han(ch) for line in lines for ch in line):
        return None
    return lines


@dataclass
class PrepareResult:
    """Where ``prepare`` wrote its files, and what it kept."""

    out_dir: str
    train_file: str
    valid_file: str
    poems_read: int = 0
    kept: dict[str, int] = field(default_factory=dict)
    train: dict[str, int] = field(default_factory=dict)
    valid: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    characters: int = 0
    vocabulary: int = 0

    def summary(self) -> str:
        rows = [f"read {self.poems_read:,} poems; kept {sum(self.kept.values()):,}"]
        for form in FORMS:
            rows.append(
                f"  {form}: {self.kept.get(form, 0):6,} (train {self.train.get(form, 0):,}, "
                f"valid {self.valid.get(form, 0):,})"
            )
        rows.append("dropped: " + ", ".join(f"{k} {v:,}" for k, v in self.dropped.items()))
        rows.append(f"{self.characters:,} characters, {self.vocabulary:,} distinct")
        return "\n".join(rows)


def iter_tang(download: bool = True):
    """``(title, author, paragraphs)`` of every poem in the registry's 全唐诗 files (traditional)."""
    from dreamwright.data.registry import fetch

    for remote in TANG_FILES:
        path = fetch(remote, download=download)
        for poem in json.loads(path.read_text(encoding="utf-8")):
            yield poem.get("title", ""), poem.get("author", ""), poem.get("paragraphs") or []


def prepare(
    out_dir: str | Path = "data/tang", *, valid_fraction: float = 0.06, seed: int = 0, poems=None
) -> PrepareResult:
    """Build ``train.txt``/``valid.txt`` (one tagged poem per line) and ``counts.json`` in ``out_dir``.

    ``poems`` (an iterable of ``(title, author, paragraphs)``, traditional or simplified) replaces the Tang
    collection, for tests.
    """
    if not 0 <= valid_fraction < 1:
        raise InvalidArgument(
            f"valid_fraction must be in [0, 1), got {valid_fraction}", param="valid_fraction"
        )
    from opencc import OpenCC

    cc = OpenCC("t2s")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = PrepareResult(str(out), str(out / TRAIN_FILE), str(out / VALID_FILE))
    dropped: Counter[str] = Counter()
    seen: set[str] = set()
    chars: Counter[str] = Counter()
    train_lines: list[str] = []
    valid_lines: list[str] = []
    kept: Counter[str] = Counter()
    n_train: Counter[str] = Counter()
    n_valid: Counter[str] = Counter()
    for _title, _author, paragraphs in poems if poems is not None else iter_tang():
        result.poems_read += 1
        lines = clean_poem([cc.convert(p) for p in paragraphs])
        if lines is None:
            dropped["non-Han text"] += 1
            continue
        form = form_of(lines)
        if form is None:
            lengths = {len(line) for line in lines}
            dropped[
                "other line counts" if lengths <= {5, 7} and len(lengths) == 1 else "other line lengths"
            ] += 1
            continue
        text = format_poem(lines)
        if text in seen:
            dropped["duplicates"] += 1
            continue
        seen.add(text)
        kept[form] += 1
        chars.update(text)
        if held_out(text, valid_fraction, seed):
            valid_lines.append(tag(form) + text)
            n_valid[form] += 1
        else:
            train_lines.append(tag(form) + text)
            n_train[form] += 1
    (out / TRAIN_FILE).write_text("\n".join(train_lines) + "\n", encoding="utf-8")
    (out / VALID_FILE).write_text("\n".join(valid_lines) + "\n", encoding="utf-8")
    result.kept, result.train, result.valid = dict(kept), dict(n_train), dict(n_valid)
    result.dropped = dict(dropped)
    result.characters = sum(chars.values())
    result.vocabulary = len(chars)
    (out / COUNTS_FILE).write_text(
        json.dumps(asdict(result), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return result


def read_corpus(path: str | Path) -> list[tuple[str, str]]:
    """``(form, poem text)`` for every tagged line of a prepared file."""
    out = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        form, text = parse_line(raw.strip())
        if form in FORMS and text:
            out.append((form, text))
    return out


def _prepared_tang() -> tuple[list[Path], list[Path]]:
    """The verse of the Tang collection as text (one tagged poem per line), prepared once into the cache."""
    out = cache_dir() / "prepared" / "tang"
    if not ((out / TRAIN_FILE).is_file() and (out / VALID_FILE).is_file()):
        prepare(out)
    return [out / TRAIN_FILE], [out / VALID_FILE]


TANG = BuiltinCorpus(
    name="tang",
    description="全唐诗 (chinese-poetry): poems of 5/7-character lines, simplified, one per line",
    train=TANG_FILES,
    aliases=("tang-poetry", "quan-tang-shi"),
    prepare=_prepared_tang,
    task="poems",
)


def parallel_couplets(poems: list[tuple[str, str]]) -> list[Pair]:
    """上句 → 下句 of the couplets the rules require to be parallel (对仗): the 颔联 and 颈联, the second and
    third couplets of every 律诗 in ``(form, text)`` poems."""
    pairs = []
    for form, text in poems:
        if not form.endswith("律"):
            continue
        lines = [line for line in re.split("[，。]", text) if line]
        pairs.extend(Pair(lines[i], lines[i + 1]) for i in (2, 4))
    return pairs


def _prepared_couplets() -> tuple[list[Path], list[Path]]:
    """``tang-couplets``: the parallel couplets of the Tang 律诗, split as the poems are (by poem)."""
    from dreamwright.data.pairs import write_jsonl

    train_poems, valid_poems = _prepared_tang()
    out = cache_dir() / "pairs" / "tang-couplets-v1"
    files = {split: out / f"{split}.jsonl" for split in ("train", "valid")}
    for split, poem_files in (("valid", valid_poems), ("train", train_poems)):
        if not files[split].is_file():
            write_jsonl(files[split], parallel_couplets([p for f in poem_files for p in read_corpus(f)]))
    return [files["train"]], [files["valid"]]


TANG_COUPLETS = BuiltinCorpus(
    name="tang-couplets",
    description="pairs: 上句 → 下句 of the parallel couplets (颔联, 颈联) of the Tang 五律 and 七律; held out by poem "
                "as `tang` is",
    train=TANG_FILES,
    aliases=("couplets",),
    prepare=_prepared_couplets,
    task="pairs",
)


def register() -> None:
    """Make ``tang`` (trained by the ``poems`` task of :mod:`dreamwright.poetry.train`) and ``tang-couplets``
    (the ``pairs`` task) built-in corpus names."""
    register_corpus(TANG)
    register_corpus(TANG_COUPLETS)
