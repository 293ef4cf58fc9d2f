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
    tokens, logprobs = decoder.choose([Mask(allowed)])
    assert set(tokens.tolist()) <= set(tok.encode("xo")) and logprobs is None
