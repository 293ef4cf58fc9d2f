from __future__ import annotations

import numpy as np
import pytest

from dreamwright.errors import InvalidArgument
from dreamwright.image import deep_dream, run_deep_dream
from dreamwright.image.dream import parse_layer_weights


def test_dream_raises_the_activations(images):
    content, _, _ = images
    result = run_deep_dream(
        content,
        size=64,
        octaves=2,
        octave_scale=1.5,
        steps=6,
        step_size=0.02,
        backbone="efficientnet-lite0",
        seed=0,
        progress=False,
    )
    assert result.image.size == (64, 48)
    assert result.octave_sizes == [(43, 32), (64, 48)]
    losses = [h["loss"] for h in result.history if h["octave"] == 0]
    assert losses[-1] > losses[0] * 1.2
    untouched = deep_dream(
        content,
        size=64,
        octaves=1,
        steps=1,
        step_size=1e-6,
        jitter=0,
        backbone="efficientnet-lite0",
        progress=False,
    )
    changed = np.abs(np.asarray(result.image, float) - np.asarray(untouched, float))
    assert changed.mean() > 1.0


def test_dream_seed_and_loss_clipping(images):
    content, _, _ = images
    kw = dict(size=48, octaves=1, steps=4, weights="random", layers="relu2_1:1,relu3_1:0.5", progress=False)
    a = np.asarray(deep_dream(content, seed=1, **kw))
    b = np.asarray(deep_dream(content, seed=1, **kw))
    assert np.array_equal(a, b)
    clipped = run_deep_dream(content, seed=1, max_loss=1e-9, **kw)
    assert len(clipped.history) == 1  # the first step already exceeds max_loss


def test_layer_parsing_and_errors(images):
    assert parse_layer_weights("relu4_3:1, relu5_1:1.5") == {"relu4_3": 1.0, "relu5_1": 1.5}
    assert parse_layer_weights(["block7"]) == {"block7": 1.0}
    with pytest.raises(InvalidArgument, match="not a number"):
        parse_layer_weights("relu4_3:big")
    content, _, _ = images
    with pytest.raises(InvalidArgument, match=r"unknown layer 'mixed4'.*valid layers: stem, block0"):
        run_deep_dream(content, layers="mixed4:1", backbone="efficientnet-lite0", size=32, progress=False)
    with pytest.raises(InvalidArgument, match="octave_scale"):
        run_deep_dream(content, octave_scale=1.0, weights="random", size=32, progress=False)


def test_progress_once_per_step_and_options_as_an_object(images):
    from dreamwright.image.dream import DreamOptions, octave_shapes

    content, _, _ = images
    options = DreamOptions(size=32, octaves=2, steps=3, weights="random", seed=2)
    reports = []
    result = run_deep_dream(content, options, progress=False,
                            on_progress=lambda done, planned: reports.append((done, planned)))
    assert reports == [(i, 6) for i in range(1, 7)]
    by_keywords = deep_dream(content, size=32, octaves=2, steps=3, weights="random", seed=2, progress=False)
    assert np.array_equal(np.asarray(result.image), np.asarray(by_keywords))
    assert octave_shapes(48, 64, 3, 2.0) == [(16, 16), (24, 32), (48, 64)]  # never below 16 px
    # a stop on max_loss reports the steps it ran, not the ones it skipped
    reports.clear()
    run_deep_dream(content, options, max_loss=1e-9, progress=False,
                   on_progress=lambda done, planned: reports.append((done, planned)))
    assert reports == [(1, 6), (2, 6)]
    with pytest.raises(InvalidArgument, match="size must be an integer"):
        run_deep_dream(content, options, size=0, progress=False)
