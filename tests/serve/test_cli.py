"""`dreamwright serve` options and its one-line errors (no server is started)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from dreamwright.serve.__main__ import main
from dreamwright.serve.cli import register


def test_registers_serve_with_its_options():
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps `serve` a subcommand
        """Placeholder."""

    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for option in (
        "--host",
        "--port",
        "--api-key",
        "DREAMWRIGHT_API_KEY",
        "--cors-origin",
        "--max-tokens",
        "--max-prompt-tokens",
        "--max-n",
        "--max-body-bytes",
        "--timeout",
        "--max-batch",
        "--queue-size",
    ):
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-batch", "0"], "--max-batch must be a positive integer"),
        (["--queue-size", "-1"], "--queue-size must be a positive integer"),
        (["--timeout", "0"], "--timeout must be a positive number"),
        (["--port", "70000"], "--port must be in 0..65535"),
        (["--max-n", "100", "--max-batch", "8"], "--max-n (100) must not exceed --max-batch (8)"),
        (["--log-level", "loud"], "--log-level must be"),
        (["/no/such/run"], "/no/such/run"),
        (["a=/no/such/run"], "/no/such/run"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_duplicate_model_ids_are_refused(tiny_run, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(tiny_run), str(tiny_run)])
    assert exc.value.code == 2
    assert "two runs are both called 'tiny'" in capsys.readouterr().err
