"""Fixtures: the real 平水韵 tables (shipped in the package) and tiny random poetry models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.poetry.poetry_samples import EXTRA, FAMOUS  # noqa: E402  (tests/poetry is on sys.path)


@pytest.fixture(scope="session", autouse=True)
def _data_mirror():
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    if "DREAMWRIGHT_DATA" not in os.environ and shared.is_dir():
        os.environ["DREAMWRIGHT_DATA"] = str(shared)


@pytest.fixture(scope="session")
def table():
    """The real 平水韵 tables, as shipped in the package (no mirror and no download needed)."""
    from dreamwright.poetry.prosody import RhymeTable

    return RhymeTable.load()


def make_model(chars: str, seed: int = 0, hidden: int = 32):
    import torch

    from dreamwright.models.rnn import RNNLanguageModel
    from dreamwright.tokenizers.char import CharTokenizer

    tokenizer = CharTokenizer(set(chars) | set("\n【】，。□五七绝律"))
    torch.manual_seed(seed)
    model = RNNLanguageModel(tokenizer.vocab_size, cell="gru", hidden_size=hidden, embedding_size=16)
    return model.eval(), tokenizer


@pytest.fixture(scope="session")
def tiny(table):
    """A PoemWriter over a random GRU whose vocabulary is the famous poems' characters plus a few more."""
    from dreamwright.poetry.decode import PoemWriter

    model, tokenizer = make_model("".join(FAMOUS.values()) + EXTRA)
    writer = PoemWriter(model, tokenizer, table=table)
    writer.min_group = 2
    return writer


@pytest.fixture(scope="session")
def poem_run(tmp_path_factory, tiny):
    """The tiny model saved as a run directory (for the CLI)."""
    from dreamwright.training.checkpoint import atomic_save_tensors, model_tensors, write_config

    run = tmp_path_factory.mktemp("tiny-poetry")
    model = tiny.model
    atomic_save_tensors(run / "model.safetensors", model_tensors(model))
    write_config(
        run,
        {"name": "tiny", "tokenizer": tiny.tokenizer.to_dict(), "model": {"name": "gru", **model.config()}},
    )
    return run
