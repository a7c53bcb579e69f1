#!/usr/bin/python3
"""Recall-vs-QPS plot of one or more vecperf-bench JSON reports.

    bench/plot.py REPORT.json [REPORT.json ...] [--out PREFIX] [--qps single|batch|both]

One line per engine (vecperf, FAISS, hnswlib; peers with library defaults as single points),
QPS on a log axis, Pareto-optimal points circled, the target recall as a dashed line. Writes
PREFIX.png and PREFIX.svg (PREFIX defaults to the first report's name without .json).
Needs matplotlib (Debian: python3-matplotlib).
"""
import argparse
import json
import os
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("format") != "vecperf-bench":
        raise ValueError(f"{path}: not a vecperf-bench report (format {doc.get('format')!r})")
    return doc


def series(docs, several):
    """(label, points sorted by knob value) per engine, in order of appearance."""
    out = {}
    for path, doc in docs:
        prefix = os.path.splitext(os.path.basename(path))[0] + ": " if several else ""
        for run in doc["runs"]:
            out.setdefault(prefix + run["label"], []).append(run)
    return [(label, sorted(runs, key=lambda r: r["value"])) for label, runs in out.items()]


def draw(ax, docs, qps_key, title):
    several = len(docs) > 1
    for label, runs in series(docs, several):
        xs = [r["recall"] for r in runs]
        ys = [r[qps_key] for r in runs]
        style = "s" if runs[0]["defaults"] else "o-"
        (line,) = ax.plot(xs, ys, style, label=label, markersize=4)
        pareto = "pareto_single" if qps_key == "single_qps" else "pareto_batch"
        px = [r["recall"] for r in runs if r[pareto]]
        py = [r[qps_key] for r in runs if r[pareto]]
        ax.plot(px, py, "o", markersize=10, markerfacecolor="none", color=line.get_color())
        for r in runs:
            if r["knob"] and (r["tuned"] or r["index_default"] or r["defaults"]):
                ax.annotate(f"{r['knob']}={r['value']}", (r["recall"], r[qps_key]),
                            textcoords="offset points", xytext=(4, 4), fontsize=7)
    target = docs[0][1]["parameters"]["target_recall"]
    ax.axvline(target, linestyle="--", color="grey", linewidth=1, label=f"target recall {target}")
    ax.set_yscale("log")
    k = docs[0][1]["parameters"]["k"]
    ax.set_xlabel(f"recall@{k}")
    ax.set_ylabel("queries per second (log)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=7)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reports", nargs="+")
    p.add_argument("--out", help="output prefix (PREFIX.png, PREFIX.svg)")
    p.add_argument("--qps", choices=["single", "batch", "both"], default="both")
    args = p.parse_args(argv)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot.py: matplotlib is missing (Debian: apt-get install python3-matplotlib)",
              file=sys.stderr)
        return 1
    try:
        docs = [(path, load(path)) for path in args.reports]
    except (OSError, ValueError, KeyError) as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 1
    panels = {"single": [("single_qps", "one query per call, 1 thread")],
              "batch": [("batch_qps", "batch")],
              "both": [("single_qps", "one query per call, 1 thread"), ("batch_qps", "batch")]}[args.qps]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5), squeeze=False)
    first = docs[0][1]
    d = first["dataset"]
    threads = first["parameters"]["threads"] or first["machine"]["hardware_threads"]
    for ax, (key, what) in zip(axes[0], panels):
        if key == "batch_qps":
            what += f", {threads} threads"
        draw(ax, docs, key, f"{d['base_rows']} x {d['dim']}, {d['queries_rows']} queries: {what}")
    fig.suptitle(f"{first['machine']['cpu_model']} — commit {first['machine']['git_commit'][:12]}",
                 fontsize=8)
    fig.tight_layout()
    prefix = args.out or os.path.splitext(args.reports[0])[0]
    for ext in ("png", "svg"):
        fig.savefig(f"{prefix}.{ext}", dpi=120)
    print(f"wrote {prefix}.png and {prefix}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
