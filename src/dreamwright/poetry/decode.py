"""Constrained decoding of 绝句/律诗: form, acrostic, rhyme and tones enforced while sampling.

The model reads ``\\n【五绝】`` and then one slot at a time: a Han character at each line position,
``，``/``。`` forced at each line end. At a character slot the logits are masked (−inf) to

- Han characters of the vocabulary (never ``□``, punctuation, tags);
- the acrostic / ``start`` character when one is fixed there;
- with tones on, the tones some still-possible standard pattern allows there (the pattern is not chosen up
  front: every pattern the poem so far fits stays a candidate, and a character prunes those it breaks);
- at a rhyming position, characters of a 平 rhyme group still shared by all earlier rhymes (the first rhyme
  the model picks chooses the group), never repeating a rhyme character.

When the mask leaves nothing (or, with ``min_mass``, almost nothing the model believes in), the decoder backs
off: it returns to the previous free slot, bans the character it chose there and samples again
(depth-first backtracking, with a budget).

With ``candidates`` > 1 each poem is written that many times under the same constraints, from different
random streams, and the candidate whose characters the model finds likeliest on average (mean log-probability
per character under the model's own distribution, before temperature, masks and biases) is kept. Candidate
``j`` of poem ``i`` of a request seeded ``seed`` draws from the stream :func:`candidate_seed` gives,
``seed + i + j·2³²`` (mod 2⁶⁴): candidate 0 is the poem ``candidates=1`` writes.

One slot loop (:meth:`PoemWriter._write_rows`) writes a batch of candidates, one model call per slot for all of
them, each row with its own :class:`_Draft` (the slot state). The candidates of a poem are written side by side;
a candidate that meets a dead end there is written again alone, as a batch of one, which may back off. A
single poem is such a batch of one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from dreamwright.decoding import (
    AvoidRepeats,
    BatchDecoder,
    Bias,
    Mask,
    Row,
    SamplingParams,
    Snapshot,
    resolve_seed,
    row_seed,
)
from dreamwright.errors import DreamwrightError, InvalidArgument, VocabularyError
from dreamwright.poetry.defaults import DEFAULT_CANDIDATES, DEFAULT_TEMPERATURE
from dreamwright.poetry.plan import Plan, Planner
from dreamwright.poetry.prosody import (
    BOTH,
    PING,
    Pattern,
    PoemReport,
    RhymeGroup,
    RhymeTable,
    allowed_tones,
    check_form,
    check_poem,
    is_han,
    patterns,
    tone_marks,
)
from dreamwright.poetry.vocab import check_vocabulary, han_mask, tone_masks

MODES = ("strict", "loose", "off")
#: a rhyme group is chosen only if the vocabulary holds at least this many of its characters (no 险韵)
MIN_GROUP = 12


def candidate_seed(seed: int, index: int, candidate: int) -> int:
    """The random-stream seed of candidate ``candidate`` of poem ``index`` of a request seeded ``seed``."""
    return (row_seed(seed, index) + (candidate << 32)) & ((1 << 64) - 1)


@dataclass
class Poem:
    """One generated poem and why it scans."""

    text: str
    lines: list[str]
    form: str
    pattern: Pattern | None = None
    rhyme_group: RhymeGroup | None = None
    acrostic: str = ""
    keywords_used: list[str] = field(default_factory=list)
    plan: Plan | None = None  # one keyword per line, when a theme or keywords were given
    backtracks: int = 0
    seconds: float = 0.0
    report: PoemReport | None = None
    #: mean log-probability per character under the model (its own distribution), the candidates' ranking
    score: float = 0.0
    candidate: int = 0  # which candidate was kept
    candidates: int = 1  # how many were written

    def render(self, table: RhymeTable | None = None, marks: bool = True) -> str:
        """The poem, one line per row; with ``marks``, each line's tones (平/仄/中 = either) and the rhyme."""
        if not marks or table is None:
            return "\n".join(line + ("，" if i % 2 == 0 else "。") for i, line in enumerate(self.lines))
        group = self.rhyme_group or (self.report.rhyme_group if self.report else None)
        rhyming = set(self.pattern.rhyme_lines) if self.pattern else set(range(1, len(self.lines), 2))
        rows = []
        for i, line in enumerate(self.lines):
            row = f"{line}{'，' if i % 2 == 0 else '。'}  {tone_marks(line, table)}"
            if i in rhyming and group is not None and group.id in table.groups_of(line[-1]):
                row += f"  韵·{group.name}"
            rows.append(row)
        info = []
        if self.pattern is not None:
            info.append(f"格律 {self.pattern.name}")
        if group is not None:
            info.append(f"韵部 {group.name}")
        if self.report is not None and not self.report.tone_ok:
            info.append("平仄不合")
        if info:
            rows.append("（" + "，".join(info) + "）")
        if self.plan is not None:
            rows.append(self.plan.render())
        return "\n".join(rows)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "lines": self.lines,
            "form": self.form,
            "pattern": self.pattern.name if self.pattern else None,
            "rhyme_group": self.rhyme_group.name if self.rhyme_group else None,
            "acrostic": self.acrostic,
            "keywords_used": self.keywords_used,
            "theme": self.plan.theme if self.plan else None,
            "plan": list(self.plan.keywords) if self.plan else None,
            "backtracks": self.backtracks,
            "seconds": round(self.seconds, 4),
            "score": round(self.score, 4),
            "candidate": self.candidate,
            "candidates": self.candidates,
        }


def han_only(text: str) -> str:
    """The Han characters of ``text`` (punctuation such as ？！，。 and spaces dropped)."""
    return "".join(ch for ch in text if is_han(ch))


@dataclass(frozen=True)
class PoemRequest:
    """What to write, checked when made: ``num_samples`` poems of ``form``, each the likeliest of ``candidates``.

    ``acrostic`` fixes each line's first character (藏头) and ``start`` the poem's first characters (only their
    Han characters count). ``theme`` or ``keywords`` (a list, or one comma-separated string) plan one keyword per
    line, nudged in by ``keyword_bonus`` logits. ``rhyme`` and ``tones`` are strict, loose or off.
    ``repeat_penalty`` pushes away characters already written; ``min_mass`` backs off where the rules leave the
    model less than that share of its probability; ``max_backtracks`` is each candidate's backoff budget.
    """

    form: str = "五绝"
    acrostic: str | None = None
    start: str | None = None
    keywords: Sequence[str] | str | None = None
    theme: str | None = None
    rhyme: str = "strict"
    tones: str = "strict"
    num_samples: int = 1
    candidates: int = DEFAULT_CANDIDATES
    temperature: float = DEFAULT_TEMPERATURE
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    repeat_penalty: float = 1.5
    keyword_bonus: float = 7.0
    min_mass: float = 0.0
    max_backtracks: int = 300
    # derived when made
    length: int = field(init=False, repr=False)  # characters per line
    n_lines: int = field(init=False, repr=False)
    params: SamplingParams = field(init=False, repr=False)
    heads: str = field(init=False, repr=False)  # the acrostic's Han characters
    opening: str = field(init=False, repr=False)  # the start text's Han characters
    keyword_list: tuple[str, ...] = field(init=False, repr=False)
    topic: str = field(init=False, repr=False)  # the theme's Han characters

    def __post_init__(self) -> None:
        length, n_lines = check_form(self.form)
        for name in ("rhyme", "tones"):
            if getattr(self, name) not in MODES:
                raise InvalidArgument(f"--{name} must be strict, loose or off, got {getattr(self, name)!r}",
                                      param=name)
        for name in ("num_samples", "candidates"):
            if getattr(self, name) < 1:
                raise InvalidArgument(f"{name} must be >= 1, got {getattr(self, name)}", param=name)
        if self.max_backtracks < 0:
            raise InvalidArgument(f"max_backtracks must be >= 0, got {self.max_backtracks}", param="max_backtracks")
        if not 0 <= self.min_mass < 1:
            raise InvalidArgument(f"min_mass must be in [0, 1), got {self.min_mass}", param="min_mass")
        derived = {
            "length": length,
            "n_lines": n_lines,
            "params": SamplingParams(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p),
            "heads": han_only(self.acrostic or ""),
            "opening": han_only(self.start or ""),
            "keyword_list": _keyword_list(self.keywords),
            "topic": han_only(self.theme or ""),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        self._check_texts()

    def _check_texts(self) -> None:
        """The acrostic, start text and theme fit the form and each other."""
        if self.acrostic is not None and not self.heads:
            raise InvalidArgument(f"acrostic {self.acrostic!r} has no Chinese characters", param="acrostic")
        if len(self.heads) > self.n_lines:
            raise InvalidArgument(
                f"acrostic {self.heads!r} has {len(self.heads)} characters but a {self.form} has {self.n_lines} "
                f"lines; give at most {self.n_lines}",
                param="acrostic",
            )
        if len(self.opening) > self.length * self.n_lines:
            raise InvalidArgument(f"start text is longer than a whole {self.form}", param="start")
        if self.theme is not None and not self.topic:
            raise InvalidArgument(f"theme {self.theme!r} has no Chinese characters", param="theme")
        for line, ch in enumerate(self.heads):
            k = line * self.length
            if k < len(self.opening) and self.opening[k] != ch:
                raise InvalidArgument(
                    f"start text and acrostic disagree on line {line + 1}'s first character", param="acrostic"
                )


def _keyword_list(keywords: Sequence[str] | str | None) -> tuple[str, ...]:
    """The keywords' Han characters, empty ones dropped; a string is split at commas (, or ，)."""
    if isinstance(keywords, str):
        keywords = keywords.replace("，", ",").split(",")
    return tuple(han_only(k) for k in (keywords or []) if han_only(k))


@dataclass
class _Spec:
    """A request in the model's terms: the tag prompt, the slots, the forced characters and the tone patterns."""

    request: PoemRequest
    prompt: list[int]  # ``\\n【form】``
    forced: dict[tuple[int, int], int]  # (line, position) -> the character fixed there
    patterns: list[Pattern | None]  # the form's patterns; [None] with tones off
    planner: Planner | None = None
    plan: Plan | None = None  # the plan of the poem being written
    length: int = field(init=False)  # the request's, read at every slot
    n_lines: int = field(init=False)
    slots: list[tuple[int, int]] = field(init=False)  # (line, position) of every character, in order

    def __post_init__(self) -> None:
        self.length, self.n_lines = self.request.length, self.request.n_lines
        self.slots = [(line, pos) for line in range(self.n_lines) for pos in range(self.length)]


@dataclass
class _Draft:
    """One candidate's slot state: the characters so far and what they still allow."""

    patterns: frozenset[int]  # indices of the spec's patterns the characters so far fit
    groups: frozenset[int] | None = None  # rhyme groups every rhyme so far shares; None before the first rhyme
    chosen: list[int] = field(default_factory=list)  # token ids, one per slot written
    logps: list[float] = field(default_factory=list)  # the model's log-probability of each
    rhyme_slots: list[int] = field(default_factory=list)  # the slots written under a rhyme mask
    backtracks: int = 0

    @property
    def score(self) -> float:
        """Mean log-probability per character: how the candidates are ranked."""
        return sum(self.logps) / max(len(self.logps), 1)

    def truncate(self, slot: int) -> None:
        """Forget everything written from ``slot`` on."""
        del self.chosen[slot:]
        del self.logps[slot:]
        self.rhyme_slots = [k for k in self.rhyme_slots if k < slot]


@dataclass
class _Arrival:
    """Backtracking: a batch of one's state on first reaching a slot, and the characters since banned there."""

    snapshot: Snapshot
    patterns: frozenset[int]
    groups: frozenset[int] | None
    banned: set[int] = field(default_factory=set)


class PoemWriter:
    """Writes poems with a character language model trained on ``【form】poem`` lines."""

    def __init__(
        self, model, tokenizer, *, table: RhymeTable | None = None, device: torch.device | str = "cpu"
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self._table = table
        self.chars: list[str] = list(tokenizer.chars)
        self.index: dict[str, int] = dict(tokenizer.index)
        for needed in "，。":
            if needed not in self.index:
                raise VocabularyError(
                    f"the model's vocabulary has no {needed!r}: it was not trained on poems; "
                    "train one with `dreamwright train tang`"
                )
        self.han = han_mask(self.chars, self.device)
        self._tables_ready = False
        self.min_group = MIN_GROUP

    @classmethod
    def from_generator(cls, generator, table: RhymeTable | None = None) -> PoemWriter:
        return cls(generator.model, generator.tokenizer, table=table, device=generator.device)

    # ------------------------------------------------------------------ tables
    @property
    def table(self) -> RhymeTable:
        """The 平水韵 table (loaded on first use)."""
        if self._table is None:
            self._table = RhymeTable.load()
        return self._table

    @property
    def tables_ready(self) -> bool:
        """Whether the rhyme table is loaded and the tone and rhyme masks are built (a poem with rhyme or tones
        on builds them; :meth:`prepare_tables` does so at once)."""
        return self._tables_ready

    def prepare_tables(self) -> None:
        """Load the rhyme table and build the tone and rhyme masks over the vocabulary (once)."""
        if self._tables_ready:
            return
        table = self.table
        self.tones_of, self.ping, self.ze = tone_masks(self.chars, table, self.han)
        self.groups = [g for g in table.groups if g.tone == PING]
        self.group_pos = {g.id: i for i, g in enumerate(self.groups)}
        mat = torch.zeros(len(self.chars), len(self.groups), dtype=torch.bool)
        for i, c in enumerate(self.chars):
            if not table.in_primary(c):  # only characters the simplified table lists may rhyme
                continue
            for gid in table.groups_of(c):
                if gid in self.group_pos:
                    mat[i, self.group_pos[gid]] = True
        self.group_mat = mat.to(self.device) & self.han[:, None]
        self.group_sizes = self.group_mat.sum(0)
        self._tables_ready = True

    # ------------------------------------------------------------------ validation
    def check_chars(self, text: str, what: str) -> None:
        """Raise a one-line :class:`VocabularyError` naming characters of ``text`` the model lacks."""
        check_vocabulary(text, self.index, what)

    def _spec(self, request: PoemRequest) -> _Spec:
        """``request`` checked against the model (its characters, plan and tag), the tables built if needed."""
        self.check_chars(request.heads, "acrostic")
        self.check_chars(request.opening, "start")
        self.check_chars("".join(request.keyword_list), "keywords")
        self.check_chars(request.topic, "theme")
        planner = None
        if request.topic or request.keyword_list:
            planner = Planner.load()
            # user errors before any decoding
            planner.plan(request.n_lines, theme=request.topic or None, keywords=list(request.keyword_list))
        if request.rhyme != "off" or request.tones != "off":
            self.prepare_tables()
        prompt = [self.index.get(c) for c in f"\n【{request.form}】"]
        if any(p is None for p in prompt):
            raise VocabularyError(
                f"the model was not trained with the {request.form} tag 【{request.form}】; train on prepared poems"
            )
        forced = {divmod(k, request.length): self.index[ch] for k, ch in enumerate(request.opening)}
        forced.update({(line, 0): self.index[ch] for line, ch in enumerate(request.heads)})
        pats: list[Pattern | None] = list(patterns(request.form)) if request.tones != "off" else [None]
        return _Spec(request, prompt, forced, pats, planner)

    # ------------------------------------------------------------------ decoding
    @torch.inference_mode()
    def write(self, request: PoemRequest | str = "五绝", /, **options: Any) -> list[Poem]:
        """The poems ``request`` asks for; ``write("七绝", seed=1)`` is short for
        ``write(PoemRequest("七绝", seed=1))`` (the options are :class:`PoemRequest`'s fields).

        With a theme or keywords each poem follows a plan (:mod:`dreamwright.poetry.plan`): one keyword per
        line, the user's keywords first, each line's characters nudged toward its keyword until they appear."""
        if isinstance(request, str):
            request = PoemRequest(request, **options)
        elif options:
            raise InvalidArgument(f"give either a PoemRequest or keyword arguments, not both ({', '.join(options)})")
        spec = self._spec(request)
        seed = resolve_seed(request.seed)
        alone = self._decoder(spec, [seed])
        start = alone.snapshot()  # the tag is read once for every poem
        return [self._best_of(replace(spec, plan=self._plan(spec, seed, i)), alone, start, seed, i)
                for i in range(request.num_samples)]

    def _plan(self, spec: _Spec, seed: int, index: int) -> Plan | None:
        if spec.planner is None:
            return None
        return spec.planner.plan(
            spec.n_lines,
            theme=spec.request.topic or None,
            keywords=list(spec.request.keyword_list),
            seed=row_seed(seed, index),
            allowed=lambda w: all(c in self.index for c in w),
        )

    def _best_of(self, spec: _Spec, alone: BatchDecoder, start: Snapshot, seed: int, index: int) -> Poem:
        """Poem ``index``: its candidates written side by side, those that met a dead end there written again
        alone (``alone`` is a batch of one at the tag, ``start``), and the likeliest kept."""
        t0 = time.perf_counter()
        count = spec.request.candidates
        seeds = [candidate_seed(seed, index, j) for j in range(count)]
        drafts: list[_Draft | None] = [None] * count
        if count > 1:  # a decoder of its own: rows leave it
            drafts = self._write_rows(spec, self._decoder(spec, seeds), backtrack=False)
        best: tuple[int, _Draft] | None = None
        error: DreamwrightError | None = None
        for j in range(count):
            draft = drafts[j]
            if draft is None:
                alone.restore(start)
                alone.reseed([seeds[j]])
                try:
                    draft = self._write_rows(spec, alone, backtrack=True)[0]
                except DreamwrightError as exc:  # this candidate ran out of backoffs; others may not
                    error = exc
                    continue
            if best is None or draft.score > best[1].score:
                best = (j, draft)
        if best is None:
            assert error is not None
            raise error
        poem = self._poem(spec, *best)
        poem.seconds = time.perf_counter() - t0
        return poem

    def _decoder(self, spec: _Spec, seeds: list[int]) -> BatchDecoder:
        """A decoder with one row per seed, each at the tag prompt (read once)."""
        decoder = BatchDecoder(self.model, self.tokenizer, self.device, needs=frozenset({"generated"}))
        max_new = spec.length * spec.n_lines
        decoder.admit([spec.prompt] * len(seeds), [Row(spec.request.params, s, max_new) for s in seeds])
        return decoder

    def _write_rows(self, spec: _Spec, decoder: BatchDecoder, backtrack: bool) -> list[_Draft | None]:
        """The one slot loop: every row of ``decoder`` writes one candidate, one model call per slot for all.

        Each row draws from its own stream and meets only its own masks and biases, so a row writes the same
        poem in any batch (up to the last-bit rounding of a batched step). With ``backtrack`` (a batch of one)
        a dead end backs off to an earlier free slot; otherwise the row leaves the batch, its result None.
        """
        drafts = [_Draft(frozenset(range(len(spec.patterns)))) for _ in decoder.rows]
        assert not backtrack or len(drafts) == 1, "only a batch of one backs off"
        live = list(range(len(drafts)))  # the draft of each decoder row
        arrivals: list[_Arrival] = []  # backtracking: the state on reaching each slot so far
        i = 0
        while i < len(spec.slots):
            line, pos = slot = spec.slots[i]
            banned = self._arrive(arrivals, i, decoder, drafts[0]) if backtrack else set()
            masks, rhyming, keep = [], [], []
            for k, r in enumerate(live):
                mask, rhyme_here = self._choices(spec, drafts[r], slot, banned)
                if self._open(spec, drafts[r], mask, decoder, k):
                    masks.append(mask)
                    rhyming.append(rhyme_here)
                    keep.append(k)
            if backtrack and not keep:
                i = self._back_off(spec, arrivals, drafts[0], i, rhyme_here)
                continue
            if len(keep) < len(live):
                live = [live[k] for k in keep]
                if not live:
                    return [None] * len(drafts)
                decoder.keep(keep)
            extra = self._extra(spec, line, [drafts[r] for r in live])
            extra.append(Mask(torch.stack(masks)))
            tokens = decoder.choose(extra)
            logps, _ = decoder.logprobs(tokens)
            for k, token in enumerate(tokens.tolist()):
                self._advance(spec, drafts[live[k]], i, token, rhyming[k], logps[k])
            if pos == spec.length - 1:  # the line's punctuation is read, never chosen
                punct = self.index["，" if line % 2 == 0 else "。"]
                tokens = torch.cat([tokens[:, None], torch.full_like(tokens[:, None], punct)], dim=1)
            decoder.feed(tokens)
            i += 1
        return [drafts[r] if r in live else None for r in range(len(drafts))]

    def _choices(
        self, spec: _Spec, draft: _Draft, slot: tuple[int, int], banned: set[int]
    ) -> tuple[torch.Tensor, bool]:
        """The characters ``draft`` may write at ``slot``, and whether a rhyme falls there."""
        mask, rhyme_here = self._slot_mask(spec, draft, *slot)
        forced = spec.forced.get(slot)
        if forced is not None:
            only = torch.zeros_like(mask)
            only[forced] = mask[forced]
            mask = only
        if banned:
            mask[list(banned)] = False
        return mask, rhyme_here

    @staticmethod
    def _open(spec: _Spec, draft: _Draft, mask: torch.Tensor, decoder: BatchDecoder, row: int) -> bool:
        """Whether ``mask`` leaves ``draft`` (the decoder's ``row``) a way on: anything at all, and with
        ``min_mass`` (while half the backoff budget lasts) at least that share of the model's probability."""
        if not bool(mask.any()):
            return False
        request = spec.request
        if request.min_mass > 0 and draft.backtracks < request.max_backtracks // 2:
            return bool(torch.softmax(decoder.logits[row].float(), -1)[mask].sum() >= request.min_mass)
        return True

    @staticmethod
    def _arrive(arrivals: list[_Arrival], i: int, decoder: BatchDecoder, draft: _Draft) -> set[int]:
        """A batch of one reaching slot ``i``: its state is saved the first time and restored after a backoff
        (the random stream goes on, so the retry draws afresh). Returns the characters banned there."""
        if len(arrivals) <= i:
            arrivals.append(_Arrival(decoder.snapshot(), draft.patterns, draft.groups))
        else:
            arrival = arrivals[i]
            decoder.restore(arrival.snapshot, rewind_random=False)
            draft.patterns, draft.groups = arrival.patterns, arrival.groups
        return arrivals[i].banned

    def _back_off(self, spec: _Spec, arrivals: list[_Arrival], draft: _Draft, i: int, rhyme_here: bool) -> int:
        """After a dead end at slot ``i``: ban the character chosen at the slot to blame and return that slot.

        That is the previous free slot, or the last rhyme when the rhyme is to blame; raises when there is
        none, or the backoff budget is spent."""
        draft.backtracks += 1
        slot = spec.slots[i]
        j = i - 1
        earlier = [k for k in draft.rhyme_slots if k < i]
        if rhyme_here and earlier and slot not in spec.forced:
            free, _ = self._slot_mask(spec, draft, *slot, rhyme=False)
            if bool(free.any()):
                j = earlier[-1]  # the rhyme group / used rhymes are to blame: back-jump to the last rhyme
        while j >= 0 and spec.slots[j] in spec.forced:
            j -= 1
        if j < 0 or draft.backtracks > spec.request.max_backtracks:
            raise self._stuck(spec, draft, slot)
        arrivals[j].banned.add(draft.chosen[j])
        del arrivals[j + 1 :]
        draft.truncate(j)
        return j

    def _stuck(self, spec: _Spec, draft: _Draft, slot: tuple[int, int]) -> DreamwrightError:
        """The error of a candidate that cannot go on, saying why."""
        where = f"line {slot[0] + 1}, character {slot[1] + 1}"
        if draft.backtracks > spec.request.max_backtracks:
            why = f"the backoff budget ({spec.request.max_backtracks}) is spent"
        elif draft.backtracks > 1:
            why = f"every choice before {where} was tried ({draft.backtracks - 1} backoffs)"
        else:  # the first dead end, with no free slot before it
            fixed = ("every character that decides it is fixed by --start/--acrostic" if spec.forced
                     else "nothing before it can change")
            why = f"{self._blame(spec, draft, slot)} at {where}, and {fixed}, so there is nothing to back off to"
        return DreamwrightError(
            f"could not finish a {spec.request.form} under these constraints: {why}; "
            "relax --tones/--rhyme, or change --acrostic/--start"
        )

    def _blame(self, spec: _Spec, draft: _Draft, slot: tuple[int, int]) -> str:
        """What closes ``slot`` to ``draft``: the tone pattern, the rhyme or ``min_mass``."""
        if bool(self._choices(spec, draft, slot, set())[0].any()):
            return f"the rules leave less than min_mass ({spec.request.min_mass}) of the model's probability"
        forced = spec.forced.get(slot)
        free, _ = self._slot_mask(spec, draft, *slot, rhyme=False)
        rule = "rhyme" if bool(free.any() if forced is None else free[forced]) else "tone pattern"
        if forced is None:
            return f"no character keeps the {rule}"
        return f"the fixed 「{self.chars[forced]}」 breaks the {rule}"

    def _extra(self, spec: _Spec, line: int, drafts: Sequence[_Draft]) -> list:
        """The processors before the mask: avoid repeats, and the line's planned keyword (per row)."""
        extra: list = []
        if drafts[0].chosen and spec.request.repeat_penalty:
            extra.append(AvoidRepeats(spec.request.repeat_penalty))
        goal = spec.plan.keywords[line] if spec.plan is not None else None
        if goal:
            bias = torch.zeros(len(drafts), len(self.chars), device=self.device)
            for r, draft in enumerate(drafts):
                written = "".join(self.chars[t] for t in draft.chosen[line * spec.length :])
                want = self._next_of(goal, written, spec.length)
                if want is not None:
                    bias[r, self.index[want]] = spec.request.keyword_bonus
            if bool(bias.any()):
                extra.append(Bias(bias))
        return extra

    @staticmethod
    def _next_of(goal: str, line: str, length: int) -> str | None:
        """The character of keyword ``goal`` to nudge next in a line begun as ``line``, so that the keyword is
        written as one word: its next character right after the part already written, else its first one
        while the rest of the line still has room for it; None when it is written or cannot fit."""
        if goal in line:
            return None
        for m in range(min(len(goal) - 1, len(line)), 0, -1):
            if line.endswith(goal[:m]):
                return goal[m]
        return goal[0] if length - len(line) >= len(goal) else None

    def _advance(self, spec: _Spec, draft: _Draft, i: int, token: int, rhyme_here: bool, logp: float) -> None:
        """``draft`` writes ``token`` at slot ``i``: the patterns it breaks are dropped, the rhyme groups narrowed."""
        line, pos = spec.slots[i]
        if spec.patterns[0] is not None:
            prefix = [self.tones_of[t] for t in draft.chosen[line * spec.length :]]
            tones = self.tones_of[token]
            draft.patterns = frozenset(
                k for k in draft.patterns
                if (allowed := self._allowed_tones(spec, spec.patterns[k], line, pos, prefix)) == BOTH
                or tones & allowed
            )
        if rhyme_here:
            mine = frozenset(int(g) for g in torch.nonzero(self.group_mat[token]).flatten())
            shared = mine if draft.groups is None else draft.groups & mine
            rhyming = [k for k in draft.patterns if self._rhyme_slot(spec, spec.patterns[k], line, pos)]
            if shared and rhyming:
                draft.groups = shared
            elif rhyming:  # the patterns that rhyme here need a shared group; the others (line 1 unrhymed) stay
                draft.patterns = frozenset(k for k in draft.patterns if k not in rhyming) or draft.patterns
            draft.rhyme_slots.append(i)
        draft.chosen.append(token)
        draft.logps.append(logp)

    @staticmethod
    def _allowed_tones(spec: _Spec, pattern: Pattern, line: int, pos: int, prefix: list[frozenset[str]]
                       ) -> frozenset[str]:
        """The tones ``pattern`` allows at ``(line, pos)`` after the line's ``prefix``; with tones loose, the
        free positions (1st, 3rd, 5th of a line, never the last) take either tone, 孤平 and 三平尾 included."""
        if spec.request.tones == "loose" and pos % 2 == 0 and pos != spec.length - 1:
            return BOTH
        return allowed_tones(pattern.types[line], spec.length, pos, prefix, spec.request.tones == "strict")

    def _tone_mask(self, allowed: frozenset[str]) -> torch.Tensor | None:
        if allowed == BOTH:
            return None
        return self.ping if allowed == {PING} else self.ze

    def _rhyme_slot(self, spec: _Spec, pat: Pattern | None, line: int, pos: int) -> bool:
        rhyme = spec.request.rhyme
        if rhyme == "off" or pos != spec.length - 1:
            return False
        if line % 2 == 1:
            return True
        return line == 0 and pat is not None and pat.first_rhymes and rhyme == "strict"

    def _rhyme_mask(self, groups: frozenset[int] | None, used: Iterable[int]) -> torch.Tensor:
        if groups is None:
            wide = self.group_sizes >= self.min_group
            if not bool(wide.any()):  # a small vocabulary: any group with room for every rhyme
                wide = self.group_sizes >= 5
            m = self.group_mat[:, wide].any(1)
        else:
            m = self.group_mat[:, sorted(groups)].any(1)
        m = m.clone()
        used = list(used)
        if used:
            m[used] = False
        return m

    def _slot_mask(
        self, spec: _Spec, draft: _Draft, line: int, pos: int, rhyme: bool = True
    ) -> tuple[torch.Tensor, bool]:
        """The characters some still-open pattern allows at ``(line, pos)`` (with ``rhyme``, rhyming where it
        rhymes), before forced characters and bans; and whether any open pattern rhymes there."""
        chosen = draft.chosen
        prefix = [self.tones_of[t] for t in chosen[line * spec.length :]] if self._tables_ready else []
        last = spec.length - 1
        used_rhymes = [chosen[k * spec.length + last] for k in range(line)] if pos == last else []
        mask = torch.zeros_like(self.han)
        any_rhyme = False
        for k in draft.patterns:
            pat = spec.patterns[k]
            m = self.han
            if pat is not None:
                tone_mask = self._tone_mask(self._allowed_tones(spec, pat, line, pos, prefix))
                if tone_mask is not None:
                    m = m & tone_mask
            if rhyme and self._rhyme_slot(spec, pat, line, pos):
                any_rhyme = True
                m = m & self._rhyme_mask(draft.groups, used_rhymes)
            mask |= m
        return mask, any_rhyme

    def _poem(self, spec: _Spec, candidate: int, draft: _Draft) -> Poem:
        """The kept candidate as a :class:`Poem`, checked, with its pattern and rhyme group named."""
        request, length = spec.request, spec.length
        lines = ["".join(self.chars[t] for t in draft.chosen[k : k + length])
                 for k in range(0, len(draft.chosen), length)]
        text = "".join(x + ("，" if k % 2 == 0 else "。") for k, x in enumerate(lines))
        poem = Poem(text, lines, request.form, acrostic=request.heads, backtracks=draft.backtracks,
                    keywords_used=[k for k in request.keyword_list if k in text], plan=spec.plan,
                    score=draft.score, candidate=candidate, candidates=request.candidates)
        if not self._tables_ready:
            return poem
        if draft.groups and request.rhyme != "off":
            poem.rhyme_group = self.groups[min(draft.groups)]
        poem.report = check_poem(poem.lines, self.table, poem.form)
        fitting = [spec.patterns[k] for k in sorted(draft.patterns) if spec.patterns[k] is not None]
        poem.pattern = poem.report.pattern or (fitting[0] if fitting and poem.report.tone_ok else None)
        if poem.rhyme_group is None and poem.report.rhyme_ok:
            poem.rhyme_group = poem.report.rhyme_group
        return poem

    # ------------------------------------------------------------------ baseline
    @torch.inference_mode()
    def free_sample(
        self, form: str, *, temperature: float = DEFAULT_TEMPERATURE, seed: int | None = None, max_chars: int = 100
    ) -> str:
        """Plain char-RNN sampling after ``【form】`` until a newline: the unconstrained baseline."""
        check_form(form)
        prompt = [self.index[c] for c in f"\n【{form}】"]
        row = Row(SamplingParams(temperature=temperature), resolve_seed(seed), max_chars, ["\n"])
        decoder = BatchDecoder(self.model, self.tokenizer, self.device)
        decoder.admit([prompt], [row])
        for _ in decoder.run():
            pass
        return row.text
