"""Index options by name: specs, keywords and the option list come from the library's one table."""
import numpy as np
import pytest

import vecperf


def test_from_spec_builds_the_described_index():
    index = vecperf.Index.from_spec("hnsw,M=12,ef_search=40", 8)
    assert index.kind == "hnsw" and index.dim == 8
    assert "M=12, ef_construction=200, ef_search=40" in index.describe()
    cosine = vecperf.Index.from_spec("flat,dim=16,metric=cosine")
    assert cosine.dim == 16 and cosine.metric == "cosine"
    assert vecperf.Index.from_spec("flat,dim=16", metric="ip").metric == "ip"
    auto = vecperf.Index.from_spec("auto:flat_max=50,nlist=4,hnsw.M=8", 4)
    auto.add(np.random.default_rng(1).random((60, 4), dtype=np.float32))
    assert "stage=ivf" in auto.describe()


@pytest.mark.parametrize("spec,message", [
    ("lsh", "unknown index kind 'lsh'"),
    ("hnsw,M=1", r"hnsw.M must be in \[2, 256\]"),
    ("hnsw,M", "expected name=value"),
    ("ivf,encoding=zip", "unknown ivf.encoding 'zip'"),
    ("hnsw", "dim must be in"),  # no dim anywhere
])
def test_bad_specs_raise_value_error(spec, message):
    with pytest.raises(ValueError, match=message):
        vecperf.Index.from_spec(spec)


def test_plan_spec_round_trips():
    p = vecperf.plan(200_000, 32)
    assert p.spec.startswith("ivf,dim=32,nlist=")
    built = vecperf.Index.from_spec(p.spec)
    assert built.describe() == p.make_index().describe()


def test_option_fields_list_every_keyword():
    fields = {f["name"]: f for f in vecperf.option_fields("ivf")}
    assert list(fields) == ["nlist", "nprobe", "encoding", "pq_m", "rerank", "train_threshold",
                            "max_train_samples", "seed"]
    assert fields["nprobe"] == {"name": "nprobe", "type": "int", "default": "16",
                                "allowed": ">= 1"}
    assert fields["encoding"]["type"] == "str"
    gpu = {f["name"]: f["type"] for f in vecperf.option_fields("gpu_flat")}
    assert gpu == {"dtype": "str", "device": "int", "memory_fraction": "float",
                   "prefer_gpu": "bool", "allow_tf32": "bool"}
    assert vecperf.option_fields("flat") == []
    with pytest.raises(ValueError):
        vecperf.option_fields("lsh")


def test_gpu_flat_options_are_keywords():
    # Without a device, prefer_gpu falls back to a CPU Flat index; the options still parse.
    index = vecperf.Index(8, kind="gpu_flat", dtype="float16", memory_fraction=0.5,
                          prefer_gpu=True, allow_tf32=False)
    assert index.kind in ("gpu_flat", "flat")
    with pytest.raises(TypeError, match="expected a bool"):
        vecperf.Index(8, kind="gpu_flat", prefer_gpu=1)
    with pytest.raises(ValueError, match=r"memory_fraction must be in \(0, 1\]"):
        vecperf.Index(8, kind="gpu_flat", memory_fraction=2.0, prefer_gpu=True)


def test_keyword_types_are_checked():
    with pytest.raises(TypeError, match="expected an int"):
        vecperf.Index(8, kind="hnsw", M="32")
    with pytest.raises(TypeError, match="expected an int"):
        vecperf.Index(8, kind="hnsw", M=True)
    # Floats may be given as ints; auto's stage options by prefix through a dict.
    vecperf.Index(8, kind="auto", target_recall=1, **{"hnsw.seed": 5})
