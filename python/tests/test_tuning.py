"""vecperf.tune, tune_held_out and tuning profiles, checked against a numpy brute-force oracle."""

import json

import numpy as np
import pytest

import vecperf
from conftest import brute_force, recall

TARGET = 0.9
K = 10


def build(kind, base, **params):
    index = vecperf.Index(base.shape[1], "l2", kind, **params)
    index.add(base)
    return index


@pytest.mark.parametrize("kind,knob,params", [("ivf", "nprobe", {"nlist": 32}),
                                               ("hnsw", "ef_search", {"M": 8})])
def test_tuned_knob_reaches_target_on_brute_force(kind, knob, params):
    # Uniform data: unlike well-separated clusters, the smallest knob values miss the target, so
    # the search has something to find.
    rng = np.random.default_rng(11)
    base = rng.random((4000, 32), dtype=np.float32)
    queries = rng.random((100, 32), dtype=np.float32)
    index = build(kind, base, **params)
    result = vecperf.tune(index, queries, TARGET, K, num_threads=2)
    assert isinstance(result, vecperf.TuningResult)
    assert result.kind == kind and result.knob == knob
    assert result.min_value <= result.value <= result.max_value
    assert result.met_target and result.complete and result.applied and not result.held_out
    assert result.recall >= TARGET and result.k == K and result.target_recall == TARGET
    assert result.sample_size == len(queries) and result.evaluations >= 1
    assert result.search_options[knob] == result.value
    # Applied: the tuned value is now the index's default, used when a search passes no knob.
    assert index.default_search_options[knob] == result.value
    _, truth = brute_force(base, np.arange(len(base)), queries, K, "l2")
    _, found = index.search(queries, K, **{knob: result.value})
    assert recall(found, truth) >= TARGET - 0.02
    _, found_default = index.search(queries, K)
    np.testing.assert_array_equal(found_default, found)
    assert f"{knob}={result.value}" in repr(result)


def test_apply_false_leaves_defaults(data):
    base, queries = data
    index = build("ivf", base, nlist=32, nprobe=32)
    before = index.default_search_options
    assert before["nprobe"] == 32 and before["ef_search"] == 0
    result = vecperf.tune(index, queries, TARGET, K, apply=False, num_threads=2)
    assert not result.applied
    assert index.default_search_options == before


def test_held_out_and_progress(data):
    base, _ = data
    index = build("ivf", base, nlist=32)
    calls = []
    result = vecperf.tune_held_out(index, TARGET, K, sample_size=300, seed=3, num_threads=2,
                                   progress=lambda done, total: calls.append((done, total)))
    assert result.held_out and result.sample_size == 300 and result.knob == "nprobe"
    assert calls and all(0 < done <= total for done, total in calls)
    assert len(calls) == result.evaluations


def test_flat_has_nothing_to_tune(data):
    base, queries = data
    result = vecperf.tune(build("flat", base), queries, TARGET, K)
    assert result.knob == "" and result.value == 0 and result.recall == 1.0


def test_profile_round_trip_and_apply(data):
    base, queries = data
    index = build("ivf", base, nlist=32)
    result = vecperf.tune(index, queries, TARGET, K, num_threads=2)
    text = result.to_json()
    parsed = json.loads(text)
    assert parsed["format"] == "vecperf-tuning-profile" and parsed["tuned_knob"] == "nprobe"
    profile = vecperf.parse_tuning_profile(text)
    for field in ["kind", "knob", "value", "min_value", "max_value", "k", "met_target",
                  "search_options", "sample_size", "evaluations"]:
        assert getattr(profile, field) == getattr(result, field), field
    for field in ["target_recall", "recall", "latency_p50_ms"]:
        assert getattr(profile, field) == pytest.approx(getattr(result, field)), field
    other = build("ivf", base, nlist=32, nprobe=32)
    vecperf.apply_tuning_profile(other, profile)
    assert other.default_search_options["nprobe"] == result.value
    hnsw = build("hnsw", base[:500])
    with pytest.raises(ValueError):
        vecperf.apply_tuning_profile(hnsw, profile)


def test_bad_input(data):
    base, queries = data
    index = build("ivf", base, nlist=32)
    with pytest.raises(ValueError):
        vecperf.tune(index, queries, 1.5, K)
    with pytest.raises(ValueError, match=r"\(n, 32\)"):
        vecperf.tune(index, queries[:, :16], TARGET, K)
    with pytest.raises(TypeError, match="vecperf.Index"):
        vecperf.tune(object(), queries, TARGET, K)
    with pytest.raises(ValueError):
        vecperf.parse_tuning_profile("{not json")
    with pytest.raises(ValueError):
        vecperf.tune_held_out(build("hnsw", base[:1]), TARGET, K)
