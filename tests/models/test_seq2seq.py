import pytest
import torch

from dreamwright.errors import InvalidArgument
from dreamwright.models import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = build_model("seq2seq", 20, go_id=1, pad_id=0, n_layer=2, hidden_size=16, embedding_size=8).eval()
    with torch.no_grad():
        yield model


def test_left_padding_does_not_change_a_reply(model):
    batch = torch.tensor([[5, 6, 7, 1, 8, 9], [0, 6, 7, 1, 8, 9]])
    logits, _ = model(batch)
    alone, _ = model(torch.tensor([[6, 7, 1, 8, 9]]))
    assert logits.shape == (2, 6, 20)
    assert torch.allclose(alone[0, 2:], logits[1, 3:], atol=1e-5)
    assert not torch.allclose(logits[0, 3:], logits[1, 3:], atol=1e-3)  # the reply depends on the source
    assert float(logits[:, :3].abs().sum()) == 0.0  # source positions are never scored


def test_step_by_step_decoding_equals_reading_the_whole_reply(model):
    batch = torch.tensor([[5, 6, 7, 1, 8, 9], [0, 6, 7, 1, 8, 9]])
    full, _ = model(batch)
    first, state = model(batch[:, :4])
    second, state = model(batch[:, 4:5], state)
    third, _ = model(batch[:, 5:6], state)
    assert torch.allclose(torch.cat([first[:, 3:], second, third], 1), full[:, 3:], atol=1e-5)


def test_states_of_different_source_lengths_join_and_split(model):
    _, short = model(torch.tensor([[6, 1]]))
    _, long = model(torch.tensor([[5, 6, 7, 4, 1]]))
    joined = model.concat_states([short, long])
    assert joined.memory.shape[:2] == (2, 4) and joined.mask.tolist() == [[True, False, False, False], [True] * 4]
    step, _ = model(torch.tensor([[8], [8]]), joined)
    alone, _ = model(torch.tensor([[8]]), short)
    assert torch.allclose(step[0], alone[0], atol=1e-5)
    back = model.select_state(joined, torch.tensor([1]))
    assert torch.equal(back.hidden, long.hidden)


def test_attention_has_a_row_per_reply_step_and_sums_to_one(model):
    weights = model.attention([5, 6, 7], [8, 9])
    assert weights.shape == (3, 3)
    assert torch.allclose(weights.sum(-1), torch.ones(3), atol=1e-5)


def test_input_without_go_is_refused(model):
    with pytest.raises(InvalidArgument, match="no GO"):
        model(torch.tensor([[5, 6, 7]]))


def test_tied_and_shared_embeddings_are_options():
    tied = build_model("seq2seq", 30, hidden_size=8, embedding_size=4, n_layer=1)
    untied = build_model("seq2seq", 30, hidden_size=8, embedding_size=4, n_layer=1, tie_weights=False,
                         shared_embeddings=False)
    assert tied.head.weight is tied.embed.weight and tied.source_embed is None
    assert untied.source_embed is not None and untied.head.weight is not untied.embed.weight
    assert untied.num_parameters() > tied.num_parameters()


def test_a_reply_never_continues_with_pad_or_go(model):
    logits, _ = model(torch.tensor([[5, 6, 7, 1, 8, 9]]))
    assert torch.isinf(logits[0, 3:, [0, 1]]).all() and torch.isfinite(logits[0, 3:, 2:]).all()
