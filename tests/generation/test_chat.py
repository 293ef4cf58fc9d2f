"""dreamwright.generation.chat.Chat: the conversation behind ``dreamwright chat``."""

from __future__ import annotations

import pytest

import dreamwright
from dreamwright.errors import InvalidArgument
from dreamwright.generation.attention import END, plot_attention, reply_attention
from dreamwright.generation.chat import Chat, ChatSettings


@pytest.fixture(scope="module")
def bot(echo_bot_run):
    return dreamwright.load(echo_bot_run)


def test_each_exchange_joins_the_conversation_and_reset_forgets_it(bot):
    chat = Chat(bot, ChatSettings(temperature=0))
    pieces = []
    first = chat.reply("say pink", pieces.append)
    assert first.text == "pink pink!" == "".join(pieces) and first.finish_reason == "stop"
    chat.reply("say red")
    assert [role for role, _ in chat.messages] == ["user", "assistant", "user", "assistant"]
    assert chat.request("say gold").ids == bot.encode_source(["say pink", "pink pink!", chat.messages[2][1],
                                                              chat.messages[3][1], "say gold"])
    chat.reset()
    assert chat.messages == [] and chat.request("say gold").ids == bot.encode_prompt("say gold")


def test_reply_k_is_seeded_with_seed_plus_k(bot):
    chat = Chat(bot, ChatSettings(temperature=1.5, seed=7))
    first = chat.reply("say blue").text
    assert first == bot.generate("say blue", temperature=1.5, seed=7, max_new_tokens=300)[0]
    assert chat.request("say blue").seed == 8
    chat.reset()
    assert chat.reply("say blue").text == first


def test_an_interrupted_reply_leaves_the_conversation_as_it_was(bot):
    chat = Chat(bot, ChatSettings(temperature=0))
    chat.reply("say pink")

    def interrupt(text):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        chat.reply("say red", interrupt)
    assert len(chat.messages) == 2


def test_a_language_model_reads_the_rendered_transcript():
    lm = dreamwright.load("shakespeare-char")
    chat = Chat(lm, ChatSettings(seed=3, max_new_tokens=40))
    assert chat.transcript
    request = chat.request("Who goes there?")
    assert request.ids == lm.encode_prompt("user: Who goes there?\nassistant: ")
    assert request.stops == ["\nsystem:", "\nuser:", "\nassistant:"]
    assert chat.reply("Who goes there?").text == lm.generate(request)[0]


def test_bad_settings_are_refused(bot):
    for settings, param in ((ChatSettings(temperature=-1), "temperature"), (ChatSettings(beam=-1), "beam"),
                            (ChatSettings(max_new_tokens=0), "max_new_tokens")):
        with pytest.raises(InvalidArgument) as info:
            Chat(bot, settings)
        assert info.value.param == param


def test_beam_search_replies_whole(bot):
    chat = Chat(bot, ChatSettings(beam=3))
    pieces = []
    assert chat.reply("say pink", pieces.append).text == "pink pink!"
    assert pieces == ["pink pink!"]


def test_the_attention_picture(bot, tmp_path):
    chat = Chat(bot, ChatSettings(temperature=0))
    answer = chat.reply("say pink")
    attention = reply_attention(bot, answer.prompt_ids, answer.text)
    assert attention.source == list("say pink") and attention.reply == [*"pink pink!", END]
    assert len(attention.weights) == len(attention.reply)
    assert all(abs(sum(row) - 1) < 1e-4 for row in attention.weights)
    path = plot_attention(attention.source, attention.reply, attention.weights, tmp_path / "a.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # strings work too, and any script (the CJK font is used when one is installed)
    plot_attention("春眠不觉晓", "处处闻啼鸟", [[0.2] * 5] * 6, tmp_path / "cjk.png")
    with pytest.raises(InvalidArgument, match="attention matrix"):
        plot_attention("ab", "c", [[1.0, 0.0, 0.0]], tmp_path / "bad.png")
    with pytest.raises(InvalidArgument, match="seq2seq"):
        reply_attention(dreamwright.load("shakespeare-char"), [1, 2], "x")


def test_a_model_with_a_fixed_context_reads_the_newest_messages_that_fit():
    from dreamwright.generation import Generator
    from dreamwright.models import build_model
    from dreamwright.tokenizers.char import CharTokenizer

    tokenizer = CharTokenizer("abcdefghijklmnopqrstuvwxyz :\n")
    model = build_model("gpt", tokenizer.vocab_size, n_layer=1, n_head=2, n_embd=16, block_size=64)
    gpt = Generator(model, tokenizer, name="gpt")
    chat = Chat(gpt, ChatSettings(temperature=0, max_new_tokens=10))
    chat.messages = [("user", "hello there"), ("assistant", "good day"), ("user", "how are you"),
                     ("assistant", "well enough")]
    request = chat.request("and you")
    assert len(request.ids) + 10 <= 64
    assert request.ids == gpt.encode_chat([("assistant", "well enough"), ("user", "and you")])
    assert len(chat.reply("and you").text) <= 10
