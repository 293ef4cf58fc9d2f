"""``dreamwright chat RUN``'s REPL in a pseudo-terminal (pexpect): replies, slash commands, Ctrl-C and Ctrl-D,
and the history it keeps."""

from __future__ import annotations

import os

import pexpect
import pytest

import dreamwright
from tests.cli.helpers import dreamwright_script

PROMPT = "you> "


@pytest.fixture(scope="module")
def bot_run(echo_bot_run):
    return echo_bot_run


@pytest.fixture()
def spawn(tmp_path):
    """Start ``dreamwright chat ARGS`` in a terminal (history kept under ``tmp_path``); closed afterwards."""
    children = []

    def start(*args: str) -> pexpect.spawn:
        env = {**os.environ, "DREAMWRIGHT_CACHE": str(tmp_path / "cache"), "PYTHONIOENCODING": "utf-8",
               "TERM": "dumb"}
        child = pexpect.spawn(dreamwright_script(), ["chat", *args], env=env, encoding="utf-8", timeout=60,
                              dimensions=(40, 200))
        children.append(child)
        child.expect(PROMPT)
        return child

    yield start
    for child in children:
        child.close(force=True)


def ask(child: pexpect.spawn, line: str) -> str:
    """Send ``line``; the reply (or the command's answer) up to the next prompt."""
    child.sendline(line)
    child.expect_exact(line)  # the terminal's echo of what was typed
    child.expect_exact(PROMPT)
    return child.before.replace("\r\n", "\n").strip("\n")


def reply(child: pexpect.spawn, question: str) -> str:
    out = ask(child, question)
    assert out.startswith("bot> "), out
    return out[len("bot> "):]


def quit_with_ctrl_d(child: pexpect.spawn) -> None:
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_conversation_with_commands(bot_run, spawn, tmp_path):
    child = spawn(str(bot_run))
    assert "chatting with echo (seq2seq)" in child.before
    assert reply(child, "say pink")  # sampled at 0.8: some answer
    assert ask(child, "/temperature 0") == "temperature 0 (greedy)"
    assert reply(child, "say red")
    # after /reset the same question gets the same greedy answer: the Python API's
    assert ask(child, "/reset") == "(the conversation is forgotten)"
    again = reply(child, "say red")
    assert ask(child, "/reset") == "(the conversation is forgotten)"
    bot = dreamwright.load(bot_run)
    assert reply(child, "say red") == again == bot.generate("say red", temperature=0)[0] == "red red!"
    quit_with_ctrl_d(child)
    assert "say pink" in (tmp_path / "cache" / "chat_history").read_text(encoding="utf-8")


def test_the_conversation_is_the_source(bot_run, spawn):
    child = spawn(str(bot_run), "--temperature", "0")
    bot = dreamwright.load(bot_run)
    messages = []
    for question in ("say pink", "say red", "say gold"):
        answer = reply(child, question)
        expected = bot.generate(bot.chat_request([*messages, ("user", question)], temperature=0,
                                                 max_new_tokens=300))[0]
        assert answer == expected
        messages += [("user", question), ("assistant", answer)]
    quit_with_ctrl_d(child)


def test_mistakes_print_one_line_and_the_talk_goes_on(bot_run, spawn):
    child = spawn(str(bot_run), "-t", "0")
    assert ask(child, "/temperature hot") == "error: /temperature takes a number >= 0, like /temperature 0.7; " \
                                             "got 'hot'"
    assert ask(child, "/temperature -1").startswith("error: /temperature: ")
    assert ask(child, "/beam wide").startswith("error: /beam takes a width")
    assert ask(child, "/frobnicate") == "error: unknown command /frobnicate; /help lists the commands"
    out = ask(child, "say Zebra")
    assert out.startswith("error: the question has") and "'Z'" in out and "\n" not in out
    assert "/reset" in ask(child, "/help")
    assert ask(child, "/temperature") == "temperature 0 (greedy)"
    assert reply(child, "say pink") == "pink pink!"
    quit_with_ctrl_d(child)


def test_beam_search_can_be_switched_on_and_off(bot_run, spawn):
    child = spawn(str(bot_run))
    assert ask(child, "/beam 2") == "beam search, width 2 (temperature, top-k and top-p are not used)"
    assert reply(child, "say pink") == "pink pink!"
    assert ask(child, "/beam off") == "sampling at temperature 0.8"
    assert ask(child, "/beam") == "sampling at temperature 0.8"
    quit_with_ctrl_d(child)


def test_ctrl_c_cancels_a_reply_and_the_prompt_comes_back(spawn):
    """A language model (the bundled one) writes a long reply; Ctrl-C stops it, the REPL goes on."""
    child = spawn("shakespeare-char", "--max-tokens", "1000000")
    assert "language model" in child.before and "transcript" in child.before  # the note (on stderr)
    child.sendline("Who goes there?")
    child.expect_exact("bot> ")
    child.expect(r"\w\w\w")  # it is writing
    child.sendintr()
    child.expect_exact("[cancelled]", timeout=60)  # generous: a loaded machine delivers the signal late
    child.expect_exact(PROMPT)
    # Ctrl-C at the prompt: a fresh prompt
    child.sendintr()
    child.expect_exact(PROMPT)
    assert ask(child, "/temperature 0") == "temperature 0 (greedy)"
    quit_with_ctrl_d(child)
