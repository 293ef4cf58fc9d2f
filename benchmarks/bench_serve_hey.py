"""The load test again with an external tool: `hey` (github.com/rakyll/hey; Debian's ``hey`` package) sends
the 200-token completions at 1, 8 and 32 concurrent clients, so the figures do not depend on our own client.

    flock /tmp/dreamwright-bench.lock python benchmarks/bench_serve_hey.py [--seconds 20]

Every completion asks for 200 tokens of a character model with no end-of-text token, so tokens/s is
requests/s × 200 (hey counts only 2xx answers as successes in its status-code table, which is printed).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys

import httpx

from bench_serve import machine, start_server


def hey(url: str, clients: int, seconds: float, body: dict) -> dict:
    """Run hey for ``seconds`` with ``clients`` workers; its requests/s, p50/p99 latency and status codes."""
    out = subprocess.run(["hey", "-z", f"{seconds:g}s", "-c", str(clients), "-m", "POST", "-T", "application/json",
                          "-t", "120", "-d", json.dumps(body), url + "/v1/completions"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = float(re.search(r"50% in ([\d.]+) secs", out).group(1))
    p99 = re.search(r"99% in ([\d.]+) secs", out)  # hey leaves it out with under 100 answers: take the slowest
    p99 = float(p99.group(1) if p99 else re.search(r"Slowest:\s+([\d.]+) secs", out).group(1))
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    return {"clients": clients, "requests_per_s": rps, "p50_s": p50, "p99_s": p99, "status": codes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", nargs="?", help="run directory to serve (default: the bundled model)")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--engine", choices=("thread", "process"), help="server --engine [the server's default]")
    ap.add_argument("--json", help="also write the results as JSON here")
    args = ap.parse_args(argv)
    if shutil.which("hey") is None:
        sys.exit("hey is not installed: apt-get install hey (or go install github.com/rakyll/hey@latest)")
    proc, url = start_server(args.run, args.threads, 64, 64, args.engine)
    try:
        model = httpx.get(url + "/v1/models", timeout=10).json()["data"][0]["id"]
        body = {"model": model, "prompt": "ROMEO:", "max_tokens": args.max_tokens, "temperature": 0.8}
        rows = [hey(url, int(c), args.seconds, body) for c in args.clients.split(",")]
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"hey, {args.seconds:g} s per level, {args.max_tokens}-token completions; {machine()}")
    print("| clients | requests/s | tokens/s | p50 | p99 | status codes |\n|---:|---:|---:|---:|---:|---|")
    for r in rows:
        r["tokens_per_s"] = r["requests_per_s"] * args.max_tokens
        print(f"| {r['clients']} | {r['requests_per_s']:.2f} | {r['tokens_per_s']:,.0f} | {r['p50_s']:.2f} s | "
              f"{r['p99_s']:.2f} s | {r['status']} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": machine(), "seconds": args.seconds, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
