"""In-memory serialization (Index.to_bytes / vecperf.from_bytes), pickling, and the ids add()
assigns to a loaded index."""

import copy
import ctypes
import ctypes.util
import pickle

import numpy as np
import pytest

import vecperf

KINDS = {"flat": {}, "ivf": {"nlist": 16}, "hnsw": {"M": 8, "ef_construction": 64},
         "auto": {"flat_max": 1000, "nlist": 16}}


def built(kind, base, metric="l2"):
    index = vecperf.Index(32, metric, kind, **KINDS[kind])
    index.add(base, ids=np.arange(5, 5 + len(base)))
    index.remove([5, 100])
    return index


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bytes_are_the_saved_file_and_round_trip(kind, tmp_path, data):
    base, queries = data
    index = built(kind, base, "cosine")
    data_bytes = index.to_bytes()
    assert isinstance(data_bytes, bytes)
    path = tmp_path / "index.vpi"
    index.save(path)
    assert data_bytes == path.read_bytes()

    expected = index.search(queries, 10)
    copies = [vecperf.from_bytes(data_bytes), vecperf.from_bytes(bytearray(data_bytes)),
              vecperf.from_bytes(memoryview(data_bytes)), pickle.loads(pickle.dumps(index)),
              copy.deepcopy(index), vecperf.load(path)]
    for other in copies:
        assert other.kind == kind and other.metric == "cosine" and len(other) == len(index)
        assert 100 not in other and 101 in other
        assert other.default_search_options == index.default_search_options
        got = other.search(queries, 10)
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_array_equal(got[0], expected[0])


def test_pickle_keeps_working_without_the_file_system(monkeypatch, data):
    base, _ = data
    index = built("flat", base)

    def no_files(*args, **kwargs):
        raise AssertionError("pickling must not write files")

    monkeypatch.setattr("tempfile.TemporaryDirectory", no_files)
    monkeypatch.setattr("tempfile.mkstemp", no_files)
    copy_ = pickle.loads(pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL))
    assert len(copy_) == len(index)


def test_damaged_or_foreign_bytes(data):
    base, _ = data
    good = built("hnsw", base[:200]).to_bytes()
    for damaged in (good[:-1], good[:39], b"", good + b"\0",
                    good[:100] + bytes([good[100] ^ 0x01]) + good[101:]):
        with pytest.raises(vecperf.CorruptionError) as e:
            vecperf.from_bytes(damaged)
        assert e.value.code == "Corruption" and "bytes in memory" in str(e.value)
    with pytest.raises(TypeError, match="bytes-like"):
        vecperf.from_bytes("not bytes")
    with pytest.raises(TypeError, match="bytes-like"):
        vecperf.from_bytes(memoryview(good)[::2])  # strided: not one contiguous block


def _xxh64():
    """XXH64 from libxxhash, the library vecperf itself links (it is always installed with it)."""
    name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
    lib = ctypes.CDLL(name)
    lib.XXH64.restype = ctypes.c_uint64
    lib.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
    return lambda data: lib.XXH64(data, len(data), 0)


def test_newer_format_version_raises_not_supported(tmp_path, data):
    base, _ = data
    data_bytes = bytearray(built("flat", base[:100]).to_bytes())
    # docs/file-format.md: version (u32) at offset 8, XXH64 of bytes 0..31 at offset 32.
    data_bytes[8:12] = (2).to_bytes(4, "little")
    # Without fixing the header checksum the change is damage, not a newer version.
    with pytest.raises(vecperf.CorruptionError):
        vecperf.from_bytes(data_bytes)
    data_bytes[32:40] = _xxh64()(bytes(data_bytes[:32])).to_bytes(8, "little")

    path = tmp_path / "newer.vpi"
    path.write_bytes(data_bytes)
    for attempt in (lambda: vecperf.from_bytes(data_bytes), lambda: vecperf.load(path)):
        with pytest.raises(vecperf.Error) as e:
            attempt()
        assert type(e.value) is vecperf.Error  # not a CorruptionError: the file is fine
        assert e.value.code == "NotSupported"
        assert "version 2" in str(e.value) and "upgrade vecperf" in str(e.value)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_default_ids_after_load_never_collide(kind, tmp_path, data):
    base, _ = data
    index = vecperf.Index(32, "l2", kind, **KINDS[kind])
    index.add(base[:11], ids=list(range(10)) + [1000])
    index.remove([2, 5])  # 9 vectors left: a counter starting at len() would reuse id 9
    path = tmp_path / "ids.vpi"
    index.save(path)
    for loaded in (vecperf.load(path), vecperf.from_bytes(index.to_bytes()),
                   pickle.loads(pickle.dumps(index))):
        assert list(loaded.add(base[20:23])) == [1001, 1002, 1003]
        assert len(loaded) == 12 and all(i in loaded for i in (0, 9, 1000, 1003))
    # Once the largest id is removed, a loaded index starts after the largest one left.
    index.remove([1000])
    assert list(vecperf.from_bytes(index.to_bytes()).add(base[30:32])) == [10, 11]
    # A new index counts from 0, past every explicit id added through it.
    fresh = vecperf.Index(32, "l2", kind, **KINDS[kind])
    fresh.add(base[:2], ids=[7, 3])
    assert list(fresh.add(base[2:4])) == [8, 9]
