"""vecperf.Index, vecperf.plan and vecperf.load against a numpy brute-force oracle."""

import copy
import pathlib
import pickle

import numpy as np
import pytest

import vecperf
from conftest import brute_force, recall

METRICS = ["l2", "ip", "cosine"]
# Small IVF lists so that 4000 vectors train the index (not its exact pre-training buffer).
PARAMS = {"flat": {}, "ivf": {"nlist": 32}, "hnsw": {}, "auto": {"flat_max": 1000, "nlist": 32}}


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw", "auto"])
def test_round_trip_matches_brute_force(kind, metric, data):
    base, queries = data
    index = vecperf.Index(32, metric, kind, **PARAMS[kind])
    ids = index.add(base, np.arange(10, 10 + len(base)))
    assert len(index) == len(base) and index.dim == 32 and index.metric == metric
    distances, found = index.search(queries, 10)
    assert distances.shape == found.shape == (100, 10)
    assert distances.dtype == np.float32 and found.dtype == np.int64
    assert np.all(np.diff(distances, axis=1) >= 0), "results are sorted nearest first"
    true_d, true_ids = brute_force(base, ids, queries, 10, metric)
    if kind == "flat":
        assert np.array_equal(found, true_ids)
        np.testing.assert_allclose(distances, true_d, rtol=1e-4, atol=1e-4)
    else:
        assert recall(found, true_ids) >= 0.95, index.describe()
    if kind == "ivf":
        assert "trained=yes" in index.describe()
    if kind == "auto":
        assert "stage=flat" not in index.describe()


def test_default_ids_are_a_running_counter(data):
    base, _ = data
    index = vecperf.Index(32, kind="flat")
    assert list(index.add(base[:3])) == [0, 1, 2]
    index.add(base[3:5], ids=[100, 7])
    assert list(index.add(base[5:7])) == [101, 102]
    assert all(i in index for i in (0, 1, 2, 7, 100, 101, 102)) and 3 not in index


def test_k_larger_than_size_fills_with_minus_one():
    index = vecperf.Index(4, kind="flat")
    index.add(np.eye(4, dtype=np.float32)[:2])
    d, i = index.search(np.ones(4, np.float32), k=4)
    assert i.shape == (1, 4) and list(i[0, 2:]) == [-1, -1] and np.all(np.isinf(d[0, 2:]))


def test_remove_then_search(data):
    base, queries = data
    index = vecperf.Index(32, kind="hnsw")
    index.add(base)
    _, before = index.search(queries[:1], 1)
    index.remove(before[0])
    assert len(index) == len(base) - 1 and before[0, 0] not in index
    _, after = index.search(queries[:1], 10)
    assert before[0, 0] not in after


def test_per_call_knobs_and_get_vector(data):
    base, queries = data
    index = vecperf.Index(32, "l2", "ivf", nlist=32, nprobe=1)
    index.add(base)
    _, one = index.search(queries, 10)
    _, all_lists = index.search(queries, 10, nprobe=32, num_threads=1)
    _, truth = brute_force(base, np.arange(len(base)), queries, 10, "l2")
    assert recall(all_lists, truth) == 1.0 and recall(one, truth) < 1.0
    np.testing.assert_array_equal(index.get_vector(5), base[5])
    hnsw = vecperf.Index(32, kind="hnsw", M=8, ef_construction=64, ef_search=16)
    hnsw.add(base)
    _, wide = hnsw.search(queries, 10, ef_search=256)
    assert recall(wide, truth) >= 0.95


def test_save_load_pathlib_and_pickle(tmp_path, data):
    base, queries = data
    for kind in ("flat", "ivf", "hnsw"):
        index = vecperf.Index(32, "cosine", kind, **PARAMS[kind])
        index.add(base)
        expected = index.search(queries, 5)
        path = tmp_path / f"{kind}.vpi"
        index.save(path)  # pathlib.Path
        for loaded in (vecperf.load(path), vecperf.load(str(path)),
                       pickle.loads(pickle.dumps(index)), copy.deepcopy(index)):
            assert loaded.kind == kind and loaded.metric == "cosine" and len(loaded) == len(base)
            got = loaded.search(queries, 5)
            np.testing.assert_array_equal(got[1], expected[1])
            np.testing.assert_array_equal(got[0], expected[0])
        # A loaded index continues the id counter after its size.
        assert vecperf.load(path).add(base[:1])[0] == len(base)


def test_plan_and_params_round_trip():
    p = vecperf.plan(500_000, 128, "cosine", memory_budget=1 << 30, target_recall=0.9)
    assert p.kind == "ivf" and p.dim == 128 and p.metric == "cosine"
    assert p.params["nlist"] > 0 and p.params["encoding"] == "flat"
    assert "ivf" in p.rationale and p.estimated_memory_bytes <= 1 << 30
    assert "ivf" in repr(p)
    made = p.make_index()
    built = vecperf.Index(p.dim, p.metric, p.kind, **p.params)
    assert made.describe() == built.describe()
    assert vecperf.plan(1000, 8).kind == "flat" and vecperf.plan(1000, 8).params == {}
    assert vecperf.plan(5_000_000, 64).kind == "hnsw"
    # A budget too small for anything, and bad arguments.
    with pytest.raises(vecperf.Error) as e:
        vecperf.plan(10_000_000, 1024, memory_budget=1000)
    assert e.value.code == "ResourceExhausted"
    with pytest.raises(ValueError):
        vecperf.plan(0, 8)
    with pytest.raises(ValueError):
        vecperf.plan(10, 8, target_recall=1.5)


def test_auto_progress_callable_sees_the_migration(data):
    base, _ = data
    calls = []
    index = vecperf.Index(32, kind="auto", flat_max=500, nlist=16,
                          progress=lambda done, total: calls.append((done, total)))
    index.add(base)
    assert calls and calls[-1][0] == calls[-1][1] > 0
    assert all(0 <= d <= t for d, t in calls)
    # progress=True on a non-TTY reports nothing and must not fail.
    vecperf.Index(32, kind="auto", flat_max=500, progress=True).add(base[:600])
    with pytest.raises(ValueError):
        vecperf.Index(32, kind="flat", progress=True)
    with pytest.raises(TypeError):
        vecperf.Index(32, kind="auto", progress=42)


def test_error_paths(tmp_path, data):
    base, _ = data
    index = vecperf.Index(32, kind="flat")
    index.add(base[:10])
    with pytest.raises(vecperf.Error) as e:
        index.add(base[:1], ids=[3])
    assert e.value.code == "AlreadyExists" and not isinstance(e.value, vecperf.CorruptionError)
    with pytest.raises(KeyError):
        index.remove([12345])
    with pytest.raises(KeyError):
        index.get_vector(12345)
    with pytest.raises(ValueError):
        index.add(base[:2], ids=[-1, 50])
    with pytest.raises(ValueError):
        index.add(base[:2], ids=[60, 60])
    with pytest.raises(ValueError):
        index.add(base[:2], ids=[70])
    with pytest.raises(ValueError):
        index.search(base[:1], k=0)
    with pytest.raises(ValueError):
        index.search(base[:1], nprobe=-1)
    bad = base[:1].copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError):
        index.add(bad)
    with pytest.raises(ValueError):
        index.search(bad)
    with pytest.raises(ValueError):
        vecperf.Index(32, kind="cosine_tree")
    with pytest.raises(ValueError):
        vecperf.Index(32, metric="hamming")
    with pytest.raises(ValueError):
        vecperf.Index(0)
    with pytest.raises(TypeError, match="unknown option .M. for kind ivf; it accepts .*nlist"):
        vecperf.Index(32, kind="ivf", M=4)
    with pytest.raises(TypeError):
        vecperf.Index(32, kind="hnsw", M=4.5)
    with pytest.raises(ValueError):
        vecperf.Index(32, kind="ivf", encoding="zip")
    with pytest.raises(ValueError):
        vecperf.Index(32, "cosine", "flat").add(np.zeros((1, 32)))
    with pytest.raises(FileNotFoundError):
        vecperf.load(tmp_path / "missing.vpi")
    with pytest.raises(OSError):
        index.save(tmp_path / "no" / "such" / "dir.vpi")
    assert issubclass(vecperf.CorruptionError, vecperf.Error)


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign"])
def test_corrupted_file_raises_corruption_error(tmp_path, data, damage):
    base, _ = data
    index = vecperf.Index(32, kind="hnsw")
    index.add(base[:500])
    path = tmp_path / "index.vpi"
    index.save(path)
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) // 3]
    else:
        raw = bytearray(b"this is not an index file at all, just some text" * 10)
    path.write_bytes(bytes(raw))
    with pytest.raises(vecperf.CorruptionError) as e:
        vecperf.load(path)
    assert e.value.code == "Corruption"


def test_repr_and_docstrings():
    index = vecperf.Index(8, kind="hnsw")
    assert repr(index).startswith("<vecperf.Index hnsw(") and "dim=8" in repr(index)
    for obj in (vecperf, vecperf.Index, vecperf.Index.add, vecperf.Index.search, vecperf.plan,
                vecperf.load, vecperf.Plan, vecperf.EmbeddingCache, vecperf.Error,
                vecperf.CorruptionError, vecperf.EmbeddingCache.get_or_compute):
        assert obj.__doc__ and len(obj.__doc__) > 20, obj
    assert vecperf.Index.__module__ == "vecperf"
    assert isinstance(pathlib.Path(vecperf.__file__), pathlib.Path)



def test_add_takes_a_thread_count():
    rng = np.random.default_rng(3)
    data = rng.random((500, 8), dtype=np.float32)
    one = vecperf.Index(8, kind="hnsw", M=8)
    one.add(data, num_threads=1)
    again = vecperf.Index(8, kind="hnsw", M=8)
    again.add(data, num_threads=1)
    assert one.to_bytes() == again.to_bytes()  # one thread links the same graph every time
    with pytest.raises(ValueError, match="num_threads"):
        one.add(data[:1], num_threads=-1)
    assert len(one) == 500
