"""Load test of `dreamwright serve` on loopback: 1, 8 and 32 concurrent clients asking for 200-token
completions for a fixed time each. Reports requests/s, tokens/s, p50/p99 latency and errors (429s apart).

Three kinds of request are measured at each level, one after the other (``--kinds``): plain completions,
chat completions (``/v1/chat/completions``, the prompt as one user message) and completions with
``logprobs: 5``; each row also gives its tokens/s as a ratio to plain completions at the same level, in the
same run.

    flock /tmp/dreamwright-bench.lock python benchmarks/bench_serve.py [RUN_DIR] [--seconds 30] [--engine thread]

Starts its own server (``python -m dreamwright.serve``, with ``--engine`` when given; a tree from before the
engine process knows no such flag) on a free port unless ``--url`` is given; the bundled
model is used when no RUN_DIR is. Bounded: each level runs ``--seconds`` plus at most one request timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass

import httpx

KINDS = ("completions", "chat", "logprobs")


def request_for(kind: str, model: str, prompt: str, max_tokens: int) -> tuple[str, dict]:
    """The path and body of one request of ``kind`` (completions, chat or logprobs)."""
    common = {"model": model, "max_tokens": max_tokens, "temperature": 0.8}
    if kind == "chat":
        return "/v1/chat/completions", {**common, "messages": [{"role": "user", "content": prompt}]}
    if kind == "logprobs":
        return "/v1/completions", {**common, "prompt": prompt, "logprobs": 5}
    if kind == "completions":
        return "/v1/completions", {**common, "prompt": prompt}
    raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")


@dataclass
class Level:
    kind: str
    clients: int
    seconds: float
    requests: int
    tokens: int
    ok: int
    rejected_429: int
    errors_4xx: int
    errors_5xx: int
    failures: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.ok / self.seconds

    @property
    def tps(self) -> float:
        return self.tokens / self.seconds


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


async def run_level(
    url: str,
    kind: str,
    model: str,
    clients: int,
    seconds: float,
    max_tokens: int,
    prompt: str,
    headers: dict[str, str],
    timeout: float,
) -> Level:
    """``clients`` workers, each sending one request after another until ``seconds`` have passed."""
    latencies: list[float] = []
    counts = {"tokens": 0, "ok": 0, "429": 0, "4xx": 0, "5xx": 0, "fail": 0, "requests": 0}
    path, body = request_for(kind, model, prompt, max_tokens)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits, headers=headers) as client:
        start = time.perf_counter()
        deadline = start + seconds
        last_end = start

        async def worker() -> None:
            nonlocal last_end
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                counts["requests"] += 1
                try:
                    r = await client.post(path, json=body)
                except httpx.HTTPError:
                    counts["fail"] += 1
                    await asyncio.sleep(0.05)
                    continue
                t1 = time.perf_counter()
                last_end = max(last_end, t1)
                if r.status_code == 200:
                    counts["ok"] += 1
                    counts["tokens"] += r.json()["usage"]["completion_tokens"]
                    latencies.append((t1 - t0) * 1000)
                elif r.status_code == 429:
                    counts["429"] += 1
                    await asyncio.sleep(0.05)
                elif r.status_code >= 500:
                    counts["5xx"] += 1
                else:
                    counts["4xx"] += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return Level(
        kind=kind,
        clients=clients,
        seconds=last_end - start,
        requests=counts["requests"],
        tokens=counts["tokens"],
        ok=counts["ok"],
        rejected_429=counts["429"],
        errors_4xx=counts["4xx"],
        errors_5xx=counts["5xx"],
        failures=counts["fail"],
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
    )


def start_server(
    run: str | None, threads: int | None, max_batch: int, queue_size: int, engine: str | None = None
) -> tuple[subprocess.Popen, str]:
    """Start ``python -m dreamwright.serve`` on a free loopback port; return it and its URL."""
    args = [
        sys.executable,
        "-m",
        "dreamwright.serve",
        *([run] if run else []),
        "--port",
        "0",
        "--max-batch",
        str(max_batch),
        "--queue-size",
        str(queue_size),
        "--log-level",
        "warning",
    ]
    if engine:
        args += ["--engine", engine]
    if threads:
        args += ["--threads", str(threads)]
    env = {k: v for k, v in os.environ.items() if k != "DREAMWRIGHT_API_KEY"}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    found: queue.Queue = queue.Queue()
    lines: list[str] = []

    def pump() -> None:
        for line in proc.stderr:
            lines.append(line)
            m = re.search(r" at (http://[^/\s]+)/", line)
            if m:
                found.put(m.group(1))

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            url = found.get(timeout=0.2)
            break
        except queue.Empty:
            if proc.poll() is not None:
                sys.exit("the server did not start:\n" + "".join(lines))
    else:
        proc.kill()
        sys.exit("the server did not start in 120 s")
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("the server never became healthy")


def core_tokens_per_s(run: str | None, prompt: str, max_tokens: int, rows: int, threads: int | None,
                      rounds: int = 3) -> float:
    """The decoding core's own throughput with no server: ``rows`` samples of ``max_tokens`` tokens generated in
    one batch in this process (best of ``rounds``), the ceiling the server's figure at ``rows`` clients is held
    against."""
    import torch

    import dreamwright

    if threads:
        torch.set_num_threads(threads)
    generator = dreamwright.load(run)
    generator.generate(prompt, num_samples=rows, max_new_tokens=8, seed=0)  # warm up
    best = 0.0
    for i in range(rounds):
        start = time.perf_counter()
        generator.generate(prompt, num_samples=rows, max_new_tokens=max_tokens, temperature=0.8, seed=i)
        best = max(best, rows * max_tokens / (time.perf_counter() - start))
    return best


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPU cores, no GPU" if cpu else f"{os.cpu_count()} CPU cores"


def ratio(lv: Level, levels: list[Level]) -> float | None:
    """``lv``'s tokens/s over plain completions' at the same number of clients (None: not measured)."""
    base = next((b for b in levels if b.kind == "completions" and b.clients == lv.clients), None)
    return lv.tps / base.tps if base is not None and base.tps > 0 else None


def table(levels: list[Level]) -> str:
    rows = [
        "| kind | clients | requests OK | requests/s | tokens/s | vs completions | p50 latency | p99 latency "
        "| 429s | other 4xx | 5xx | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in sorted(levels, key=lambda lv: (KINDS.index(lv.kind), lv.clients)):
        r = ratio(lv, levels)
        rows.append(
            f"| {lv.kind} | {lv.clients} | {lv.ok} | {lv.rps:.2f} | {lv.tps:,.0f} | "
            f"{'—' if r is None else f'{r:.2f}×'} | {lv.p50_ms / 1000:.2f} s | "
            f"{lv.p99_ms / 1000:.2f} s | {lv.rejected_429} | {lv.errors_4xx} | {lv.errors_5xx} | "
            f"{lv.failures} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", nargs="?", help="run directory to serve (default: the bundled model)")
    ap.add_argument("--url", help="benchmark a server that is already running instead of starting one")
    ap.add_argument("--model", help="model id (default: the first the server lists)")
    ap.add_argument("--api-key", default=os.environ.get("DREAMWRIGHT_API_KEY"))
    ap.add_argument("--seconds", type=float, default=30.0, help="duration of each level [30]")
    ap.add_argument("--clients", default="1,8,32", help="concurrency levels [1,8,32]")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"request kinds [{','.join(KINDS)}]")
    ap.add_argument("--max-tokens", type=int, default=200, help="tokens per completion [200]")
    ap.add_argument("--prompt", default="ROMEO:")
    ap.add_argument("--timeout", type=float, default=120.0, help="per-request client timeout [120]")
    ap.add_argument("--threads", type=int, help="PyTorch threads in the server (default: PyTorch's choice)")
    ap.add_argument("--engine", choices=("thread", "process"),
                    help="server --engine: decode on a thread of the server or in an engine process [the server's "
                         "default: process]")
    ap.add_argument("--max-batch", type=int, default=64, help="server --max-batch [64]")
    ap.add_argument("--queue-size", type=int, default=64, help="server --queue-size [64]")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--no-core", action="store_true",
                    help="skip measuring the decoding core's own batch throughput (no server) for comparison")
    args = ap.parse_args(argv)
    levels_wanted = [int(x) for x in args.clients.split(",") if x.strip()]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not kinds or any(k not in KINDS for k in kinds):
        ap.error(f"--kinds must name some of {', '.join(KINDS)}")
    if args.seconds <= 0 or args.seconds > 600 or not levels_wanted or max(levels_wanted) > 256:
        ap.error("--seconds must be in (0, 600] and clients in 1..256")

    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(args.run, args.threads, args.max_batch, args.queue_size, args.engine)
    headers = {"authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    try:
        models = httpx.get(url + "/v1/models", headers=headers, timeout=10).json()["data"]
        model = args.model or models[0]["id"]
        card = next(m for m in models if m["id"] == model)
        # warm up (first-call allocations) with each kind, then measure each level, kinds side by side
        for kind in kinds:
            path, body = request_for(kind, model, args.prompt, args.max_tokens)
            httpx.post(url + path, headers=headers, timeout=args.timeout, json=body)
        load_before = os.getloadavg()[0]
        levels = []
        for clients in levels_wanted:
            for kind in kinds:
                lv = asyncio.run(
                    run_level(
                        url, kind, model, clients, args.seconds, args.max_tokens, args.prompt, headers,
                        args.timeout,
                    )
                )
                levels.append(lv)
                print(
                    f"{kind:>11} {clients:>3} clients: {lv.ok} OK, {lv.rps:.2f} req/s, {lv.tps:,.0f} tokens/s, "
                    f"p50 {lv.p50_ms:.0f} ms, p99 {lv.p99_ms:.0f} ms, 429s {lv.rejected_429}, "
                    f"5xx {lv.errors_5xx}, other errors {lv.errors_4xx + lv.failures}",
                    file=sys.stderr,
                    flush=True,
                )
        load_after = os.getloadavg()[0]
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    core_tps = None
    if not args.no_core and args.url is None:
        # the engine process decodes on one thread by default; the thread engine on the server's threads
        core_threads = args.threads if args.engine == "thread" else 1
        core_tps = core_tokens_per_s(args.run, args.prompt, args.max_tokens, max(levels_wanted), core_threads)
    print(
        f"Model: `{model}` ({card.get('family')}, {card.get('parameters', 0):,} parameters, "
        f"{card.get('tokenizer')} tokenizer), {args.max_tokens}-token completions of {args.prompt!r} "
        f"({', '.join(kinds)}), temperature 0.8, {args.seconds:g} s per level and kind."
    )
    print(
        f"Machine: {machine()}; server PyTorch threads: {args.threads or 'default'}; "
        f"engine: {args.engine or 'the default'} "
        f"{'' if args.url is None else '(as the server was started)'}; "
        f"load average {load_before:.1f} before, {load_after:.1f} after.\n"
    )
    print(table(levels))
    for kind in kinds:
        by_clients = {lv.clients: lv for lv in levels if lv.kind == kind}
        if 1 in by_clients and max(by_clients) > 1 and by_clients[1].tps > 0:
            top = max(by_clients)
            print(
                f"\n{kind}: aggregate tokens/s at {top} clients = {by_clients[top].tps / by_clients[1].tps:.1f}× "
                f"the single-client figure."
            )
    if core_tps:
        top = max(levels_wanted)
        served = max((lv.tps for lv in levels if lv.kind == "completions" and lv.clients == top), default=0.0)
        print(f"\nThe decoding core alone, {top} samples in one batch in one process: {core_tps:,.0f} tokens/s; "
              f"the server at {top} clients delivers {served / core_tps:.0%} of it.")
    print(f"\n5xx responses: {sum(lv.errors_5xx for lv in levels)}.")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "model": model,
                    "machine": machine(),
                    "engine": args.engine if args.url is None else None,
                    "core_tokens_per_s": core_tps,
                    "levels": [
                        {**asdict(lv), "requests_per_s": lv.rps, "tokens_per_s": lv.tps,
                         "tokens_per_s_vs_completions": ratio(lv, levels)}
                        for lv in levels
                    ],
                },
                f,
                indent=2,
            )
    return 1 if any(lv.errors_5xx for lv in levels) else 0


if __name__ == "__main__":
    sys.exit(main())
