"""``/v1/chat/completions`` and log-probabilities, through the official `openai` package and a raw SSE reader,
against a real `dreamwright serve` subprocess."""

from __future__ import annotations

import json
import math

import httpx
import openai
import pytest

from dreamwright.serve.chat_template import ChatTemplate

MESSAGES = [{"role": "system", "content": "the cat"}, {"role": "user", "content": "ROMEO: the dog"}]
PROMPT = "system: the cat\nuser: ROMEO: the dog\nassistant: "


@pytest.fixture()
def client(live_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=live_server.base_url, api_key="unused", max_retries=0, timeout=30)


def sse_events(response: httpx.Response) -> list[dict | str]:
    """The ``data:`` payloads of a Server-Sent Events response (JSON decoded, ``[DONE]`` kept as text)."""
    events: list[dict | str] = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        payload = block[len("data: "):]
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def test_template_renders_roles_and_stops_at_the_next_role_line():
    t = ChatTemplate()
    assert t.render([(m["role"], m["content"]) for m in MESSAGES]) == PROMPT
    assert t.stops == ["\nsystem:", "\nuser:", "\nassistant:"]
    play = ChatTemplate.from_config({"chat_template": {"roles": {"user": "ROMEO", "assistant": "JULIET"}}})
    assert play.render([("user", "hi")]) == "ROMEO: hi\nJULIET: "
    assert "\nROMEO:" in play.stops
    with pytest.raises(Exception, match="content"):
        ChatTemplate(message="{role}: no content\n")


def test_chat_is_the_completion_of_the_rendered_prompt(client):
    chat = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=30, temperature=0)
    plain = client.completions.create(
        model="tiny", prompt=PROMPT, max_tokens=30, temperature=0, stop=ChatTemplate().stops
    )
    assert chat.object == "chat.completion" and chat.id.startswith("chatcmpl-") and chat.model == "tiny"
    (choice,) = chat.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == plain.choices[0].text
    assert choice.finish_reason == plain.choices[0].finish_reason
    assert choice.logprobs is None
    assert chat.usage.prompt_tokens == len(PROMPT)
    assert chat.usage.completion_tokens == plain.usage.completion_tokens
    # the template's stop: a reply never runs into the next role line
    assert "\nuser:" not in choice.message.content


def test_chat_n_seed_and_max_completion_tokens(client):
    r = client.chat.completions.create(
        model="tiny", messages=MESSAGES, n=2, max_completion_tokens=12, temperature=1.5, seed=4
    )
    assert [c.index for c in r.choices] == [0, 1]
    assert len({c.message.content for c in r.choices}) == 2
    again = client.chat.completions.create(
        model="tiny", messages=MESSAGES, n=2, max_tokens=12, temperature=1.5, seed=4
    )
    assert [c.message.content for c in again.choices] == [c.message.content for c in r.choices]
    assert all(len(c.message.content) <= 12 for c in r.choices)


def test_chat_stop(client):
    full = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=40, temperature=0)
    text = full.choices[0].message.content
    assert len(text) > 6, text
    stop = text[4:6]
    r = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=40, temperature=0, stop=[stop])
    assert r.choices[0].message.content == text[: text.index(stop)]
    assert r.choices[0].finish_reason == "stop"


def test_chat_stream_matches_and_reports_usage(client):
    whole = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=20, seed=8)
    chunks = list(client.chat.completions.create(
        model="tiny", messages=MESSAGES, max_tokens=20, seed=8, stream=True, stream_options={"include_usage": True}
    ))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        whole.choices[0].finish_reason
    ]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_chat_logprobs_are_the_models_and_match_next_token(client, live_server):
    r = client.chat.completions.create(
        model="tiny", messages=MESSAGES, max_tokens=10, temperature=1.3, seed=2, logprobs=True, top_logprobs=3
    )
    content = r.choices[0].logprobs.content
    assert "".join(t.token for t in content) == r.choices[0].message.content
    for t in content:
        assert t.logprob <= 0
        assert len(t.top_logprobs) == 3
        values = [a.logprob for a in t.top_logprobs]
        assert values == sorted(values, reverse=True)
        assert t.logprob <= values[0] + 1e-6  # nothing beats the likeliest alternative
        assert sum(math.exp(v) for v in values) <= 1 + 1e-5
        assert t.bytes == list(t.token.encode())
    # the first token's log-probability is the model's own (temperature 1), as /v1/next-token reports it
    lens = httpx.post(
        live_server.base_url + "/next-token",
        json={"model": "tiny", "context": PROMPT, "temperature": 1.0, "top_n": 100},
    ).json()["candidates"]
    prob = {c["token"]: c["probability"] for c in lens}
    assert math.exp(content[0].logprob) == pytest.approx(prob[content[0].token], rel=1e-4)
    for alt in content[0].top_logprobs:
        assert math.exp(alt.logprob) == pytest.approx(prob[alt.token], rel=1e-4)


def test_completion_logprobs(client, live_server):
    r = client.completions.create(model="tiny", prompt="ROMEO: ", max_tokens=12, seed=3, logprobs=2)
    choice = r.choices[0]
    # asking for log-probabilities does not change the sample
    plain = client.completions.create(model="tiny", prompt="ROMEO: ", max_tokens=12, seed=3)
    assert choice.text == plain.choices[0].text
    lp = choice.logprobs
    assert "".join(lp.tokens) == choice.text
    assert len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 12
    assert lp.text_offset == [sum(len(t) for t in lp.tokens[:i]) for i in range(12)]
    assert all(v <= 0 for v in lp.token_logprobs)
    assert all(len(top) == 2 and all(v <= 0 for v in top.values()) for top in lp.top_logprobs)
    lens = httpx.post(
        live_server.base_url + "/next-token", json={"model": "tiny", "context": "ROMEO: ", "top_n": 100}
    ).json()["candidates"]
    prob = {c["token"]: c["probability"] for c in lens}
    assert math.exp(lp.token_logprobs[0]) == pytest.approx(prob[lp.tokens[0]], rel=1e-4)
    # logprobs: 0 gives the chosen tokens only; a stop string keeps only the tokens that made the text
    greedy = client.completions.create(model="tiny", prompt="ROMEO: ", max_tokens=30, temperature=0, logprobs=0)
    text = greedy.choices[0].text
    assert greedy.choices[0].logprobs.top_logprobs == [{}] * 30
    cut = client.completions.create(
        model="tiny", prompt="ROMEO: ", max_tokens=30, temperature=0, logprobs=0, stop=text[5:7]
    )
    kept = cut.choices[0]
    assert "".join(kept.logprobs.tokens) == kept.text == text[: text.index(text[5:7])]
    assert kept.logprobs.token_logprobs == greedy.choices[0].logprobs.token_logprobs[: len(kept.text)]


def test_raw_chunk_shapes(live_server):
    body = {
        "model": "tiny", "messages": MESSAGES, "max_tokens": 8, "n": 2, "seed": 1, "stream": True,
        "logprobs": True, "top_logprobs": 1, "stream_options": {"include_usage": True},
    }
    r = httpx.post(live_server.base_url + "/chat/completions", json=body, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(set(c) == {"id", "object", "created", "model", "choices", "usage"} for c in chunks)
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 16
    texts = {0: "", 1: ""}
    tokens = {0: "", 1: ""}
    for c in chunks[:-1]:
        (choice,) = c["choices"]
        assert set(choice) == {"index", "delta", "logprobs", "finish_reason"}
        texts[choice["index"]] += choice["delta"].get("content", "")
        if choice["logprobs"] is not None:
            for t in choice["logprobs"]["content"]:
                assert set(t) == {"token", "logprob", "bytes", "top_logprobs"} and len(t["top_logprobs"]) == 1
                tokens[choice["index"]] += t["token"]
    assert texts == tokens  # every streamed piece carries its own tokens' log-probabilities
    # completions chunks carry OpenAI's completions logprobs object
    r = httpx.post(live_server.base_url + "/completions", timeout=30, json={
        "model": "tiny", "prompt": "the ", "max_tokens": 5, "stream": True, "logprobs": 1, "seed": 1})
    chunks = [e for e in sse_events(r) if e != "[DONE]"]
    lp = [c["choices"][0]["logprobs"] for c in chunks if c["choices"][0]["text"]]
    assert all(set(x) == {"tokens", "token_logprobs", "top_logprobs", "text_offset"} for x in lp)
    assert [o for x in lp for o in x["text_offset"]] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "extra, param",
    [
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}, "messages"),
        ({"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]}, "messages"),
        ({"messages": []}, "messages"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"max_completion_tokens": 0}, "max_completion_tokens"),
        ({"frequency_penalty": 1.0}, "frequency_penalty"),
    ],
)
def test_chat_refuses_what_it_cannot_do(live_server, extra, param):
    body = {"model": "tiny", "messages": MESSAGES, **extra}
    r = httpx.post(live_server.base_url + "/chat/completions", json=body, timeout=30)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param
    assert "--" not in err["message"]


def test_chat_text_parts_are_joined(client):
    parts = [{"type": "text", "text": "ROMEO: "}, {"type": "text", "text": "the dog"}]
    a = client.chat.completions.create(
        model="tiny", messages=[MESSAGES[0], {"role": "user", "content": parts}], max_tokens=10, temperature=0
    )
    b = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=10, temperature=0)
    assert a.choices[0].message.content == b.choices[0].message.content
