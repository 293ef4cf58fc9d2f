import pytest
import torch

from dreamwright.decoding import BatchDecoder, Mask, Row, SamplingParams
from dreamwright.models import build_model
from dreamwright.tokenizers import tokenizer_class

TEXT = "the cat sat on the mat. a dog ran after the fox!\n"


@pytest.fixture(scope="module", params=["lstm", "gpt"])
def model_and_tokenizer(request):
    torch.manual_seed(0)
    tokenizer = tokenizer_class("char").fit([TEXT])
    hparams = {"hidden_size": 24, "embedding_size": 8} if request.param == "lstm" else \
        {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 32}
    model = build_model(request.param, tokenizer.vocab_size, **hparams).eval()
    return model, tokenizer


def decode(model, tokenizer, prompts, rows):
    decoder = BatchDecoder(model, tokenizer)
    decoder.admit(prompts, rows)
    events = list(decoder.run())
    assert {id(row) for row, _ in events} == {id(row) for row in rows}  # every row reports its finish
    return [(row.tokens, row.text, row.finish_reason) for row in rows]


def test_a_row_writes_the_same_alone_or_in_any_batch(model_and_tokenizer):
    model, tok = model_and_tokenizer
    prompts = [tok.encode("the "), tok.encode("a dog"), tok.encode("the ")]
    specs = [(SamplingParams(0.8), 1), (SamplingParams(1.0, top_k=5, repetition_penalty=1.3), 2),
             (SamplingParams(0.0), 3)]
    together = decode(model, tok, prompts, [Row(p, s, 20 + s, watch_text=True) for p, s in specs])
    for prompt, (params, seed), expected in zip(prompts, specs, together, strict=True):
        alone = decode(model, tok, [prompt], [Row(params, seed, 20 + seed)])
        assert alone == [expected]
        assert len(expected[0]) == 20 + seed and expected[2] == "length"
        assert expected[1] == tok.decode(expected[0])


def test_identical_prompts_are_read_once(model_and_tokenizer):
    model, tok = model_and_tokenizer
    shapes = []
    handle = model.register_forward_hook(lambda m, args, out: shapes.append(tuple(args[0].shape)))
    try:
        decoder = BatchDecoder(model, tok)
        prompts = [tok.encode("the "), tok.encode("the "), tok.encode("cat "), tok.encode("a")]
        decoder.admit(prompts, [Row(SamplingParams(), i, 3) for i in range(4)])
    finally:
        handle.remove()
    assert sorted(shapes) == [(1, 1), (2, 4)]  # one forward per prompt length, each distinct prompt once


def test_stop_strings_end_a_row_and_it_leaves_the_batch(model_and_tokenizer):
    model, tok = model_and_tokenizer
    params = SamplingParams(0.0)
    (tokens, text, _), = decode(model, tok, [tok.encode("the")], [Row(params, 0, 30)])
    stop = text[3:5]
    row = Row(params, 0, 30, [stop])
    decoder = BatchDecoder(model, tok)
    decoder.admit([tok.encode("the")] * 2, [row, Row(params, 1, 30)])
    while len(decoder.rows) == 2:
        decoder.step()
    assert row.finish_reason == "stop" and row.text == text[: text.find(stop)]
    assert decoder.rows and decoder.rows[0] is not row


def test_snapshot_restore_replays_the_same_choices(model_and_tokenizer):
    model, tok = model_and_tokenizer
    row = Row(SamplingParams(1.0), 5, 100)
    decoder = BatchDecoder(model, tok, needs=frozenset({"generated"}))
    decoder.admit([tok.encode("the")], [row])
    for _ in range(3):
        decoder.step()
    snap = decoder.snapshot()
    first = [decoder.step() and row.tokens[-1] for _ in range(5)]
    decoder.restore(snap)
    assert len(row.tokens) == 3 and decoder.history.generated.sum() == len(set(row.tokens))
    assert [decoder.step() and row.tokens[-1] for _ in range(5)] == first


def test_extra_processors_constrain_the_choice(model_and_tokenizer):
    model, tok = model_and_tokenizer
    decoder = BatchDecoder(model, tok)
    decoder.admit([tok.encode("the")] * 16, [Row(SamplingParams(1.5), s, 5) for s in range(16)])
    allowed = torch.zeros(model.vocab_size, dtype=torch.bool)
    allowed[tok.encode("xo")] = True
    tokens = decoder.choose([Mask(allowed)])
    assert set(tokens.tolist()) <= set(tok.encode("xo"))


def test_logprobs_are_the_models_own_distribution(model_and_tokenizer):
    model, tok = model_and_tokenizer
    prompt = tok.encode("the ")
    rows = [Row(SamplingParams(0.5, top_k=3), 1, 4, logprobs=3), Row(SamplingParams(0.5), 2, 4, logprobs=0),
            Row(SamplingParams(0.5), 3, 4)]
    decode(model, tok, [prompt] * 3, rows)
    with torch.inference_mode():
        logits, _ = model(torch.tensor([prompt + rows[0].tokens]))
    expected = torch.log_softmax(logits[0, len(prompt) - 1:-1].float(), -1)
    chosen = expected.gather(-1, torch.tensor(rows[0].tokens)[:, None]).squeeze(-1)
    assert rows[0].token_logprobs == pytest.approx(chosen.tolist(), abs=1e-5)  # before temperature and top-k
    for step, top in enumerate(rows[0].top_logprobs):
        values, ids = torch.topk(expected[step], 3)
        assert [t for t, _ in top] == ids.tolist() and [v for _, v in top] == pytest.approx(values.tolist(), abs=1e-5)
    assert len(rows[1].token_logprobs) == 4 and rows[1].top_logprobs == []
    assert rows[2].token_logprobs == [] and all(v <= 0 for v in rows[1].token_logprobs)


def test_keep_can_repeat_and_reorder_rows(model_and_tokenizer):
    """Beam search forks rows: a repeated position copies the row's model state, an equal-length index reorders."""
    model, tok = model_and_tokenizer
    decoder = BatchDecoder(model, tok, needs=frozenset({"seen"}))
    decoder.admit([tok.encode("the "), tok.encode("a dog")], [Row(SamplingParams(0.0), i, 10) for i in range(2)])
    first, second = decoder.logits.clone()
    decoder.keep([1, 0])
    assert torch.equal(decoder.logits, torch.stack([second, first]))
    decoder.keep([1, 1, 0])
    assert torch.equal(decoder.logits, torch.stack([first, first, second]))
    assert torch.equal(decoder.history.seen[0], decoder.history.seen[1])
    decoder.feed(torch.tensor(tok.encode("tot")))
    forked = decoder.logits
    alone = BatchDecoder(model, tok)
    alone.admit([tok.encode("the t"), tok.encode("the o")], [Row(SamplingParams(0.0), i, 10) for i in range(2)])
    torch.testing.assert_close(forked[:2], alone.logits, rtol=1e-4, atol=1e-5)
