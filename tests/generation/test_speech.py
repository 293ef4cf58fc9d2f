"""Speaking with a tiny random audio run: the conditions chosen, the clip's length, a seed repeats."""

from __future__ import annotations

import numpy as np
import pytest

from dreamwright.errors import InvalidArgument
from tests.audio_helpers import RATE, make_audio_run


@pytest.fixture(scope="module")
def audio_generator(tmp_path_factory):
    from dreamwright.generation.generator import Generator

    return Generator.load(make_audio_run(tmp_path_factory.mktemp("audio") / "digits"), device="cpu")


def test_speak_with_every_condition_given(audio_generator):
    from dreamwright.generation.speech import speak

    first, = speak(audio_generator, seconds=0.05, label="3", speaker="jackson", seed=1)
    again, = speak(audio_generator, seconds=0.05, label="3", speaker="jackson", seed=1)
    assert first.conditions == {"label": "3", "speaker": "jackson"}
    assert first.rate == RATE and len(first.samples) == round(0.05 * RATE)
    assert np.array_equal(first.samples, again.samples)


def test_speak_refuses_an_unknown_speaker_naming_the_valid_ones(audio_generator):
    from dreamwright.generation.speech import speech_request

    with pytest.raises(InvalidArgument, match="jackson, theo"):
        speech_request(audio_generator, label="3", speaker="alloy")
