"""Prometheus metrics for ``GET /metrics``: requests, tokens, load and latency, one registry per app.

=========================================================  ===========================================
``dreamwright_requests_total{route,method,status}``        HTTP requests answered (route = its template)
``dreamwright_generated_tokens_total{model}``              tokens generated
``dreamwright_queue_depth{model}``                         requests waiting for a batch slot
``dreamwright_active_rows{model}``                         rows being decoded
``dreamwright_time_to_first_token_seconds{model}``         histogram: queued → first token chosen
``dreamwright_token_latency_seconds{model}``               histogram: one decoding step (a token per row)
``dreamwright_audio_seconds_total{model}``                 seconds of audio spoken (``/v1/audio/speech``)
``dreamwright_jobs_total{kind,outcome}``                   jobs ended, by kind (completion, chat, poem,
                                                           couplet, drawing, style, dream, speech, …) and
                                                           outcome (ok, error, cancelled, timeout, rejected)
``dreamwright_job_seconds{kind}``                          histogram: a job's time from queueing (or
                                                           starting, for lane tasks) to its end
``dreamwright_lane_waiting{lane}``                         tasks waiting in a lane (poetry, drawing, images)
``dreamwright_lane_running{lane}``                         tasks a lane is running
=========================================================  ===========================================
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from dreamwright.serve.core import TextEngine
from dreamwright.serve.lanes import Lane

CONTENT_TYPE = CONTENT_TYPE_LATEST
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STEP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Metrics:
    """The server's metrics; engines report steps and first tokens through :meth:`watch`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("dreamwright_requests", "HTTP requests answered, by route template, method and "
                                "status.", ["route", "method", "status"], registry=r)
        self.tokens = Counter("dreamwright_generated_tokens", "Tokens generated.", ["model"], registry=r)
        self.queue = Gauge("dreamwright_queue_depth", "Requests waiting for a batch slot.", ["model"], registry=r)
        self.active = Gauge("dreamwright_active_rows", "Rows (choices) being decoded.", ["model"], registry=r)
        self.ttft = Histogram("dreamwright_time_to_first_token_seconds", "From queueing a request to choosing its "
                              "first token.", ["model"], buckets=TTFT_BUCKETS, registry=r)
        self.step = Histogram("dreamwright_token_latency_seconds", "One decoding step, which gives every active "
                              "row its next token.", ["model"], buckets=STEP_BUCKETS, registry=r)
        self.audio_seconds = Counter("dreamwright_audio_seconds", "Seconds of audio spoken by audio models.",
                                     ["model"], registry=r)
        self.jobs = Counter("dreamwright_jobs", "Jobs ended, by kind and outcome.", ["kind", "outcome"], registry=r)
        self.job_seconds = Histogram("dreamwright_job_seconds", "A job's time to its end.", ["kind"],
                                     buckets=JOB_BUCKETS, registry=r)
        self.lane_waiting = Gauge("dreamwright_lane_waiting", "Tasks waiting in a lane.", ["lane"], registry=r)
        self.lane_running = Gauge("dreamwright_lane_running", "Tasks a lane is running.", ["lane"], registry=r)

    def job_finished(self, kind: str, outcome: str, seconds: float) -> None:
        """Count a job or task that ended (an engine's or a lane's ``on_finish``)."""
        self.jobs.labels(kind, outcome).inc()
        if outcome != "rejected":
            self.job_seconds.labels(kind).observe(seconds)

    def watch(self, engines: Mapping[str, TextEngine]) -> None:
        """Report the engines' load, tokens and latencies under their model ids."""
        for name, engine in engines.items():
            self.queue.labels(name).set_function(lambda e=engine: e.waiting)
            self.active.labels(name).set_function(lambda e=engine: e.active_rows)
            tokens, step, ttft = self.tokens.labels(name), self.step.labels(name), self.ttft.labels(name)

            def on_step(seconds: float, rows: int, tokens=tokens, step=step) -> None:
                tokens.inc(rows)
                step.observe(seconds)

            engine.on_step = on_step
            engine.on_first_token = ttft.observe
            engine.on_finish = self.job_finished

    def watch_lanes(self, lanes: Mapping[str, Lane]) -> None:
        """Report the lanes' load and their tasks' outcomes."""
        for name, lane in lanes.items():
            self.lane_waiting.labels(name).set_function(lambda lane=lane: lane.waiting)
            self.lane_running.labels(name).set_function(lambda lane=lane: lane.running)
            lane.on_finish = self.job_finished

    def request(self, route: str, method: str, status: int) -> None:
        self.requests.labels(route, method, str(status)).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
