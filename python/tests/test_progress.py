"""progress= arguments: True draws a bar on a TTY only; a callable is used as is. Index.add
reports each chunk, and an exception in its callable stops and undoes the add."""

import io

import numpy as np
import pytest

import vecperf
from vecperf import _progress


class FakeTty(io.StringIO):
    def isatty(self):
        return True


def test_true_draws_a_plain_bar_on_a_tty(monkeypatch):
    tty = FakeTty()
    monkeypatch.setattr("sys.stderr", tty)
    monkeypatch.setitem(__import__("sys").modules, "tqdm", None)  # force the plain fallback
    report = _progress.resolve(True, "migrating")
    report(5, 10)
    report(10, 10)
    assert "migrating: 5/10 (50%)" in tty.getvalue() and tty.getvalue().endswith("10/10 (100%)\n")


def test_true_is_silent_without_a_tty(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert _progress.resolve(True, "x") is None


def test_callables_and_off_values():
    def fn(done, total):
        return None

    assert _progress.resolve(fn, "x") is fn
    assert _progress.resolve(None, "x") is None and _progress.resolve(False, "x") is None
    with pytest.raises(TypeError):
        _progress.resolve("yes", "x")


# ----- Index.add(progress=...) -----------------------------------------------------------------

CHUNK = 8192  # vectors per progress report (Index.add)
ROWS = 2 * CHUNK + 500
KINDS = {"flat": {}, "ivf": {"nlist": 16}, "hnsw": {"M": 8, "ef_construction": 32},
         "auto": {"flat_max": 1000, "nlist": 16, "M": 8, "ef_construction": 32}}


def vectors(n, seed):
    return np.random.default_rng(seed).standard_normal((n, 8)).astype(np.float32)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_add_reports_each_chunk_up_to_the_total(kind):
    index = vecperf.Index(8, kind=kind, **KINDS[kind])
    index.add(vectors(100, 1))
    reports, sizes = [], []

    def report(done, total):
        reports.append((done, total))
        sizes.append(len(index))  # the index is usable from the callback

    ids = index.add(vectors(ROWS, 2), progress=report)
    assert reports == [(CHUNK, ROWS), (2 * CHUNK, ROWS), (ROWS, ROWS)]
    assert sizes == [100 + done for done, _ in reports]
    assert len(index) == 100 + ROWS and ids[0] == 100 and ids[-1] == 100 + ROWS - 1


class Stop(Exception):
    pass


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_exception_in_add_progress_propagates_and_undoes_the_add(kind):
    index = vecperf.Index(8, kind=kind, **KINDS[kind])
    index.add(vectors(300, 3))
    queries = vectors(5, 4)
    before = index.search(queries, 5, nprobe=16, ef_search=300)
    calls = []

    def stop_at_second(done, total):
        calls.append(done)
        if len(calls) == 2:
            raise Stop(f"stopped at {done}/{total}")

    new_ids = np.arange(10_000, 10_000 + ROWS)
    with pytest.raises(Stop, match=f"stopped at {2 * CHUNK}/{ROWS}"):
        index.add(vectors(ROWS, 5), ids=new_ids, progress=stop_at_second)
    assert calls == [CHUNK, 2 * CHUNK]
    assert len(index) == 300 and 10_000 not in index and 10_000 + ROWS - 1 not in index
    after = index.search(queries, 5, nprobe=16, ef_search=300)
    np.testing.assert_array_equal(after[1], before[1])
    np.testing.assert_allclose(after[0], before[0], rtol=1e-5, atol=1e-5)
    # Nothing of the stopped add is left behind: the same ids go in afterwards.
    index.add(vectors(ROWS, 5), ids=new_ids)
    assert len(index) == 300 + ROWS


def test_add_progress_true_draws_a_bar_on_a_tty(monkeypatch):
    tty = FakeTty()
    monkeypatch.setattr("sys.stderr", tty)
    vecperf.Index(8, kind="flat").add(vectors(ROWS, 6), progress=True)
    assert "vecperf: adding vectors" in tty.getvalue() and f"{ROWS}/{ROWS}" in tty.getvalue()


def test_add_progress_off_values_and_bad_types(monkeypatch):
    index = vecperf.Index(8, kind="flat")
    not_a_tty = io.StringIO()
    monkeypatch.setattr("sys.stderr", not_a_tty)
    index.add(vectors(10, 7), progress=True)
    assert not_a_tty.getvalue() == ""
    index.add(vectors(10, 8), progress=False)
    index.add(vectors(10, 9), progress=None)
    with pytest.raises(TypeError):
        index.add(vectors(10, 10), progress="yes")
    assert len(index) == 30
    assert list(index.add(vectors(1, 11))) == [30]  # a refused call reserved no ids
