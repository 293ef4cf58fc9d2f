"""``dreamwright eval`` on a file with characters the model never saw: the error names the file, and
``--unknown skip`` says how many it dropped."""

from __future__ import annotations

from tests.cli.helpers import assert_one_line_error, run_dreamwright, run_dreamwright_each, stderr_lines


def test_unknown_characters_are_named_with_the_file(tmp_path, tiny_run):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat.\nthe dog ran to the red house. Zed!\n" * 5, encoding="utf-8")
    proc, skipped = run_dreamwright_each(["eval", str(tiny_run), str(text)],
                                         ["eval", str(tiny_run), str(text), "--unknown", "skip"])
    assert_one_line_error(proc, f"{text} has 2 character(s) the model never saw: '!', 'Z'",
                          "pass --unknown skip to drop them")
    assert "prompt" not in proc.stderr
    assert skipped.returncode == 0, skipped.stderr
    assert stderr_lines(skipped) == [f"warning: {text}: 10 occurrence(s) of 2 character(s) the model never saw "
                                     "('!', 'Z') were dropped"]
    assert skipped.stdout.startswith(f"{text}: ") and "bits/char" in skipped.stdout


def test_known_text_scores_without_a_warning(tiny_run, corpus_file):
    proc = run_dreamwright("eval", str(tiny_run), str(corpus_file), "--unknown", "skip")
    assert proc.returncode == 0 and stderr_lines(proc) == [], proc.stderr
