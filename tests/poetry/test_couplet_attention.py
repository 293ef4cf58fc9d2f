"""``dreamwright couplet --attention``: the best 下联's attention over its 上联, drawn by the plotting function
``dreamwright chat --attention`` uses (with a tiny random seq2seq model saved as a run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dreamwright.data.pair_tokens import GO, PAD
from tests.cli.helpers import assert_one_line_error, stderr_lines
from tests.poetry.test_couplet import cli, vocabulary


def save_run(run: Path, name: str, model, tokenizer) -> Path:
    from dreamwright.runs import atomic_save_tensors, model_tensors, write_config

    atomic_save_tensors(run / "model.safetensors", model_tensors(model))
    write_config(run, {"name": run.name, "tokenizer": tokenizer.to_dict(),
                       "model": {"name": name, **model.config()},
                       "corpus": {"corpus": "tiny", "longest_source": 7}})
    return run


@pytest.fixture(scope="module")
def seq2seq_run(tmp_path_factory, table) -> Path:
    from dreamwright.models import build_model
    from dreamwright.tokenizers.char import CharTokenizer

    tokenizer = CharTokenizer(vocabulary(table))
    torch.manual_seed(3)
    model = build_model("seq2seq", tokenizer.vocab_size, go_id=tokenizer.index[GO], pad_id=tokenizer.index[PAD],
                        n_layer=1, hidden_size=16, embedding_size=8)
    return save_run(tmp_path_factory.mktemp("couplet-seq2seq"), "seq2seq", model, tokenizer)


def test_couplet_draws_the_attention_of_its_best_lower_line(seq2seq_run, tmp_path):
    from PIL import Image

    out = tmp_path / "couplet.png"
    proc = cli("春风又绿江南岸", "--run", str(seq2seq_run), "--seed", "1", "--attention", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "上联 春风又绿江南岸"
    assert stderr_lines(proc) == [f"attention: {out}"]
    with Image.open(out) as image:
        assert image.format == "PNG"


def test_attention_needs_a_seq2seq_model(tmp_path, table):
    from dreamwright.models import build_model
    from dreamwright.tokenizers.char import CharTokenizer

    tokenizer = CharTokenizer(vocabulary(table))
    model = build_model("gru", tokenizer.vocab_size, hidden_size=16, embedding_size=8)
    run = save_run(tmp_path / "gru", "gru", model, tokenizer)
    proc = cli("春风又绿江南岸", "--run", str(run), "--attention", str(tmp_path / "a.png"))
    assert_one_line_error(proc, "--attention", "seq2seq")
    proc = cli("春风又绿江南岸", "--run", str(run), "--attention", str(tmp_path / "no" / "a.png"))
    assert_one_line_error(proc, "--attention", "existing folder")
