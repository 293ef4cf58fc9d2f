import numpy as np
import pytest
import torch

from dreamwright.decoding import RowStreams, draw, row_seed


def test_draw_follows_the_distribution_and_skips_zero_mass():
    probs = torch.tensor([[0.5, 0.0, 0.3, 0.0, 0.2]]).repeat(20000, 1)
    streams = RowStreams()
    streams.add(range(20000))
    counts = torch.bincount(draw(probs, streams.uniforms()), minlength=5).float() / 20000
    assert counts[1] == 0 and counts[3] == 0
    assert counts.tolist() == pytest.approx([0.5, 0.0, 0.3, 0.0, 0.2], abs=0.015)


def test_draw_at_the_edges_of_the_unit_interval():
    probs = torch.tensor([[0.0, 0.25, 0.75, 0.0]] * 4)
    u = torch.tensor([2.0**-24, 0.25, 0.25 + 2.0**-24, 1.0])
    assert draw(probs, u).tolist() == [1, 1, 2, 2]


def test_a_row_stream_depends_only_on_its_seed():
    alone = RowStreams()
    alone.add([7])
    mixed = RowStreams()
    mixed.add([3, 7, 11])
    a = [float(alone.uniforms()[0]) for _ in range(5)]
    b = [float(mixed.uniforms()[1]) for _ in range(5)]
    assert a == b
    mixed.keep([1])  # dropping its neighbours does not change what comes next
    alone_next = float(alone.uniforms()[0])
    assert float(mixed.uniforms()[0]) == alone_next


def test_streams_are_uniform_in_the_unit_interval_and_snapshots_restore():
    streams = RowStreams()
    streams.add([row_seed(-5, i) for i in range(1000)] + [2**70 + 12345])  # any int is a seed (taken modulo 2**64)
    u = np.concatenate([streams.uniforms().numpy() for _ in range(20)])
    assert u.min() > 0 and u.max() <= 1 and u.dtype == np.float32
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    snap = streams.snapshot()
    first = streams.uniforms()
    streams.restore(snap)
    assert torch.equal(streams.uniforms(), first)
    assert len(set(u[:1001].tolist())) > 990  # neighbouring seeds give unrelated streams (24-bit uniforms)
