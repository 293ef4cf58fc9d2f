"""对对子: a 下联 for a 上联, its length and tones enforced while decoding.

Any character language model whose vocabulary holds the pair markers ``GO`` and ``EOS``
(:mod:`dreamwright.data.pair_tokens`) writes the 下联: it reads ``上联 GO``, each step's logits give the next
character, and the reply ends with ``EOS`` — a :mod:`~dreamwright.models.seq2seq` model trained on
``tang-couplets`` as well as a decoder-only one. At every step the logits are masked (−inf) so that

- the 下联 has exactly as many Han characters as the 上联, then ``EOS`` (nothing else before it);
- at the 2nd, 4th, 6th … character the tones are opposite: a character that is only 仄 opposite one that is
  only 平 and the other way round; opposite a character with both tones (多音) or an unknown tone, any
  character whose tone the table knows;
- the last character is only 平 (对联 end 上联 仄, 下联 平; a 上联 ending in 平 still gets a 下联 ending in 平,
  and a note saying so);
- no character of the 上联 stands at the same position of the 下联.

Tones of the 上联 are the table's (else Mandarin's); a position whose tone a rule fixes takes only characters
the simplified 搜韵 table lists. The masks depend on the 上联 alone, so a position that no character of the
vocabulary can fill is named before decoding. ``candidates`` rows are written as one batch, candidate ``j``
drawing from the stream of :func:`~dreamwright.poetry.decode.candidate_seed` ``(seed, 0, j)``, and ranked by
the mean log-probability of their tokens (characters and ``EOS``) under the model's own distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from dreamwright._validate import positive_int
from dreamwright.data.pair_tokens import EOS, GO
from dreamwright.decoding import BatchDecoder, Mask, Row, SamplingParams, resolve_seed
from dreamwright.errors import InvalidArgument, VocabularyError
from dreamwright.poetry.decode import candidate_seed
from dreamwright.poetry.defaults import COUPLET_CANDIDATES, COUPLET_MAX_LENGTH, COUPLET_TEMPERATURE
from dreamwright.poetry.prosody import BOTH, PING, ZE, RhymeTable, is_han, tone_marks
from dreamwright.poetry.vocab import check_vocabulary, han_mask, tone_masks

#: what may follow a 上联 and is dropped: sentence-final punctuation and spaces
_TRAILING = "，。,.；;！!？? \t\r\n\u3000"


@dataclass
class Couplet:
    """A 上联 and the 下联 written for it."""

    upper: str
    lower: str
    logprob: float  # mean log-probability per token (the 下联's characters and EOS) under the model
    candidate: int  # which candidate of the request it is
    note: str = ""  # what the rules could not keep, e.g. a 上联 ending in 平

    def render(self, table: RhymeTable | None = None, marks: bool = False) -> str:
        """Both lines; with ``marks``, each line's tones (平/仄/中 = either/？) beside it, one under the other."""
        rows = [("上联", self.upper), ("下联", self.lower)]
        show = marks and table is not None
        out = [f"{label} {line}" + (f"  {tone_marks(line, table)}" if show else "") for label, line in rows]
        if self.note:
            out.append(f"（{self.note}）")
        return "\n".join(out)


def lower_tones(upper: str, table: RhymeTable) -> list[frozenset[str] | None]:
    """The tones the rules allow each character of the 下联: None where they leave it free, {平} or {仄} where
    it must have that tone alone, both where any character of known tone will do. The 2nd, 4th, 6th … are
    opposite the 上联's; the last is always {平}."""
    out: list[frozenset[str] | None] = []
    for i, ch in enumerate(upper):
        if i == len(upper) - 1:
            out.append(frozenset({PING}))
        elif i % 2 == 1:
            tones = table.tones(ch)
            out.append(frozenset({ZE}) if tones == {PING} else frozenset({PING}) if tones == {ZE} else BOTH)
        else:
            out.append(None)
    return out


def clean_upper(text: str) -> str:
    """``text`` without surrounding spaces and trailing punctuation; raises for an empty or non-Han 上联."""
    upper = text.strip().rstrip(_TRAILING)
    if not upper:
        raise InvalidArgument("the 上联 is empty; give a line of Chinese characters, e.g. 春风又绿江南岸",
                              param="upper")
    bad = [c for c in dict.fromkeys(upper) if not is_han(c)]
    if bad:
        shown = ", ".join(f"「{c}」" if c.isprintable() and not c.isspace() else repr(c) for c in bad)
        raise InvalidArgument(f"a 上联 is Chinese characters only, and this one has {shown}; remove them",
                              param="upper")
    return upper


def trained_max_length(config: Mapping[str, Any]) -> int | None:
    """The longest 上联 a model was trained on, when its run config says (``corpus.longest_source``)."""
    longest = (config.get("corpus") or {}).get("longest_source")
    return longest if isinstance(longest, int) and not isinstance(longest, bool) and longest > 0 else None


class CoupletWriter:
    """Writes 下联 with a character language model whose vocabulary holds ``GO`` and ``EOS``."""

    def __init__(self, model, tokenizer, *, table: RhymeTable | None = None, device: torch.device | str = "cpu",
                 max_length: int | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self._table = table
        self.chars: list[str] = list(tokenizer.chars)
        self.index: dict[str, int] = dict(tokenizer.index)
        if GO not in self.index or EOS not in self.index:
            raise VocabularyError("the model's vocabulary has no pair markers (GO, EOS): it was not trained on "
                                  "input → reply pairs; give a run trained on tang-couplets")
        #: the longest 上联 taken, and why (said when a 上联 is longer)
        self.max_length = positive_int("max_length", COUPLET_MAX_LENGTH if max_length is None else max_length)
        self.limit_reason = "the default limit" if max_length is None else "the limit it was given"
        self.han = han_mask(self.chars, self.device)
        self.only_eos = torch.zeros_like(self.han)
        self.only_eos[self.index[EOS]] = True
        self._by_tones: dict[frozenset[str], torch.Tensor] | None = None

    @classmethod
    def from_generator(cls, generator, table: RhymeTable | None = None) -> CoupletWriter:
        """The writer of a loaded :class:`~dreamwright.generation.generator.Generator` (its config sets the
        longest 上联)."""
        trained = trained_max_length(generator.config)
        writer = cls(generator.model, generator.tokenizer, table=table, device=generator.device, max_length=trained)
        if trained is not None:
            writer.limit_reason = "the longest it was trained on"
        return writer

    @property
    def table(self) -> RhymeTable:
        """The 平水韵 table (loaded on first use)."""
        if self._table is None:
            self._table = RhymeTable.load()
        return self._table

    def _tone_sets(self) -> dict[frozenset[str], torch.Tensor]:
        """``[V]`` masks of the characters the simplified table lists as only 平, only 仄, and either (built once)."""
        if self._by_tones is None:
            _, ping, ze = tone_masks(self.chars, self.table, self.han)
            listed = torch.tensor([self.table.in_primary(c) for c in self.chars], device=self.device)
            ping, ze = ping & listed, ze & listed
            self._by_tones = {frozenset({PING}): ping & ~ze, frozenset({ZE}): ze & ~ping, BOTH: ping | ze}
        return self._by_tones

    # ------------------------------------------------------------------ checks
    def check(self, upper: str) -> str:
        """``upper`` without trailing punctuation, checked: Han characters only, at most :attr:`max_length` of
        them, every one in the model's vocabulary."""
        upper = clean_upper(upper)
        if len(upper) > self.max_length:
            raise InvalidArgument(f"the 上联 has {len(upper)} characters, more than this model's {self.max_length} "
                                  f"({self.limit_reason}); give a shorter 上联", param="upper")
        check_vocabulary(upper, self.index, "上联")
        return upper

    def masks(self, upper: str) -> torch.Tensor:
        """``[len(upper) + 1, V]``: the tokens the 下联 may take at each step (``EOS`` alone at the last) for a
        checked ``upper``; raises, naming the position, when the rules leave one no character."""
        by_tones = self._tone_sets()
        rows = []
        for i, need in enumerate(lower_tones(upper, self.table)):
            allowed = (self.han if need is None else by_tones[need]).clone()
            allowed[self.index[upper[i]]] = False
            if not bool(allowed.any()):
                raise self._no_character(upper, i, need)
            rows.append(allowed)
        return torch.stack([*rows, self.only_eos])

    @staticmethod
    def _no_character(upper: str, i: int, need: frozenset[str] | None) -> VocabularyError:
        ch = upper[i]
        if need is None:
            what = "a Han character"
        elif need == BOTH:
            what = f"a character whose tone the 平水韵 table knows (opposite 「{ch}」)"
        else:
            why = "the 下联 ends in 平" if i == len(upper) - 1 else f"opposite 「{ch}」"
            what = f"a character that is only {next(iter(need))} ({why})"
        return VocabularyError(f"no character of the model's vocabulary can stand at position {i + 1} of the 下联: "
                               f"it needs {what} other than 「{ch}」; give another 上联 or use a larger model")

    def note(self, upper: str) -> str:
        """What the 下联 of ``upper`` cannot keep of the rules, or ``""``."""
        notes = []
        if self.table.tones(upper[-1]) == {PING}:
            notes.append(f"the 上联 ends in 平 (「{upper[-1]}」) where a 上联 ends in 仄; "
                         "the 下联 ends in 平 all the same")
        unknown = [upper[i] for i in range(1, len(upper) - 1, 2) if not self.table.tones(upper[i])]
        if unknown:
            names = "、".join(f"「{c}」" for c in unknown)
            notes.append(f"the tone of {names} is unknown, so the 下联 takes either tone opposite it")
        return "; ".join(notes)

    # ------------------------------------------------------------------ decoding
    @torch.inference_mode()
    def write(self, upper: str, *, candidates: int = COUPLET_CANDIDATES, seed: int | None = None,
              temperature: float = COUPLET_TEMPERATURE, top_k: int | None = None, top_p: float | None = None,
              n: int = 1) -> list[Couplet]:
        """The ``n`` likeliest distinct 下联 of ``candidates`` written for ``upper`` (fewer when the candidates
        wrote fewer distinct ones), best first."""
        positive_int("candidates", candidates)
        if positive_int("n", n) > candidates:
            raise InvalidArgument(f"n ({n}) must be at most candidates ({candidates}); ask for more candidates",
                                  param="n")
        params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p)
        upper = self.check(upper)
        allowed = self.masks(upper)
        seed = resolve_seed(seed)
        rows = [Row(params, candidate_seed(seed, 0, j), len(allowed)) for j in range(candidates)]
        decoder = BatchDecoder(self.model, self.tokenizer, self.device)
        decoder.admit([[self.index[c] for c in upper] + [self.index[GO]]] * candidates, rows)
        for step, mask in enumerate(allowed):
            tokens = decoder.choose([Mask(mask)])
            logps, _ = decoder.logprobs(tokens)
            for row, token, logp in zip(rows, tokens.tolist(), logps, strict=True):
                row.tokens.append(token)
                row.token_logprobs.append(logp)
            if step < len(allowed) - 1:
                decoder.feed(tokens)
        note = self.note(upper)
        written = [Couplet(upper, self.tokenizer.decode(row.tokens[:-1]),
                           sum(row.token_logprobs) / len(row.token_logprobs), j, note) for j, row in enumerate(rows)]
        best: dict[str, Couplet] = {}
        for couplet in sorted(written, key=lambda c: -c.logprob):  # stable: a tie keeps the earlier candidate
            best.setdefault(couplet.lower, couplet)
        return list(best.values())[:n]
