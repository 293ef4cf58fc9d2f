"""The Fréchet distance of benchmarks/fashion_judge.py against closed forms (no judge is trained here)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from fashion_judge import frechet_distance, frechet_from_stats  # noqa: E402


def gaussian(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim))


def test_identical_feature_sets_are_zero_apart():
    feats = gaussian(2000, 32, 0)
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)


def test_a_shifted_mean_adds_its_squared_length():
    feats = gaussian(5000, 16, 1)  # covariance close to the identity
    d = np.linspace(-1.0, 2.0, 16)
    assert frechet_distance(feats, feats + d) == pytest.approx(float(d @ d), rel=1e-6)
    # two independent samples of N(0, I) and N(d, I): |d|² plus sampling noise
    other = gaussian(5000, 16, 2) + d
    assert frechet_distance(feats, other) == pytest.approx(float(d @ d), abs=0.1)


def test_it_is_symmetric():
    a = gaussian(1000, 24, 3) @ np.random.default_rng(4).standard_normal((24, 24))
    b = gaussian(1500, 24, 5) * np.linspace(0.5, 3, 24) + 0.3
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-8)


def test_diagonal_covariances_match_the_closed_form():
    rng = np.random.default_rng(6)
    mu_a, mu_b = rng.standard_normal(10), rng.standard_normal(10)
    var_a, var_b = rng.uniform(0.1, 4, 10), rng.uniform(0.1, 4, 10)
    expected = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum()
    got = frechet_from_stats(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-10)


def test_non_commuting_covariances_match_the_2x2_closed_form():
    # for 2×2 A, B: tr (A^½ B A^½)^½ = sqrt(tr AB + 2 sqrt(det A det B))
    a = np.array([[2.0, 0.8], [0.8, 1.0]])
    b = np.array([[0.5, -0.3], [-0.3, 1.5]])
    cross = np.sqrt(np.trace(a @ b) + 2 * np.sqrt(np.linalg.det(a) * np.linalg.det(b)))
    expected = np.trace(a) + np.trace(b) - 2 * cross
    assert frechet_from_stats(np.zeros(2), a, np.zeros(2), b) == pytest.approx(expected, rel=1e-10)


def test_singular_covariances_do_not_break_it():
    feats = gaussian(500, 8, 7)
    feats[:, 3] = 0.0  # a dead unit: a zero row and column in the covariance
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)
    assert np.isfinite(frechet_distance(feats, gaussian(500, 8, 8)))
