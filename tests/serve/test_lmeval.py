"""lm-evaluation-harness scores a model served by `dreamwright serve` (``local-completions`` with the remote
tokenizer) as `dreamwright eval` does. Opt-in: ``DREAMWRIGHT_LMEVAL=1`` with ``lm-eval[api]`` installed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.serve.conftest import LINES

pytestmark = [
    pytest.mark.lmeval,
    pytest.mark.skipif(os.environ.get("DREAMWRIGHT_LMEVAL") != "1", reason="set DREAMWRIGHT_LMEVAL=1 to run"),
]

TASK = """\
task: dreamwright_text
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{{{text}}}}"
metric_list:
  - metric: bits_per_byte
"""


@pytest.mark.parametrize("run", ["tiny_run", "tiny_gpt_run"])
def test_lm_eval_bits_per_byte_agree_with_dreamwright_eval(run, server_process, tmp_path, request):
    """An LSTM, and a GPT whose context (32) is far shorter than the document (its sliding windows)."""
    pytest.importorskip("lm_eval")
    tiny_run = request.getfixturevalue(run)
    start, stop = server_process
    # ASCII, so bytes are characters and lm-eval's bits per byte are dreamwright's bits per character
    text = "\n".join(LINES[i % len(LINES)] for i in (0, 3, 1, 2, 1, 0, 2)) + "\n"
    assert text.isascii()
    corpus = tmp_path / "text.txt"
    corpus.write_text(text, encoding="utf-8")
    (tmp_path / "text.jsonl").write_text(json.dumps({"text": text}) + "\n", encoding="utf-8")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "dreamwright_text.yaml").write_text(TASK.format(data=tmp_path / "text.jsonl"), encoding="utf-8")

    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env.pop("DREAMWRIGHT_API_KEY", None)
    own = subprocess.run([sys.executable, "-m", "dreamwright", "eval", str(tiny_run), str(corpus)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert own.returncode == 0, own.stderr
    own_bpc = float(re.search(r"([\d.]+) bits/char", own.stdout).group(1))

    proc, url, _ = start([f"tiny={tiny_run}", "--port", "0", "--threads", "1"], env)
    try:
        args = f"model=tiny,base_url={url}/v1/completions,tokenizer_backend=remote,max_length=4096,max_retries=1"
        run = subprocess.run([sys.executable, "-m", "lm_eval", "--model", "local-completions", "--model_args", args,
                              "--tasks", "dreamwright_text", "--include_path", str(tasks), "--batch_size", "1",
                              "--output_path", str(tmp_path / "out")],
                             capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    finally:
        stop(proc)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(next((tmp_path / "out").rglob("results_*.json")).read_text())
    lm_bpb = results["results"]["dreamwright_text"]["bits_per_byte,none"]
    print(f"dreamwright eval: {own_bpc:.4f} bits/char; lm-eval: {lm_bpb:.4f} bits/byte")
    assert lm_bpb == pytest.approx(own_bpc, rel=0.01)
