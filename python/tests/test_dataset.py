"""vecperf.read_vectors, write_vectors and compute_ground_truth."""

import gc

import numpy as np
import pytest

import vecperf
from conftest import brute_force, clustered


def test_npy_from_numpy_is_read_in_place(tmp_path):
    x = clustered(50, 12, seed=3)
    path = tmp_path / "x.npy"
    np.save(path, x)
    a = vecperf.read_vectors(path)
    assert a.dtype == np.float32 and a.shape == (50, 12)
    np.testing.assert_array_equal(a, x)
    # A view of the C++ matrix (here a memory map), kept alive by the array's base.
    assert not a.flags.owndata and not a.flags.writeable and a.base is not None
    gc.collect()
    np.testing.assert_array_equal(a[-1], x[-1])
    np.testing.assert_array_equal(vecperf.read_vectors(str(path), 5), x[:5])
    np.testing.assert_array_equal(vecperf.read_vectors(path, 5, first_row=45), x[45:])


def test_mapped_array_outlives_file_and_reader(tmp_path):
    x = clustered(40, 8, seed=6)
    path = tmp_path / "x.fbin"
    vecperf.write_vectors(path, x)
    a = vecperf.read_vectors(path)[10:]  # a view of the view: the capsule stays reachable
    path.unlink()
    gc.collect()
    np.testing.assert_array_equal(a, x[10:])
    with pytest.raises(ValueError, match="read-only"):
        a[0, 0] = 1


@pytest.mark.parametrize("ext", ["fvecs", "fbin", "npy"])
def test_write_read_round_trip(tmp_path, ext):
    x = clustered(30, 7, seed=4)
    path = tmp_path / f"x.{ext}"
    vecperf.write_vectors(path, x)
    np.testing.assert_array_equal(vecperf.read_vectors(path), x)
    other = tmp_path / "x.data"
    vecperf.write_vectors(other, x.astype(np.float64), format=ext)
    np.testing.assert_array_equal(vecperf.read_vectors(other, format=ext), x)


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        vecperf.read_vectors(tmp_path / "missing.fbin")
    bad = tmp_path / "bad.fbin"
    bad.write_bytes(b"\x05\x00\x00\x00\x04\x00\x00\x00" + b"\x00" * 12)
    with pytest.raises(vecperf.CorruptionError):
        vecperf.read_vectors(bad)
    with pytest.raises(ValueError):
        vecperf.read_vectors(tmp_path / "x.txt")
    with pytest.raises(ValueError):
        vecperf.read_vectors(bad, 0)
    with pytest.raises(ValueError):
        vecperf.write_vectors(tmp_path / "x.ivecs", np.ones((2, 3), np.float32))


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_ground_truth_matches_brute_force(metric, data):
    base, queries = data
    D, I = vecperf.compute_ground_truth(base, queries, 10, metric, num_threads=2)
    assert D.shape == I.shape == (len(queries), 10) and I.dtype == np.int64
    expected_d, expected_i = brute_force(base, np.arange(len(base)), queries, 10, metric)
    np.testing.assert_array_equal(I, expected_i)
    np.testing.assert_allclose(D, expected_d, rtol=1e-4, atol=1e-4)


def test_ground_truth_pads_and_checks():
    base = np.eye(3, dtype=np.float32)
    D, I = vecperf.compute_ground_truth(base, base[:1], 5)
    assert I.tolist() == [[0, 1, 2, -1, -1]] and D[0, 4] == np.inf
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        vecperf.compute_ground_truth(base, np.ones((1, 4)), 2)
    with pytest.raises(ValueError):
        vecperf.compute_ground_truth(base, base, 0)
