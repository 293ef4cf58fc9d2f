"""The poetry model trains through the main trainer (the ``poems`` task): masked targets, evaluation
recorded like any run, resume, and the ``tang`` corpus wired to the task."""

from __future__ import annotations

import json

import pytest
import torch

import dreamwright
from dreamwright import plugins
from dreamwright.poetry.data import prepare, read_corpus
from dreamwright.training.tasks import IGNORE
from tests.poetry.test_poetry_data import POEMS

TINY = dict(min_count=1, hidden_size=16, embedding_size=8, batch_size=4, eval_interval=2, threads=1, quiet=True,
            samples=False)


@pytest.fixture()
def poems_dir(tmp_path):
    prepare(tmp_path / "data", valid_fraction=0.3, poems=POEMS)
    return tmp_path / "data"


def test_only_the_poem_is_scored():
    from dreamwright.poetry.train import PROMPT_LEN, UNK, encode_poems, poem_rows, poem_targets, poem_tokenizer

    poems = [("五绝", "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"),
             ("五绝", "床前明月光，疑是地上霜。举头望明月，低头思故乡。"),
             ("七绝", "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。")]
    tokenizer = poem_tokenizer(poems[:2], min_count=2)  # characters seen once become □
    assert "明" in tokenizer.index and "白" not in tokenizer.index and UNK in tokenizer.index
    ids = encode_poems(poems, tokenizer)
    rows = poem_rows(ids, tokenizer.index["\n"])
    assert sorted(rows) == [1 + 4 + 24 + 1, 1 + 4 + 32 + 1] and len(rows[30]) == 2  # "\n【五绝】" + poem + "\n"
    x, y = poem_targets(torch.from_numpy(rows[30]), tokenizer.index[UNK])
    assert tokenizer.decode(x[1].tolist()) == "\n【五绝】□□明月□，□□□上□。□头□明月，□头□□□。"
    assert (y[:, : PROMPT_LEN - 1] == IGNORE).all()  # "【五绝】" is given, not predicted
    assert tokenizer.decode([int(t) for t in y[1] if t != IGNORE]) == "明月，上。头明月，头。\n"  # □ never a target
    _, y_eval = poem_targets(torch.from_numpy(rows[30]), tokenizer.index[UNK], score_end=False)
    assert (y_eval[:, -1] == IGNORE).all() and (y_eval[:, :-1] == y[:, :-1]).all()


def test_poems_train_resume_and_load_as_a_poem_writer(tmp_path, poems_dir, table):
    from dreamwright.generation.generator import Generator
    from dreamwright.poetry.decode import PoemWriter

    out = tmp_path / "run"
    result = dreamwright.train(poems_dir, out, task="poems", steps=4, **TINY)
    assert result.steps == 4 and result.best_val_loss > 0
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["task"] == "poems" and config["train"]["preset"] == "tang-gru"
    assert config["model"]["name"] == "gru" and config["model"]["tie_weights"] is True  # the preset's shape
    valid = read_corpus(poems_dir / "valid.txt")  # the folder's own split is kept
    assert config["poetry"]["unk"] == "□" and config["corpus"]["valid_poems"] == len(valid)
    assert config["metrics"]["best_val_loss"] == pytest.approx(result.best_val_loss)
    evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in evals if r["event"] == "eval"] == [2, 4]
    # the recorded validation loss of the kept weights is the mean over the held-out poem's characters
    from dreamwright.poetry.train import poem_loss

    generator = Generator.load(out)
    best = [r for r in evals if r["event"] == "eval" and r["best"]][-1]
    assert poem_loss(generator.model, valid, generator.tokenizer) == pytest.approx(best["val_loss"], rel=1e-5)
    assert dreamwright.train(resume=out, steps=6, quiet=True).steps == 6
    writer = PoemWriter.from_generator(Generator.load(out))
    writer._table, writer.min_group = table, 1
    (poem,) = writer.write("五绝", seed=0, rhyme="off")
    assert len(poem.lines) == 4 and "□" not in poem.text


def test_a_file_of_poems_is_split_by_poem_as_prepare_splits(tmp_path, poems_dir):
    lines = [(poems_dir / name).read_text(encoding="utf-8") for name in ("train.txt", "valid.txt")]
    (tmp_path / "all.txt").write_text("".join(lines), encoding="utf-8")
    dreamwright.train(tmp_path / "all.txt", tmp_path / "run", task="poems", valid_fraction=0.3, steps=2, **TINY)
    meta = json.loads((tmp_path / "run" / "data" / "meta.json").read_text())
    assert meta["train_poems"] == len(read_corpus(poems_dir / "train.txt"))
    assert meta["valid_poems"] == len(read_corpus(poems_dir / "valid.txt"))


def test_a_poem_run_resumed_matches_an_uninterrupted_one(tmp_path, poems_dir):
    same = dict(task="poems", seed=3, schedule="constant", **TINY)  # an lr that does not depend on the budget
    straight = dreamwright.train(poems_dir, tmp_path / "a", steps=6, **same)
    dreamwright.train(poems_dir, tmp_path / "b", steps=4, **same)
    resumed = dreamwright.train(resume=tmp_path / "b", steps=6, quiet=True)
    assert resumed.best_val_loss == pytest.approx(straight.best_val_loss, rel=1e-6)


def test_the_tang_corpus_trains_as_poems(tmp_path, poems_dir, monkeypatch):
    """``dreamwright train tang`` reads the corpus with the poems task (a stand-in for the 38k poems)."""
    from dataclasses import replace

    from dreamwright.data import registry

    plugins.load()
    tang = registry.lookup("tang")
    assert tang is not None and tang.task == "poems"
    stand_in = replace(tang, prepare=lambda: ([poems_dir / "train.txt"], [poems_dir / "valid.txt"]))
    monkeypatch.setitem(registry.BUILTIN_CORPORA, "tang", stand_in)
    dreamwright.train("tang", tmp_path / "run", steps=2, **TINY)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["task"] == "poems" and config["corpus"]["corpus"] == "tang"
    assert config["metrics"]["best_val_loss"] is not None


def test_text_options_that_poems_cannot_take(tmp_path, poems_dir):
    from dreamwright.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="character tokenizer"):
        dreamwright.train(poems_dir, tmp_path / "w", task="poems", tokenizer="word", steps=2, **TINY)
    with pytest.raises(InvalidArgument, match="poem corpora only"):
        dreamwright.train(poems_dir / "train.txt", tmp_path / "t", min_count=2, steps=2, quiet=True)
    with pytest.raises(InvalidArgument, match="unknown training task"):
        dreamwright.train(poems_dir, tmp_path / "x", task="sonnets", steps=2, quiet=True)


def test_a_poem_run_starts_from_a_poem_model_with_its_vocabulary(tmp_path, poems_dir):
    """``--init-from`` a poem model: same vocabulary and architecture, the source's weights at step 0, and a
    text model is refused as a source."""
    from dreamwright.errors import InvalidArgument
    from dreamwright.generation.generator import Generator

    source = tmp_path / "source"
    dreamwright.train(poems_dir, source, task="poems", steps=6, seed=0, **TINY)
    start = json.loads((source / "config.json").read_text())["metrics"]["best_val_loss"]
    options = {k: v for k, v in TINY.items() if k not in ("hidden_size", "embedding_size")}
    out = tmp_path / "continued"
    dreamwright.train(poems_dir, out, task="poems", init_from=source, steps=4, lr=1e-3, **options)
    before, after = Generator.load(source), Generator.load(out)
    assert after.tokenizer.chars == before.tokenizer.chars
    def shape(config: dict) -> dict:
        return {k: v for k, v in config["model"].items() if k != "dropout"}  # dropout is the new run's

    assert shape(after.config) == shape(before.config)
    step0 = [r for r in (json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines())
             if r["event"] == "eval"][0]
    assert step0["step"] == 0 and step0["val_loss"] == pytest.approx(start, rel=1e-5)
    text_model = tmp_path / "text"
    (tmp_path / "prose.txt").write_text("白日依山尽，黄河入海流。\n" * 50, encoding="utf-8")
    dreamwright.train(tmp_path / "prose.txt", text_model, steps=2, hidden_size=16, embedding_size=8, quiet=True,
                      samples=False, threads=1)
    with pytest.raises(InvalidArgument, match="a poem run starts from a poem model"):
        dreamwright.train(poems_dir, tmp_path / "x", task="poems", init_from=text_model, steps=2, **options)
