"""Same request, same text: the CLI, the Python API and the server drive one decoding core."""

from __future__ import annotations

import re

import httpx
import pytest
import torch

from dreamwright.generation.generator import Generator
from dreamwright.models import build_model
from dreamwright.tokenizers import tokenizer_class
from tests.conftest import run_cli

PROMPT = "ROMEO: the "
KNOBS = [{}, {"top_k": 5, "top_p": 0.9, "repetition_penalty": 1.3}]
SEEDS = [1, 2, 3, 4, 5]


def cli_samples(run, seed: int, n: int, knobs: dict) -> list[str]:
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in knobs.items()]
    done = run_cli("generate", str(run), "-p", PROMPT, "--temperature", "0.8", "--max-new-tokens", "40",
                   "--seed", str(seed), "--num-samples", str(n), *flags)
    assert done.returncode == 0, done.stderr
    chunks = re.split(r"--- sample \d+ ---\n", done.stdout) if n > 1 else ["", done.stdout]
    assert len(chunks) == n + 1
    return [c[len(PROMPT):-1] for c in chunks[1:]]  # each sample is printed as prompt + text + "\n"


def server_samples(url: str, seed: int, n: int, knobs: dict) -> list[str]:
    body = {"model": "tiny", "prompt": PROMPT, "max_tokens": 40, "temperature": 0.8, "seed": seed, "n": n, **knobs}
    r = httpx.post(url + "/v1/completions", json=body, timeout=120)
    assert r.status_code == 200, r.text
    return [c["text"] for c in sorted(r.json()["choices"], key=lambda c: c["index"])]


@pytest.mark.parametrize("knobs", KNOBS, ids=["plain", "top-k-top-p-repetition"])
def test_cli_api_and_server_write_the_same_text(knobs, tiny_run, tiny_generator, thread_server):
    """Seeds 1-5 one by one, and one batched request of n=5 seeded 1, on each surface.

    Like is compared with like (the same batch size): floating-point results of a batched step can differ
    in the last bits from an unbatched one, which could flip a near-tie. The server is a fresh one, so no
    other request shares its batch.
    """
    api_alone = [tiny_generator.generate(PROMPT, max_new_tokens=40, temperature=0.8, seed=s, **knobs)[0]
                 for s in SEEDS]
    assert len(set(api_alone)) > 1  # the seeds matter
    api_batch = tiny_generator.generate(PROMPT, max_new_tokens=40, temperature=0.8, seed=1, num_samples=5,
                                        **knobs)
    assert [cli_samples(tiny_run, s, 1, knobs)[0] for s in (1, 4)] == [api_alone[0], api_alone[3]]
    assert cli_samples(tiny_run, 1, 5, knobs) == api_batch
    with thread_server({"tiny": tiny_generator}) as srv:
        assert [server_samples(srv.url, s, 1, knobs)[0] for s in SEEDS] == api_alone
        assert server_samples(srv.url, 1, 5, knobs) == api_batch
    # sample i of a request seeded s draws from the stream of seed s + i (the same text barring a near-tie)
    assert sum(a == b for a, b in zip(api_batch, api_alone, strict=True)) >= 4


def test_unicode_stop_strings_in_the_api_and_the_server(thread_server):
    torch.manual_seed(0)
    tokenizer = tokenizer_class("char").fit(["ab。\n🌙"])
    model = build_model("lstm", tokenizer.vocab_size, hidden_size=8, embedding_size=4).eval()
    generator = Generator(model, tokenizer, name="uni")
    request = dict(max_new_tokens=200, temperature=1.5, seed=3)
    free = generator.generate("a", **request)[0]
    for stop in ("。\n", "🌙"):
        assert stop in free  # the untrained model writes every character of its small vocabulary
        expected = free[: free.find(stop)]
        api = generator.complete("a", stop=[stop], **request)[0]
        assert (api.text, api.finish_reason) == (expected, "stop")
        streamed = "".join(piece.text for piece in generator.stream("a", stop=stop, **request))
        assert streamed == expected
    with thread_server({"uni": generator}) as srv:
        for stop in ("。\n", "🌙"):
            body = {"model": "uni", "prompt": "a", "max_tokens": 200, "temperature": 1.5, "seed": 3, "stop": [stop]}
            choice = httpx.post(srv.url + "/v1/completions", json=body, timeout=60).json()["choices"][0]
            assert choice["text"] == free[: free.find(stop)] and choice["finish_reason"] == "stop"


def test_the_defaults_write_the_same_text_everywhere(tiny_run, tiny_generator, thread_server):
    """No temperature given anywhere: the CLI, the API and the server share one default, so one seed gives one
    text (the length is given only because the server's default is OpenAI's 16 tokens)."""
    from dreamwright.decoding.defaults import DEFAULT_TEMPERATURE

    api = tiny_generator.generate(PROMPT, max_new_tokens=40, seed=7)[0]
    assert api == tiny_generator.generate(PROMPT, max_new_tokens=40, seed=7, temperature=DEFAULT_TEMPERATURE)[0]
    assert api != tiny_generator.generate(PROMPT, max_new_tokens=40, seed=7, temperature=1.0)[0]
    done = run_cli("generate", str(tiny_run), "-p", PROMPT, "--max-new-tokens", "40", "--seed", "7")
    assert done.returncode == 0, done.stderr
    assert done.stdout == PROMPT + api + "\n"
    with thread_server({"tiny": tiny_generator}) as srv:
        r = httpx.post(srv.url + "/v1/completions", json={"prompt": PROMPT, "max_tokens": 40, "seed": 7}, timeout=120)
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["text"] == api
        page = httpx.get(srv.url + "/", timeout=30).text
        assert f'value="{DEFAULT_TEMPERATURE:g}"' in page and "{{" not in page
