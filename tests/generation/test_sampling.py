import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamwright.errors import InvalidArgument
from dreamwright.generation.sampling import (
    SamplingParams,
    next_token_logits,
    reweight,
    sample,
    top_k_filter,
    top_p_filter,
)

probs_strategy = st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12).map(
    lambda xs: torch.tensor(xs, dtype=torch.float64) / sum(xs)
)


@given(probs_strategy, st.floats(0.05, 3.0))
@settings(max_examples=100)
def test_temperature_matches_book_formula(p, t):
    expected = [math.exp(math.log(x) / t) for x in p.tolist()]
    total = sum(expected)
    expected = [e / total for e in expected]
    got = reweight(p, t).tolist()
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # the sampler's logits route gives the same distribution
    via_logits = torch.softmax(next_token_logits(torch.log(p)[None], SamplingParams(temperature=t)), -1)[0]
    assert via_logits.tolist() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_top_k_keeps_exactly_k_most_likely():
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0, 2.0]])
    kept = torch.isfinite(top_k_filter(logits, 2))[0].tolist()
    assert kept == [False, True, False, True, False]


def test_top_p_keeps_smallest_set_reaching_p():
    p = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = torch.log(p)
    assert torch.isfinite(top_p_filter(logits, 0.5))[0].tolist() == [True, False, False, False]
    assert torch.isfinite(top_p_filter(logits, 0.8))[0].tolist() == [True, True, False, False]
    assert torch.isfinite(top_p_filter(logits, 0.81))[0].tolist() == [True, True, True, False]
    assert torch.isfinite(top_p_filter(logits, 1.0))[0].tolist() == [True, True, True, True]
    # unsorted input: support is by probability, not position
    shuffled = logits[:, [2, 0, 3, 1]]
    assert torch.isfinite(top_p_filter(shuffled, 0.8))[0].tolist() == [False, True, False, True]


def test_samples_only_from_the_support():
    logits = torch.log(torch.tensor([[0.4, 0.3, 0.2, 0.1]])).repeat(2000, 1)
    gen = torch.Generator().manual_seed(0)
    drawn = sample(logits, SamplingParams(temperature=1.0, top_k=2), gen)
    assert set(drawn.tolist()) == {0, 1}
    drawn = sample(logits, SamplingParams(temperature=1.0, top_p=0.65), gen)
    assert set(drawn.tolist()) == {0, 1}


def test_zero_temperature_is_greedy():
    logits = torch.tensor([[0.1, 2.0, 1.0], [3.0, 0.0, 0.0]])
    assert sample(logits, SamplingParams(temperature=0)).tolist() == [1, 0]


def test_repetition_penalty_lowers_seen_tokens():
    logits = torch.tensor([[2.0, 2.0, -1.0]])
    seen = torch.tensor([[True, False, True]])
    out = next_token_logits(logits, SamplingParams(temperature=1.0, repetition_penalty=2.0), seen)
    assert out.tolist() == [[1.0, 2.0, -2.0]]


@pytest.mark.parametrize("kwargs", [
    {"temperature": -0.1}, {"temperature": float("nan")}, {"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5},
    {"repetition_penalty": 0.0},
])
def test_invalid_parameters_rejected(kwargs):
    with pytest.raises(InvalidArgument):
        SamplingParams(**kwargs)


def test_draw_follows_the_distribution():
    from dreamwright.generation.sampling import draw

    probs = torch.tensor([[0.5, 0.0, 0.3, 0.0, 0.2]]).repeat(20000, 1)
    counts = torch.bincount(draw(probs, torch.Generator().manual_seed(1)), minlength=5).float() / 20000
    assert counts[1] == 0 and counts[3] == 0
    assert counts.tolist() == pytest.approx([0.5, 0.0, 0.3, 0.0, 0.2], abs=0.015)
