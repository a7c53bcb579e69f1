"""The GIL is released inside vector calls, and get_or_compute is single-flight across threads.

No timing assertions: with a huge switch interval a thread keeps the GIL until it blocks or
releases it, so the main thread can run Python code while a worker is inside a call only if
that call released the GIL.
"""

import collections
import sys
import threading
import time

import numpy as np
import pytest

import vecperf
from conftest import clustered


def ran_during(call, repeats=200):
    """How often this thread ran Python code while a worker thread was inside call()."""
    state = {"inside": False, "done": False, "ticks": 0}

    def worker():
        state["inside"] = True
        for _ in range(repeats):  # repeated until seen, so a busy machine cannot make it flaky
            call()
            if state["ticks"]:
                break
        state["done"] = True

    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        while not state["done"]:
            if state["inside"]:
                state["ticks"] += 1
            time.sleep(0.0005)  # blocks, so the worker can take the GIL back
        thread.join()
    finally:
        sys.setswitchinterval(old)
    return state["ticks"]


def test_harness_detects_a_call_that_holds_the_gil():
    assert ran_during(lambda: sum(range(200_000)), repeats=3) == 0


def test_search_releases_the_gil():
    index = vecperf.Index(64, kind="flat")
    index.add(clustered(20_000, 64, seed=3))
    queries = clustered(200, 64, seed=4)
    assert ran_during(lambda: index.search(queries, 10, num_threads=1)) > 0


def test_add_releases_the_gil():
    base = clustered(2_000, 32, seed=5)
    index = vecperf.Index(32, kind="hnsw")
    counter = iter(range(10**9))

    def add():
        first = next(counter) * len(base)
        index.add(base, np.arange(first, first + len(base)))

    assert ran_during(add) > 0


def test_get_many_releases_the_gil():
    cache = vecperf.EmbeddingCache(dim=256, model="m")
    texts = [f"text {i}" for i in range(20_000)]
    cache.put_many(texts, np.ones((len(texts), 256), np.float32))
    assert ran_during(lambda: cache.get_many(texts)) > 0


def test_concurrent_searches_agree_with_a_single_thread():
    index = vecperf.Index(32, kind="hnsw")
    index.add(clustered(3_000, 32, seed=6))
    queries = clustered(64, 32, seed=7)
    expected = index.search(queries, 10)
    results = [None] * 4

    def run(i):
        results[i] = index.search(queries, 10, num_threads=1)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        np.testing.assert_array_equal(got[1], expected[1])


def test_get_or_compute_embeds_each_distinct_text_once_across_threads():
    cache = vecperf.EmbeddingCache(dim=8, model="m")
    embedded = collections.Counter()
    lock = threading.Lock()
    start = threading.Barrier(4)

    def embed(batch):
        assert isinstance(batch, list) and all(isinstance(t, str) for t in batch)
        with lock:
            embedded.update(batch)
        time.sleep(0.01)  # let the other threads reach the same texts while this one computes
        return [[float(len(t))] * 8 for t in batch]

    texts = [f"doc-{i % 150}" for i in range(300)]
    results = [None] * 4

    def run(i):
        start.wait()
        results[i] = cache.get_or_compute(texts[i * 25:] + texts[: i * 25], embed, batch_size=16)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(embedded) == set(texts) and max(embedded.values()) == 1
    for i, got in enumerate(results):
        order = texts[i * 25:] + texts[: i * 25]
        np.testing.assert_array_equal(got[:, 0], [len(t) for t in order])
    assert cache.stats()["computed"] == 150


def test_concurrent_adds_with_default_ids_get_disjoint_ids():
    index = vecperf.Index(16, kind="flat")
    base = clustered(400, 16, seed=9)
    returned = [None] * 4

    def run(i):
        returned[i] = index.add(base)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(index) == 1600
    assert sorted(np.concatenate(returned).tolist()) == list(range(1600))


def test_a_failed_add_does_not_reuse_its_ids():
    index = vecperf.Index(4, kind="flat")
    with pytest.raises(ValueError):
        index.add(np.full((2, 4), np.nan))
    assert list(index.add(np.ones((1, 4)))) == [2]


def test_progress_callback_runs_with_the_gil_from_inside_add():
    # The callback is invoked from inside add(), which released the GIL: it must re-take it.
    seen = []
    index = vecperf.Index(16, kind="auto", flat_max=300, nlist=8,
                          progress=lambda done, total: seen.append(threading.get_ident()))
    index.add(clustered(1_000, 16, seed=8))
    assert seen and set(seen) == {threading.get_ident()}
