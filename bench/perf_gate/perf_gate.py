#!/usr/bin/python3
"""Callgrind performance gate: instruction counts of fixed workloads against a baseline.

Runs every workload of vecperf_perf_workloads under `valgrind --tool=callgrind`, reads the
instruction count (Ir) of its counted part from the callgrind output file, and compares it with
bench/perf_gate/baseline.json. A critical workload whose count grew by more than the threshold
(10%) fails the gate; a count that fell by more than the threshold gets a note suggesting a
baseline update. With --update the counts are written to the baseline instead.
See docs/perf-gate.md for what is measured and how to review a baseline update.

Usage: perf_gate.py [--build DIR] [--baseline FILE] [--jobs N] [--runs N] [--update] [NAME ...]
Exit status: 0 pass, 1 regression, 2 the gate could not run.
"""

import argparse
import concurrent.futures
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

THRESHOLD_PCT = 10.0
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BASELINE = os.path.join(HERE, "baseline.json")

# Pinned so that the counts depend on the code, not on the machine the gate runs on:
# valgrind does not emulate AVX-512, so the kernels are capped at AVX2; OpenBLAS would pick its
# kernels by CPU model; one thread everywhere (valgrind serialises threads anyway, and the
# workloads themselves run on the calling thread).
PINNED_ENV = {
    "VECPERF_ISA": "avx2",
    "OPENBLAS_CORETYPE": "Haswell",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}
# Instrumentation and collection start off; the program switches them on around the counted
# operations with callgrind client requests (see perf_workloads.cc).
CALLGRIND_ARGS = ["--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no"]


class GateError(Exception):
    """A problem that stops the gate from running (exit status 2)."""


def run_program(argv, env=None):
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise GateError(f"{' '.join(argv)} exited with status {proc.returncode}:\n{tail}")
    return proc.stdout


def key_values(text):
    """Parses "key=value" tokens (whitespace or newline separated) into a dict."""
    return dict(tok.split("=", 1) for tok in text.split() if "=" in tok)


def list_workloads(program):
    workloads = {}
    for line in run_program([program, "--list"]).splitlines():
        name, kind, description = line.split("\t", 2)
        workloads[name] = {"critical": kind == "critical", "description": description}
    return workloads


def environment(program, env):
    """Facts the counts depend on; recorded in the baseline and compared on every run."""
    info = key_values(run_program([program, "--info"], env))
    if info.get("callgrind_client_requests") != "yes":
        raise GateError(
            f"{program} was built without <valgrind/callgrind.h>, so it cannot mark its counted "
            "part. Install valgrind (`make perf-gate` does), then reconfigure and rebuild: "
            "cmake -S . -B BUILD && cmake --build BUILD --target vecperf_perf_workloads")
    if info.get("kernels") != PINNED_ENV["VECPERF_ISA"]:
        raise GateError(
            f"the distance kernels resolved to '{info.get('kernels')}', not "
            f"'{PINNED_ENV['VECPERF_ISA']}': this CPU lacks AVX2/FMA/F16C, and counts taken with "
            "other kernels are not comparable with the baseline.")
    valgrind = run_program(["valgrind", "--version"]).strip()
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                       cpu)
    except OSError:
        pass
    return {
        "valgrind": valgrind,
        "compiler": info.get("compiler", "unknown"),
        "glibc": info.get("glibc", "unknown"),
        "openblas_core": info.get("openblas_core", "unknown"),
        "kernels": info.get("kernels", "unknown"),
        "cpu": cpu,
        "machine": platform.machine(),
    }


def read_callgrind_ir(path):
    """Total Ir of a callgrind output file (the "totals:" line, or "summary:" in old files)."""
    events, totals, summary = None, None, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("totals:"):
                totals = line.split()[1:]
            elif line.startswith("summary:"):
                summary = line.split()[1:]
    values = totals or summary
    if not events or not values or "Ir" not in events:
        raise GateError(f"{path}: no Ir total found; is it a callgrind output file?")
    return int(values[events.index("Ir")])


def run_workload(program, name, out_dir, data_dir, run_index, env):
    out_file = os.path.join(out_dir, f"{name}.{run_index}.callgrind")
    start = time.monotonic()
    stdout = run_program(["valgrind", *CALLGRIND_ARGS, f"--callgrind-out-file={out_file}",
                          program, name, data_dir], env)
    result = key_values(stdout)
    for field in ("ops", "digest", "kernels"):
        if field not in result:
            raise GateError(f"workload {name} printed no {field}=; got: {stdout.strip()}")
    if result["kernels"] != PINNED_ENV["VECPERF_ISA"]:
        raise GateError(f"workload {name} ran with the '{result['kernels']}' kernels under "
                        f"valgrind, not '{PINNED_ENV['VECPERF_ISA']}': its counts would not be "
                        "comparable with the baseline")
    return {
        "ir": read_callgrind_ir(out_file),
        "ops": int(result["ops"]),
        "digest": result["digest"],
        "seconds": time.monotonic() - start,
    }


def measure(program, names, out_dir, runs, jobs, env):
    """Runs each workload `runs` times (at most `jobs` at once); returns name -> list of runs."""
    os.makedirs(out_dir, exist_ok=True)
    # The index fixtures are built natively (seconds, where valgrind would take most of an
    # hour), with the same pinned environment, so they are the same on every run.
    data_dir = os.path.join(out_dir, "fixtures")
    run_program([program, "--prepare", data_dir], env)
    results = {name: [] for name in names}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_workload, program, name, out_dir, data_dir, i, env): name
                   for i in range(runs) for name in names}
        for future in concurrent.futures.as_completed(futures):
            results[futures[future]].append(future.result())
    return results


def load_baseline(path):
    try:
        with open(path, encoding="utf-8") as f:
            baseline = json.load(f)
    except FileNotFoundError:
        raise GateError(f"no baseline at {path}: create one with `make perf-gate-update`")
    except (OSError, ValueError) as e:
        raise GateError(f"cannot read the baseline {path}: {e}; restore it from git or "
                        "rewrite it with `make perf-gate-update`")
    workloads = baseline.get("workloads") if isinstance(baseline, dict) else None
    if not isinstance(workloads, dict) or not all(
            isinstance(w, dict) and isinstance(w.get("ir"), int) and w["ir"] > 0
            for w in workloads.values()):
        raise GateError(f"{path} is not a perf-gate baseline (expected a 'workloads' object whose "
                        "entries have a positive integer 'ir'); rewrite it with "
                        "`make perf-gate-update`")
    return baseline


def fmt_int(n):
    return f"{n:,}" if n is not None else "-"


def judge(base, workloads, results, threshold, updating, partial):
    """One row per workload (comparison with `base`, a name -> entry dict) and the notes.
    `updating`: the counts are being written as the new baseline, so no advice to update.
    `partial`: only some workloads were run, so baseline entries not run are expected."""
    rows, notes = [], []
    for name, info in workloads.items():
        runs = results[name]
        irs = [r["ir"] for r in runs]
        row = {"name": name, "kind": "critical" if info["critical"] else "info",
               "ir": int(statistics.median(irs)), "ops": runs[0]["ops"],
               "spread": max(irs) - min(irs),
               "seconds": max(r["seconds"] for r in runs), "old": None, "change": None,
               "verdict": "new", "fails": False}
        rows.append(row)
        old = base.get(name)
        if old is None:
            if not updating:
                notes.append(f"{name}: not in the baseline; add it with `make perf-gate-update`.")
            continue
        row["old"] = old["ir"]
        row["change"] = change = (row["ir"] - old["ir"]) / old["ir"] * 100
        if change > threshold:
            row["fails"] = info["critical"]
            row["verdict"] = "REGRESSION" if info["critical"] else "slower (info only)"
        elif change < -threshold:
            row["verdict"] = "improved"
            if not updating:
                notes.append(f"{name}: {change:+.1f}% instructions; if intended, record it with "
                             "`make perf-gate-update` (see docs/perf-gate.md).")
        else:
            row["verdict"] = "ok"
        if old.get("digest") not in (None, runs[0]["digest"]):
            notes.append(f"{name}: its results differ from the baseline run's (digest "
                         f"{runs[0]['digest']} vs {old['digest']}): it now does different work, "
                         "so the counts compare different computations.")
        if old.get("ops") not in (None, row["ops"]):
            notes.append(f"{name}: {row['ops']} operations, baseline {old['ops']}: the workload "
                         "changed; update the baseline.")
    if not updating and not partial:
        for name in sorted(set(base) - set(workloads)):
            notes.append(f"{name}: in the baseline but no longer a workload; "
                         "`make perf-gate-update` drops it.")
    return rows, notes


def print_table(rows, show_spread):
    header = ["workload", "kind", "baseline Ir", "current Ir", "change", "Ir/op"]
    header += ["spread Ir"] if show_spread else []
    header += ["time", "verdict"]
    table = [header]
    for r in rows:
        line = [r["name"], r["kind"], fmt_int(r["old"]), fmt_int(r["ir"]),
                f"{r['change']:+.2f}%" if r["change"] is not None else "-",
                fmt_int(r["ir"] // max(r["ops"], 1))]
        line += [fmt_int(r["spread"])] if show_spread else []
        table.append(line + [f"{r['seconds']:.0f} s", r["verdict"]])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    numeric = set(range(2, len(header) - 1))
    for line in table:
        print("  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                        for i, (c, w) in enumerate(zip(line, widths))).rstrip())


def compare(baseline, workloads, results, threshold, updating=False, partial=False):
    """Prints the comparison table and notes; returns the names of failing workloads."""
    base = baseline["workloads"] if baseline else {}
    rows, notes = judge(base, workloads, results, threshold, updating, partial)
    print_table(rows, show_spread=any(len(r) > 1 for r in results.values()))
    for n in notes:
        print("note: " + n)
    return [r["name"] for r in rows if r["fails"]]


def environment_notes(baseline_env, env):
    if not isinstance(baseline_env, dict):
        return
    for key, value in env.items():
        old = baseline_env.get(key)
        if old is not None and old != value:
            print(f"note: {key} is '{value}', the baseline was recorded with '{old}': "
                  "counts may differ for that reason alone (docs/perf-gate.md, Limits).")


def write_baseline(path, old, workloads, results, env, keep):
    """Writes the baseline; entries of `old` named in `keep` are carried over unchanged."""
    entries = {n: e for n, e in (old or {}).get("workloads", {}).items() if n in keep}
    for name, info in workloads.items():
        runs = results[name]
        entries[name] = {
            "critical": info["critical"],
            "description": info["description"],
            "ir": int(statistics.median(r["ir"] for r in runs)),
            "ops": runs[0]["ops"],
            "digest": runs[0]["digest"],
        }
    baseline = {
        "about": "Callgrind instruction counts (Ir) of the counted part of each workload of "
                 "vecperf_perf_workloads. Written by `make perf-gate-update`; review changes as "
                 "docs/perf-gate.md describes.",
        "environment": env,
        "pinned_env": PINNED_ENV,
        "workloads": {k: entries[k] for k in sorted(entries)},
    }
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(baseline, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="workloads to run (default: all)")
    parser.add_argument("--build", default="build", help="CMake build directory (default: build)")
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="baseline JSON file")
    parser.add_argument("--out", help="where callgrind files go (default: BUILD/perf_gate)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="workloads run at once (default: number of CPUs)")
    parser.add_argument("--runs", type=int, default=1,
                        help="runs per workload; the median is used and the spread shown")
    parser.add_argument("--threshold", type=float, default=THRESHOLD_PCT,
                        help=f"percent change that counts (default: {THRESHOLD_PCT:g})")
    parser.add_argument("--update", action="store_true",
                        help="write the counts to the baseline instead of comparing")
    args = parser.parse_args()
    if args.jobs < 1 or args.runs < 1 or args.threshold <= 0:
        parser.error("--jobs and --runs must be >= 1 and --threshold > 0")

    program = os.path.join(args.build, "bin", "vecperf_perf_workloads")
    if not os.access(program, os.X_OK):
        raise GateError(f"{program} not found: build it with "
                        f"`cmake --build {args.build} --target vecperf_perf_workloads`")
    if shutil.which("valgrind") is None:
        raise GateError("valgrind not found: install it (Debian: apt-get install valgrind; "
                        "`make perf-gate` does this)")
    env = dict(os.environ, **PINNED_ENV)
    available = list_workloads(program)
    unknown = [n for n in args.names if n not in available]
    if unknown:
        raise GateError(f"unknown workload(s) {', '.join(unknown)}; known: "
                        f"{', '.join(available)}")
    workloads = {n: available[n] for n in (args.names or available)}
    machine_env = environment(program, env)
    old = None if args.update and not os.path.exists(args.baseline) else load_baseline(
        args.baseline)

    out_dir = args.out or os.path.join(args.build, "perf_gate")
    print(f"perf gate: {len(workloads)} workloads x {args.runs} run(s) under callgrind, "
          f"{args.jobs} at a time; callgrind files in {out_dir}", flush=True)
    start = time.monotonic()
    results = measure(program, list(workloads), out_dir, args.runs, args.jobs, env)
    elapsed = time.monotonic() - start
    slowest = max(workloads, key=lambda n: max(r["seconds"] for r in results[n]))
    print(f"ran in {elapsed:.0f} s (slowest: {slowest}, "
          f"{max(r['seconds'] for r in results[slowest]):.0f} s)\n")

    if args.update:
        # A partial update (names given) keeps the other workloads' entries; a full one drops
        # entries of workloads that no longer exist.
        keep = set(available) - set(workloads) if args.names else set()
        write_baseline(args.baseline, old, workloads, results, machine_env, keep)
        compare(old, workloads, results, args.threshold, updating=True)
        print(f"\nbaseline written to {args.baseline}: review the diff before committing it")
        return 0
    environment_notes(old.get("environment"), machine_env)
    failed = compare(old, workloads, results, args.threshold, partial=bool(args.names))
    if failed:
        profile = os.path.join(out_dir, failed[0] + ".0.callgrind")
        print(f"\nFAIL: {len(failed)} critical workload(s) execute more than {args.threshold:g}% "
              f"more instructions than the baseline: {', '.join(failed)}.\n"
              f"See where the instructions go: callgrind_annotate {profile}\n"
              "If the cost is intended, update the baseline (docs/perf-gate.md).")
        return 1
    print(f"\nPASS: no critical workload grew by more than {args.threshold:g}%.")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GateError as e:
        print(f"perf gate: {e}", file=sys.stderr)
        sys.exit(2)
