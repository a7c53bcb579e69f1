"""Shared fixtures of the Python suite: seeded clustered data and a numpy brute-force oracle."""

import numpy as np
import pytest


def clustered(n, dim, seed, clusters=32, spread=0.15):
    """n float32 vectors around `clusters` seeded centres (the C++ suite's kind of data)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(42).uniform(-1, 1, (clusters, dim))
    labels = rng.integers(0, clusters, n)
    return (centres[labels] + rng.normal(0, spread, (n, dim))).astype(np.float32)


def brute_force(base, ids, queries, k, metric):
    """Exact (distances, ids) in vecperf's conventions, computed in float64."""
    b = base.astype(np.float64)
    q = queries.astype(np.float64)
    if metric == "l2":
        d = (q * q).sum(1)[:, None] - 2 * q @ b.T + (b * b).sum(1)[None, :]
    else:
        if metric == "cosine":
            b = b / np.linalg.norm(b, axis=1, keepdims=True)
            q = q / np.linalg.norm(q, axis=1, keepdims=True)
        d = 1.0 - q @ b.T
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, order, 1), np.asarray(ids)[order]


def recall(found, truth):
    k = truth.shape[1]
    return np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth)])


@pytest.fixture
def data():
    base = clustered(4000, 32, seed=1)
    queries = clustered(100, 32, seed=2)
    return base, queries
