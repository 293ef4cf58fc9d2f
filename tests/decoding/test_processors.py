import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamwright.decoding import (
    AvoidRepeats,
    Bias,
    History,
    Mask,
    RepetitionPenalty,
    SamplingParams,
    Temperature,
    TopK,
    TopP,
)
from dreamwright.decoding.processors import apply
from dreamwright.errors import InvalidArgument

probs_strategy = st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12).map(
    lambda xs: torch.tensor(xs, dtype=torch.float64) / sum(xs)
)


@given(probs_strategy, st.floats(0.05, 3.0))
@settings(max_examples=100, deadline=None)
def test_temperature_matches_book_formula(p, t):
    expected = [math.exp(math.log(x) / t) for x in p.tolist()]
    total = sum(expected)
    expected = [e / total for e in expected]
    chain = SamplingParams(temperature=t).chain
    got = torch.softmax(apply(chain, History(), torch.log(p)[None]), -1)[0]
    assert got.tolist() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_top_k_keeps_exactly_k_most_likely():
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0, 2.0]])
    kept = torch.isfinite(TopK(2)(History(), logits))[0].tolist()
    assert kept == [False, True, False, True, False]


def test_top_p_keeps_smallest_set_reaching_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))

    def kept(p, x=logits):
        return torch.isfinite(TopP(p)(History(), x))[0].tolist()

    assert kept(0.5) == [True, False, False, False]
    assert kept(0.8) == [True, True, False, False]
    assert kept(0.81) == [True, True, True, False]
    assert kept(1.0) == [True, True, True, True]
    assert kept(0.8, logits[:, [2, 0, 3, 1]]) == [False, True, False, True]  # by probability, not position


def test_repetition_penalty_is_ctrl_style_over_prompt_and_output():
    logits = torch.tensor([[2.0, 2.0, -1.0]])
    history = History(seen=torch.tensor([[True, False, True]]))
    assert RepetitionPenalty(2.0)(history, logits).tolist() == [[1.0, 2.0, -2.0]]


def test_avoid_repeats_subtracts_from_generated_tokens_only():
    logits = torch.tensor([[2.0, 2.0, -1.0]])
    history = History(seen=torch.tensor([[True, True, True]]), generated=torch.tensor([[False, True, False]]))
    assert AvoidRepeats(1.5)(history, logits).tolist() == [[2.0, 0.5, -1.0]]


def test_bias_and_mask():
    logits = torch.zeros(2, 4)
    assert Bias(torch.tensor([0.0, 2.0, 0.0, 2.0]))(History(), logits).tolist() == [[0, 2, 0, 2]] * 2
    per_row = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, -1.0]])
    assert Bias(per_row)(History(), logits).tolist() == [[1, 0, 0, 0], [0, 0, 0, -1]]
    with pytest.raises(InvalidArgument):
        Bias(torch.tensor([float("inf")]))
    assert logits.tolist() == [[0.0] * 4] * 2  # the input is not modified
    masked = Mask(torch.tensor([True, False, True, False]))(History(), logits)
    assert torch.isfinite(masked).tolist() == [[True, False, True, False]] * 2


def test_chain_order_and_greedy():
    params = SamplingParams(temperature=0.5, top_k=3, top_p=0.9, repetition_penalty=1.2)
    assert [type(p) for p in params.chain] == [RepetitionPenalty, Temperature, TopK, TopP]
    greedy = SamplingParams(temperature=0, top_k=3, repetition_penalty=1.2)
    assert greedy.greedy and [type(p) for p in greedy.chain] == [RepetitionPenalty]
    assert SamplingParams().chain == ()  # plain sampling touches nothing
    assert SamplingParams(temperature=0.5) == SamplingParams(temperature=0.5)  # usable as a group key
    assert len({SamplingParams(top_k=2), SamplingParams(top_k=2), SamplingParams(top_k=3)}) == 2


@pytest.mark.parametrize("kwargs", [
    {"temperature": -0.1}, {"temperature": float("nan")}, {"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5},
    {"repetition_penalty": 0.0}, {"repetition_penalty": float("inf")}, {"temperature": 0, "top_k": -1},
])
def test_invalid_parameters_rejected_with_the_parameter_named(kwargs):
    with pytest.raises(InvalidArgument) as info:
        SamplingParams(**kwargs)
    assert info.value.param in kwargs
