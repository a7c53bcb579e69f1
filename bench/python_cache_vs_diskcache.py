#!/usr/bin/python3
"""vecperf.EmbeddingCache against diskcache (Debian python3-diskcache) for 768-d float32 vectors.

Both caches hold the same --n entries; lookups read every key once in a seeded random order.
  RAM hit:  vecperf with its RAM tier holding everything; diskcache with its SQLite file hot
            in the OS page cache (it has no RAM tier of its own).
  disk hit: vecperf tiering="disk_only" (RocksDB, hot block cache); diskcache as above.
vecperf is timed with get_many in batches of --batch and with one get() per key; diskcache with
one get() per key (bytes values, decoded with np.frombuffer, as a user would store vectors).
  put:      the same --n entries written into a fresh cache, vecperf with put_many in batches of
            --batch and with one put() per entry, diskcache with one set() per entry (its
            transaction() context batches them into one SQLite transaction: timed too).
The floor row is what any binding pays per single lookup: one Python call that returns a fresh
(dim,) float32 array (ndarray.copy of a stored one), with no lookup at all.
Each measurement runs --repeats times; medians and ratios vs diskcache are printed
(goal: >= 20x diskcache throughput).

    /usr/bin/python3 bench/python_cache_vs_diskcache.py [--build build] [--n 20000]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.environ.get("VECPERF_BUILD_DIR", "build"))
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    sys.path.insert(0, os.path.join(a.build, "python"))
    import diskcache
    import numpy as np
    import vecperf

    rng = np.random.default_rng(1)
    texts = [f"document number {i} with some text" for i in range(a.n)]
    vectors = rng.random((a.n, a.dim), dtype=np.float32)
    order = [texts[i] for i in rng.permutation(a.n)]
    batches = [order[i:i + a.batch] for i in range(0, a.n, a.batch)]

    def rate(fn, setup=None):
        times = []
        for _ in range(a.repeats):
            state = setup() if setup else None
            start = time.perf_counter()
            fn(state) if setup else fn()
            times.append(time.perf_counter() - start)
        return a.n / statistics.median(times)

    def vp_batched(cache):
        def run():
            for b in batches:
                _, found = cache.get_many(b)
                assert found.all()
        return run

    def vp_single(cache):
        def run():
            for t in order:
                assert cache.get(t) is not None
        return run

    with tempfile.TemporaryDirectory() as tmp:
        dc = diskcache.Cache(os.path.join(tmp, "diskcache"))
        for t, v in zip(texts, vectors):
            dc.set(t, v.tobytes())

        def dc_single():
            for t in order:
                assert np.frombuffer(dc.get(t), dtype=np.float32).shape == (a.dim,)

        dc_rate = rate(dc_single)
        stored = vectors[0]

        def copies():
            for _ in order:
                stored.copy()

        floor = rate(copies)
        print(f"n={a.n} dim={a.dim} batch={a.batch} repeats={a.repeats} (median lookups/s)")
        print(f"diskcache get (SQLite, page cache hot):  {dc_rate:12,.0f}/s")
        print(f"floor: one call returning a new array:   {floor:12,.0f}/s  {floor / dc_rate:6.1f}x diskcache")
        for label, tiering, ram in (("RAM hit ", "ram_over_disk", 1 << 30), ("disk hit", "disk_only", 1 << 20)):
            with vecperf.EmbeddingCache(os.path.join(tmp, f"vp-{tiering}"), dim=a.dim, model="bench",
                                        tiering=tiering, ram_bytes=ram) as cache:
                cache.put_many(texts, vectors)
                cache.get_many(texts)  # warm: RAM tier / block cache
                batched = rate(vp_batched(cache))
                single = rate(vp_single(cache))
            print(f"vecperf {label} get_many({a.batch}):       {batched:12,.0f}/s  {batched / dc_rate:6.1f}x diskcache")
            print(f"vecperf {label} get:                 {single:12,.0f}/s  {single / dc_rate:6.1f}x diskcache")
        dc.close()
        bench_puts(a, tmp, texts, vectors, rate)


def bench_puts(a, tmp, texts, vectors, rate):
    import diskcache
    import vecperf
    fresh = iter(range(10 ** 9))

    def new_dir():
        return os.path.join(tmp, f"put-{next(fresh)}")

    def dc_set(dc):
        for t, v in zip(texts, vectors):
            dc.set(t, v.tobytes())
        dc.close()

    def dc_set_transaction(dc):
        with dc.transact():
            for t, v in zip(texts, vectors):
                dc.set(t, v.tobytes())
        dc.close()

    def vp_put_many(cache):
        for i in range(0, a.n, a.batch):
            cache.put_many(texts[i:i + a.batch], vectors[i:i + a.batch])
        cache.close()

    def vp_put(cache):
        for t, v in zip(texts, vectors):
            cache.put(t, v)
        cache.close()

    dc_rate = rate(dc_set, lambda: diskcache.Cache(new_dir()))
    dc_tx = rate(dc_set_transaction, lambda: diskcache.Cache(new_dir()))
    print(f"diskcache set (one transaction each):    {dc_rate:12,.0f}/s")
    print(f"diskcache set (all in one transaction):  {dc_tx:12,.0f}/s")
    for label, tiering in (("RAM+disk", "ram_over_disk"), ("disk    ", "disk_only")):
        def open_cache():
            return vecperf.EmbeddingCache(new_dir(), dim=a.dim, model="bench", tiering=tiering,
                                          ram_bytes=1 << 30)
        batched = rate(vp_put_many, open_cache)
        single = rate(vp_put, open_cache)
        print(f"vecperf {label} put_many({a.batch}):       {batched:12,.0f}/s  {batched / dc_rate:6.1f}x diskcache")
        print(f"vecperf {label} put:                 {single:12,.0f}/s  {single / dc_rate:6.1f}x diskcache")


if __name__ == "__main__":
    main()
