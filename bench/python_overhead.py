#!/usr/bin/python3
"""Overhead of the Python binding: the same batched searches through Python and through C++.

Builds seeded clustered data, an index per kind, saves it, and times searching all queries in
batches of B (each batch one search call) through `vecperf.Index.search` and through the C++
program vecperf_search_timer (bench/search_timer.cc) on the same file and queries.
Each measurement runs --repeats times; medians are reported, and the ratio python / C++
(goal: <= 1.05 for batches >= 100).

    /usr/bin/python3 bench/python_overhead.py [--build build] [--n 100000] [--dim 128] ...
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.environ.get("VECPERF_BUILD_DIR", "build"))
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="num_threads of each search call")
    p.add_argument("--kinds", default="flat,hnsw")
    p.add_argument("--batches", default="1,10,100,1000")
    a = p.parse_args()
    sys.path.insert(0, os.path.join(a.build, "python"))
    import numpy as np
    import vecperf

    timer = os.path.join(a.build, "bin", "vecperf_search_timer")
    batches = [int(b) for b in a.batches.split(",")]
    rng = np.random.default_rng(1)
    centres = np.random.default_rng(42).uniform(-1, 1, (64, a.dim))
    base = (centres[rng.integers(0, 64, a.n)] + rng.normal(0, 0.15, (a.n, a.dim))).astype(np.float32)
    queries = (centres[rng.integers(0, 64, a.queries)] +
               rng.normal(0, 0.15, (a.queries, a.dim))).astype(np.float32)
    print(f"n={a.n} dim={a.dim} queries={a.queries} k={a.k} threads/call={a.threads} "
          f"repeats={a.repeats} (medians)")
    with tempfile.TemporaryDirectory() as tmp:
        qpath = os.path.join(tmp, "queries.f32")
        queries.tofile(qpath)
        for kind in a.kinds.split(","):
            index = vecperf.Index(a.dim, "l2", kind)
            index.add(base)
            ipath = os.path.join(tmp, f"{kind}.vpi")
            index.save(ipath)
            out = subprocess.run([timer, ipath, qpath, str(a.queries), str(a.k), str(a.repeats),
                                  str(a.threads)] + [str(b) for b in batches],
                                 check=True, capture_output=True, text=True).stdout
            cpp = {int(line.split()[0][6:]): float(line.split()[1][9:]) for line in out.splitlines()}
            for batch in batches:
                times = []
                for r in range(-1, a.repeats):  # run -1 warms caches, as in the C++ timer
                    start = time.perf_counter()
                    for first in range(0, a.queries, batch):
                        index.search(queries[first:first + batch], a.k, num_threads=a.threads)
                    if r >= 0:
                        times.append(time.perf_counter() - start)
                py = statistics.median(times)
                print(f"{kind:5s} batch={batch:5d}  python {py * 1e3:9.2f} ms  C++ {cpp[batch] * 1e3:9.2f} ms"
                      f"  ratio python/C++ {py / cpp[batch]:.3f}")


if __name__ == "__main__":
    main()
