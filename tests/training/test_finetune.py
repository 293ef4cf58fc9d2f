"""Fine-tuning (``--init-from``): vocabulary mapping, refused tokenizers and architectures, a head start over a
fresh model, exact resume, and the installed command's one-line errors."""

from __future__ import annotations

import json

import pytest
import torch

import dreamwright
from dreamwright.errors import CheckpointError, InvalidArgument
from dreamwright.models import build_model
from dreamwright.runs import load_tensors
from dreamwright.tokenizers.char import CharTokenizer
from dreamwright.training.finetune import InitSource, gain_summary, map_char_tensors
from tests.cli.helpers import assert_one_line_error, run_dreamwright
from tests.conftest import TINY_MODEL, make_text, metrics_events


def _evals(run_dir):
    return metrics_events(run_dir, "eval")


def _train_losses(run_dir):
    return {r["step"]: r["loss"] for r in metrics_events(run_dir, "train")}


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, corpus_file):
    """A tiny char LSTM trained long enough to know the tiny corpus's words."""
    out = tmp_path_factory.mktemp("base") / "base"
    dreamwright.train(corpus_file, out, steps=150, eval_interval=50, lr=1e-2, seed=0, **TINY_MODEL)
    return out


@pytest.fixture(scope="module")
def similar_text(tmp_path_factory):
    """Text like the base corpus (other sentences) with characters the base never saw (capitals, '!') and
    without one it did ('c': every cat became a rat)."""
    lines = make_text(300, seed=7).replace("cat", "rat").splitlines()
    text = "\n".join(line[0].upper() + line[1:] + ("!" if i % 3 == 0 else "") for i, line in enumerate(lines)) + "\n"
    path = tmp_path_factory.mktemp("similar") / "similar.txt"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- vocabulary mapping
def test_map_char_tensors_rows_and_columns():
    source_chars, target_chars = ["a", "b", "c"], ["a", "c", "d", "e"]  # b unused, d and e new
    tensors = {"embed.weight": torch.arange(6.0).reshape(3, 2), "head.weight": torch.arange(12.0).reshape(3, 4),
               "head.bias": torch.tensor([0.5, -2.0, 1.0]), "rnn.weight_ih_l0": torch.arange(15.0).reshape(5, 3),
               "rnn.weight_hh_l0": torch.ones(5, 5)}
    mapped = map_char_tensors(tensors, source_chars, target_chars, one_hot=True)
    assert mapped["embed.weight"].tolist() == [[0, 1], [4, 5], [2, 3], [2, 3]]  # a, c kept; new = mean row
    assert mapped["head.weight"][:2].tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]
    assert mapped["head.weight"][2].tolist() == [4, 5, 6, 7]
    assert mapped["head.bias"].tolist() == [0.5, 1.0, -2.0, -2.0]  # new characters start at the lowest bias
    assert mapped["rnn.weight_ih_l0"][:, 0].tolist() == tensors["rnn.weight_ih_l0"][:, 0].tolist()
    assert mapped["rnn.weight_ih_l0"][:, 1].tolist() == tensors["rnn.weight_ih_l0"][:, 2].tolist()
    assert mapped["rnn.weight_ih_l0"][:, 3].tolist() == tensors["rnn.weight_ih_l0"].mean(1).tolist()
    assert mapped["rnn.weight_hh_l0"] is tensors["rnn.weight_hh_l0"]


@pytest.mark.parametrize("embedding_size", [16, 0])
def test_fine_tuned_model_starts_with_mapped_rows(tmp_path, corpus_file, similar_text, embedding_size):
    base = tmp_path / "base"
    dreamwright.train(corpus_file, base, steps=4, eval_interval=4, seed=0,
                      **{**TINY_MODEL, "embedding_size": embedding_size})
    source = InitSource.open(base)
    src_chars = list(source.tokenizer.chars)
    corpus_chars = sorted(set(similar_text.read_text()))
    union = CharTokenizer([*src_chars, *corpus_chars])
    new = sorted(set(corpus_chars) - set(src_chars))
    unused = sorted(set(src_chars) - set(corpus_chars))
    assert "!" in new and "T" in new and unused == ["c"]
    model = build_model("lstm", union.vocab_size, **source.architecture[1])
    source.corpus_chars = corpus_chars
    note = source.load_into(model, union)
    assert f"{len(new)} new" in note and f"{len(unused)} of its characters unused" in note
    src = source.tensors
    for c in src_chars:  # shared and unused characters keep their rows
        i, j = union.index[c], source.tokenizer.index[c]
        assert torch.equal(model.head.weight[i], src["head.weight"][j])
        assert model.head.bias[i] == src["head.bias"][j]
        if embedding_size:
            assert torch.equal(model.embed.weight[i], src["embed.weight"][j])
        else:
            assert torch.equal(model.rnn.weight_ih_l0[:, i], src["rnn.weight_ih_l0"][:, j])
    for c in new:
        i = union.index[c]
        assert torch.allclose(model.head.weight[i], src["head.weight"].mean(0))
        assert model.head.bias[i] == src["head.bias"].min()
        if embedding_size:
            assert torch.allclose(model.embed.weight[i], src["embed.weight"].mean(0))
        else:
            assert torch.allclose(model.rnn.weight_ih_l0[:, i], src["rnn.weight_ih_l0"].mean(1))
    assert torch.equal(model.rnn.weight_hh_l0, src["rnn.weight_hh_l0"])


def test_fine_tuned_run_records_its_source_and_keeps_every_character(tmp_path, base_run, similar_text):
    out = tmp_path / "ft"
    dreamwright.train(similar_text, out, init_from=base_run, steps=2, eval_interval=2, seed=0, samples=False,
                      quiet=True, threads=1)
    config = json.loads((out / "config.json").read_text())
    base_config = json.loads((base_run / "config.json").read_text())
    chars = config["tokenizer"]["chars"]
    assert set(base_config["tokenizer"]["chars"]) <= set(chars) and "!" in chars and "T" in chars
    record = config["init_from"]
    assert record["name"] == str(base_run) and record["bundled"] is False and record["tokenizer"] == "char"
    assert record["path"] == str(base_run.resolve())
    from dreamwright.data.registry import sha256_of

    assert record["sha256"] == sha256_of(base_run / "model.safetensors")
    assert config["train"]["init_from"] == record and config["train"]["preset"] == "finetune"
    # the architecture is the source's, the fine-tuning defaults apply, the generator loads it
    assert config["model"]["hidden_size"] == base_config["model"]["hidden_size"]
    assert config["train"]["lr"] == 2e-3 and config["train"]["model_args"]["dropout"] == 0.2
    gen = dreamwright.load(out)
    assert gen.generate("The ", max_new_tokens=5, seed=0)[0]


def test_every_fine_tuning_knob_stays_reachable(tmp_path, base_run, corpus_file):
    out = tmp_path / "ft"
    dreamwright.train(corpus_file, out, init_from=base_run, steps=2, eval_interval=2, lr=5e-3, dropout=0.0,
                      warmup_steps=0, patience=9, seed=0, samples=False, quiet=True, threads=1)
    train = json.loads((out / "config.json").read_text())["train"]
    assert (train["lr"], train["model_args"]["dropout"], train["warmup_steps"], train["patience"]) == (5e-3, 0.0, 0, 9)


# ---------------------------------------------------------------------- refusals
def test_architecture_changes_are_refused(tmp_path, base_run, corpus_file):
    with pytest.raises(InvalidArgument, match="hidden-size cannot change when fine-tuning"):
        dreamwright.train(corpus_file, tmp_path / "a", init_from=base_run, hidden_size=64, quiet=True)
    with pytest.raises(InvalidArgument, match="--model cannot change"):
        dreamwright.train(corpus_file, tmp_path / "b", init_from=base_run, model="gpt", quiet=True)
    with pytest.raises(InvalidArgument, match="sets an architecture"):
        dreamwright.train(corpus_file, tmp_path / "c", init_from=base_run, preset="char-lstm-medium", quiet=True)
    with pytest.raises(InvalidArgument, match="init_from cannot be given when resuming"):
        dreamwright.train(resume=base_run, init_from=base_run, quiet=True)
    with pytest.raises(CheckpointError, match="no such run directory or bundled model"):
        dreamwright.train(corpus_file, tmp_path / "d", init_from=tmp_path / "nowhere", quiet=True)
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_word_run_fine_tunes_only_with_its_own_tokenizer(tmp_path, corpus_file):
    word = tmp_path / "word"
    dreamwright.train(corpus_file, word, tokenizer="word", steps=2, eval_interval=2, seed=0, **TINY_MODEL)
    with pytest.raises(InvalidArgument, match="is a word model; fine-tuning keeps its tokenizer"):
        dreamwright.train(corpus_file, tmp_path / "char", init_from=word, tokenizer="char", quiet=True)
    with pytest.raises(InvalidArgument, match="vocab-size: fine-tuning keeps the tokenizer"):
        dreamwright.train(corpus_file, tmp_path / "v", init_from=word, vocab_size=5, quiet=True)
    # with the source's tokenizer it trains: the corpus is encoded with it, words outside it become <unk>
    other = tmp_path / "other.txt"
    other.write_text(make_text(100, seed=3).replace("cat", "zebra"), encoding="utf-8")
    out = tmp_path / "ft"
    dreamwright.train(other, out, init_from=word, steps=2, eval_interval=2, seed=0, samples=False, quiet=True,
                      threads=1)
    assert json.loads((out / "config.json").read_text())["tokenizer"] == \
        json.loads((word / "config.json").read_text())["tokenizer"]


# ---------------------------------------------------------------------- the point of it
def test_first_evaluation_beats_a_fresh_model(tmp_path, base_run, similar_text):
    common = dict(steps=5, eval_interval=5, seed=0, lr=1e-3, warmup_steps=0, dropout=0.0, **TINY_MODEL)
    dreamwright.train(similar_text, tmp_path / "fresh", **common)
    dreamwright.train(similar_text, tmp_path / "ft", init_from=base_run, **{k: v for k, v in common.items()
                                                                           if k not in ("hidden_size",
                                                                                        "embedding_size")})
    fresh, ft = _evals(tmp_path / "fresh")[-1], _evals(tmp_path / "ft")[-1]
    assert fresh["step"] == ft["step"] == 5
    assert ft["val_bpc"] < 0.75 * fresh["val_bpc"], (ft["val_bpc"], fresh["val_bpc"])


def test_resumed_fine_tuned_run_matches_uninterrupted(tmp_path, base_run, similar_text):
    common = dict(init_from=base_run, eval_interval=10, log_interval=1, seed=3, schedule="constant", patience=100,
                  samples=False, quiet=True, threads=1, eval_tokens=2000)
    dreamwright.train(similar_text, tmp_path / "straight", steps=40, **common)
    dreamwright.train(similar_text, tmp_path / "stopped", steps=20, **common)
    dreamwright.train(resume=tmp_path / "stopped", steps=40, quiet=True)
    straight, resumed = _train_losses(tmp_path / "straight"), _train_losses(tmp_path / "stopped")
    assert sorted(resumed) == sorted(straight) == list(range(1, 41))
    for step in straight:
        assert resumed[step] == pytest.approx(straight[step], rel=1e-5, abs=1e-6), step
    a, b = _evals(tmp_path / "straight"), _evals(tmp_path / "stopped")
    assert [e["val_loss"] for e in a] == pytest.approx([e["val_loss"] for e in b], rel=1e-5)
    config = json.loads((tmp_path / "stopped" / "config.json").read_text())
    assert config["init_from"]["sha256"] and config["metrics"]["steps"] == 40
    weights, _ = load_tensors(tmp_path / "stopped" / "model.safetensors")
    straight_weights, _ = load_tensors(tmp_path / "straight" / "model.safetensors")
    assert all(torch.allclose(weights[k], straight_weights[k], atol=1e-5) for k in weights)


# ---------------------------------------------------------------------- saying what fine-tuning gained
def test_starting_model_is_scored_as_step_zero(tmp_path, base_run, similar_text):
    out = tmp_path / "ft"
    result = dreamwright.train(similar_text, out, init_from=base_run, steps=6, eval_interval=3, seed=0,
                               samples=False, quiet=True, threads=1)
    evals = _evals(out)
    assert [e["step"] for e in evals] == [0, 3, 6]
    start = evals[0]
    assert start["best"] is True and result.start_val_loss == start["val_loss"]
    metrics = json.loads((out / "config.json").read_text())["metrics"]
    assert metrics["start_val_loss"] == start["val_loss"]
    assert result.best_val_loss < start["val_loss"]  # the new characters alone give it much to learn
    summary = result.finetune_summary
    assert summary.startswith("fine-tuning gained ")
    assert f"({start['val_loss']:.4f} -> {result.best_val_loss:.4f}" in summary and summary in str(result)
    # a resumed run still knows where it started
    resumed = dreamwright.train(resume=out, steps=9, quiet=True)
    assert resumed.start_val_loss == start["val_loss"] and resumed.finetune_summary


def test_no_gain_is_said_plainly(tmp_path, base_run, corpus_file):
    out = tmp_path / "ft"
    result = dreamwright.train(corpus_file, out, init_from=base_run, steps=4, eval_interval=2, lr=1e-12,
                               dropout=0.0, warmup_steps=0, seed=0, samples=False, quiet=True, threads=1)
    assert result.best_step == 0 and result.best_val_loss == result.start_val_loss
    assert "did not improve on the base model" in result.finetune_summary
    assert "best checkpoint is the starting model" in str(result)
    _, meta = load_tensors(out / "model.safetensors")
    assert meta["step"] == "0"  # the kept weights are the starting ones


def test_gain_summary_wording():
    assert gain_summary(1.532, 1.409, 10) == ("fine-tuning gained 0.1230 nats/token over the base model "
                                              "(1.5320 -> 1.4090, 8.03%)")
    tiny = gain_summary(1.4094, 1.4084, 10)  # issue 25's 1-minute fine-tune: 0.07%
    assert tiny.startswith("fine-tuning gained only 0.0010") and "within noise (< 0.5%)" in tiny
    assert "no better than the base model" in tiny
    assert "did not improve" in gain_summary(1.4, 1.4, 0)


def test_plain_runs_have_no_step_zero(tiny_run):
    assert _evals(tiny_run)[0]["step"] > 0
    assert "start_val_loss" not in json.loads((tiny_run / "config.json").read_text())["metrics"]


# ---------------------------------------------------------------------- the installed command
def test_cli_fine_tunes_the_bundled_model(tmp_path):
    corpus = tmp_path / "letters.txt"
    corpus.write_text("Dear friend, I write to you again. " * 60 + "Café au lait? Oui!\n" * 20, encoding="utf-8")
    out = tmp_path / "ft"
    proc = run_dreamwright("train", str(corpus), "--init-from", "shakespeare-char", "--out", str(out), "--steps",
                           "2", "--eval-interval", "2", "--batch-size", "4", "--no-samples", "--threads", "1",
                           "--quiet", timeout=300)
    assert proc.returncode == 0, proc.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["init_from"]["name"] == "shakespeare-char" and config["init_from"]["bundled"] is True
    assert "path" not in config["init_from"]  # where this machine installed the package means nothing elsewhere
    assert "é" in config["tokenizer"]["chars"] and config["model"]["hidden_size"] == 384
    assert _evals(out)[0]["step"] == 0 and "fine-tuning " in proc.stdout.splitlines()[-1]


@pytest.mark.parametrize("args, needles", [
    (["--init-from", "no-such-model"], ["--init-from no-such-model", "dreamwright models"]),
    (["--init-from", "shakespeare-char", "--hidden-size", "64"], ["--hidden-size cannot change", "384"]),
    (["--init-from", "shakespeare-char", "--tokenizer", "word"], ["char model", "keeps its tokenizer"]),
])
def test_cli_errors_are_one_line(tmp_path, corpus_file, args, needles):
    proc = run_dreamwright("train", str(corpus_file), "--out", str(tmp_path / "x"), *args)
    assert_one_line_error(proc, *needles)
    assert not (tmp_path / "x").exists()


def test_models_lists_what_bundled_models_were_trained_on(tmp_path, base_run):
    (tmp_path / "runs").mkdir()
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_text(60, seed=1), encoding="utf-8")
    dreamwright.train(corpus, tmp_path / "runs" / "ft", init_from=base_run, steps=1, eval_interval=1, samples=False,
                      quiet=True, threads=1)
    proc = run_dreamwright("models", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    shakespeare = next(line for line in lines if line.startswith("bundled  shakespeare-char"))
    assert "LSTM 1×384" in shakespeare and "trained on tiny Shakespeare" in shakespeare
    assert all("trained on " in line and not line.endswith("trained on ") for line in lines if "bundled" in line)
    assert any(line.startswith("local") and f"fine-tuned from {base_run}" in line for line in lines)
