"""vecperf.merge_results: scatter-gather over shards equals one index over the union."""

import numpy as np
import pytest

import vecperf


def test_three_flat_shards_equal_one_index(data):
    base, queries = data
    whole = vecperf.Index(base.shape[1], "l2", "flat")
    whole.add(base)
    shards = []
    for part in np.array_split(np.arange(len(base)), 3):
        shard = vecperf.Index(base.shape[1], "l2", "flat")
        shard.add(base[part], ids=part)
        shards.append(shard.search(queries, k=10))
    D, I = vecperf.merge_results(shards, 10)
    expected_d, expected_i = whole.search(queries, k=10)
    np.testing.assert_array_equal(I, expected_i)
    np.testing.assert_allclose(D, expected_d, rtol=1e-5, atol=1e-5)


def test_fewer_candidates_than_k_and_duplicates():
    d = np.array([[0.5, 1.0]], np.float32)
    i = np.array([[4, 2]], np.int64)
    D, I = vecperf.merge_results([(d, i), (d, i)], 3)
    assert I.tolist() == [[4, 2, -1]]
    assert D[0, 2] == np.inf


def test_bad_shapes():
    d = np.zeros((2, 3), np.float32)
    i = np.zeros((2, 3), np.int64)
    with pytest.raises(ValueError, match="same queries"):
        vecperf.merge_results([(d, i), (d[:1], i[:1])], 3)
    with pytest.raises(ValueError, match="must match"):
        vecperf.merge_results([(d, i[:, :2])], 3)
    with pytest.raises(ValueError, match="at least one"):
        vecperf.merge_results([], 3)
    with pytest.raises(ValueError, match="k must be"):
        vecperf.merge_results([(d, i)], 0)
    with pytest.raises(TypeError):
        vecperf.merge_results([d], 3)
