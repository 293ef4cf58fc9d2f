"""``dreamwright chat RUN -p QUESTION`` through the installed command: one answer on standard output, the
attention picture, the language-model case, and every mistake as one error line without a traceback."""

from __future__ import annotations

import pytest

import dreamwright
from tests.cli.helpers import assert_one_line_error, run_dreamwright, stderr_lines


@pytest.fixture(scope="module")
def bot_run(echo_bot_run):
    return echo_bot_run


def test_one_question_gets_one_answer(bot_run):
    proc = run_dreamwright("chat", str(bot_run), "-p", "say pink", "--temperature", "0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "pink pink!\n"
    assert not stderr_lines(proc)


def test_the_question_can_come_from_standard_input(bot_run):
    proc = run_dreamwright("chat", str(bot_run), "-p", "-", "-t", "0", input="say gold\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "gold gold!\n"  # the trailing newline is not part of the question


def test_a_seeded_answer_is_the_python_apis(bot_run):
    expected = dreamwright.load(bot_run).generate("say grey", seed=4, temperature=1.5, top_k=20, max_new_tokens=25)[0]
    proc = run_dreamwright("chat", str(bot_run), "-p", "say grey", "--seed", "4", "-t", "1.5", "--top-k", "20",
                           "--max-tokens", "25")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected + "\n"


def test_attention_is_drawn_as_a_png(bot_run, tmp_path):
    from PIL import Image

    out = tmp_path / "attn.png"
    proc = run_dreamwright("chat", str(bot_run), "-p", "say pink", "-t", "0", "--attention", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "pink pink!\n"
    assert stderr_lines(proc) == [f"attention: {out}"]
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 200 and image.height > 200
    assert not (tmp_path / "attn.png.tmp").exists()


def test_a_language_model_continues_a_transcript_and_says_so():
    bundled = dreamwright.load("shakespeare-char")
    request = bundled.chat_request([("user", "Who goes there?")], seed=1, max_new_tokens=60)
    proc = run_dreamwright("chat", "shakespeare-char", "-p", "Who goes there?", "--seed", "1", "-n", "60")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == bundled.generate(request)[0] + "\n"
    (note,) = stderr_lines(proc)
    assert note.startswith("note: shakespeare-char is a language model") and "transcript" in note


@pytest.mark.parametrize("args,stdin,needles", [
    (["chat", "runs/no-such-run", "-p", "hi"], None, ["runs/no-such-run", "dreamwright models"]),
    (["chat", "fashion-dcgan", "-p", "hi"], None, ["fashion-dcgan", "image model"]),
    (["chat", "BOT", "-p", ""], None, ["question is empty"]),
    (["chat", "BOT", "-p", "   "], None, ["question is empty"]),
    (["chat", "BOT", "-p", "-"], "", ["standard input has no question"]),
    (["chat", "BOT", "-p", "say Zebra"], None, ["the question has", "'Z'", "--unknown skip"]),
    (["chat", "BOT", "--attention", "a.png"], None, ["--attention", "-p"]),
    (["chat", "shakespeare-char", "-p", "hi", "--attention", "a.png"], None, ["--attention", "seq2seq"]),
    (["chat", "BOT", "-p", "hi", "--temperature", "-1"], None, ["--temperature"]),
    (["chat", "BOT", "-p", "hi", "--beam", "-2"], None, ["--beam"]),
    (["chat", "BOT", "-p", "hi", "--max-tokens", "0"], None, ["--max-tokens"]),
])
def test_mistakes_are_one_line(bot_run, tmp_path, args, stdin, needles):
    args = [str(bot_run) if a == "BOT" else a for a in args]
    proc = run_dreamwright(*args, input=stdin, cwd=tmp_path)
    assert_one_line_error(proc, *needles)
    assert proc.stdout == ""


def test_unknown_characters_can_be_skipped(bot_run):
    proc = run_dreamwright("chat", str(bot_run), "-p", "say Zpink", "-t", "0", "--unknown", "skip")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "pink pink!\n"


def test_beam_search_answers_as_the_generators_beam_search(bot_run):
    proc = run_dreamwright("chat", str(bot_run), "-p", "say pink", "--beam", "3")
    assert proc.returncode == 0, proc.stderr
    bot = dreamwright.load(bot_run)
    best = bot.beam_search("say pink", width=3, max_new_tokens=300)[0]
    assert proc.stdout == best.text + "\n" == "pink pink!\n"
    # a language model's beam stops at its chat template's next role line too
    lm = dreamwright.load("shakespeare-char")
    proc = run_dreamwright("chat", "shakespeare-char", "-p", "Who goes there?", "--beam", "2", "-n", "40")
    assert proc.returncode == 0, proc.stderr
    ids = lm.encode_chat([("user", "Who goes there?")])
    assert proc.stdout == lm.beam_search(ids, width=2, max_new_tokens=40, stop=lm.chat_stops())[0].text + "\n"
