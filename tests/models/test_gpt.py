"""The GPT model: learning, the key/value cache, sliding past block_size, padding, and the full run cycle."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dreamwright
from dreamwright.decoding import BatchDecoder, Row, SamplingParams
from dreamwright.errors import InvalidArgument
from dreamwright.generation.generator import Generator
from dreamwright.models import build_model
from dreamwright.tokenizers import tokenizer_class
from dreamwright.training.evaluate import score_tokens
from tests.conftest import make_text, run_cli

TINY_GPT = dict(model="gpt", n_layer=2, n_head=2, n_embd=32, block_size=32, seq_len=32, batch_size=8,
                samples=False, quiet=True, eval_tokens=2000, threads=1, lr=3e-3, warmup_steps=5)


def tiny_model(block_size: int = 16, vocab: int = 40, seed: int = 0):
    torch.manual_seed(seed)
    return build_model("gpt", vocab, n_layer=2, n_head=2, n_embd=32, block_size=block_size).eval()


def test_loss_falls_on_a_tiny_corpus():
    torch.set_num_threads(1)
    text = make_text(200)
    tok = tokenizer_class("char").fit([text])
    data = torch.tensor(tok.encode(text))
    torch.manual_seed(0)
    model = build_model("gpt", tok.vocab_size, n_layer=2, n_head=2, n_embd=48, block_size=32)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)

    def batch():
        starts = torch.randint(0, len(data) - 33, (16,), generator=gen)
        idx = starts[:, None] + torch.arange(33)
        return data[idx[:, :-1]], data[idx[:, 1:]]

    losses = []
    for _ in range(80):
        x, y = batch()
        logits, state = model(x)
        assert state is None  # training builds no cache
        loss = F.cross_entropy(logits.reshape(-1, tok.vocab_size), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0.9 * math.log(tok.vocab_size)
    assert np.mean(losses[-10:]) < 0.6 * losses[0]


def test_incremental_decoding_matches_a_full_pass():
    model = tiny_model(block_size=16)
    x = torch.randint(0, 40, (3, 12))
    with torch.no_grad():
        full, _ = model(x)
        pieces, state = [], None
        logits, state = model(x[:, :5], None)
        pieces.append(logits)
        for t in range(5, 12):
            logits, state = model(x[:, t:t + 1], state)
            pieces.append(logits)
        logits, _ = model(x[:, 9:12], model(x[:, :9])[1])  # several new tokens over a cache
    torch.testing.assert_close(torch.cat(pieces, 1), full, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(logits, full[:, 9:12], atol=1e-5, rtol=1e-4)


def test_prompt_longer_than_block_size_slides():
    model = tiny_model(block_size=16)
    x = torch.randint(0, 40, (2, 45))
    with torch.no_grad():
        logits, state = model(x)
    assert logits.shape == (2, 45, 40) and torch.isfinite(logits).all()
    assert state.length <= 16
    assert torch.equal(state.tokens, x[:, -state.length:])  # the window holds the newest tokens


@pytest.mark.parametrize("num_samples", [1, 3])
def test_cached_and_uncached_generation_give_identical_tokens(num_samples):
    model = tiny_model(block_size=16)
    gen = Generator(model, tokenizer_class("char").fit(["abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLM"]))
    outs = {}
    for cache in (True, False):
        model.use_cache = cache
        outs[cache] = gen.generate("abc", max_new_tokens=70, temperature=1.0, num_samples=num_samples, seed=5)
    model.use_cache = True
    assert all(len(o) == 70 for o in outs[True])  # 70 new tokens: well past block_size 16
    assert outs[True] == outs[False]


def test_prompts_of_different_lengths_are_padded_correctly():
    model = tiny_model(block_size=32)
    gen = Generator(model, tokenizer_class("char").fit(["abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLM"]))
    prompts = [gen.encode_prompt("abcdefghij"), gen.encode_prompt("xy")]
    params = [SamplingParams(temperature=0.0)] * 2

    def decode(prompts, steps):
        rows = [Row(params[0], 0, steps) for _ in prompts]
        decoder = BatchDecoder(gen.model, gen.tokenizer)
        decoder.admit(prompts, rows)
        list(decoder.run())
        return torch.tensor([row.tokens for row in rows])

    joined = decode(prompts, 15)  # stays inside the block: must equal each prompt decoded alone
    assert torch.equal(joined[0], decode([prompts[0]], 15)[0])
    assert torch.equal(joined[1], decode([prompts[1]], 15)[0])
    outs = {}
    for cache in (True, False):  # past the block, padded rows slide the same way with or without cache
        model.use_cache = cache
        outs[cache] = decode(prompts, 60)
    model.use_cache = True
    assert torch.equal(outs[True], outs[False])


def test_build_rejects_bad_settings():
    with pytest.raises(InvalidArgument, match="n_embd"):
        build_model("gpt", 10, hidden_size=64)
    with pytest.raises(InvalidArgument, match="multiple of n_head"):
        build_model("gpt", 10, n_embd=30, n_head=4)
    with pytest.raises(InvalidArgument, match="no setting"):
        build_model("gpt", 10, cell="lstm")
    model = build_model("gpt", 10, embedding_size=None, n_layer=1, n_embd=16, n_head=2, block_size=8)
    assert model.context_limit == 8 and model.head.weight is model.embed.weight


def test_strided_window_scoring_gives_each_token_its_window():
    model = tiny_model(block_size=16)
    data = np.random.default_rng(0).integers(0, 40, 41)
    window, stride = 16, 8
    score = score_tokens(model, data, seq_len=window, stride=stride, streams=4)
    expected = 0.0
    with torch.no_grad():
        for t in range(1, len(data)):  # target t is scored by the first window [b, b + 16) reaching it
            b = max(0, math.ceil((t - window) / stride)) * stride
            logits, _ = model(torch.tensor(data[b:t])[None])
            expected += F.cross_entropy(logits[0, -1:], torch.tensor(data[t:t + 1])).item()
    assert score.tokens == len(data) - 1
    assert score.nats == pytest.approx(expected, rel=1e-5)


def test_train_resume_eval_generate_through_api_and_cli(tmp_path, corpus_file):
    out = tmp_path / "gpt-run"
    first = dreamwright.train(corpus_file, out, steps=30, eval_interval=15, seed=0, **TINY_GPT)
    assert first.steps == 30 and first.best_val_loss < math.log(30)
    resumed = dreamwright.train(resume=out, steps=45, quiet=True)
    assert resumed.steps == 45 and resumed.best_val_loss <= first.best_val_loss
    config = (out / "config.json").read_text()
    assert '"name": "gpt"' in config and '"block_size": 32' in config

    g = dreamwright.load(out)
    api_text = g.generate("the cat", max_new_tokens=50, temperature=0.8, seed=3)[0]
    assert len(api_text) == 50

    cli = run_cli("generate", str(out), "--prompt", "the cat", "-n", "50", "-t", "0.8", "--seed", "3", timeout=600)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout == "the cat" + api_text + "\n"  # same sampler, same seed, same tokens

    ev = run_cli("eval", str(out), str(corpus_file), timeout=600)
    assert ev.returncode == 0, ev.stderr
    loss = float(re.search(r"loss ([0-9.]+) nats/token", ev.stdout).group(1))
    assert 0 < loss < math.log(30)

    res = run_cli("train", "--resume", str(out), "--steps", "50", "--quiet", "--threads", "1",
                  timeout=600)
    assert res.returncode == 0, res.stderr
    assert "best validation loss" in res.stdout


def test_cli_trains_a_gpt_with_a_preset(tmp_path, corpus_file):
    out = tmp_path / "cli-gpt"
    res = run_cli("train", str(corpus_file), "--out", str(out), "--preset", "char-gpt-small",
                  "--n-layer", "1", "--n-embd", "32", "--block-size", "16", "--steps", "4",
                  "--eval-interval", "4", "--no-samples", "--eval-tokens", "500", "--quiet", "--threads", "1",
                  timeout=600)
    assert res.returncode == 0, res.stderr
    g = dreamwright.load(out)
    assert g.model.family == "gpt" and g.model.block_size == 16
    bad = run_cli("train", str(corpus_file), "--out", str(tmp_path / "bad"), "--model", "gpt",
                  "--hidden-size", "64", "--steps", "2", timeout=600)
    assert bad.returncode == 2 and "n_embd" in bad.stderr
