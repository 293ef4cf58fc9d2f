"""Speaking with an audio model: condition tokens in, μ-law samples out, decoded to a waveform.

An audio run's tokenizer is a :class:`~dreamwright.tokenizers.audio.MuLawTokenizer`; a clip is its condition
tokens (``label``, ``speaker``) followed by samples, so speaking is an ordinary generation request whose
prompt is the condition tokens and whose length is ``seconds × sample_rate``. The CLI's ``generate -o x.wav``,
the Python API and the server's ``/v1/audio/speech`` all come here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dreamwright.decoding import SamplingParams, resolve_seed
from dreamwright.errors import InvalidArgument, WrongKindError
from dreamwright.generation.generator import Generator, Request

if TYPE_CHECKING:
    from collections.abc import Callable

    from dreamwright.tokenizers.audio import MuLawTokenizer

#: the longest clip one request may ask for
MAX_SECONDS = 60.0


@dataclass
class Speech:
    """One generated clip."""

    samples: np.ndarray  # float32 in [-1, 1]
    rate: int
    conditions: dict[str, str]  # what it was asked to say, and by whom
    seed: int

    def wav_bytes(self) -> bytes:
        from dreamwright.data.audio import wav_bytes

        return wav_bytes(self.samples, self.rate)


def is_audio(generator: Generator) -> bool:
    """Whether the model writes sound (μ-law samples) rather than text."""
    return generator.tokenizer.kind == "mulaw"


def audio_tokenizer(generator: Generator) -> MuLawTokenizer:
    if not is_audio(generator):
        raise WrongKindError(f"{generator.name} is a text model: it writes text, not sound; give an audio run "
                             "(trained on WAV files, e.g. `dreamwright train fsdd --model wavenet`)")
    return generator.tokenizer  # type: ignore[return-value]


def choose_conditions(generator: Generator, seed: int, **given: str | None) -> dict[str, str]:
    """Every condition of the model: the given ones (checked), the others drawn with ``seed``."""
    tokenizer = audio_tokenizer(generator)
    rng = np.random.default_rng(seed)
    chosen = {}
    for kind, values in tokenizer.conditions.items():
        value = given.get(kind)
        chosen[kind] = str(value) if value is not None else values[int(rng.integers(len(values)))]
    unknown = {k: v for k, v in given.items() if v is not None and k not in chosen}
    tokenizer.condition_ids(**chosen, **unknown)  # refuses what the model does not know, naming what it does
    return chosen


def speech_request(generator: Generator, *, seconds: float = 1.0, temperature: float = 1.0,
                   top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                   num_samples: int = 1, **conditions: str | None) -> tuple[Request, dict[str, str]]:
    """A validated request for ``seconds`` of audio, and the conditions it reads."""
    tokenizer = audio_tokenizer(generator)
    if not 0 < seconds <= MAX_SECONDS:
        raise InvalidArgument(f"seconds must be in (0, {MAX_SECONDS:g}], got {seconds:g}", param="seconds")
    if num_samples < 1:
        raise InvalidArgument(f"num_samples must be a positive integer, got {num_samples}", param="num_samples")
    seed = resolve_seed(seed)
    chosen = choose_conditions(generator, seed, **conditions)
    params = SamplingParams(temperature, top_k, top_p)
    length = max(1, round(seconds * tokenizer.sample_rate))
    return Request(tokenizer.condition_ids(**chosen), params, [], length, num_samples, seed), chosen


def speak(generator: Generator, *, seconds: float = 1.0, temperature: float = 1.0, top_k: int | None = None,
          top_p: float | None = None, seed: int | None = None, num_samples: int = 1, progress: bool = False,
          on_progress: Callable[[int, int], None] | None = None, **conditions: str | None) -> list[Speech]:
    """Generate ``num_samples`` clips (one batch) saying ``label`` in the voice of ``speaker``;
    ``on_progress(samples done, samples planned)`` is called after every step (an exception it raises stops
    the clip: the server's cancellation)."""
    from dreamwright.data.audio import mulaw_decode
    from dreamwright.progress import progress_bar

    tokenizer = audio_tokenizer(generator)
    request, chosen = speech_request(generator, seconds=seconds, temperature=temperature, top_k=top_k,
                                     top_p=top_p, seed=seed, num_samples=num_samples, **conditions)
    stepwise = progress or on_progress is not None  # the stream yields at every step only when it watches text
    stream = generator.decode([request.ids] * num_samples, request.rows(watch_text=stepwise))
    total = request.max_new_tokens * num_samples
    if stepwise:
        what = ", ".join(f"{k} {v}" for k, v in chosen.items())
        with progress_bar(f"speaking ({what})", total=total, unit="samples", enabled=progress) as bar:
            for done, _ in enumerate(stream, 1):
                bar.advance(1)
                if on_progress is not None:
                    on_progress(done * num_samples, total)
        completions = stream.completions
    else:
        completions = stream.finish()
    return [Speech(mulaw_decode(tokenizer.samples(c.token_ids)), tokenizer.sample_rate, dict(chosen),
                   c.seed if c.seed is not None else request.seed) for c in completions]


def reference_clip(generator: Generator, conditions: dict[str, str]) -> tuple[str, np.ndarray, int] | None:
    """A real held-out recording with the same label (the same speaker when there is one) from the run's data,
    as ``(title, samples, rate)``; None when the run keeps no held-out clips."""
    from dreamwright.data.audio import mulaw_decode, split_clips
    from dreamwright.data.corpus import EncodedCorpus

    tokenizer = audio_tokenizer(generator)
    # a run keeps its held-out clips in data/; a bundled model a few of them in references/
    folders = [] if generator.run_dir is None else [generator.run_dir / "data", generator.run_dir / "references"]
    data = next((f for f in folders if (f / "valid-clips.bin").is_file()), None)
    if data is None:
        return None
    clips = split_clips(EncodedCorpus.open(data), "valid", tokenizer.n_cond)
    wanted = tokenizer.condition_ids(**conditions)
    label_only = [i for i, kind in enumerate(tokenizer.conditions) if kind != "speaker"]

    def matches(cond: np.ndarray, positions: list[int]) -> bool:
        return all(int(cond[i]) == wanted[i] for i in positions)

    everything = list(range(len(wanted)))
    for positions in (everything, label_only):
        found = next((s for c, s in clips if matches(c, positions)), None)
        if found is not None:
            what = ", ".join(f"{k} {v}" for k, v in conditions.items()
                             if positions is everything or k != "speaker")
            return f"a real recording ({what})", mulaw_decode(np.asarray(found)), tokenizer.sample_rate
    return None
