"""vecperf.EmbeddingCache: get/put, get_or_compute with Python embedders, tiers, errors."""

import datetime
import pathlib

import numpy as np
import pytest

import vecperf


def vectors(n, dim, seed=0):
    return np.random.default_rng(seed).random((n, dim), dtype=np.float32)


def test_put_get_round_trip_in_ram():
    cache = vecperf.EmbeddingCache(dim=16, model="m")
    v = vectors(3, 16)
    cache.put_many(["a", "b", "c"], v)
    got, found = cache.get_many(["c", "missing", "a"])
    assert list(found) == [True, False, True] and got.dtype == np.float32 and got.shape == (3, 16)
    np.testing.assert_array_equal(got[0], v[2])
    np.testing.assert_array_equal(got[1], np.zeros(16))
    np.testing.assert_array_equal(got[2], v[0])
    assert cache.get("missing") is None
    np.testing.assert_array_equal(cache.get("b"), v[1])
    cache.put("d", v[0].astype(np.float64))  # a single vector, converted
    np.testing.assert_array_equal(cache.get("d"), v[0])
    assert cache.get(b"d") is not None  # bytes are UTF-8 text
    assert len(cache.key("a")) == 32 and cache.key("a") != cache.key("b")


def test_get_or_compute_calls_the_embedder_only_for_misses():
    cache = vecperf.EmbeddingCache(dim=4, model="m")
    calls = []

    def embed(batch):
        calls.append(list(batch))
        return np.array([[len(t), 0, 0, 1] for t in batch], dtype=np.float64)

    out = cache.get_or_compute(["aa", "b", "aa", "ccc"], embed, batch_size=2)
    assert out.shape == (4, 4) and list(out[:, 0]) == [2, 1, 2, 3]
    assert sorted(t for c in calls for t in c) == ["aa", "b", "ccc"]
    assert all(len(c) <= 2 for c in calls)
    calls.clear()
    out = cache.get_or_compute(["ccc", "dddd"], embed)
    assert calls == [["dddd"]] and list(out[:, 0]) == [3, 4]
    stats = cache.stats()
    assert stats["computed"] == 4 and stats["ram"]["hits"] >= 1 and 0 < stats["hit_rate"] < 1


def test_get_or_compute_reports_progress(monkeypatch):
    cache = vecperf.EmbeddingCache(dim=2, model="m")
    cache.put("cached", np.ones(2, np.float32))
    reports = []
    texts = ["cached"] + [f"t{i}" for i in range(10)]
    cache.get_or_compute(texts, lambda b: np.zeros((len(b), 2)), batch_size=4,
                         progress=lambda done, total: reports.append((done, total)))
    assert reports == [(4, 11), (8, 11), (10, 11), (11, 11)]

    def broken_progress(done, total):
        raise RuntimeError("progress bars must not break the work")

    unraisable = []
    monkeypatch.setattr("sys.unraisablehook", unraisable.append)
    out = cache.get_or_compute(["new"], lambda b: np.ones((len(b), 2)), progress=broken_progress)
    np.testing.assert_array_equal(out, np.ones((1, 2)))
    assert unraisable and "must not break" in str(unraisable[0].exc_value)
    with pytest.raises(TypeError):
        cache.get_or_compute(["x"], lambda b: np.ones((len(b), 2)), progress="yes")


def test_embed_exception_propagates_unchanged_and_nothing_is_cached():
    cache = vecperf.EmbeddingCache(dim=4, model="m")

    class ModelDown(RuntimeError):
        pass

    def failing(batch):
        raise ModelDown("the model server said no")

    with pytest.raises(ModelDown, match="the model server said no") as e:
        cache.get_or_compute(["x", "y"], failing)
    assert "failing" in "".join(str(t.name) for t in e.traceback)
    _, found = cache.get_many(["x", "y"])
    assert not found.any()
    # The texts are computable again afterwards.
    out = cache.get_or_compute(["x"], lambda b: np.ones((len(b), 4)))
    assert out.shape == (1, 4)


@pytest.mark.parametrize("result, error", [
    (lambda b: np.ones((len(b), 5)), ValueError),          # wrong dimension
    (lambda b: np.ones((len(b) + 1, 4)), ValueError),      # wrong row count
    (lambda b: [["a"] * 4 for _ in b], TypeError),          # not numbers
    (lambda b: np.full((len(b), 4), np.nan), ValueError),  # non-finite (checked by C++)
])
def test_bad_embedder_output_raises_and_caches_nothing(result, error):
    cache = vecperf.EmbeddingCache(dim=4, model="m")
    with pytest.raises(error):
        cache.get_or_compute(["p", "q"], result)
    assert not cache.get_many(["p", "q"])[1].any()


def test_disk_tier_persists_and_context_manager_closes(tmp_path):
    path = tmp_path / "cache"
    v = vectors(50, 32)
    texts = [f"t{i}" for i in range(50)]
    with vecperf.EmbeddingCache(path, dim=32, model="m", sync=True) as cache:
        cache.put_many(texts, v)
        assert cache.path == str(path) and "path=" in repr(cache)
    assert cache.closed and "closed" in repr(cache)
    with pytest.raises(ValueError):
        cache.get("t1")
    cache.close()  # idempotent
    with vecperf.EmbeddingCache(str(path), dim=32, model="m", ram_bytes=1 << 20) as reopened:
        got, found = reopened.get_many(texts)
        assert found.all()
        np.testing.assert_array_equal(got, v)
        assert reopened.stats()["disk"]["hits"] == 50
        # Another model's keys are different.
    with vecperf.EmbeddingCache(path, dim=32, model="other") as other:
        assert not other.get_many(texts)[1].any()


def test_float16_and_ttl_options(tmp_path):
    cache = vecperf.EmbeddingCache(dim=8, model="m", dtype=np.float16)
    v = vectors(2, 8)
    cache.put_many(["a", "b"], v)
    np.testing.assert_allclose(cache.get_many(["a", "b"])[0], v, rtol=1e-3)
    ttl_cache = vecperf.EmbeddingCache(tmp_path / "c", dim=8, model="m",
                                       ttl=datetime.timedelta(hours=1), tiering="disk_only")
    ttl_cache.put("a", v[0], ttl=0)
    ttl_cache.flush()
    assert ttl_cache.get("a") is not None
    ttl_cache.close()


def test_stats_and_prometheus():
    cache = vecperf.EmbeddingCache(dim=4, model="m")
    cache.put("a", np.ones(4, np.float32))
    cache.get_many(["a", "b"])
    s = cache.stats()
    assert s["lookups"] == 2 and s["ram"]["hits"] == 1 and s["ram"]["misses"] == 1
    assert s["get_latency"]["count"] == 1 and s["put_latency"]["count"] == 1
    text = cache.prometheus()
    assert "# TYPE" in text and "vecperf_cache_" in text


def test_error_paths(tmp_path):
    with pytest.raises(ValueError):
        vecperf.EmbeddingCache(dim=0, model="m")
    with pytest.raises(ValueError):
        vecperf.EmbeddingCache(dim=4, model="")
    with pytest.raises(ValueError):
        vecperf.EmbeddingCache(dim=4, model="m", dtype="int8")
    with pytest.raises(ValueError):
        vecperf.EmbeddingCache(dim=4, model="m", tiering="tape")
    with pytest.raises(ValueError):
        vecperf.EmbeddingCache(dim=4, model="m", tiering="disk_only")  # needs a path
    cache = vecperf.EmbeddingCache(dim=4, model="m")
    with pytest.raises(ValueError, match=r"expected shape \(n, 4\) or \(4,\), got \(2, 3\)"):
        cache.put_many(["a", "b"], np.ones((2, 3)))
    with pytest.raises(ValueError):
        cache.put_many(["a", "b"], np.ones((3, 4)))
    with pytest.raises(ValueError):
        cache.put("a", np.full(4, np.inf))
    with pytest.raises(TypeError):
        cache.get_many("not a list")
    with pytest.raises(TypeError, match=r"texts\[1\]: expected str, got int"):
        cache.get_many(["ok", 3])
    with pytest.raises(TypeError, match="text: expected str, got NoneType"):
        cache.get(None)
    with pytest.raises(UnicodeEncodeError):
        cache.get("\ud800")  # a lone surrogate has no UTF-8 form
    with pytest.raises(TypeError):
        cache.get_or_compute(["a"], "not callable")
    with pytest.raises(ValueError):
        cache.get_or_compute(["a"], lambda b: np.ones((1, 4)), batch_size=0)
    # A directory open in one cache is locked for another.
    first = vecperf.EmbeddingCache(tmp_path / "locked", dim=4, model="m")
    with pytest.raises(vecperf.Error) as e:
        vecperf.EmbeddingCache(pathlib.Path(tmp_path / "locked"), dim=4, model="m")
    assert e.value.code in ("Unavailable", "IOError") or isinstance(e.value, OSError)
    first.close()
    # A file where the directory should be.
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        vecperf.EmbeddingCache(tmp_path / "file", dim=4, model="m")
