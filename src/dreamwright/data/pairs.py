"""Input → reply pairs from any source: a TSV file, OpenAI chat JSONL, or a built-in corpus.

- **TSV**: one ``input<TAB>reply`` per line; ``\\n``, ``\\t`` and ``\\\\`` in a field stand for a newline, a tab
  and a backslash. An empty input is allowed (a reply-only model trains on such pairs).
- **JSONL**: one ``{"messages": [{"role": ..., "content": ...}, ...]}`` per line (the OpenAI chat fine-tuning
  format). Each user turn and the assistant turn after it make a pair; the earlier turns are kept before the
  user's, joined by ``TURN``, up to :data:`CONTEXT_CHARS` characters (the oldest are dropped first). System
  messages are context too.
- **Built-in**: ``shakespeare-dialogue`` (a speech of tiny Shakespeare and the next speech by another speaker);
  the poetry plugin adds ``tang-couplets``. Their files are JSONL written once into the cache.

A bad line is a :class:`~dreamwright.errors.CorpusError` naming the file and line number, unless
``skip_bad_lines`` (then the lines skipped are counted).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dreamwright.data.pair_tokens import TURN, clean
from dreamwright.errors import CorpusError

#: how much of a conversation before the last user turn the source keeps, in characters
CONTEXT_CHARS = 600
PAIR_SUFFIXES = (".tsv", ".jsonl")
_UNESCAPE = {"n": "\n", "t": "\t", "\\": "\\"}


@dataclass(frozen=True)
class Pair:
    """One training example: the source the encoder reads (turns joined by ``TURN``) and the reply."""

    source: str
    reply: str


@dataclass
class PairFile:
    """The pairs of one file and the number of bad lines skipped."""

    pairs: list[Pair]
    skipped: int = 0


def is_pair_file(path: Path) -> bool:
    return path.suffix.lower() in PAIR_SUFFIXES


def unescape(field: str) -> str:
    r"""A TSV field with ``\n``, ``\t`` and ``\\`` turned into what they stand for (other backslashes kept)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        ch = field[i]
        if ch == "\\" and i + 1 < len(field) and field[i + 1] in _UNESCAPE:
            out.append(_UNESCAPE[field[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def escape(field: str) -> str:
    """The inverse of :func:`unescape`, for writing TSV."""
    return field.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def join_turns(turns: Sequence[str], budget: int = CONTEXT_CHARS) -> str:
    """Turns joined by ``TURN``, oldest first, keeping the newest whole turns that fit in ``budget`` characters
    (the newest turn is always kept, cut to its last ``budget`` characters)."""
    turns = [clean(t) for t in turns]
    kept = [turns[-1][-budget:]] if turns else []
    used = len(kept[0]) if kept else 0
    for turn in reversed(turns[:-1]):
        used += len(turn) + 1
        if used > budget:
            break
        kept.insert(0, turn)
    return TURN.join(kept)


def conversation_pairs(messages: Sequence[dict], budget: int = CONTEXT_CHARS) -> list[Pair]:
    """Every (context + user turn → assistant turn) pair of one conversation."""
    pairs, turns = [], []
    previous_role = None
    for message in messages:
        role, content = message["role"], clean(message["content"])
        if role == "assistant" and previous_role == "user":
            pairs.append(Pair(join_turns(turns, budget), content))
        turns.append(content)
        previous_role = role
    return pairs


def _bad(path: Path, number: int, why: str, skip: bool) -> None:
    if not skip:
        raise CorpusError(f"{path}:{number}: {why}; fix the line or pass --skip-bad-lines to go on without it")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, line


def read_tsv(path: Path, *, skip_bad_lines: bool = False) -> PairFile:
    """``input<TAB>reply`` lines."""
    out = PairFile([])
    for number, line in _lines(path):
        if "\t" not in line:
            _bad(path, number, "has no tab between the input and the reply", skip_bad_lines)
            out.skipped += 1
            continue
        source, reply = line.split("\t", 1)
        reply = clean(unescape(reply))
        if not reply.strip():
            _bad(path, number, "has an empty reply", skip_bad_lines)
            out.skipped += 1
            continue
        out.pairs.append(Pair(clean(unescape(source)), reply))
    return out


def _messages(line: str) -> list[dict] | None:
    """The messages of a JSONL line, or None when it is not a conversation."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not messages:
        return None
    for m in messages:
        if not (isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")
                and isinstance(m.get("content"), str)):
            return None
    return messages


def read_jsonl(path: Path, *, skip_bad_lines: bool = False, budget: int = CONTEXT_CHARS) -> PairFile:
    """Conversations in the OpenAI chat format, one per line."""
    out = PairFile([])
    for number, line in _lines(path):
        messages = _messages(line)
        pairs = conversation_pairs(messages, budget) if messages is not None else []
        if not pairs:
            why = ("is not a conversation (a JSON object with \"messages\": [{\"role\": ..., \"content\": ...}])"
                   if messages is None else "has no user turn followed by an assistant turn")
            _bad(path, number, why, skip_bad_lines)
            out.skipped += 1
            continue
        out.pairs.extend(pairs)
    return out


def read_pairs(path: Path, *, skip_bad_lines: bool = False) -> PairFile:
    """The pairs of a ``.tsv`` or ``.jsonl`` file."""
    if path.suffix.lower() == ".jsonl":
        return read_jsonl(path, skip_bad_lines=skip_bad_lines)
    return read_tsv(path, skip_bad_lines=skip_bad_lines)


def write_jsonl(path: Path, pairs: Sequence[Pair]) -> None:
    """Pairs as one-exchange conversations (how built-in corpora are stored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for p in pairs:
            messages = [{"role": "user", "content": t} for t in p.source.split(TURN)]
            messages.append({"role": "assistant", "content": p.reply})
            f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    tmp.replace(path)


# ---------------------------------------------------------------------- shakespeare-dialogue
def speeches(text: str) -> list[tuple[str, str]]:
    """``(speaker, speech)`` of a play text laid out as tiny Shakespeare is (``NAME:`` then lines, blank
    lines between speeches)."""
    out = []
    for block in text.split("\n\n"):
        lines = block.strip("\n").split("\n")
        if len(lines) < 2 or not lines[0].endswith(":"):
            continue
        out.append((lines[0][:-1].strip(), "\n".join(lines[1:]).strip()))
    return out


def dialogue_pairs(text: str, valid_fraction: float = 0.1) -> tuple[list[Pair], list[Pair]]:
    """Each speech and the next one by another speaker, as (train, valid).

    Tiny Shakespeare does not mark where one play ends, so the held-out pairs are its contiguous last
    ``valid_fraction`` of speeches; the pair that straddles the cut is dropped, so no speech is on both sides.
    """
    spoken = speeches(text)
    cut = int(len(spoken) * (1 - valid_fraction))
    train, valid = [], []
    for i in range(len(spoken) - 1):
        (who, said), (other, reply) = spoken[i], spoken[i + 1]
        if who == other or i + 1 == cut:
            continue
        (train if i + 1 < cut else valid).append(Pair(clean(said), clean(reply)))
    return train, valid


def _prepare_dialogue() -> tuple[list[Path], list[Path]]:
    from dreamwright.data.registry import BUILTIN_CORPORA, cache_dir, fetch

    out = cache_dir() / "pairs" / "shakespeare-dialogue-v1"
    train_file, valid_file = out / "train.jsonl", out / "valid.jsonl"
    if not (train_file.is_file() and valid_file.is_file()):
        text = fetch(BUILTIN_CORPORA["shakespeare"].train[0]).read_text(encoding="utf-8")
        train, valid = dialogue_pairs(text)
        write_jsonl(valid_file, valid)
        write_jsonl(train_file, train)
    return [train_file], [valid_file]


def register_corpora() -> None:
    """Plugin hook (:mod:`dreamwright.plugins`): ``shakespeare-dialogue``."""
    from dreamwright.data.registry import BUILTIN_CORPORA, BuiltinCorpus, register_corpus

    register_corpus(BuiltinCorpus(
        name="shakespeare-dialogue",
        description="pairs: a speech of tiny Shakespeare → the next speech by another speaker (held out: the "
                    "last tenth of the speeches)",
        train=BUILTIN_CORPORA["shakespeare"].train, prepare=_prepare_dialogue, task="pairs",
    ))
