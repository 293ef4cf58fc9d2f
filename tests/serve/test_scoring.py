"""Scoring prompts as evaluation harnesses do: ``echo`` with ``logprobs`` on /v1/completions, token-id prompts,
and vLLM's tokenizer routes (/tokenize, /detokenize, /tokenizer_info)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.serve.conftest import LINES

SHORT = LINES[0][:30]  # within the tiny GPT's context of 32
LONG = "\n".join(LINES[:3])  # several GPT windows


@pytest.fixture(scope="module")
def gpt_generator(tiny_gpt_run: Path):
    from dreamwright.generation.generator import Generator

    g = Generator.load(tiny_gpt_run, device="cpu")
    g.name = "gpt"
    return g


@pytest.fixture(scope="module")
def server(tiny_generator, gpt_generator, thread_server):
    with thread_server({"tiny": tiny_generator, "gpt": gpt_generator}) as s:
        yield s


def post(server, body: dict, path: str = "/v1/completions") -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=60)


def scored(server, model: str, prompt, **extra) -> dict:
    r = post(server, {"model": model, "prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": 0, **extra})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("model", ["tiny", "gpt"])
def test_echo_logprobs_are_the_per_token_losses_of_eval(server, model, tiny_generator, gpt_generator):
    from dreamwright.training.evaluate import score_tokens

    generator = {"tiny": tiny_generator, "gpt": gpt_generator}[model]
    ids = generator.tokenizer.encode(SHORT)
    lp = scored(server, model, SHORT)["choices"][0]["logprobs"]["token_logprobs"]
    with torch.no_grad():
        logits, _ = generator.model(torch.tensor([ids[:-1]]), None)
    losses = F.cross_entropy(logits[0].float(), torch.tensor(ids[1:]), reduction="none").tolist()
    assert lp[0] is None
    assert np.allclose(-np.array(lp[1:]), losses, atol=1e-4)
    # a text longer than the GPT's context: the sliding windows of `dreamwright eval`
    long = scored(server, model, LONG)["choices"][0]["logprobs"]["token_logprobs"]
    score = score_tokens(generator.model, np.array(generator.tokenizer.encode(LONG)))
    assert len(long) - 1 == score.tokens
    assert -sum(long[1:]) / score.tokens == pytest.approx(score.loss, abs=1e-4)


def test_echo_shape_first_token_null_top_logprobs_and_offsets(server):
    choice = scored(server, "tiny", SHORT, logprobs=3)["choices"][0]
    lp = choice["logprobs"]
    assert choice["text"] == SHORT and choice["finish_reason"] == "length"
    assert "".join(lp["tokens"]) == SHORT and len(lp["tokens"]) == len(SHORT)
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    assert all(len(top) == 3 for top in lp["top_logprobs"][1:])
    for token, logprob, top in zip(lp["tokens"][1:], lp["token_logprobs"][1:], lp["top_logprobs"][1:], strict=True):
        assert max(top.values()) >= logprob
        assert top.get(token, logprob) == logprob
    assert lp["text_offset"] == list(range(len(SHORT)))


@pytest.mark.parametrize("model", ["tiny", "gpt"])
def test_max_tokens_1_with_echo_is_the_prompt_then_one_token(server, model):
    prompt = LONG if model == "gpt" else SHORT  # a GPT continues a prompt longer than its context
    only = scored(server, model, prompt)["choices"][0]
    r = post(server, {"model": model, "prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": 1, "temperature": 0})
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    lp = choice["logprobs"]
    assert len(lp["tokens"]) == len(prompt) + 1 and choice["text"].startswith(prompt)
    assert lp["token_logprobs"][:-1] == only["logprobs"]["token_logprobs"]
    assert lp["text_offset"][-1] == len(prompt)
    # greedy: the token chosen is its position's likeliest
    assert lp["token_logprobs"][-1] == max(lp["top_logprobs"][-1].values())
    assert r.json()["usage"]["completion_tokens"] == 1


def test_token_id_prompts_single_and_batched_match_text(server, tiny_generator):
    ids = tiny_generator.tokenizer.encode(SHORT)
    other = tiny_generator.tokenizer.encode(LINES[1])
    text = scored(server, "tiny", [SHORT, LINES[1]])["choices"]
    one = scored(server, "tiny", ids)["choices"]
    batch = scored(server, "tiny", [ids, other])["choices"]
    assert len(one) == 1 and len(batch) == 2
    assert one[0]["logprobs"] == text[0]["logprobs"] and one[0]["text"] == SHORT
    assert [c["logprobs"] for c in batch] == [c["logprobs"] for c in text]
    assert [c["text"] for c in batch] == [SHORT, LINES[1]]


@pytest.mark.parametrize("prompt", [[0, 10_000], [[1, 2], [-1]]])
def test_token_ids_outside_the_vocabulary_are_a_400(server, prompt):
    r = post(server, {"model": "tiny", "prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": 0})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == "prompt" and "outside the vocabulary" in error["message"]


def test_max_tokens_0_needs_echo_and_logprobs(server):
    r = post(server, {"model": "tiny", "prompt": SHORT, "max_tokens": 0})
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"


def test_streamed_echo_carries_the_prompt_logprobs(server):
    with httpx.stream("POST", server.url + "/v1/completions", timeout=60, json={
            "model": "tiny", "prompt": SHORT, "echo": True, "logprobs": 1, "max_tokens": 2, "stream": True}) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: {")]

    first = json.loads(lines[0][6:])["choices"][0]
    assert first["text"] == SHORT and first["logprobs"]["token_logprobs"][0] is None
    assert len(first["logprobs"]["tokens"]) == len(SHORT)


def test_tokenize_detokenize_round_trip(server, tiny_generator):
    r = post(server, {"model": "tiny", "prompt": SHORT, "add_special_tokens": False}, "/tokenize")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tokens"] == tiny_generator.tokenizer.encode(SHORT)
    assert body["count"] == len(SHORT) and body["max_model_len"] > 0
    back = post(server, {"tokens": body["tokens"]}, "/detokenize")  # the first model by default
    assert back.status_code == 200 and back.json() == {"prompt": SHORT}
    assert post(server, {"prompt": ""}, "/tokenize").json()["tokens"] == []
    bad = post(server, {"tokens": [10_000]}, "/detokenize")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "tokens"
    unknown = post(server, {"prompt": "ROMEO ☃"}, "/tokenize")
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "prompt"


def test_tokenizer_info_names_the_start_text_as_bos_and_eos(server):
    for query in ("", "?model=gpt"):
        info = httpx.get(server.url + "/tokenizer_info" + query, timeout=30).json()
        for key in ("eos_token", "bos_token", "pad_token", "chat_template", "model_max_length", "tokenizer_class"):
            assert key in info
        assert info["eos_token"] == info["bos_token"] == "\n"
        assert info["pad_token"] is None and info["chat_template"] is None
        assert info["tokenizer_class"] == "CharTokenizer"
    assert httpx.get(server.url + "/tokenizer_info?model=nope", timeout=30).status_code == 404


def test_openapi_lists_the_tokenizer_routes_and_id_prompts(server):
    schema = httpx.get(server.url + "/openapi.json", timeout=30).json()
    for path in ("/tokenize", "/detokenize", "/tokenizer_info"):
        assert path in schema["paths"]
    prompt = json.dumps(schema["components"]["schemas"]["CompletionRequest"]["properties"]["prompt"])
    assert '"integer"' in prompt
