"""vecperf.prometheus_text, performance_report and set_metrics_name."""

import re
import uuid

import numpy as np
import pytest

import vecperf
from conftest import clustered

LINE = re.compile(r'^(\w+)\{([^}]*)\} (\S+)$')


def series(text, name, **labels):
    """Values of the exposition lines of metric `name` whose labels include `labels`."""
    values = []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        if all(found.get(k) == v for k, v in labels.items()):
            values.append(float(m.group(3)))
    return values


def test_search_counters_and_report():
    name = "pytest-" + uuid.uuid4().hex[:8]
    index = vecperf.Index(16, "l2", "flat")
    index.add(clustered(200, 16, seed=5))
    vecperf.set_metrics_name(index, name)
    queries = clustered(3, 16, seed=6)
    searches = 7
    for _ in range(searches):
        index.search(queries, k=5)
    text = vecperf.prometheus_text()
    assert series(text, "vecperf_index_calls_total", index=name, op="search") == [searches]
    assert series(text, "vecperf_index_search_queries_total", index=name) == [searches * 3]
    assert series(text, "vecperf_index_vectors", index=name) == [200]
    vecperf.set_memory_budget(index, 1 << 30)
    assert series(vecperf.prometheus_text(), "vecperf_index_memory_budget_bytes",
                  index=name) == [1 << 30]
    report = vecperf.performance_report("json")
    assert isinstance(report, dict) and "warnings" in report
    assert [x for x in report["indexes"] if x["name"] == name]
    assert name in vecperf.performance_report()


def test_cache_name_and_bad_input(tmp_path):
    name = "pytest-cache-" + uuid.uuid4().hex[:8]
    with vecperf.EmbeddingCache(tmp_path / "c", dim=4, model="m") as cache:
        vecperf.set_metrics_name(cache, name)
        cache.put("a", np.ones(4, np.float32))
        cache.get("a")
        assert f'cache="{name}"' in vecperf.prometheus_text()
    with pytest.raises(ValueError, match="closed"):
        vecperf.set_metrics_name(cache, name)
    with pytest.raises(TypeError):
        vecperf.set_metrics_name(object(), "x")
    with pytest.raises(ValueError, match="format"):
        vecperf.performance_report("xml")
