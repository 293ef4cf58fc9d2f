import json

import pytest

import dreamwright
from dreamwright.errors import CorpusError
from tests.conftest import metrics_events

SMALL = dict(hidden_size=24, embedding_size=16, n_layer=1, batch_size=8, seq_len=24, eval_interval=10,
             schedule="constant", warmup_steps=5, dropout=0.0, log_interval=1, threads=1, quiet=True, samples=False)


@pytest.fixture()
def pairs_file(tmp_path):
    words = ["red", "green", "blue", "black", "white", "pink", "gold", "grey"]
    lines = [f"say {w}{'.' * k}\t{w} {w}!" for w in words for k in range(12)]
    path = tmp_path / "echo.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_seq2seq_learns_to_answer_from_the_input_and_resumes_exactly(tmp_path, pairs_file):
    straight = dreamwright.train(pairs_file, tmp_path / "straight", model="seq2seq", steps=40, seed=2, lr=1e-2,
                                 valid_fraction=0.2, **SMALL)
    config = json.loads((tmp_path / "straight" / "config.json").read_text())
    assert config["train"]["task"] == "pairs" and config["model"]["name"] == "seq2seq"
    assert config["corpus"]["train_pairs"] + config["corpus"]["valid_pairs"] == 96
    half = dreamwright.train(pairs_file, tmp_path / "resumed", model="seq2seq", steps=20, seed=2, lr=1e-2,
                             valid_fraction=0.2, **SMALL)
    assert half.steps == 20
    dreamwright.train(resume=tmp_path / "resumed", steps=40, quiet=True)
    a = {r["step"]: r["loss"] for r in metrics_events(tmp_path / "straight", "train")}
    b = {r["step"]: r["loss"] for r in metrics_events(tmp_path / "resumed", "train")}
    assert sorted(a) == sorted(b) == list(range(1, 41))
    assert all(b[s] == pytest.approx(a[s], rel=1e-5, abs=1e-6) for s in a)
    assert straight.best_val_loss < 0.5 * metrics_events(tmp_path / "straight", "train")[0]["loss"]

    dreamwright.train(resume=tmp_path / "straight", steps=300, quiet=True)
    bot = dreamwright.load(tmp_path / "straight")
    assert bot.generate("say pink", temperature=0, max_new_tokens=30)[0] == "pink pink!"


def test_an_empty_pair_set_is_refused(tmp_path):
    path = tmp_path / "empty.tsv"
    path.write_text("no tab\n", encoding="utf-8")
    with pytest.raises(CorpusError):
        dreamwright.train(path, tmp_path / "run", model="seq2seq", steps=2, skip_bad_lines=True, **SMALL)
    assert not (tmp_path / "run").exists()


def test_the_longest_source_read_in_training_is_recorded(tmp_path):
    """对对子 takes it as its default limit on a 上联's length (cut to seq_len, as training cuts sources)."""
    from dreamwright.data.corpus import resolve_corpus
    from dreamwright.training.config import TrainConfig
    from dreamwright.training.pairs import prepare_pairs

    path = tmp_path / "couplets.tsv"
    path.write_text("".join(f"{c * k}\t{'地' * k}\n" for c in "天人山水风花雪月云雨" for k in range(1, 9)),
                    encoding="utf-8")
    for seq_len, longest in ((24, 8), (6, 6)):
        config = TrainConfig(corpus=str(path), task="pairs", tokenizer="char", seq_len=seq_len)
        _, encoded = prepare_pairs(resolve_corpus(path), tmp_path / f"data{seq_len}", config)
        assert encoded.meta["longest_source"] == longest
