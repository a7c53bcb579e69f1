"""vecperf: embedded vector search and an embedding cache.

    import numpy as np, vecperf
    index = vecperf.Index(128, metric="cosine", kind="hnsw")
    index.add(np.random.rand(1000, 128).astype(np.float32))
    distances, ids = index.search(queries, k=10)

    with vecperf.EmbeddingCache("cache-dir", dim=768, model="my-model") as cache:
        vectors = cache.get_or_compute(texts, my_model.encode)

The classes are the C++ engine's, bound thinly (vecperf._vecperf); see help(vecperf.Index),
help(vecperf.EmbeddingCache) and docs/python.md.
"""

import os as _os
import tempfile as _tempfile

from ._vecperf import (  # noqa: F401  (re-exported)
    CorruptionError,
    EmbeddingCache,
    Error,
    Index,
    Plan,
    gpu_available,
    load,
    plan,
)

__all__ = ["Index", "Plan", "plan", "load", "gpu_available", "EmbeddingCache", "Error",
           "CorruptionError"]
__version__ = "0.1.0"

for _name in __all__:
    globals()[_name].__module__ = "vecperf"


def _index_from_bytes(data):
    """Unpickles an Index: the bytes of a file written by Index.save()."""
    with _tempfile.TemporaryDirectory(prefix="vecperf-") as tmp:
        path = _os.path.join(tmp, "index.vpi")
        with open(path, "wb") as f:
            f.write(data)
        return load(path)


def _index_reduce(self):
    # The C++ API serialises to files only, so pickling goes through a temporary file.
    with _tempfile.TemporaryDirectory(prefix="vecperf-") as tmp:
        path = _os.path.join(tmp, "index.vpi")
        self.save(path)
        with open(path, "rb") as f:
            return (_index_from_bytes, (f.read(),))


Index.__reduce__ = _index_reduce
