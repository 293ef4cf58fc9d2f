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
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch

from dreamwright.decoding import (
    AvoidRepeats,
    BatchDecoder,
    Bias,
    Mask,
    Row,
    SamplingParams,
    fresh_seed,
    row_seed,
)
from dreamwright.errors import DreamwrightError, InvalidArgument, VocabularyError
from dreamwright.poetry.defaults import DEFAULT_CANDIDATES, DEFAULT_TEMPERATURE
from dreamwright.poetry.plan import Plan
from dreamwright.poetry.prosody import (
    BOTH,
    PING,
    ZE,
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


def variants(ch: str) -> list[str]:
    """The simplified and traditional forms of ``ch`` other than itself (OpenCC)."""
    from opencc import OpenCC

    out = []
    for conv in ("t2s", "s2t"):
        v = OpenCC(conv).convert(ch)
        if v != ch and len(v) == 1 and v not in out:
            out.append(v)
    return out


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
        self.han = torch.tensor([is_han(c) for c in self.chars], device=self.device)
        self._tone_cache: dict[int, frozenset[str]] = {}
        self._masks_ready = False
        self.min_group = MIN_GROUP

    @classmethod
    def from_generator(cls, generator, table: RhymeTable | None = None) -> PoemWriter:
        return cls(generator.model, generator.tokenizer, table=table, device=generator.device)

    # ------------------------------------------------------------------ tables
    @property
    def table(self) -> RhymeTable:
        if self._table is None:
            self._table = RhymeTable.load()
        return self._table

    def _prepare_masks(self) -> None:
        if self._masks_ready:
            return
        table = self.table
        # tones from the tables only: a character known only through pypinyin has no tone here, so the
        # masks keep it out of every position whose tone a rule fixes (free positions still take it)
        self.tones_of = [table.table_tones(c) if is_han(c) else frozenset() for c in self.chars]
        self.ping = torch.tensor([PING in t for t in self.tones_of], device=self.device) & self.han
        self.ze = torch.tensor([ZE in t for t in self.tones_of], device=self.device) & self.han
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
        self._masks_ready = True

    # ------------------------------------------------------------------ validation
    def check_chars(self, text: str, what: str) -> None:
        """Raise a one-line :class:`VocabularyError` naming characters of ``text`` the model lacks."""
        missing = [c for c in dict.fromkeys(text) if c not in self.index]
        if not missing:
            return
        parts = []
        for c in missing:
            alts = [v for v in variants(c) if v in self.index]
            parts.append(f"「{c}」 (try 「{alts[0]}」)" if alts else f"「{c}」")
        offered = any("(try" in part for part in parts)
        raise VocabularyError(
            f"{what} characters not in the model's vocabulary: {', '.join(parts)}; use other characters"
            + (" (or the suggested simplified/traditional variant)" if offered else ""),
            param=what.split()[0],
        )

    # ------------------------------------------------------------------ decoding
    @torch.inference_mode()
    def write(
        self,
        form: str = "五绝",
        *,
        acrostic: str | None = None,
        start: str | None = None,
        keywords: Sequence[str] | str | None = None,
        theme: str | None = None,
        rhyme: str = "strict",
        tones: str = "strict",
        num_samples: int = 1,
        candidates: int = DEFAULT_CANDIDATES,
        temperature: float = DEFAULT_TEMPERATURE,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        repeat_penalty: float = 1.5,
        keyword_bonus: float = 7.0,
        min_mass: float = 0.0,
        max_backtracks: int = 300,
    ) -> list[Poem]:
        """``num_samples`` poems of ``form`` under the given constraints; each the best of ``candidates``.

        With ``theme`` or ``keywords`` each poem follows a plan (:mod:`dreamwright.poetry.plan`): one keyword
        per line, the user's keywords first, each line's characters nudged toward its keyword by
        ``keyword_bonus`` logits until they appear in it."""
        length, n_lines = check_form(form)
        for name, mode in (("rhyme", rhyme), ("tones", tones)):
            if mode not in MODES:
                raise InvalidArgument(f"--{name} must be strict, loose or off, got {mode!r}", param=name)
        if num_samples < 1:
            raise InvalidArgument(f"num_samples must be >= 1, got {num_samples}", param="num_samples")
        if candidates < 1:
            raise InvalidArgument(f"candidates must be >= 1, got {candidates}", param="candidates")
        params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p)
        heads = han_only(acrostic or "")
        if acrostic is not None and not heads:
            raise InvalidArgument(f"acrostic {acrostic!r} has no Chinese characters", param="acrostic")
        if len(heads) > n_lines:
            raise InvalidArgument(
                f"acrostic {heads!r} has {len(heads)} characters but a {form} has {n_lines} lines; "
                f"give at most {n_lines}",
                param="acrostic",
            )
        begin = han_only(start or "")
        if len(begin) > length * n_lines:
            raise InvalidArgument(f"start text is longer than a whole {form}", param="start")
        if isinstance(keywords, str):
            keywords = [k for k in keywords.replace("，", ",").split(",")]
        kws = [han_only(k) for k in (keywords or []) if han_only(k)]
        topic = han_only(theme or "")
        if theme is not None and not topic:
            raise InvalidArgument(f"theme {theme!r} has no Chinese characters", param="theme")
        self.check_chars(heads, "acrostic")
        self.check_chars(begin, "start")
        self.check_chars("".join(kws), "keywords")
        self.check_chars(topic, "theme")
        planner = None
        if topic or kws:
            from dreamwright.poetry.plan import Planner

            planner = Planner.load()
            planner.plan(n_lines, theme=topic or None, keywords=kws)  # user errors before any decoding
        forced: dict[tuple[int, int], int] = {}
        for k, ch in enumerate(begin):
            forced[divmod(k, length)] = self.index[ch]
        for line, ch in enumerate(heads):
            if forced.get((line, 0), self.index[ch]) != self.index[ch]:
                raise InvalidArgument(
                    f"start text and acrostic disagree on line {line + 1}'s first character", param="acrostic"
                )
            forced[(line, 0)] = self.index[ch]
        if rhyme != "off" or tones != "off":
            self._prepare_masks()
        prompt = [self.index.get(c) for c in f"\n【{form}】"]
        if any(p is None for p in prompt):
            raise VocabularyError(
                f"the model was not trained with the {form} tag 【{form}】; train on prepared poems"
            )
        seed = fresh_seed() if seed is None else seed
        spec = _Spec(
            form,
            length,
            n_lines,
            forced,
            kws,
            rhyme,
            tones,
            params,
            repeat_penalty,
            keyword_bonus,
            min_mass,
            max_backtracks,
            heads,
        )
        decoder = self._decoder(prompt, spec, seed, 1)
        start = decoder.snapshot()  # the tag is read once for every poem
        lockstep = candidates > 1 and not min_mass  # candidates side by side in one batch
        poems = []
        for i in range(num_samples):
            t0 = time.perf_counter()
            if planner is not None:
                spec.plan = planner.plan(
                    n_lines,
                    theme=topic or None,
                    keywords=kws,
                    seed=row_seed(seed, i),
                    allowed=lambda w: all(c in self.index for c in w),
                )
            best: Poem | None = None
            error: DreamwrightError | None = None
            seeds = [candidate_seed(seed, i, j) for j in range(candidates)]
            batch: list[Poem | None] = [None] * candidates
            if lockstep:
                many = self._decoder(prompt, spec, seed, candidates)  # rows leave it, so one per poem
                many.reseed(seeds)
                batch = self._lockstep(spec, many)
            for j in range(candidates):
                poem = batch[j]
                if poem is None:  # written alone: no lockstep batch, or its row met a dead end there
                    decoder.restore(start)
                    decoder.reseed([seeds[j]])
                    try:
                        poem = self._one(spec, decoder)
                    except DreamwrightError as exc:  # this candidate ran out of backoffs; others may not
                        error = exc
                        continue
                poem.candidate = j
                if best is None or poem.score > best.score:
                    best = poem
            if best is None:
                assert error is not None
                raise error
            best.candidates = candidates
            best.seconds = time.perf_counter() - t0
            self._report(best)
            poems.append(best)
        return poems

    def _decoder(self, prompt: list[int], spec: _Spec, seed: int, rows: int) -> BatchDecoder:
        """A decoder holding ``rows`` copies of the tag prompt (read once)."""
        decoder = BatchDecoder(self.model, self.tokenizer, self.device, needs=frozenset({"generated"}))
        decoder.admit([prompt] * rows, [Row(spec.params, seed, spec.length * spec.n_lines) for _ in range(rows)])
        return decoder

    def _extra(self, spec: _Spec, line: int, rows_chosen: Sequence[list[int]]) -> list:
        """The processors before the mask: avoid repeats, and the line's planned keyword (per row)."""
        extra: list = []
        if rows_chosen[0] and spec.repeat_penalty:
            extra.append(AvoidRepeats(spec.repeat_penalty))
        goal = spec.plan.keywords[line] if spec.plan is not None else None
        if goal:
            bias = torch.zeros(len(rows_chosen), len(self.chars), device=self.device)
            for r, chosen in enumerate(rows_chosen):
                want = self._next_of(goal, "".join(self.chars[t] for t in chosen[line * spec.length :]), spec.length)
                if want is not None:
                    bias[r, self.index[want]] = spec.keyword_bonus
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

    def _lockstep(self, spec: _Spec, decoder: BatchDecoder) -> list[Poem | None]:
        """Every row of ``decoder`` writes one candidate, all slots in step: one model call per slot for all.

        Each row draws from its own stream and sees exactly the masks and biases :meth:`_one` would give it,
        so a row that never meets a dead end writes what :meth:`_one` writes from its seed. A row that meets
        one leaves the batch (``None`` in the result) and is written alone by :meth:`_one`, with backtracking.
        """
        t0 = time.perf_counter()
        n = len(decoder.rows)
        pats: list[Pattern | None] = list(patterns(spec.form)) if spec.tones != "off" else [None]
        base = self.han.clone()
        comma, stop = self.index["，"], self.index["。"]
        live = list(range(n))  # candidate index of each decoder row
        cands = [frozenset(range(len(pats)))] * n
        groups: list[frozenset[int] | None] = [None] * n
        chosen: list[list[int]] = [[] for _ in range(n)]
        logps: list[list[float]] = [[] for _ in range(n)]
        for line in range(spec.n_lines):
            for pos in range(spec.length):
                masks, rhyming, keep = [], [], []
                for k, r in enumerate(live):
                    mask, rhyme_here = self._slot_mask(spec, pats, cands[r], groups[r], line, pos, chosen[r], base)
                    if (line, pos) in spec.forced:
                        only = torch.zeros_like(mask)
                        only[spec.forced[(line, pos)]] = True
                        mask &= only
                    if bool(mask.any()):
                        masks.append(mask)
                        rhyming.append(rhyme_here)
                        keep.append(k)
                if len(keep) < len(live):
                    live = [live[k] for k in keep]
                    if not live:
                        return [None] * n
                    decoder.keep(keep)
                extra = self._extra(spec, line, [chosen[r] for r in live])
                extra.append(Mask(torch.stack(masks)))
                tokens = decoder.choose(extra)
                lp = torch.log_softmax(decoder.logits.float(), -1).gather(-1, tokens[:, None])[:, 0].tolist()
                toks = tokens.tolist()
                for k, r in enumerate(live):
                    tok = toks[k]
                    cands[r], groups[r] = self._update(
                        spec, pats, cands[r], groups[r], line, pos, chosen[r], tok, rhyming[k]
                    )
                    chosen[r].append(tok)
                    logps[r].append(lp[k])
                feed = tokens[:, None]
                if pos == spec.length - 1:
                    punct = torch.full_like(feed, comma if line % 2 == 0 else stop)
                    feed = torch.cat([feed, punct], dim=1)
                decoder.feed(feed)
        out: list[Poem | None] = [None] * n
        for r in live:
            out[r] = self._poem(spec, pats, cands[r], groups[r], chosen[r], logps[r], 0)
            out[r].seconds = (time.perf_counter() - t0) / n
        return out

    def _tone_mask(self, allowed: frozenset[str]) -> torch.Tensor | None:
        if allowed == BOTH:
            return None
        return self.ping if allowed == {PING} else self.ze

    def _one(self, spec: _Spec, decoder: BatchDecoder) -> Poem:
        """One poem from the decoder's single row, masked slot by slot, backtracking through snapshots."""
        t0 = time.perf_counter()
        pats: list[Pattern | None] = list(patterns(spec.form)) if spec.tones != "off" else [None]
        slots = [(li, p) for li in range(spec.n_lines) for p in range(spec.length)]
        comma, stop = self.index["，"], self.index["。"]
        base = self.han.clone()
        # per slot: [decoder snapshot, candidate patterns, rhyme groups, banned ids] on arrival; chosen ids
        saved: list[list] = []
        chosen: list[int] = []
        logps: list[float] = []  # the model's log-probability of each chosen character
        cand = frozenset(range(len(pats)))
        groups: frozenset[int] | None = None
        backtracks = 0
        rhyme_slots: list[int] = []
        i = 0
        while i < len(slots):
            line, pos = slots[i]
            if len(saved) <= i:
                saved.append([decoder.snapshot(), cand, groups, set()])
            else:
                decoder.restore(saved[i][0], rewind_random=False)
            _, cand, groups, banned = saved[i]
            mask, rhyme_here = self._slot_mask(spec, pats, cand, groups, line, pos, chosen, base)
            if (line, pos) in spec.forced:
                only = torch.zeros_like(mask)
                only[spec.forced[(line, pos)]] = True
                mask &= only
            if banned:
                mask[list(banned)] = False
            dead = not bool(mask.any())
            if not dead and spec.min_mass > 0 and backtracks < spec.max_backtracks // 2:
                dead = bool(torch.softmax(decoder.logits[0].float(), -1)[mask].sum() < spec.min_mass)
            if dead:
                backtracks += 1
                j = i - 1
                earlier = [k for k in rhyme_slots if k < i]
                if rhyme_here and earlier and (line, pos) not in spec.forced:
                    free, _ = self._slot_mask(spec, pats, cand, groups, line, pos, chosen, base, rhyme=False)
                    if bool(free.any()):
                        j = earlier[
                            -1
                        ]  # the rhyme group / used rhymes are to blame: back-jump to the last rhyme
                while j >= 0 and slots[j] in spec.forced:
                    j -= 1
                if j < 0 or backtracks > spec.max_backtracks:
                    raise DreamwrightError(
                        f"could not finish a {spec.form} under these constraints "
                        f"({backtracks - 1} backoffs); "
                        "relax --tones/--rhyme, or change --acrostic/--start"
                    )
                saved[j][3].add(chosen[j])
                del saved[j + 1 :]
                del chosen[j:]
                del logps[j:]
                rhyme_slots = [k for k in rhyme_slots if k < j]
                i = j
                continue
            extra = self._extra(spec, line, [chosen])
            extra.append(Mask(mask))
            tok = int(decoder.choose(extra)[0])
            logps.append(float(torch.log_softmax(decoder.logits[0].float(), -1)[tok]))
            cand, groups = self._update(spec, pats, cand, groups, line, pos, chosen, tok, rhyme_here)
            chosen.append(tok)
            if rhyme_here:
                rhyme_slots.append(i)
            feed = [tok]
            if pos == spec.length - 1:
                feed.append(comma if line % 2 == 0 else stop)
            decoder.feed(torch.tensor([feed], device=self.device))
            i += 1
        poem = self._poem(spec, pats, cand, groups, chosen, logps, backtracks)
        poem.seconds = time.perf_counter() - t0
        return poem

    def _poem(self, spec, pats, cand, groups, chosen, logps, backtracks) -> Poem:
        """The :class:`Poem` of the characters ``chosen`` (the report is added for the kept candidate only)."""
        text_lines = [
            "".join(self.chars[t] for t in chosen[k : k + spec.length])
            for k in range(0, len(chosen), spec.length)
        ]
        text = "".join(x + ("，" if k % 2 == 0 else "。") for k, x in enumerate(text_lines))
        poem = Poem(
            text,
            text_lines,
            spec.form,
            acrostic=spec.heads,
            backtracks=backtracks,
            keywords_used=[k for k in spec.keywords if k in text],
            plan=spec.plan,
            score=sum(logps) / max(len(logps), 1),
        )
        poem._live = [pats[k] for k in sorted(cand) if pats[k] is not None]  # type: ignore[attr-defined]
        if groups and spec.rhyme != "off" and self._masks_ready:
            poem.rhyme_group = self.groups[min(groups)]
        return poem

    def _report(self, poem: Poem) -> None:
        """Check the kept poem and name its pattern and rhyme group."""
        if not self._masks_ready:
            return
        poem.report = check_poem(poem.lines, self.table, poem.form)
        live = getattr(poem, "_live", [])
        poem.pattern = poem.report.pattern or (live[0] if live and poem.report.tone_ok else None)
        if poem.rhyme_group is None and poem.report.rhyme_ok:
            poem.rhyme_group = poem.report.rhyme_group

    def _rhyme_slot(self, spec: _Spec, pat: Pattern | None, line: int, pos: int) -> bool:
        if spec.rhyme == "off" or pos != spec.length - 1:
            return False
        if line % 2 == 1:
            return True
        return line == 0 and pat is not None and pat.first_rhymes and spec.rhyme == "strict"

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
        self, spec, pats, cand, groups, line, pos, chosen, base, rhyme: bool = True
    ) -> tuple[torch.Tensor, bool]:
        prefix = [self.tones_of[t] for t in chosen[line * spec.length :]] if self._masks_ready else []
        used_rhymes = (
            [chosen[k * spec.length + spec.length - 1] for k in range(line)] if pos == spec.length - 1 else []
        )
        mask = torch.zeros_like(base)
        any_rhyme = False
        for k in cand:
            pat = pats[k]
            m = base
            if pat is not None:
                tones = allowed_tones(pat.types[line], spec.length, pos, prefix, spec.tones == "strict")
                if spec.tones == "loose" and pos % 2 == 0 and pos != spec.length - 1:
                    tones = BOTH
                tm = self._tone_mask(tones)
                if tm is not None:
                    m = m & tm
            if rhyme and self._rhyme_slot(spec, pat, line, pos):
                any_rhyme = True
                m = m & self._rhyme_mask(groups, used_rhymes)
            mask |= m
        return mask, any_rhyme

    def _update(self, spec, pats, cand, groups, line, pos, chosen, tok, rhyme_here):
        if pats[0] is not None:
            prefix = [self.tones_of[t] for t in chosen[line * spec.length :]]
            t = self.tones_of[tok]
            keep = set()
            for k in cand:
                allowed = allowed_tones(pats[k].types[line], spec.length, pos, prefix, spec.tones == "strict")
                if spec.tones == "loose" and pos % 2 == 0 and pos != spec.length - 1:
                    allowed = BOTH
                if allowed == BOTH or t & allowed:
                    keep.add(k)
            cand = frozenset(keep)
        if rhyme_here:
            mine = frozenset(int(g) for g in torch.nonzero(self.group_mat[tok]).flatten())
            new = mine if groups is None else groups & mine
            rhymes_pats = [k for k in cand if self._rhyme_slot(spec, pats[k], line, pos)]
            if new and rhymes_pats:
                groups = new
                # patterns that rhyme here survive only with a shared group; others (line 1 unrhymed) stay
            elif rhymes_pats:
                cand = frozenset(k for k in cand if k not in rhymes_pats) or cand
        return cand, groups

    # ------------------------------------------------------------------ baseline
    @torch.inference_mode()
    def free_sample(
        self, form: str, *, temperature: float = DEFAULT_TEMPERATURE, seed: int | None = None, max_chars: int = 100
    ) -> str:
        """Plain char-RNN sampling after ``【form】`` until a newline: the unconstrained baseline."""
        check_form(form)
        prompt = [self.index[c] for c in f"\n【{form}】"]
        row = Row(SamplingParams(temperature=temperature), fresh_seed() if seed is None else seed, max_chars, ["\n"])
        decoder = BatchDecoder(self.model, self.tokenizer, self.device)
        decoder.admit([prompt], [row])
        for _ in decoder.run():
            pass
        return row.text


@dataclass
class _Spec:
    form: str
    length: int
    n_lines: int
    forced: dict[tuple[int, int], int]
    keywords: list[str]
    rhyme: str
    tones: str
    params: SamplingParams
    repeat_penalty: float
    keyword_bonus: float
    min_mass: float
    max_backtracks: int
    heads: str
    plan: Plan | None = None
