"""The batching engine on its own: batched rows match the core generator, whatever shares the batch."""

from __future__ import annotations

import asyncio

import pytest

from dreamwright.decoding import SamplingParams
from dreamwright.serve.engine import DoneEvent, EndEvent, Engine, ErrorEvent, Job, QueueFull, TextEvent


def run_jobs(engine: Engine, specs: list[dict]) -> list[dict[int, tuple[str, str, int]]]:
    """Submit jobs together; return each job's {choice: (text, finish_reason, tokens)}."""

    async def main():
        loop = asyncio.get_running_loop()
        jobs = []
        for spec in specs:
            spec = dict(spec)
            params = SamplingParams(
                spec.pop("temperature", 1.0),
                spec.pop("top_k", None),
                spec.pop("top_p", None),
                spec.pop("repetition_penalty", 1.0),
            )
            prompts = [engine.generator.encode_prompt(p) for p in spec.pop("prompts")]
            job = Job(prompts=prompts, params=params, loop=loop, queue=asyncio.Queue(), **spec)
            engine.submit(job)
            jobs.append(job)
        out = []
        for job in jobs:
            done: dict[int, tuple[str, str, int]] = {}
            while True:
                events = await asyncio.wait_for(job.queue.get(), 60)
                for ev in events:
                    if isinstance(ev, DoneEvent):
                        done[ev.choice] = (ev.text, ev.finish_reason, ev.completion_tokens)
                    assert not isinstance(ev, ErrorEvent), ev
                if any(isinstance(ev, EndEvent) for ev in events):
                    break
            out.append(done)
        return out

    return asyncio.run(main())


@pytest.fixture()
def engine(tiny_generator):
    e = Engine(tiny_generator, max_batch_rows=16, max_queue=8)
    yield e
    e.stop()


def test_batched_rows_match_the_generator(engine, tiny_generator):
    g = tiny_generator
    greedy = g.generate("ROMEO: ", max_new_tokens=30, temperature=0)[0]
    penalised = g.generate("JULIET: ", max_new_tokens=30, temperature=0, repetition_penalty=1.8)[0]
    results = run_jobs(
        engine,
        [
            {"prompts": ["ROMEO: "], "temperature": 0, "max_tokens": 30},
            {"prompts": ["the ", "a quick "], "n": 3, "temperature": 1.2, "top_k": 5, "max_tokens": 17},
            {"prompts": ["JULIET: "], "temperature": 0, "repetition_penalty": 1.8, "max_tokens": 30},
            {"prompts": ["ROMEO: "], "temperature": 0.7, "top_p": 0.9, "max_tokens": 9, "seed": 1},
        ],
    )
    assert results[0] == {0: (greedy, "length", 30)}
    assert results[2] == {0: (penalised, "length", 30)}
    assert sorted(results[1]) == list(range(6))
    assert all(tokens == 17 and reason == "length" for _, reason, tokens in results[1].values())
    assert results[3][0][2] == 9


def test_seeded_rows_do_not_depend_on_the_batch(engine):
    alone = run_jobs(engine, [{"prompts": ["the "], "seed": 123, "max_tokens": 40}])[0]
    crowded = run_jobs(
        engine,
        [
            {"prompts": ["ROMEO: "], "n": 4, "max_tokens": 50},
            {"prompts": ["the "], "seed": 123, "max_tokens": 40},
            {"prompts": ["JULIET: "], "n": 3, "max_tokens": 20, "temperature": 1.4},
        ],
    )[1]
    assert alone == crowded


def test_stop_strings_and_streaming_pieces(engine, tiny_generator):
    full = tiny_generator.generate("ROMEO: ", max_new_tokens=40, temperature=0)[0]
    stop = full[12:15]

    async def main():
        job = Job(
            prompts=[tiny_generator.encode_prompt("ROMEO: ")],
            params=SamplingParams(0),
            max_tokens=40,
            stops=[stop],
            stream=True,
            loop=asyncio.get_running_loop(),
            queue=asyncio.Queue(),
        )
        engine.submit(job)
        pieces, done = [], None
        while True:
            events = await asyncio.wait_for(job.queue.get(), 30)
            for ev in events:
                if isinstance(ev, TextEvent):
                    pieces.append(ev.text)
                elif isinstance(ev, DoneEvent):
                    done = ev
            if any(isinstance(ev, EndEvent) for ev in events):
                return pieces, done

    pieces, done = asyncio.run(main())
    assert "".join(pieces) == full[: full.index(stop)] == done.text
    assert done.finish_reason == "stop"
    assert stop not in "".join(pieces)


def test_queue_is_bounded(tiny_generator):
    engine = Engine(tiny_generator, max_batch_rows=1, max_queue=2)

    async def main():
        loop = asyncio.get_running_loop()

        def job() -> Job:
            return Job(
                prompts=[[0]], params=SamplingParams(), max_tokens=100_000, loop=loop, queue=asyncio.Queue()
            )

        jobs = [job()]
        engine.submit(jobs[0])
        for _ in range(200):
            if engine.active_rows == 1:
                break
            await asyncio.sleep(0.02)
        assert engine.active_rows == 1  # decoding
        jobs += [job(), job()]
        for j in jobs[1:]:
            engine.submit(j)  # waiting: the batch holds one row
        with pytest.raises(QueueFull):
            engine.submit(job())
        for j in jobs:
            j.cancel()
        for _ in range(200):
            if engine.active_rows == 0:
                break
            await asyncio.sleep(0.02)
        assert engine.active_rows == 0
        engine.submit(job())  # room again once cancelled jobs are dropped

    try:
        asyncio.run(main())
    finally:
        engine.stop()
