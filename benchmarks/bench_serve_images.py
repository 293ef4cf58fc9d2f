"""Does a long image job hold back text? 8 clients ask for 200-token completions, alone and while a style
transfer keeps running on the server's ``images`` lane, alternately (A, B, A, B) in one run on one server.

    flock /tmp/dreamwright-bench.lock python benchmarks/bench_serve_images.py [--seconds 20] [--rounds 2]

Reports text tokens/s in each phase, the slowdown (target: at most 25%) and how many style-transfer
iterations the image lane did meanwhile (it must keep working, not starve).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import threading
import time

import httpx

from bench_serve import machine, run_level, start_server


def png_url(side: int, color: tuple[int, int, int]) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (side, side), color).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


class StyleLoop:
    """Keeps one style-transfer job running on the server (a new one as each ends) while ``on`` is set."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.on, self.stop = url, threading.Event(), threading.Event()
        self.body = {"mode": "style", "content": png_url(size, (200, 40, 40)), "style": png_url(size, (30, 90, 200)),
                     "size": size, "iterations": 200, "seed": 0}
        self.iterations = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                if not self.on.wait(0.1):
                    continue
                job = client.post("/v1/images", json=self.body).json()
                done = 0
                while True:
                    state = client.get(f"/v1/images/{job['id']}").json()
                    self.iterations += state["done"] - done
                    done = state["done"]
                    if state["status"] not in ("queued", "running"):
                        break
                    if not self.on.is_set() or self.stop.is_set():
                        client.delete(f"/v1/images/{job['id']}")
                        break
                    time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each phase [20]")
    ap.add_argument("--rounds", type=int, default=2, help="A/B rounds [2]")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--size", type=int, default=128, help="style transfer's long side in pixels [128]")
    ap.add_argument("--threads", type=int, help="PyTorch threads in the server")
    ap.add_argument("--json", help="also write the results as JSON here")
    args = ap.parse_args(argv)
    proc, url = start_server(None, args.threads, 64, 64)
    try:
        model = httpx.get(url + "/v1/models", timeout=10).json()["data"][0]["id"]
        style = StyleLoop(url, args.size)
        alone, busy = [], []
        for _ in range(args.rounds):
            for phase, out in (("alone", alone), ("with style transfer", busy)):
                (style.on.set if out is busy else style.on.clear)()
                time.sleep(1.0 if out is busy else 0.5)  # let the job start (or the last one stop)
                before = style.iterations
                level = asyncio.run(run_level(url, "completions", model, args.clients, args.seconds, 200, "ROMEO:",
                                              {}, 120.0))
                out.append((level.tps, style.iterations - before))
                print(f"{phase}: {level.tps:,.0f} tokens/s ({level.errors_5xx} 5xx), style-transfer iterations "
                      f"meanwhile {style.iterations - before}", flush=True)
        style.stop.set()
        style.on.set()
        style.thread.join(60)
    finally:
        proc.terminate()
        proc.wait(30)
    a = sum(t for t, _ in alone) / len(alone)
    b = sum(t for t, _ in busy) / len(busy)
    result = {"machine": machine(), "clients": args.clients, "seconds": args.seconds, "rounds": args.rounds,
              "alone_tokens_per_s": a, "with_style_tokens_per_s": b, "slowdown": 1 - b / a,
              "style_iterations_per_phase": sum(i for _, i in busy) / len(busy)}
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
