#!/usr/bin/env python3
"""PyTorch peer of vecperf_gpu_bench: exact k-NN with torch on the same device and the same files.

Reads the .fbin files vecperf_gpu_bench wrote under --data (base_d<dim>.fbin, queries_d<dim>.fbin),
runs squared-L2 k-NN two ways, keeps the faster per row:
  mm     ||q||^2 + ||x||^2 - 2 q.x^T with torch.mm, then torch.topk (the same algorithm as
         gpu_flat, but with the nq x N matrix materialised, in chunks of queries that fit);
  cdist  torch.cdist(q, x) ** 2, then torch.topk.
Times are medians of --repeats runs after one warm-up, with torch.cuda.synchronize() around each,
and include the host-to-device copy of the queries and the device-to-host copy of the results,
as vecperf's figures do. With --ours (vecperf_gpu_bench's CSV) it prints the combined table:
both QPS, vecperf / torch, and both roofline fractions.

    python3 bench/gpu_torch_peer.py --data=/tmp/vecperf_gpu --ours=gpu_bench_ours.csv
"""
import argparse
import csv
import os
import statistics
import sys
import time

import numpy as np


def read_fbin(path):
    with open(path, "rb") as f:
        rows, dim = np.fromfile(f, dtype=np.uint32, count=2)
        data = np.fromfile(f, dtype=np.float32, count=int(rows) * int(dim))
    return data.reshape(int(rows), int(dim))


def knn_mm(torch, base, base_norms, q_host, k, dtype, chunk_bytes):
    q = q_host.to("cuda", non_blocking=False).to(dtype)
    n = base.shape[0]
    rows = max(1, min(q.shape[0], chunk_bytes // (4 * n)))
    dists, ids = [], []
    for s in range(0, q.shape[0], rows):
        part = q[s:s + rows]
        ip = torch.mm(part, base.t()).float()
        d = (part.float() * part.float()).sum(1, keepdim=True) + base_norms[None, :] - 2 * ip
        v, i = torch.topk(d, k, dim=1, largest=False)
        dists.append(v)
        ids.append(i)
    return torch.cat(dists).cpu(), torch.cat(ids).cpu()


def knn_cdist(torch, base, q_host, k, dtype, chunk_bytes):
    q = q_host.to("cuda").to(dtype)
    n = base.shape[0]
    rows = max(1, min(q.shape[0], chunk_bytes // (4 * n)))
    dists, ids = [], []
    for s in range(0, q.shape[0], rows):
        d = torch.cdist(q[s:s + rows].float(), base.float()) ** 2
        v, i = torch.topk(d, k, dim=1, largest=False)
        dists.append(v)
        ids.append(i)
    return torch.cat(dists).cpu(), torch.cat(ids).cpu()


def median_seconds(torch, fn, repeats):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/vecperf_gpu")
    ap.add_argument("--dims", default="128,768")
    ap.add_argument("--nq", default="1,64,1024,10000")
    ap.add_argument("--k", default="10,100")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chunk-mib", type=int, default=4096, help="largest distance block")
    ap.add_argument("--out", default="gpu_bench_torch.csv")
    ap.add_argument("--ours", help="vecperf_gpu_bench CSV: print the combined table")
    args = ap.parse_args()

    import torch  # imported here so that --help works without PyTorch
    if not torch.cuda.is_available():
        sys.exit("gpu_torch_peer: torch.cuda.is_available() is False")
    torch.backends.cuda.matmul.allow_tf32 = False  # as gpu_flat's default (allow_tf32=false)
    chunk = args.chunk_mib << 20
    rows_out = []
    for dim in [int(x) for x in args.dims.split(",")]:
        base_np = read_fbin(os.path.join(args.data, f"base_d{dim}.fbin"))
        queries_np = read_fbin(os.path.join(args.data, f"queries_d{dim}.fbin"))
        for name, dtype in (("float32", torch.float32), ("float16", torch.float16)):
            base = torch.from_numpy(base_np).to("cuda").to(dtype)
            norms = (base.float() * base.float()).sum(1)
            for nq in [int(x) for x in args.nq.split(",")]:
                q_host = torch.from_numpy(queries_np[:nq]).pin_memory()
                for k in [int(x) for x in args.k.split(",")]:
                    mm = median_seconds(
                        torch, lambda: knn_mm(torch, base, norms, q_host, k, dtype, chunk),
                        args.repeats)
                    cd = median_seconds(
                        torch, lambda: knn_cdist(torch, base, q_host, k, dtype, chunk),
                        args.repeats)
                    best, how = min((mm, "mm"), (cd, "cdist"))
                    rows_out.append({"side": "torch", "dim": dim, "dtype": name, "nq": nq, "k": k,
                                     "qps": nq / best, "method": how})
                    print(f"torch {dim:5d} {name:8s} nq={nq:6d} k={k:4d} {nq / best:12.0f} QPS ({how})")
            del base, norms
            torch.cuda.empty_cache()
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["side", "dim", "dtype", "nq", "k", "qps", "method"])
        w.writeheader()
        w.writerows(rows_out)

    if args.ours:
        ours = {}
        with open(args.ours) as f:
            for r in csv.DictReader(f):
                ours[(int(r["dim"]), r["dtype"], int(r["nq"]), int(r["k"]))] = r
        print(f"\n| dim | dtype | nq | k | vecperf QPS | torch QPS | vecperf/torch | vecperf roofline | torch roofline |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows_out:
            key = (r["dim"], r["dtype"], r["nq"], r["k"])
            if key not in ours:
                continue
            o = ours[key]
            ratio = float(o["qps"]) / r["qps"]
            # The same roofline (FLOPs and base bytes of one pass per batch) for both sides.
            torch_roof = float(o["roofline"]) / ratio
            print(f"| {r['dim']} | {r['dtype']} | {r['nq']} | {r['k']} | {float(o['qps']):.0f} | "
                  f"{r['qps']:.0f} ({r['method']}) | {ratio:.2f} | {float(o['roofline']):.3f} | "
                  f"{torch_roof:.3f} |")


if __name__ == "__main__":
    main()
