"""WaveNet: causality, incremental generation equal to the full convolution, conditioning, state plumbing."""

from __future__ import annotations

import pytest
import torch

from dreamwright.errors import InvalidArgument
from dreamwright.models import build_model
from dreamwright.models.wavenet import WaveNet


def small(**kw) -> WaveNet:
    torch.manual_seed(0)
    args = dict(residual_channels=8, dilation_channels=8, skip_channels=16, max_dilation=8, dilation_cycles=2,
                cond_channels=4)
    args.update(kw)
    return WaveNet(kw.pop("vocab_size", 20), **{k: v for k, v in args.items() if k != "vocab_size"}).eval()


def test_receptive_field_counts_every_dilation():
    model = small(max_dilation=8, dilation_cycles=2, kernel_size=2)
    assert model.receptive_field == 1 + 2 * (1 + 2 + 4 + 8)
    assert len(model.blocks) == 8
    assert "receptive field 31" in model.describe()
    assert small(kernel_size=3, max_dilation=4, dilation_cycles=1).receptive_field == 1 + 2 * (1 + 2 + 4)


def test_no_output_depends_on_a_future_input(one_thread):
    model = small()
    tokens = torch.randint(0, 20, (2, 40))
    logits, _ = model(tokens)
    changed = tokens.clone()
    changed[:, 25:] = (changed[:, 25:] + 7) % 20
    logits2, _ = model(changed)
    # positions up to 24 predict token 25 from tokens 0..24: unchanged
    assert torch.allclose(logits[:, :25], logits2[:, :25], atol=1e-6)
    assert not torch.allclose(logits[:, 25:], logits2[:, 25:], atol=1e-4)


def test_gradient_flows_only_from_the_past(one_thread):
    model = small()
    x = model.embed(torch.randint(0, 20, (1, 30))).transpose(1, 2).detach().requires_grad_(True)
    out, _ = model._stack(x, None, None)
    out[0, :, 12].sum().backward()
    grad = x.grad[0].abs().sum(0)
    assert grad[13:].sum() == 0
    assert grad[12] > 0 and grad[:12].sum() > 0


def test_outputs_see_exactly_the_receptive_field(one_thread):
    model = small(max_dilation=4, dilation_cycles=1)  # receptive field 8
    x = torch.randn(1, 8, 40, requires_grad=True)
    out, _ = model._stack(x, None, None)
    out[0, :, 30].sum().backward()
    seen = (x.grad[0].abs().sum(0) > 0).nonzero().flatten().tolist()
    assert seen == list(range(30 - model.receptive_field + 1, 31))


@pytest.mark.parametrize("n_cond", [0, 2])
def test_incremental_generation_equals_the_full_convolution(n_cond, one_thread):
    model = small(n_cond=n_cond, predict=16 if n_cond else None)
    cond = torch.tensor([[17, 19], [16, 18]])[:, :n_cond]
    body = torch.randint(0, 16, (2, 45))
    tokens = torch.cat([cond, body], dim=1)
    full, _ = model(tokens)
    prompt = n_cond + 3
    logits, state = model(tokens[:, :prompt])
    steps = [logits]
    for t in range(prompt, tokens.size(1)):
        logits, state = model(tokens[:, t:t + 1], state)
        steps.append(logits)
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_naive_decoding_gives_the_same_logits(one_thread):
    model = small(n_cond=1, predict=16)
    tokens = torch.cat([torch.tensor([[18]]), torch.randint(0, 16, (1, 80))], dim=1)  # longer than the field
    full, _ = model(tokens)
    model.use_cache = False
    logits, state = model(tokens[:, :2])
    steps = [logits]
    for t in range(2, tokens.size(1)):
        logits, state = model(tokens[:, t:t + 1], state)
        steps.append(logits)
        assert state.history.size(2) <= model.receptive_field - 1
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_conditioning_changes_the_prediction_and_condition_tokens_are_never_predicted(one_thread):
    model = small(n_cond=2, predict=16)
    with torch.no_grad():
        for block in model.blocks:
            block.cond.weight.normal_()
    a, _ = model(torch.tensor([[16, 18, 3, 4, 5]]))
    b, _ = model(torch.tensor([[17, 18, 3, 4, 5]]))
    assert not torch.allclose(a[:, 1:], b[:, 1:], atol=1e-4)
    assert torch.isinf(a[0, 1:, 16:]).all() and torch.isfinite(a[0, 1:, :16]).all()
    assert (a[0, 0] == 0).all()  # the first condition position predicts nothing


def test_state_plumbing_selects_joins_and_round_trips(one_thread):
    model = small(n_cond=1, predict=16)
    _, s1 = model(torch.tensor([[16, 1, 2]]))
    _, s2 = model(torch.tensor([[17, 3, 4, 5, 6]]))  # another length: queues still line up
    both = model.concat_states([s1, s2])
    step = torch.tensor([[7], [8]])
    joined, _ = model(step, both)
    alone, _ = model(step[1:], s2)
    assert torch.allclose(joined[1:], alone, atol=1e-6)
    picked = model.select_state(both, torch.tensor([1]))
    assert torch.allclose(model(step[1:], picked)[0], alone, atol=1e-6)
    again = model.state_from_tensors(model.state_tensors(both))
    assert torch.allclose(model(step, again)[0], joined, atol=1e-6)


def test_registry_builds_it_and_bad_settings_are_refused():
    model = build_model("wavenet", 30, residual_channels=4, dilation_channels=4, skip_channels=4, max_dilation=2,
                        dilation_cycles=1)
    assert isinstance(model, WaveNet) and model.config()["family"] == "wavenet"
    with pytest.raises(InvalidArgument, match="power of two"):
        WaveNet(10, max_dilation=6)
    with pytest.raises(InvalidArgument, match="kernel_size"):
        WaveNet(10, kernel_size=1)
    with pytest.raises(InvalidArgument, match="condition token"):
        small(n_cond=2, predict=16)(torch.tensor([[16]]))
