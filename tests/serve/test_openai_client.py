"""The official `openai` package, pointed at a real `dreamwright serve` subprocess."""

from __future__ import annotations

import openai
import pytest


@pytest.fixture()
def client(live_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=live_server.base_url, api_key="unused", max_retries=0, timeout=30)


def test_models_list(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["tiny"]
    assert models.data[0].owned_by == "dreamwright"


def test_completion(client):
    r = client.completions.create(model="tiny", prompt="ROMEO: the ", max_tokens=12, temperature=0.8, seed=1)
    assert r.object == "text_completion"
    assert r.model == "tiny"
    assert r.id.startswith("cmpl-")
    assert r.created > 0
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.index == 0
    assert choice.logprobs is None
    assert choice.finish_reason == "length"
    assert len(choice.text) == 12  # a char model: one character per token
    assert r.usage.prompt_tokens == len("ROMEO: the ")
    assert r.usage.completion_tokens == 12
    assert r.usage.total_tokens == len("ROMEO: the ") + 12


def test_default_max_tokens_is_16(client):
    r = client.completions.create(model="tiny", prompt="the")
    assert r.usage.completion_tokens == 16
    assert len(r.choices[0].text) == 16


def test_seed_reproducible_and_greedy(client):
    a = client.completions.create(model="tiny", prompt="the ", max_tokens=20, seed=42)
    b = client.completions.create(model="tiny", prompt="the ", max_tokens=20, seed=42)
    assert a.choices[0].text == b.choices[0].text
    g1 = client.completions.create(model="tiny", prompt="the ", max_tokens=20, temperature=0)
    g2 = client.completions.create(model="tiny", prompt="the ", max_tokens=20, temperature=0, seed=7)
    assert g1.choices[0].text == g2.choices[0].text


def test_n_and_prompt_list(client):
    r = client.completions.create(model="tiny", prompt="the ", max_tokens=10, n=3, temperature=1.5, seed=3)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert all(len(c.text) == 10 for c in r.choices)
    assert len({c.text for c in r.choices}) > 1  # independent samples
    assert r.usage.completion_tokens == 30
    assert r.usage.prompt_tokens == 4  # the prompt is counted once
    r = client.completions.create(model="tiny", prompt=["the ", "ROMEO: "], max_tokens=5, n=2)
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    assert r.usage.prompt_tokens == 4 + 7


def test_stop(client):
    # at temperature 0 the continuation is fixed: find it, then stop on a piece of it
    full = (
        client.completions.create(model="tiny", prompt="ROMEO: ", max_tokens=40, temperature=0)
        .choices[0]
        .text
    )
    stop = full[10:12]
    assert stop and stop in full
    r = client.completions.create(
        model="tiny", prompt="ROMEO: ", max_tokens=40, temperature=0, stop=[stop, "@@"]
    )
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].text == full[: full.index(stop)]
    assert stop not in r.choices[0].text
    single = client.completions.create(
        model="tiny", prompt="ROMEO: ", max_tokens=40, temperature=0, stop=stop
    )
    assert single.choices[0].text == r.choices[0].text


def test_stream(client):
    expected = (
        client.completions.create(model="tiny", prompt="JULIET: ", max_tokens=30, seed=5).choices[0].text
    )
    chunks = list(
        client.completions.create(model="tiny", prompt="JULIET: ", max_tokens=30, seed=5, stream=True)
    )
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert len(texts) > 2  # really streamed, piece by piece
    assert "".join(texts) == expected
    assert all(c.object == "text_completion" and c.model == "tiny" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["length"]


def test_stream_with_stop_n_and_usage(client):
    full = (
        client.completions.create(model="tiny", prompt="ROMEO: ", max_tokens=40, temperature=0)
        .choices[0]
        .text
    )
    stop = full[8:10]
    stream = client.completions.create(
        model="tiny",
        prompt="ROMEO: ",
        max_tokens=40,
        temperature=0,
        n=2,
        stop=stop,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts = {0: "", 1: ""}
    reasons = {}
    usage = None
    for chunk in stream:
        for c in chunk.choices:
            texts[c.index] += c.text
            if c.finish_reason:
                reasons[c.index] = c.finish_reason
        if chunk.usage is not None:
            usage = chunk.usage
    assert texts == {0: full[: full.index(stop)], 1: full[: full.index(stop)]}
    assert reasons == {0: "stop", 1: "stop"}
    assert usage is not None and usage.prompt_tokens == 7 and usage.completion_tokens > 0


def test_errors_through_the_client(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.completions.create(model="nope", prompt="the")
    assert err.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="tiny", prompt="the", temperature=-1)
    assert err.value.body["param"] == "temperature"


def test_echo(client):
    plain = client.completions.create(model="tiny", prompt="the ", max_tokens=8, seed=9)
    echoed = client.completions.create(model="tiny", prompt="the ", max_tokens=8, seed=9, echo=True)
    assert echoed.choices[0].text == "the " + plain.choices[0].text
    stream = client.completions.create(
        model="tiny", prompt="the ", max_tokens=8, seed=9, echo=True, stream=True
    )
    assert "".join(c.choices[0].text for c in stream if c.choices) == echoed.choices[0].text
