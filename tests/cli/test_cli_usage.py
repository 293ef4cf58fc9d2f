"""The installed ``dreamwright`` script: help, version, completion and usage errors (one line, exit 2), whatever
typer/click version is installed."""

from __future__ import annotations

import pytest

from dreamwright._version import __version__
from tests.cli.helpers import assert_one_line_error, run_dreamwright, stderr_lines


def _command_paths() -> list[list[str]]:
    """Every command and sub-command of the main app, e.g. ``["generate"]``, ``["poetry", "check"]``."""
    from typer.main import get_command

    from dreamwright.cli import app

    paths: list[list[str]] = []

    def walk(command, prefix: list[str]) -> None:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(get_command(app), [])
    return paths


COMMANDS = _command_paths()


def assert_clean(proc, code: int = 0) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def test_every_command_is_enumerated():
    names = {" ".join(path) for path in COMMANDS}
    assert {"train", "generate", "eval", "models", "poem", "poetry check", "serve", "style", "dream",
            "draw", "chat"} <= names


def test_no_arguments_prints_help():
    proc = run_dreamwright()
    assert_clean(proc)
    assert "Usage:" in proc.stdout and "generate" in proc.stdout and "train" in proc.stdout


NEEDS_ARGUMENTS = [path for path in COMMANDS if path[0] in ("train", "eval", "poetry", "style", "dream", "chat")
                   and path != ["poetry", "prepare"]]


@pytest.mark.parametrize("path", NEEDS_ARGUMENTS, ids=[" ".join(p) for p in NEEDS_ARGUMENTS])
def test_a_command_that_needs_arguments_prints_its_help_without_them(path):
    """One rule for every command: no arguments at all → its help on stdout, exit 0 (a wrong one → exit 2)."""
    proc = run_dreamwright(*path)
    assert_clean(proc)
    assert "Usage:" in proc.stdout and " ".join(path) in proc.stdout
    assert not stderr_lines(proc)


def test_help_lists_commands_version_and_completion():
    proc = run_dreamwright("--help")
    assert_clean(proc)
    assert "<bool>" not in proc.stdout
    for word in ("generate", "train", "--version", "--install-completion", "--show-completion"):
        assert word in proc.stdout, word


def test_version():
    proc = run_dreamwright("--version")
    assert_clean(proc)
    assert proc.stdout.strip() == f"dreamwright {__version__}"


def test_shell_completion_script_and_completions():
    # bash's script, named explicitly: `--show-completion` guesses the shell from the calling process, which a
    # test run started outside any shell does not have
    script = run_dreamwright(env={"_DREAMWRIGHT_COMPLETE": "source_bash"})
    assert_clean(script)
    assert "_DREAMWRIGHT_COMPLETE" in script.stdout and "complete " in script.stdout
    # what the script asks for when the user presses Tab after `dreamwright gen`
    words = run_dreamwright(env={"_DREAMWRIGHT_COMPLETE": "complete_bash", "COMP_WORDS": "dreamwright gen",
                                 "COMP_CWORD": "1"})
    assert_clean(words)
    assert words.stdout.split() == ["generate"]


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_each_command_help(path):
    proc = run_dreamwright(*path, "--help", env={"COLUMNS": "120"})
    assert_clean(proc)
    assert "Usage:" in proc.stdout and " ".join(path) in proc.stdout
    assert not stderr_lines(proc)
    assert "<bool>" not in proc.stdout  # flags read as flags, as in `git --help`
    assert "…" not in proc.stdout  # nothing cut off at 120 columns


def test_device_options_list_the_same_choices():
    for command in ("train", "generate", "eval", "serve", "chat"):
        help_text = " ".join(run_dreamwright(command, "--help", env={"COLUMNS": "200"}).stdout.split())
        assert "cuda:N" in help_text, command


@pytest.mark.parametrize("args,needles", [
    (["generate", "--temprature", "1"], ["--temprature", "dreamwright generate --help"]),  # unknown option
    (["--temprature"], ["--temprature", "dreamwright --help"]),  # unknown option of the main command
    (["generate", "--top-k", "abc"], ["--top-k"]),  # bad value type
    (["generate", "--unknown", "maybe"], ["--unknown", "maybe"]),  # value not among the choices
    (["eval", "shakespeare-char"], ["FILE"]),  # missing argument
    (["style", "a.png", "b.png"], ["--output"]),  # missing required option
    (["generate", "a", "b", "c"], ["b c"]),  # extra argument
    (["nosuchcommand"], ["nosuchcommand"]),  # unknown command
])
def test_usage_errors(args, needles):
    proc = run_dreamwright(*args)
    assert_one_line_error(proc)
    lowered = proc.stderr.lower()
    for needle in needles:
        assert needle.lower() in lowered, (needle, proc.stderr)


def test_out_of_range_value(tmp_path, corpus_file):
    proc = run_dreamwright("train", str(corpus_file), "--out", str(tmp_path / "run"), "--hidden-size", "-1",
                           "--steps", "1")
    assert_one_line_error(proc, "--hidden-size must be")
    assert not (tmp_path / "run").exists()


def test_group_without_subcommand_prints_help():
    proc = run_dreamwright("poetry")
    assert_clean(proc)
    assert "check" in proc.stdout and "prepare" in proc.stdout
