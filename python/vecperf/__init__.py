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

import json as _json

from ._vecperf import (  # noqa: F401  (re-exported)
    CorruptionError,
    EmbeddingCache,
    Error,
    Index,
    Plan,
    TuningResult,
    apply_tuning_profile,
    compute_ground_truth,
    from_bytes,
    gpu_available,
    load,
    merge_results,
    option_fields,
    parse_tuning_profile,
    plan,
    prometheus_text,
    read_vectors,
    set_memory_budget,
    set_metrics_name,
    tune,
    tune_held_out,
    write_vectors,
)
from ._vecperf import _performance_report

__all__ = ["Index", "Plan", "plan", "load", "from_bytes", "gpu_available", "EmbeddingCache", "Error",
           "CorruptionError", "TuningResult", "tune", "tune_held_out", "parse_tuning_profile",
           "apply_tuning_profile", "prometheus_text", "performance_report", "set_metrics_name",
           "set_memory_budget", "merge_results", "read_vectors", "write_vectors",
           "compute_ground_truth", "option_fields"]
__version__ = "0.1.0"



def performance_report(format="text", memory_budget=0):
    """A report of every live index and embedding cache in the process.

    format="text" returns a str for people; format="json" returns the report parsed into a dict
    {"process", "indexes", "caches", "devices", "warnings"} (docs/operations.md). memory_budget:
    bytes the process may use (0 = none); the report warns near it. ValueError for another
    format. Thread-safe.
    """
    text = _performance_report(format, memory_budget)
    return _json.loads(text) if format == "json" else text


for _name in __all__:
    globals()[_name].__module__ = "vecperf"


def _index_from_bytes(data):
    """Unpickles an Index from the bytes of Index.to_bytes().

    A Python function rather than from_bytes itself, because pickle refers to functions by
    module and name, and earlier pickles name this one.
    """
    return from_bytes(data)


def _index_reduce(self):
    return (_index_from_bytes, (self.to_bytes(),))


Index.__reduce__ = _index_reduce
