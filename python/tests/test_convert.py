"""Input conversion: zero copy for C-contiguous float32, one documented conversion otherwise."""

import numpy as np
import pytest

import vecperf
from vecperf import _vecperf


def conversions(fn):
    """How many inputs the binding had to copy while running fn()."""
    before = _vecperf._conversions()
    fn()
    return _vecperf._conversions() - before


@pytest.fixture
def index():
    ix = vecperf.Index(8, kind="flat")
    ix.add(np.arange(80, dtype=np.float32).reshape(10, 8))
    return ix


def test_float32_c_contiguous_is_not_copied(index):
    q = np.ascontiguousarray(np.random.default_rng(0).random((5, 8), dtype=np.float32))
    q.flags.writeable = False  # a read-only view is fine: it is only read
    assert conversions(lambda: index.search(q, 3)) == 0
    assert conversions(lambda: index.search(q[2], 3)) == 0  # a single row is a view
    ids = np.arange(100, 105, dtype=np.int64)
    assert conversions(lambda: index.add(q, ids)) == 0
    assert conversions(lambda: index.remove(ids)) == 0


@pytest.mark.parametrize("make", [
    lambda a: a.astype(np.float64),
    lambda a: a.astype(np.int32),
    lambda a: np.asfortranarray(a),
    lambda a: a.astype(">f4"),          # byte-swapped
    lambda a: a.tolist(),
], ids=["float64", "int32", "fortran", "big-endian", "list"])
def test_other_inputs_are_converted_once_and_correctly(index, make):
    q = np.arange(24, dtype=np.float32).reshape(3, 8)
    expected = index.search(q, 4)
    got = None

    def run():
        nonlocal got
        got = index.search(make(q), 4)

    assert conversions(run) == 1
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[0], expected[0])


def test_strided_view_is_converted(index):
    wide = np.zeros((3, 16), dtype=np.float32)
    assert conversions(lambda: index.search(wide[:, ::2], 2)) == 1


def test_id_conversion(index):
    v = np.ones((2, 8), np.float32)
    assert conversions(lambda: index.add(v, [200, 201])) == 1
    assert conversions(lambda: index.add(v, np.array([202, 203], np.int32))) == 1
    assert 203 in index
    with pytest.raises(TypeError):
        index.add(v, np.array([1.5, 2.5]))
    with pytest.raises(TypeError):
        index.add(v, ["a", "b"])


def test_shape_errors_name_expected_and_actual(index):
    with pytest.raises(ValueError, match=r"expected shape \(n, 8\) or \(8,\), got \(2, 7\)"):
        index.search(np.zeros((2, 7), np.float32))
    with pytest.raises(ValueError, match=r"got \(2, 2, 8\)"):
        index.add(np.zeros((2, 2, 8), np.float32))
    with pytest.raises(ValueError, match=r"got \(7,\)"):
        index.search(np.zeros(7, np.float32))
    with pytest.raises(ValueError, match=r"ids: expected shape \(n,\), got \(1, 2\)"):
        index.add(np.zeros((2, 8), np.float32), [[1, 2]])
    with pytest.raises(TypeError):
        index.search(np.zeros((1, 8), np.complex64))
    with pytest.raises(TypeError):
        index.search([["a"] * 8])
