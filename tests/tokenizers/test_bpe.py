"""Byte-level BPE: fitting, lossless round trips, self-contained run directories, bits per character."""

from __future__ import annotations

import json
import math
import shutil

import pytest

import dreamwright
from dreamwright.data.corpus import encode_text_file
from dreamwright.errors import InvalidArgument
from dreamwright.tokenizers import tokenizer_class, tokenizer_from_dict
from dreamwright.training.evaluate import score_tokens
from tests.conftest import make_text

TINY = dict(n_layer=1, n_head=2, n_embd=32, block_size=32, seq_len=32, batch_size=8, samples=False,
            quiet=True, eval_tokens=2000, threads=1)


def fit(text: str, vocab_size: int = 300):
    return tokenizer_class("bpe").fit([text[: len(text) // 2], text[len(text) // 2:]], vocab_size=vocab_size)


def test_fit_learns_merges_and_round_trips_any_text():
    text = make_text(300)
    tok = fit(text)
    assert 256 < tok.vocab_size <= 300
    ids = tok.encode(text)
    assert len(ids) < 0.6 * len(text)  # merges shorten the text
    assert tok.decode(ids) == text
    unseen = "Zoë writes 漢字 and 🙂\n\ttabs"  # byte-level: nothing is unknown
    assert tok.decode(tok.encode(unseen, unknown="error")) == unseen
    assert list(tok.encode_chunk(text)) == ids


def test_serialises_to_json_and_back():
    text = make_text(200)
    tok = fit(text)
    data = json.loads(json.dumps(tok.to_dict()))
    assert data["kind"] == "bpe" and "hf_tokenizer" in data
    again = tokenizer_from_dict(data)
    assert again.vocab_size == tok.vocab_size
    assert again.encode(text) == tok.encode(text)
    assert "".join(again.token_text(i) for i in again.encode("the cat sat")) == "the cat sat"


def test_stream_decoder_holds_back_split_characters():
    tok = fit(make_text(100))
    ids = tok.encode("é🙂x")
    dec = tok.stream_decoder()
    assert "".join(dec.push(i) for i in ids) == "é🙂x"


def test_rejects_a_vocabulary_smaller_than_the_bytes():
    with pytest.raises(InvalidArgument, match="256"):
        fit(make_text(50), vocab_size=100)


def test_fits_on_the_training_split_only(tmp_path):
    train_part = make_text(300, seed=1)
    valid_part = "zyzzyva quokka " * 400 + "\n"  # only in the held-out tail
    path = tmp_path / "c.txt"
    path.write_text(train_part + valid_part, encoding="utf-8")
    fraction = len(valid_part) / len(train_part + valid_part) + 0.001
    r = dreamwright.train(path, tmp_path / "run", tokenizer="bpe", vocab_size=320, model="gpt", steps=2,
                          eval_interval=2, valid_fraction=fraction, **TINY)
    tok = dreamwright.load(r.run_dir).tokenizer
    pieces = [tok.token_text(i) for i in range(tok.vocab_size)]
    assert not any("zyz" in p or "quok" in p for p in pieces)


def test_bpe_run_reloads_and_generates_without_the_corpus(tmp_path):
    path = tmp_path / "gone.txt"
    path.write_text(make_text(400), encoding="utf-8")
    out = tmp_path / "bpe-run"
    r = dreamwright.train(path, out, tokenizer="bpe", vocab_size=300, model="gpt", steps=40, eval_interval=20,
                          lr=3e-3, **TINY)
    assert r.best_val_loss < math.log(300)
    path.unlink()
    shutil.rmtree(out / "data")  # nothing but config.json and the weights is needed to generate
    g = dreamwright.load(out)
    assert g.tokenizer.kind == "bpe" and 256 < g.tokenizer.vocab_size <= 300
    texts = g.generate("the cat", max_new_tokens=30, temperature=0.8, num_samples=2, seed=1)
    assert len(texts) == 2 and all(texts)
    assert texts == g.generate("the cat", max_new_tokens=30, temperature=0.8, num_samples=2, seed=1)


@pytest.mark.parametrize("kind", ["bpe", "word"])
def test_bits_per_character_are_per_character(tmp_path, kind):
    text = make_text(300, seed=2)
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    r = dreamwright.train(path, tmp_path / kind, tokenizer=kind, vocab_size=300 if kind == "bpe" else None,
                          model="gpt", steps=20, eval_interval=20, **TINY)
    g = dreamwright.load(r.run_dir)
    ids, chars, unknown, _ = encode_text_file(path, g.tokenizer)
    assert not unknown  # byte-level: nothing is unknown
    assert chars == len(text) and len(ids) < len(text) / 2  # several characters per token
    s = score_tokens(g.model, ids, chars=chars)
    assert s.bpc == pytest.approx(s.nats / (chars * (len(ids) - 1) / len(ids)) / math.log(2), rel=1e-6)
    assert s.bpc < s.loss / math.log(2) / 2  # per character, not per token
    meta = json.loads((r.run_dir / "config.json").read_text())["corpus"]
    chars_per_token = meta["valid_chars"] / meta["valid_tokens"]
    assert r.val_bpc == pytest.approx(r.best_val_loss / chars_per_token / math.log(2), rel=0.02)
