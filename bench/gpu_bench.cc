// gpu_flat throughput for the comparison with PyTorch on the same device (bench/gpu_torch_peer.py
// runs torch.mm / torch.cdist + torch.topk on the same files and prints the combined table).
//
//   vecperf_gpu_bench --data=/tmp/vecperf_gpu [--n=1000000] [--dims=128,768]
//                     [--nq=1,64,1024,10000] [--k=10,100] [--repeats=5] [--out=ours.csv]
//                     [--peak-fp32-tflops=67] [--peak-fp16-tflops=989] [--peak-gbps=3350]
//
// The seeded base and query sets are written once as .fbin files under --data (dataset.h
// writers), so both programs read the same bytes. Each (dim, dtype, nq, k) row reports the
// median QPS over the repeats (one search_batch call of nq queries each), the batch p50, the
// device memory, and the roofline fraction: achieved GEMM FLOP/s over min(peak FLOP/s,
// arithmetic intensity x peak bandwidth), with the base read once per query batch. Peaks default
// to an H100 SXM (dense float32 non-tensor / float16 tensor, HBM3); pass the device's own.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/bench_common.h"
#include "vecperf/dataset.h"
#include "vecperf/gpu.h"
#include "vecperf/options.h"
#include "vecperf/report.h"

namespace {

using namespace vecperf;

std::vector<int64_t> int_list(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(std::stoll(item));
  return out;
}

// The base and query files of one dimension, written on first use.
Result<FloatMatrix> data_file(const std::string& dir, const std::string& name, int64_t rows,
                              int64_t dim, uint64_t seed, bool queries) {
  const std::string path = dir + "/" + name + "_d" + std::to_string(dim) + ".fbin";
  if (!std::filesystem::exists(path)) {
    ClusteredOptions o;
    o.rows = rows;
    o.dim = dim;
    o.seed = seed;
    auto m = queries ? make_clustered_queries(o, rows, seed + 1000) : make_clustered(o);
    if (!m.ok()) return m.status();
    VECPERF_RETURN_IF_ERROR(write_vectors(path, m->view()));
  }
  return read_vectors(path);
}

int run(int argc, char** argv) {
  using bench::int_flag;
  using bench::string_flag;
  if (!gpu_available()) {
    std::fprintf(stderr, "vecperf_gpu_bench: %s\n", gpu_unavailable_reason().c_str());
    return 2;
  }
  const std::string dir = string_flag(argc, argv, "data", "/tmp/vecperf_gpu");
  const int64_t n = int_flag(argc, argv, "n", 1000000);
  const auto dims = int_list(string_flag(argc, argv, "dims", "128,768"));
  const auto nqs = int_list(string_flag(argc, argv, "nq", "1,64,1024,10000"));
  const auto ks = int_list(string_flag(argc, argv, "k", "10,100"));
  const int repeats = static_cast<int>(int_flag(argc, argv, "repeats", 5));
  const std::string out_path = string_flag(argc, argv, "out", "gpu_bench_ours.csv");
  const double peak_fp32 = static_cast<double>(int_flag(argc, argv, "peak-fp32-tflops", 67)) * 1e12;
  const double peak_fp16 =
      static_cast<double>(int_flag(argc, argv, "peak-fp16-tflops", 989)) * 1e12;
  const double peak_bw = static_cast<double>(int_flag(argc, argv, "peak-gbps", 3350)) * 1e9;
  const int64_t max_nq = *std::max_element(nqs.begin(), nqs.end());
  std::filesystem::create_directories(dir);

  std::ofstream csv(out_path);
  csv << "side,dim,dtype,nq,k,qps,batch_p50_ms,device_bytes,roofline\n";
  std::printf("%s\n%-5s %-8s %6s %5s %12s %10s %10s %9s\n", bench::machine_summary().c_str(), "dim",
              "dtype", "nq", "k", "QPS", "p50 ms", "dev MiB", "roofline");
  for (int64_t dim : dims) {
    auto base = data_file(dir, "base", n, dim, 1, false);
    auto queries = data_file(dir, "queries", max_nq, dim, 1, true);
    if (!base.ok() || !queries.ok()) {
      std::fprintf(stderr, "data: %s %s\n", base.status().to_string().c_str(),
                   queries.status().to_string().c_str());
      return 1;
    }
    for (GpuDtype dtype : {GpuDtype::kFloat32, GpuDtype::kFloat16}) {
      const bool half = dtype == GpuDtype::kFloat16;
      IndexOptions o;
      o.kind = IndexKind::kGpuFlat;
      o.dim = dim;
      o.gpu_flat.dtype = dtype;
      auto index = make_index(o);
      std::vector<int64_t> ids(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) ids[i] = i;
      Status added = index.ok() ? (*index)->add(ids, base->view()) : index.status();
      if (!added.ok()) {
        std::fprintf(stderr, "build: %s\n", added.to_string().c_str());
        return 1;
      }
      for (int64_t nq : nqs) {
        for (int64_t k : ks) {
          SearchOptions so;
          so.k = static_cast<int>(k);
          std::vector<float> d(static_cast<size_t>(nq * k));
          std::vector<int64_t> got(d.size());
          BatchOptions b;
          b.batch_size = nq;
          const MatrixView q{queries->data(), nq, dim};
          std::vector<double> qps;
          BatchReport r;
          for (int rep = 0; rep < repeats + 1; ++rep) {  // the first run warms up
            Status s = search_batch(**index, q, so, {d.data(), got.data()}, b, &r);
            if (!s.ok()) {
              std::fprintf(stderr, "search: %s\n", s.to_string().c_str());
              return 1;
            }
            if (rep > 0) qps.push_back(r.qps);
          }
          const double median_qps = bench::median(qps);
          const double flops = 2.0 * static_cast<double>(n * dim) * median_qps;
          const double batches = std::ceil(static_cast<double>(nq) / 4096.0);
          const double bytes_per_query =
              static_cast<double>(n * dim) * (half ? 2 : 4) * batches / static_cast<double>(nq);
          const double intensity = 2.0 * static_cast<double>(n * dim) / bytes_per_query;
          const double roof = std::min(half ? peak_fp16 : peak_fp32, intensity * peak_bw);
          std::printf("%-5lld %-8s %6lld %5lld %12.0f %10.3f %10.1f %9.3f\n",
                      static_cast<long long>(dim), half ? "float16" : "float32",
                      static_cast<long long>(nq), static_cast<long long>(k), median_qps,
                      r.batch_p50_ms, static_cast<double>(r.device_memory_bytes) / (1 << 20),
                      flops / roof);
          csv << "vecperf," << dim << "," << (half ? "float16" : "float32") << "," << nq << "," << k
              << "," << median_qps << "," << r.batch_p50_ms << "," << r.device_memory_bytes << ","
              << flops / roof << "\n";
        }
      }
    }
  }
  std::printf("wrote %s; run bench/gpu_torch_peer.py --data=%s --ours=%s for the comparison\n",
              out_path.c_str(), dir.c_str(), out_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
