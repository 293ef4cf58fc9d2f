"""Constrained decoding with a tiny random model: each constraint holds by construction."""

from __future__ import annotations

import pytest
import torch

from dreamwright.errors import DreamwrightError, InvalidArgument, VocabularyError
from dreamwright.poetry.decode import PoemRequest, PoemWriter, _Draft
from dreamwright.poetry.prosody import FORMS, PING, ZE, check_poem, is_han
from tests.poetry.poetry_samples import EXTRA, FAMOUS

SEEDS = range(6)


@pytest.mark.parametrize("form", list(FORMS))
def test_form_is_exact_even_unconstrained(tiny, form):
    length, n_lines = FORMS[form]
    for poem in tiny.write(form, rhyme="off", tones="off", num_samples=4, seed=1, temperature=1.5):
        assert len(poem.lines) == n_lines and all(len(line) == length for line in poem.lines)
        assert all(is_han(c) for line in poem.lines for c in line)
        assert poem.text == "".join(
            line + ("，" if i % 2 == 0 else "。") for i, line in enumerate(poem.lines)
        )
        assert check_poem(poem.text, tiny.table, form).format_ok


def test_free_sampling_is_not_shaped(tiny):
    # the baseline the constraints replace: a random model's free text is (almost surely) no quatrain
    texts = [tiny.free_sample("五绝", seed=s) for s in SEEDS]
    assert sum(check_poem(t, tiny.table, "五绝").format_ok for t in texts) < len(texts)


@pytest.mark.parametrize("form", list(FORMS))
def test_rhyme_and_tones_strict(tiny, form):
    for seed in SEEDS:
        (poem,) = tiny.write(form, seed=seed, temperature=1.2)
        report = check_poem(poem.text, tiny.table, form)
        assert report.regulated, (poem.text, report.problems)
        ends = [line[-1] for line in poem.lines]
        rhymes = [ends[i] for i in poem.pattern.rhyme_lines]
        assert all(poem.rhyme_group.id in tiny.table.groups_of(c) for c in rhymes)
        assert len(set(rhymes)) == len(rhymes)  # no rhyme character twice
        assert poem.rhyme_group.tone == PING


def test_rhyme_only_masks_rhyme_positions(tiny):
    for seed in SEEDS:
        (poem,) = tiny.write("七绝", seed=seed, tones="off", rhyme="strict", temperature=1.5)
        report = check_poem(poem.text, tiny.table)
        assert report.rhyme_ok and report.rhyme_group.tone == PING


def test_tone_mask_follows_the_pattern(tiny):
    spec = _spec(tiny)
    pats = spec.patterns
    # line 2, position 2 (a fixed position): only 平 for a B line, only 仄 for a D line
    only_b = _Draft(frozenset(k for k, p in enumerate(pats) if p.types[1] == "B"), chosen=[0] * 5)
    mask, _ = tiny._slot_mask(spec, only_b, 1, 1)
    tones = [tiny.tones_of[i] for i in torch.nonzero(mask).flatten().tolist()]
    assert tones and all(PING in t for t in tones)
    assert mask.sum() == (tiny.ping).sum()
    only_d = _Draft(frozenset(k for k, p in enumerate(pats) if p.types[1] == "D"), chosen=[0] * 5)
    mask, _ = tiny._slot_mask(spec, only_d, 1, 1)
    assert all(ZE in tiny.tones_of[i] for i in torch.nonzero(mask).flatten().tolist())
    # a free position (line 2, position 1) is not masked by tones
    mask, _ = tiny._slot_mask(spec, only_b, 1, 0)
    assert torch.equal(mask, tiny.han)


def test_rhyme_mask_keeps_the_group(tiny):
    spec = _spec(tiny, tones="off")
    assert spec.patterns == [None]
    g = tiny.group_pos["阳"]
    draft = _Draft(frozenset({0}), frozenset({g}), chosen=[tiny.index[c] for c in "床前明月光"])
    mask, rhyming = tiny._slot_mask(spec, draft, 1, 4)
    allowed = {tiny.chars[i] for i in torch.nonzero(mask).flatten().tolist()}
    assert rhyming and allowed and all("阳" in tiny.table.groups_of(c) for c in allowed)
    assert "霜" in allowed and "光" not in allowed  # 光 already closed line 1: no repeated rhyme


def test_start_prunes_patterns(tiny):
    # 白日 is 仄仄: only 仄起 patterns remain, so line 2's second character must be 平 (对)
    for seed in SEEDS:
        (poem,) = tiny.write("五绝", start="白日", seed=seed, temperature=1.5)
        assert poem.lines[0].startswith("白日") and poem.pattern.name.startswith("仄起")
        assert PING in tiny.table.tones(poem.lines[1][1])


@pytest.mark.parametrize(
    "acrostic, heads",
    [("春夏秋冬", "春夏秋冬"), ("春？夏！秋，冬。", "春夏秋冬"), ("风花？", "风花"), (" 明 月！", "明月")],
)
def test_acrostic(tiny, acrostic, heads):
    for seed in SEEDS[:3]:
        (poem,) = tiny.write("五绝", acrostic=acrostic, seed=seed, temperature=1.5)
        assert "".join(line[0] for line in poem.lines[: len(heads)]) == heads
        assert check_poem(poem.text, tiny.table, "五绝").regulated
        assert poem.acrostic == heads


def test_acrostic_for_regulated_verse(tiny):
    (poem,) = tiny.write("七律", acrostic="春夏秋冬风花雪月", seed=3)
    assert "".join(line[0] for line in poem.lines) == "春夏秋冬风花雪月"


def test_acrostic_errors(tiny):
    with pytest.raises(InvalidArgument, match="at most 4"):
        tiny.write("五绝", acrostic="春夏秋冬风")
    with pytest.raises(InvalidArgument, match="no Chinese"):
        tiny.write("五绝", acrostic="？！")
    with pytest.raises(VocabularyError) as err:
        tiny.write("五绝", acrostic="龍？鳳！")  # traditional forms of 龙 (in vocab); 鳳's 凤 is not
    message = str(err.value)
    assert "\n" not in message and "「龍」" in message and "「龙」" in message and "「鳳」" in message
    assert "「凤」" not in message
    with pytest.raises(VocabularyError, match="「㐀」"):
        tiny.write("五绝", keywords="㐀")


def test_keywords(tiny):
    hits = [tiny.write("五绝", keywords="月,山", seed=s, keyword_bonus=30.0)[0].keywords_used for s in SEEDS]
    assert all(set(h) == {"月", "山"} for h in hits)


def test_pinyin_only_characters_stay_off_rule_positions(table):
    """嗯 and 咖 are in neither 平水韵 table: pushed hard, they land only where no rule reads their tone."""
    from tests.poetry.conftest import make_model

    assert not table.in_table("嗯") and not table.in_table("咖")
    model, tokenizer = make_model("".join(FAMOUS.values()) + EXTRA + "嗯咖")
    writer = PoemWriter(model, tokenizer, table=table)
    writer.min_group = 2
    placed = 0
    for seed in SEEDS:
        (poem,) = writer.write("五绝", keywords="嗯,咖", keyword_bonus=40.0, seed=seed, repeat_penalty=0.0)
        for line in poem.lines:
            assert all(table.in_table(line[k]) for k in (1, 3, 4)), poem.text
            placed += sum(c in "嗯咖" for c in line)
        assert check_poem(poem.text, table, "五绝").regulated
    assert placed  # they were placed at free positions, so the bias did push them


def test_backoff_from_a_dead_end(table):
    """Only two characters of one 平 rhyme group exist: a first line that rhymes leaves line 4 nothing."""
    from tests.poetry.conftest import make_model

    model, tokenizer = make_model("东风月白日雪落去不见此")  # 东/风: 一东; everything else 仄
    writer = PoemWriter(model, tokenizer, table=table)
    writer.min_group = 1
    backtracks = 0
    for seed in range(12):
        (poem,) = writer.write("五绝", seed=seed, temperature=2.0, max_backtracks=2000)
        report = check_poem(poem.text, table, "五绝")
        assert report.regulated, poem.text
        assert not poem.pattern.first_rhymes  # the only way out
        backtracks += poem.backtracks
    assert backtracks > 0


def test_impossible_constraints_fail_cleanly(table):
    from tests.poetry.conftest import make_model

    model, tokenizer = make_model("东月白日雪落去不见此")  # a single 平 rhyme character: no rhyme possible
    writer = PoemWriter(model, tokenizer, table=table)
    writer.min_group = 1
    with pytest.raises(DreamwrightError, match="could not finish"):
        writer.write("五绝", seed=0, max_backtracks=50)
    with pytest.raises(DreamwrightError, match="could not finish"):
        writer.write("五绝", start="东东东东东", seed=0, rhyme="off")  # 平平平平平 fits no pattern


def test_seed_repeats(tiny):
    a = [p.text for p in tiny.write("七绝", num_samples=3, seed=7)]
    b = [p.text for p in tiny.write("七绝", num_samples=3, seed=7)]
    assert a == b and len(set(a)) == 3


def test_render_shows_tones_and_rhyme(tiny):
    (poem,) = tiny.write("五绝", seed=2)
    text = poem.render(tiny.table)
    rows = text.splitlines()
    assert rows[0].startswith(poem.lines[0] + "，")
    marks = rows[1].split()[1]
    assert len(marks) == 5 and set(marks) <= set("平仄中？")
    assert f"韵·{poem.rhyme_group.name}" in rows[1] and poem.pattern.name in rows[-1]


def test_real_poems_vocabulary_is_known(tiny):
    assert all(c in tiny.index for text in FAMOUS.values() for c in text) and all(
        c in tiny.index for c in EXTRA
    )


def _spec(writer, tones="strict", rhyme="strict"):
    """A 五绝 request in the writer's terms (its tables built)."""
    return writer._spec(PoemRequest("五绝", tones=tones, rhyme=rhyme))


def _mean_logprob(writer: PoemWriter, form: str, text: str) -> float:
    """The model's mean log-probability of the poem's Han characters after ``\\n【form】`` (one forward pass)."""
    ids = [writer.index[c] for c in f"\n【{form}】{text}"]
    with torch.no_grad():
        logits, _ = writer.model(torch.tensor([ids]))
    logp = torch.log_softmax(logits[0, :-1].float(), -1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
    start = len(f"\n【{form}】") - 1
    picked = [float(lp) for lp, c in zip(logp[start:], text, strict=True) if is_han(c)]
    return sum(picked) / len(picked)


def test_candidates_keep_the_likeliest(tiny):
    for seed in SEEDS[:3]:
        (one,) = tiny.write("五绝", seed=seed, candidates=1, temperature=1.5)
        (best,) = tiny.write("五绝", seed=seed, candidates=5, temperature=1.5)
        assert one.candidates == 1 and one.candidate == 0 and best.candidates == 5
        # the score is the model's own mean log-probability per character of the text it kept
        assert best.score == pytest.approx(_mean_logprob(tiny, "五绝", best.text), abs=1e-4)
        assert one.score == pytest.approx(_mean_logprob(tiny, "五绝", one.text), abs=1e-4)
        # candidate 0 is the candidates=1 poem, and it was in the running; a batch of 5 sums its log-probabilities
        # in another order than a batch of 1, so the same text may score a few ulps apart
        assert best.score >= one.score - 1e-6
        if best.candidate == 0:
            assert best.text == one.text
        assert check_poem(best.text, tiny.table, "五绝").regulated
        (again,) = tiny.write("五绝", seed=seed, candidates=5, temperature=1.5)
        assert (again.text, again.candidate) == (best.text, best.candidate)


def test_candidate_seed_rule(tiny):
    from dreamwright.poetry.decode import candidate_seed

    assert candidate_seed(7, 0, 0) == 7 and candidate_seed(7, 2, 0) == 9
    assert candidate_seed(7, 2, 3) == 9 + 3 * 2**32
    assert candidate_seed(2**64 - 1, 1, 0) == 0  # modulo 2**64
    with pytest.raises(InvalidArgument, match="candidates must be >= 1"):
        tiny.write("五绝", candidates=0)


@pytest.mark.parametrize(
    "form, opts", [("五绝", {}), ("七律", {"acrostic": "春夏秋冬"}), ("五绝", {"keywords": "明月,山,花,雪"})]
)
def test_lockstep_candidates_match_writing_each_alone(tiny, form, opts):
    """The candidates written side by side in one batch are the poems each seed writes alone."""
    from dreamwright.poetry.decode import candidate_seed

    poems = [tiny.write(form, seed=11, candidates=1, temperature=1.3, **opts)[0]]  # candidate 0 alone
    # write candidates 1..3 alone by shifting the request seed so that candidate 0 lands on their streams
    for j in range(1, 4):
        shifted = candidate_seed(11, 0, j)
        poems.append(tiny.write(form, seed=shifted, candidates=1, temperature=1.3, **opts)[0])
    (best,) = tiny.write(form, seed=11, candidates=4, temperature=1.3, **opts)
    assert best.text == poems[best.candidate].text
    assert best.score == pytest.approx(max(p.score for p in poems), abs=1e-5)


def test_a_row_of_a_batch_writes_what_its_seed_writes_as_a_batch_of_one(tiny):
    """The one slot loop: a row that meets no dead end in a batch writes the candidate its seed writes alone."""
    spec = tiny._spec(PoemRequest("七绝", acrostic="春夏", temperature=1.3))
    seeds = [3, 4, 5, 6, 7]
    with torch.inference_mode():
        batch = tiny._write_rows(spec, tiny._decoder(spec, seeds), backtrack=False)
        alone = [tiny._write_rows(spec, tiny._decoder(spec, [seed]), backtrack=True)[0] for seed in seeds]
    assert any(draft is not None for draft in batch)
    for row, one in zip(batch, alone, strict=True):
        if row is not None:  # a row that met a dead end left the batch; alone, it backs off instead
            assert (one.chosen, one.backtracks) == (row.chosen, 0)
            assert one.score == pytest.approx(row.score, abs=1e-6)


def test_tables_ready(table):
    from tests.poetry.conftest import make_model

    model, tokenizer = make_model("".join(FAMOUS.values()) + EXTRA)
    writer = PoemWriter(model, tokenizer, table=table)
    writer.min_group = 2
    assert not writer.tables_ready
    (free,) = writer.write("五绝", rhyme="off", tones="off", seed=0, candidates=1)
    assert not writer.tables_ready and free.report is None and free.pattern is None  # nothing needed them
    (poem,) = writer.write("五绝", seed=0, candidates=1)
    assert writer.tables_ready and poem.report.regulated and poem.pattern is not None
    fresh = PoemWriter(model, tokenizer, table=table)
    fresh.prepare_tables()
    assert fresh.tables_ready and torch.equal(fresh.group_mat, writer.group_mat)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"form": "六绝"}, "unknown form"),
        ({"rhyme": "sometimes"}, "strict, loose or off"),
        ({"tones": "on"}, "strict, loose or off"),
        ({"num_samples": 0}, "num_samples must be >= 1"),
        ({"candidates": 0}, "candidates must be >= 1"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"acrostic": "？！"}, "no Chinese"),
        ({"acrostic": "春夏秋冬风"}, "at most 4"),
        ({"start": "白" * 21}, "longer than a whole 五绝"),
        ({"start": "白日", "acrostic": "春"}, "disagree on line 1"),
        ({"theme": "!!"}, "no Chinese"),
        ({"min_mass": 1.5}, "min_mass"),
        ({"max_backtracks": -1}, "max_backtracks"),
    ],
)
def test_request_is_checked_when_made(options, message):
    with pytest.raises(InvalidArgument, match=message):
        PoemRequest(**options)


def test_request_reads_its_texts():
    from dreamwright.poetry.defaults import DEFAULT_CANDIDATES, DEFAULT_TEMPERATURE

    request = PoemRequest("七律", acrostic="春？夏！", start=" 春风 ", keywords="明月，故乡,, ！", theme="秋思")
    assert (request.length, request.n_lines, request.heads, request.opening) == (7, 8, "春夏", "春风")
    assert (request.keyword_list, request.topic) == (("明月", "故乡"), "秋思")
    assert PoemRequest(keywords=["明月", "?"]).keyword_list == ("明月",)
    assert (PoemRequest().candidates, PoemRequest().temperature) == (DEFAULT_CANDIDATES, DEFAULT_TEMPERATURE)


def test_write_takes_a_request_or_its_fields(tiny):
    options = {"acrostic": "春夏", "seed": 5, "candidates": 2, "temperature": 1.3, "num_samples": 2}
    request = PoemRequest("五绝", **options)
    assert [p.text for p in tiny.write(request)] == [p.text for p in tiny.write("五绝", **options)]
    with pytest.raises(InvalidArgument, match="not both"):
        tiny.write(request, seed=6)
    with pytest.raises(TypeError):
        tiny.write("五绝", colour="red")
