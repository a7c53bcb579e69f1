// vecperf.EmbeddingCache: conversions around the C++ EmbeddingCache. Every call releases the GIL
// (lookups, RocksDB writes and fsyncs); the Python embed function runs with the GIL re-taken.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "convert.h"
#include "objects.h"
#include "vecperf/cache.h"

namespace vecperf::python {
namespace {

using namespace pybind11::literals;

/// The Python object behind vecperf.EmbeddingCache. The C++ cache is shared with the calls in
/// flight, so close() from one thread never destroys it under a call running in another
/// (destroying a cache must not race with its calls); the last of them closes RocksDB.
class PyCache {
 public:
  explicit PyCache(std::unique_ptr<EmbeddingCache> cache) : cache_(std::move(cache)) {}

  /// The open cache; ValueError after close(), as for a closed Python file.
  std::shared_ptr<EmbeddingCache> get() const {
    if (!cache_) throw py::value_error("operation on a closed EmbeddingCache");
    return cache_;
  }
  bool closed() const { return cache_ == nullptr; }
  void close() {
    std::shared_ptr<EmbeddingCache> cache = std::move(cache_);
    cache_.reset();
    if (!cache) return;
    Status status;
    {
      py::gil_scoped_release release;
      status = cache->flush();
      cache.reset();
    }
    throw_if_error(status);
  }

 private:
  std::shared_ptr<EmbeddingCache> cache_;
};

/// None -> `none_value`; an int of seconds or a datetime.timedelta.
int64_t seconds(py::object ttl, int64_t none_value) {
  if (ttl.is_none()) return none_value;
  if (py::hasattr(ttl, "total_seconds"))
    return cast_arg<int64_t>(ttl.attr("total_seconds")().attr("__int__")(), "ttl");
  return cast_arg<int64_t>(ttl, "ttl");
}

PyCache open_cache(std::optional<std::filesystem::path> path, int64_t dim, std::string model,
                   std::string model_version, uint64_t ram_bytes, int ram_shards, py::object dtype,
                   py::object ttl, bool sync, const std::string& tiering,
                   uint64_t disk_max_entries) {
  CacheOptions o;
  o.path = path ? path->string() : "";
  o.dim = dim;
  o.model = std::move(model);
  o.model_version = std::move(model_version);
  o.ram_budget_bytes = ram_bytes;
  o.ram_shards = ram_shards;
  // numpy spells the dtype: "float16", np.float16 and np.dtype("f2") are all accepted.
  const std::string dtype_name =
      py::str(py::module_::import("numpy").attr("dtype")(dtype).attr("name"));
  o.dtype = value_or_throw(parse_cache_dtype(dtype_name));
  o.ttl_seconds = seconds(ttl, 0);
  o.durability = sync ? CacheDurability::kSyncEachWrite : CacheDurability::kProcessCrash;
  o.tiering = value_or_throw(parse_cache_tiering(tiering));
  o.disk_max_entries = disk_max_entries;
  Result<std::unique_ptr<EmbeddingCache>> cache = [&] {
    py::gil_scoped_release release;
    return EmbeddingCache::open(o);
  }();
  return PyCache(value_or_throw(std::move(cache)));
}

py::tuple get_many(const PyCache& self, py::object texts) {
  std::shared_ptr<EmbeddingCache> cache = self.get();
  Texts t = to_texts(texts);
  const auto n = static_cast<int64_t>(t.views.size());
  py::array_t<float> out({n, cache->dim()});
  py::array_t<bool> found(n);
  float* out_data = out.mutable_data();
  std::memset(out_data, 0, static_cast<size_t>(out.nbytes()));  // misses read as zero rows
  auto* found_data = reinterpret_cast<uint8_t*>(found.mutable_data());
  Status status;
  {
    py::gil_scoped_release release;
    status = cache->get_many(t.views, out_data, found_data);
  }
  throw_if_error(status);
  return py::make_tuple(out, found);
}

// The single-text path skips to_texts' sequence handling: a get() costs about a microsecond,
// of which the containers would be a measurable part.
py::object get_one(const PyCache& self, py::handle text) {
  std::shared_ptr<EmbeddingCache> cache = self.get();
  const std::optional<std::string_view> view = text_bytes(text.ptr());
  if (!view) throw py::type_error("text: expected str, got " + type_name(text.ptr()));
  py::array_t<float> out(cache->dim());
  float* data = out.mutable_data();
  uint8_t found = 0;
  Status status;
  {
    py::gil_scoped_release release;
    status = cache->get_many(std::span(&*view, 1), data, &found);
  }
  throw_if_error(status);
  return found ? py::object(std::move(out)) : py::none();
}

void put_many(const PyCache& self, py::object texts, py::object vectors, py::object ttl) {
  std::shared_ptr<EmbeddingCache> cache = self.get();
  Texts t = to_texts(texts);
  Matrix v = to_matrix(vectors, cache->dim(), "vectors");
  const int64_t ttl_seconds = seconds(ttl, EmbeddingCache::kDefaultTtl);
  Status status;
  {
    py::gil_scoped_release release;
    status = cache->put_many(t.views, v.view, ttl_seconds);
  }
  throw_if_error(status);
}

/// Per-call state of get_or_compute's embed callback: the first Python exception it caught,
/// re-raised unchanged (type, message, traceback) once the C++ call has returned.
struct EmbedCall {
  py::object fn;
  int64_t dim;
  py::object progress;  // None, or called with (texts embedded so far, texts requested)
  int64_t total;
  int64_t done = 0;
  std::mutex mu;
  std::optional<py::error_already_set> error;

  Status operator()(std::span<const std::string_view> texts, std::vector<float>* out) {
    py::gil_scoped_acquire gil;
    try {
      py::list batch(texts.size());
      for (size_t i = 0; i < texts.size(); ++i)
        batch[i] = py::str(texts[i].data(), texts[i].size());
      Matrix m = to_matrix(fn(batch), dim, "embed_fn result");
      if (m.view.rows != static_cast<int64_t>(texts.size())) {
        throw py::value_error("embed_fn result: expected shape (" + std::to_string(texts.size()) +
                              ", " + std::to_string(dim) + "), got " + std::to_string(m.view.rows) +
                              " rows");
      }
      out->assign(m.view.data, m.view.data + m.view.rows * m.view.dim);
      done += m.view.rows;
      report_progress(progress, std::min(done, total), total);
      return Status::OK();
    } catch (py::builtin_exception& e) {  // raised by the conversions above
      e.set_error();
      return capture(py::error_already_set());
    } catch (py::error_already_set& e) {  // raised by embed_fn itself
      return capture(std::move(e));
    }
  }

  Status capture(py::error_already_set e) {
    const std::string what = e.what();
    std::lock_guard<std::mutex> lock(mu);
    if (!error) error.emplace(std::move(e));
    return Status::Unavailable("embed_fn raised " + what);
  }
};

py::array_t<float> get_or_compute(const PyCache& self, py::object texts, py::object embed_fn,
                                  int64_t batch_size, py::object progress) {
  std::shared_ptr<EmbeddingCache> cache = self.get();
  if (!PyCallable_Check(embed_fn.ptr())) throw py::type_error("embed_fn: expected a callable");
  Texts t = to_texts(texts);
  const auto total = static_cast<int64_t>(t.views.size());
  EmbedCall call{
      embed_fn, cache->dim(), resolve_progress(progress, "vecperf: embedding"), total, 0, {}, {}};
  py::array_t<float> out({static_cast<int64_t>(t.views.size()), cache->dim()});
  float* data = out.mutable_data();
  Status status;
  {
    py::gil_scoped_release release;
    status = cache->get_or_compute(t.views, std::ref(call), batch_size, data);
  }
  if (call.error) throw *call.error;
  throw_if_error(status);
  report_progress(call.progress, total, total);  // the cached texts count as done at the end
  return out;
}

py::dict tier_stats(const CacheTierStats& s) {
  return py::dict("hits"_a = s.hits, "misses"_a = s.misses, "evictions"_a = s.evictions,
                  "bytes"_a = s.bytes, "entries"_a = s.entries);
}

py::dict latency(const CacheLatency& l) {
  return py::dict("count"_a = l.count, "p50_us"_a = l.p50_us, "p95_us"_a = l.p95_us,
                  "p99_us"_a = l.p99_us, "p999_us"_a = l.p999_us);
}

py::dict stats(const PyCache& self) {
  std::shared_ptr<EmbeddingCache> cache = self.get();
  CacheStats s;
  {
    py::gil_scoped_release release;
    s = cache->stats();
  }
  return py::dict("ram"_a = tier_stats(s.ram), "disk"_a = tier_stats(s.disk),
                  "lookups"_a = s.lookups, "hit_rate"_a = s.hit_rate, "computed"_a = s.computed,
                  "corrupt_records"_a = s.corrupt_records, "get_latency"_a = latency(s.get_latency),
                  "put_latency"_a = latency(s.put_latency));
}

std::string repr(const PyCache& self) {
  if (self.closed()) return "<vecperf.EmbeddingCache (closed)>";
  const CacheOptions& o = self.get()->options();
  return "<vecperf.EmbeddingCache model=" + std::string(py::repr(py::str(o.model))) +
         " dim=" + std::to_string(o.dim) + " dtype=" + cache_dtype_name(o.dtype) +
         " path=" + (o.path.empty() ? "None" : std::string(py::repr(py::str(o.path)))) + ">";
}

constexpr const char* kCacheDoc =
    R"doc(Embedding cache: text -> vector, keyed by a content hash of (model,
model_version, dim, text), in an LRU RAM tier over an optional RocksDB disk tier.

EmbeddingCache(path=None, *, dim, model, model_version="", ram_bytes=256 MiB, ram_shards=16,
               dtype="float32", ttl=None, sync=False, tiering="auto", disk_max_entries=0)

  path      directory of the disk tier (str or os.PathLike); None keeps everything in RAM.
  dim       embedding dimension; model: model name (required, part of every key).
  dtype     "float32" (exact) or "float16" (half the bytes; for normalised embeddings).
  ttl       default lifetime of an entry in seconds (int or datetime.timedelta); None: forever.
  sync      True: every acknowledged put survives a power loss (WAL fsync, group-committed);
            False: it survives a process crash, and flush()/close() make it durable.
  tiering   "auto" (RAM over disk when path is set), "ram_only", "disk_only", "ram_over_disk".

Use it as a context manager (with vecperf.EmbeddingCache(...) as cache:), which flushes and
closes it; using a closed cache raises ValueError. Every call releases the GIL, so lookups
from several Python threads run in parallel. Errors: ValueError (bad argument), OSError (I/O),
vecperf.CorruptionError (damaged RocksDB files), vecperf.Error (e.g. code 'Unavailable': the
directory is open in another cache).)doc";

}  // namespace

std::shared_ptr<EmbeddingCache> cache_or_null(py::handle object) {
  if (!py::isinstance<PyCache>(object)) return nullptr;
  return py::cast<const PyCache&>(object).get();
}

void bind_cache(py::module_& m) {
  py::class_<PyCache>(m, "EmbeddingCache", kCacheDoc)
      .def(py::init(&open_cache), "path"_a = py::none(), py::kw_only(), "dim"_a, "model"_a,
           "model_version"_a = "", "ram_bytes"_a = uint64_t{256} << 20, "ram_shards"_a = 16,
           "dtype"_a = "float32", "ttl"_a = py::none(), "sync"_a = false, "tiering"_a = "auto",
           "disk_max_entries"_a = 0, "Opens or creates a cache; see the class documentation.")
      .def("get", &get_one, "text"_a, "The vector of text (float32, (dim,)), or None on a miss.")
      .def("get_many", &get_many, "texts"_a,
           R"doc(Looks up a sequence of str; returns (vectors, found).

vectors: float32 (n, dim), row i the vector of texts[i] or zeros on a miss; found: bool (n,).
A miss, an expired or a corrupt entry is not an error.)doc")
      .def(
          "put",
          [](const PyCache& self, py::object text, py::object vector, py::object ttl) {
            put_many(self, py::make_tuple(text), vector, ttl);
          },
          "text"_a, "vector"_a, "ttl"_a = py::none(),
          "Stores one vector (dim,) for text; ttl overrides the default lifetime (0: forever).")
      .def("put_many", &put_many, "texts"_a, "vectors"_a, "ttl"_a = py::none(),
           R"doc(Stores row i of vectors (n, dim) for texts[i], replacing previous values.

One atomic batch on disk. ttl: None uses the cache default, 0 never expires, > 0 seconds.)doc")
      .def("get_or_compute", &get_or_compute, "texts"_a, "embed_fn"_a, "batch_size"_a = 64,
           py::kw_only(), "progress"_a = py::none(),
           R"doc(Returns the vectors (float32, (n, dim)) of texts, computing the missing ones.

embed_fn(list[str]) -> 2-D array-like (len(list), dim) is called with the GIL held, on
the distinct missing texts in chunks of at most batch_size. Texts another thread is computing
right now are waited for, not recomputed, so each distinct text is embedded once. If embed_fn
raises, that exception propagates unchanged and nothing of that chunk is cached; a wrong
result shape raises ValueError.
progress: True shows a progress bar on a TTY; a callable receives (done, total) with total =
len(texts), done = texts embedded so far, and (total, total) when the call completes (texts
found in the cache, or computed by another thread, are counted then).)doc")
      .def(
          "flush",
          [](const PyCache& self) {
            std::shared_ptr<EmbeddingCache> cache = self.get();
            Status status;
            {
              py::gil_scoped_release release;
              status = cache->flush();
            }
            throw_if_error(status);
          },
          "Makes every acknowledged write durable (fsyncs the disk tier's log).")
      .def("close", &PyCache::close,
           "Flushes and closes the cache (idempotent); the directory can then be reopened.")
      .def("stats", &stats,
           "Counters and latency percentiles as a dict (ram, disk, lookups, hit_rate, ...).")
      .def(
          "prometheus",
          [](const PyCache& self) {
            std::shared_ptr<EmbeddingCache> cache = self.get();
            py::gil_scoped_release release;
            return cache->stats_prometheus();
          },
          "Stats in the Prometheus text exposition format.")
      .def(
          "key",
          [](const PyCache& self, const std::string& text) {
            return self.get()->key(text).to_hex();
          },
          "text"_a,
          "The 32-hex-digit content hash of text under this cache's model, version and dim.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyCache& self, py::args) { self.close(); })
      .def("__repr__", &repr)
      .def_property_readonly("closed", &PyCache::closed)
      .def_property_readonly("dim", [](const PyCache& self) { return self.get()->dim(); })
      .def_property_readonly("model",
                             [](const PyCache& self) { return self.get()->options().model; })
      .def_property_readonly("path", [](const PyCache& self) -> py::object {
        const std::string& path = self.get()->options().path;
        return path.empty() ? py::none() : py::object(py::str(path));
      });
}

}  // namespace vecperf::python
