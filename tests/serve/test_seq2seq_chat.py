"""A seq2seq chatbot behind ``/v1/chat/completions`` and ``/v1/completions``, through the official `openai`
package: the conversation's turns go to the encoder (no chat template), the reply ends at EOS, and a seeded
reply is the Python API's."""

from __future__ import annotations

import openai
import pytest

import dreamwright
from dreamwright.generation import Generator


@pytest.fixture(scope="module")
def bot_run(echo_bot_run):
    return echo_bot_run


@pytest.fixture(scope="module")
def client(bot_run, thread_server):
    generator = Generator.load(bot_run, device="cpu")
    with thread_server({"echo": generator}) as server:
        yield openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=30)


def test_a_question_is_answered_from_the_input_and_ends_at_eos(client):
    reply = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "say pink"}],
                                           temperature=0, max_tokens=40)
    (choice,) = reply.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == "pink pink!"
    assert choice.finish_reason == "stop"
    assert reply.usage.prompt_tokens == len("say pink") + 1  # the input and GO
    plain = client.completions.create(model="echo", prompt="say gold", temperature=0, max_tokens=40)
    assert plain.choices[0].text == "gold gold!" and plain.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("temperature", [0.0, 1.3])
def test_a_seeded_reply_is_the_python_apis_streamed_or_not(client, bot_run, temperature):
    question = "say blue"
    expected = dreamwright.load(bot_run).generate(question, seed=11, temperature=temperature, max_new_tokens=30)[0]
    messages = [{"role": "user", "content": question}]
    whole = client.chat.completions.create(model="echo", messages=messages, seed=11, temperature=temperature,
                                           max_tokens=30)
    assert whole.choices[0].message.content == expected
    pieces, reasons = [], []
    for chunk in client.chat.completions.create(model="echo", messages=messages, seed=11, temperature=temperature,
                                                max_tokens=30, stream=True):
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            reasons.append(choice.finish_reason)
    assert "".join(pieces) == expected
    assert reasons[-1] == whole.choices[0].finish_reason
    assert sum(1 for p in pieces if p) >= min(2, len(expected))  # it arrived in pieces
    plain = client.completions.create(model="echo", prompt=question, seed=11, temperature=temperature,
                                      max_tokens=30)
    assert plain.choices[0].text == expected


def test_every_message_is_a_turn_of_the_source_in_order(client, bot_run):
    messages = [("system", "be kind"), ("user", "say red"), ("assistant", "red red!"), ("user", "say pink")]
    bot = dreamwright.load(bot_run)
    request = bot.chat_request(messages, temperature=0, max_new_tokens=30)
    assert request.ids == bot.encode_source([text for _, text in messages])
    reply = client.chat.completions.create(model="echo", temperature=0, max_tokens=30,
                                           messages=[{"role": r, "content": c} for r, c in messages])
    assert reply.choices[0].message.content == bot.generate(request)[0]
    assert reply.usage.prompt_tokens == len(request.ids)


def test_unknown_characters_are_a_400_naming_them(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "say Zebra"}])
    assert "'Z'" in str(info.value)


def test_the_cli_the_api_and_the_server_give_one_seeded_reply(client, bot_run):
    """They share the Generator and the decoding core: the same seed and knobs, the same reply."""
    from tests.cli.helpers import run_dreamwright

    knobs = dict(seed=21, temperature=1.2, top_p=0.9)
    api = dreamwright.load(bot_run).generate("say white", max_new_tokens=30, **knobs)[0]
    server = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "say white"}],
                                            max_tokens=30, **knobs).choices[0].message.content
    cli = run_dreamwright("chat", str(bot_run), "-p", "say white", "--seed", "21", "--temperature", "1.2",
                          "--top-p", "0.9", "--max-tokens", "30")
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout == api + "\n" and server == api
