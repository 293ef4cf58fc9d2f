"""A tiny seq2seq chatbot for the tests of ``dreamwright chat``, the server's chat endpoint and the Chat tab:
``say pink`` → ``pink pink!`` for eight colours, learned in about ten seconds on one CPU thread (as in
tests/training/test_pairs_task.py); the ``echo_bot_run`` fixture of tests/conftest.py trains it once a session."""

from __future__ import annotations

from pathlib import Path

COLOURS = ["red", "green", "blue", "black", "white", "pink", "gold", "grey"]
SMALL = dict(hidden_size=24, embedding_size=16, n_layer=1, batch_size=8, seq_len=24, eval_interval=100,
             schedule="constant", warmup_steps=5, dropout=0.0, log_interval=10, threads=1, quiet=True,
             samples=False)


def train_echo_bot(root: Path, steps: int = 300) -> Path:
    """Train the echo bot under ``root``; its run directory (``root/echo``)."""
    import dreamwright

    root.mkdir(parents=True, exist_ok=True)
    pairs = root / "echo.tsv"
    lines = [f"say {w}{'.' * k}\t{w} {w}!" for w in COLOURS for k in range(12)]
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = root / "echo"
    dreamwright.train(pairs, out, model="seq2seq", steps=steps, seed=2, lr=1e-2, valid_fraction=0.2, **SMALL)
    return out
