"""The μ-law tokenizer: condition tokens after the 256 levels, checked choices, JSON round trip."""

from __future__ import annotations

import pytest

from dreamwright.errors import InvalidArgument
from dreamwright.tokenizers import tokenizer_from_dict
from dreamwright.tokenizers.audio import LEVELS, MuLawTokenizer


def digits() -> MuLawTokenizer:
    return MuLawTokenizer({"label": [str(d) for d in range(10)], "speaker": ["jackson", "theo"]}, 8000)


def test_condition_tokens_follow_the_levels_in_order():
    tok = digits()
    assert tok.vocab_size == LEVELS + 12 and tok.n_cond == 2
    assert tok.condition_ids(label="3", speaker="theo") == [LEVELS + 3, LEVELS + 11]
    assert tok.encode("speaker=jackson label=9") == [LEVELS + 9, LEVELS + 10]
    assert tok.decode([LEVELS + 3, 128, 255, 0]) == "<label=3>▁██"


def test_a_value_or_kind_the_model_does_not_know_is_refused_with_the_valid_ones():
    tok = digits()
    with pytest.raises(InvalidArgument, match="no label '12'; choose one of 0, 1, 2"):
        tok.condition_ids(label="12", speaker="theo")
    with pytest.raises(InvalidArgument, match="not conditioned on a mood; it knows label: 0, 1"):
        tok.condition_ids(label="1", speaker="theo", mood="happy")
    with pytest.raises(InvalidArgument, match="choose a speaker: one of jackson, theo"):
        tok.condition_ids(label="1")
    with pytest.raises(InvalidArgument, match="conditions such as label=3"):
        tok.encode("hello")


def test_a_corpus_without_conditions_gets_one_start_token_and_it_round_trips():
    tok = MuLawTokenizer({}, 16000)
    assert tok.n_cond == 1 and tok.condition_ids() == [LEVELS]
    again = tokenizer_from_dict(tok.to_dict())
    assert isinstance(again, MuLawTokenizer) and again.sample_rate == 16000 and again.conditions == tok.conditions
    assert list(tok.samples([LEVELS, 5, 300 - 44])) == [5]
