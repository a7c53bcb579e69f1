#!/usr/bin/env python3
"""Load, kill and restart test of examples/rag_service against the installed vecperf package.

Installs the vecperf build into a scratch prefix, builds the example against it as an outside
project (find_package(vecperf)), then drives the service over HTTP:

  1. concurrent ingestion in batches while searches run, with snapshots forced by a small
     --snapshot-log-bytes, so the restart below goes through a snapshot plus a log replay; the
     search latency (p50 / p99) with nothing else running and while documents stream in is
     printed (the service's load figures; not asserted, the machine is shared);
  2. a bounded concurrent search load and concurrent deletes; zero errors allowed;
  3. bad requests: each must get its 4xx and a JSON error body;
  4. /metrics request counters must equal what this client sent, and every metric the Grafana
     dashboard queries must be in the scrape;
  5. SIGKILL, a torn record appended to the log, restart on the same data directory: every
     acknowledged document is found first when searching its own text, deleted ones are gone,
     and the replay embedded nothing (the cache had every vector);
  6. SIGTERM (clean stop with a final snapshot) and one more restart.

Standard library only. The service is killed whatever happens. Waits use generous timeouts only.
"""
import argparse
import collections
import concurrent.futures
import glob
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

REQUEST_TIMEOUT_S = 60
QUIET_SEARCH_S = 1.0  # how long the searches run with nothing else, for the reference latency
START_TIMEOUT_S = 120
MAX_BODY_BYTES = 256 * 1024
WORDS = ("vector search index cache embedding query document model latency memory graph list "
         "cluster shard replica snapshot log disk page token batch score rank recall filter "
         "metric cosine distance neighbour partition quantize compress build train serve").split()


def fail(message):
    raise AssertionError(message)


def run(what, cmd):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        fail(f"{what} failed ({result.returncode}):\n{result.stdout}")
    print(f"-- {what}: ok", flush=True)


def endpoint_of(path):
    """The service's `endpoint` label for a path (see http_api.cc)."""
    if path in ("/documents", "/search", "/metrics", "/report", "/healthz"):
        return path
    rest = path[len("/documents/"):]
    if path.startswith("/documents/") and rest and "/" not in rest:
        return "/documents/{id}"
    return "unmatched"


class Service:
    """One rag_service process; every request goes through call(), which tallies it."""

    def __init__(self, binary, data_dir, log_path):
        self.binary, self.data_dir, self.log_path = binary, data_dir, log_path
        self.proc = None
        self.base = None
        self.sent = collections.Counter()  # (method, endpoint, status) -> requests
        self.lock = threading.Lock()

    def start(self):
        self.launch()
        lines = queue.Queue()
        reader = threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()))
        reader.daemon = True
        reader.start()
        try:
            line = lines.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            fail(f"service printed no 'listening on' line within {START_TIMEOUT_S} s")
        match = re.fullmatch(r"listening on (127\.0\.0\.1):(\d+)\n", line)
        if not match:
            fail(f"unexpected first line {line!r} (exit code {self.proc.poll()}); "
                 f"see {self.log_path}")
        self.base = f"http://{match.group(1)}:{match.group(2)}"

    def start_expecting_failure(self):
        """Starts the service expecting it to exit; returns (exit code, its log)."""
        offset = os.path.getsize(self.log_path)
        self.launch()
        try:
            code = self.proc.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            fail(f"service still running {START_TIMEOUT_S} s after a start that should fail")
        with open(self.log_path) as f:
            f.seek(offset)
            return code, f.read()

    def launch(self):
        self.sent.clear()  # counters restart with the process
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [self.binary, "--data-dir", self.data_dir, "--host", "127.0.0.1", "--port", "0",
             "--threads", "8", "--max-body-bytes", str(MAX_BODY_BYTES),
             "--snapshot-log-bytes", "65536", "--snapshot-interval-s", "0", "--dim", "256"],
            stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                fail(f"service did not exit within {START_TIMEOUT_S} s of signal {sig}")
        return self.proc.returncode if self.proc else None

    def call(self, method, path, body=None, raw=None):
        """Returns (status, parsed JSON or text)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as resp:
                status, payload = resp.status, resp.read()
                ctype = resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, payload, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        with self.lock:
            self.sent[(method, endpoint_of(path), status)] += 1
        if ctype.startswith("application/json"):
            return status, json.loads(payload)
        return status, payload.decode()

    def ok(self, method, path, body=None):
        status, reply = self.call(method, path, body)
        if status != 200:
            fail(f"{method} {path} -> {status}: {reply}")
        return reply


def make_documents(count, rng):
    # A unique token per document makes its own text its unambiguous nearest neighbour.
    return [f"doc{i} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20)))
            for i in range(count)]


def ingest(svc, texts, threads, batch):
    """Posts `texts` in batches from `threads` threads; returns {text: id} of acknowledged ones."""
    ids = {}
    lock = threading.Lock()

    def post(chunk):
        reply = svc.ok("POST", "/documents", {"documents": [{"text": t} for t in chunk]})
        if len(reply["documents"]) != len(chunk):
            fail(f"{len(chunk)} documents posted, {len(reply['documents'])} outcomes returned")
        with lock:
            for text, outcome in zip(chunk, reply["documents"]):
                ids[text] = outcome["id"]
        return reply

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        replies = list(pool.map(post, [texts[i:i + batch] for i in range(0, len(texts), batch)]))
    return ids, replies


def percentiles(seconds):
    """(p50, p99) in milliseconds of a list of durations in seconds; (nan, nan) when empty."""
    if not seconds:
        return float("nan"), float("nan")
    ordered = sorted(seconds)

    def pick(q):
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3

    return pick(0.50), pick(0.99)


def search_top(svc, text, k=5):
    return svc.ok("POST", "/search", {"query": text, "k": k})["results"]


def check_self_search(svc, expected, threads=8):
    """Every text in `expected` must come back first when searched for."""
    def check(item):
        text, doc_id = item
        results = search_top(svc, text)
        if not results or results[0]["id"] != doc_id or results[0]["text"] != text:
            return f"search for {text!r} returned {results[:2]}, expected id {doc_id} first"
        return None

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        problems = [p for p in pool.map(check, expected.items()) if p]
    if problems:
        fail(f"{len(problems)} of {len(expected)} self-searches failed, e.g. {problems[:3]}")


def check_deleted(svc, deleted):
    for text, doc_id in deleted.items():
        if any(r["id"] == doc_id for r in search_top(svc, text, k=10)):
            fail(f"deleted document {doc_id} is still returned")
        status, reply = svc.call("DELETE", f"/documents/{doc_id}")
        if status != 404 or reply["error"]["code"] != "NotFound":
            fail(f"second delete of {doc_id} -> {status} {reply}, expected 404 NotFound")


def check_bad_requests(svc):
    oversized = json.dumps({"documents": ["x" * (MAX_BODY_BYTES + 1)]}).encode()
    cases = [
        ("POST", "/documents", b"{not json", 400, "InvalidArgument"),
        ("POST", "/documents", b"[1, 2]", 400, "InvalidArgument"),
        ("POST", "/documents", b"{}", 400, "InvalidArgument"),
        ("POST", "/documents", b'{"documents": []}', 400, "InvalidArgument"),
        ("POST", "/documents", b'{"documents": [{"text": 5}]}', 400, "InvalidArgument"),
        ("POST", "/documents", b'{"documents": [{"body": "x"}]}', 400, "InvalidArgument"),
        ("POST", "/documents", b'{"documents": [""]}', 400, "InvalidArgument"),
        ("POST", "/documents", b'{"documents": ["!!! ???"]}', 400, "InvalidArgument"),
        ("POST", "/documents", b'{"docs": ["x"]}', 400, "InvalidArgument"),
        ("POST", "/documents", oversized, 413, "PayloadTooLarge"),
        ("POST", "/search", b'{"k": 3}', 400, "InvalidArgument"),
        ("POST", "/search", b'{"query": 7}', 400, "InvalidArgument"),
        ("POST", "/search", b'{"query": "vector", "k": 0}', 400, "InvalidArgument"),
        ("POST", "/search", b'{"query": "vector", "k": 1001}', 400, "InvalidArgument"),
        ("POST", "/search", b'{"query": "vector", "k": -3}', 400, "InvalidArgument"),
        ("POST", "/search", b'{"query": "vector", "k": 2.5}', 400, "InvalidArgument"),
        ("POST", "/search", b'{"query": "vector", "k": "10"}', 400, "InvalidArgument"),
        ("POST", "/search", b'{"query": "vector", "k": 99999999999999999999}', 400,
         "InvalidArgument"),
        ("POST", "/search", b'{"query": ""}', 400, "InvalidArgument"),
        ("DELETE", "/documents/abc", None, 400, "InvalidArgument"),
        ("DELETE", "/documents/99999999999999999999", None, 400, "InvalidArgument"),
        ("DELETE", "/documents/12345", None, 404, "NotFound"),
        ("DELETE", "/documents/", None, 404, "NotFound"),
        ("GET", "/documents/12345", None, 405, "MethodNotAllowed"),
        ("GET", "/search", None, 405, "MethodNotAllowed"),
        ("GET", "/no/such/route", None, 404, "NotFound"),
    ]
    for method, path, raw, want_status, want_code in cases:
        status, reply = svc.call(method, path, raw=raw)
        error = reply.get("error") if isinstance(reply, dict) else None
        if (status != want_status or not isinstance(error, dict) or error.get("code") != want_code
                or not isinstance(error.get("message"), str) or not error["message"]):
            fail(f"{method} {path} {(raw or b'')[:60]!r}: got {status} {str(reply)[:300]}, "
                 f"expected {want_status} with error code {want_code}")
    print(f"-- {len(cases)} bad requests: each got its 4xx and a JSON error", flush=True)


def parse_counters(scrape):
    counters = {}
    pattern = re.compile(
        r'^rag_http_requests_total\{method="([^"]*)",endpoint="([^"]*)",code="(\d+)"\} (\d+)$')
    for line in scrape.splitlines():
        m = pattern.match(line)
        if m:
            counters[(m.group(1), m.group(2), int(m.group(3)))] = int(m.group(4))
    return counters


def check_metrics(svc, dashboard_path):
    expected = dict(svc.sent)  # the scrape below is counted only after it is answered
    status, scrape = svc.call("GET", "/metrics")
    if status != 200:
        fail(f"/metrics -> {status}")
    counters = parse_counters(scrape)
    if counters != expected:
        diff = {k: (counters.get(k), expected.get(k)) for k in set(counters) | set(expected)
                if counters.get(k) != expected.get(k)}
        fail(f"/metrics request counters differ from the requests sent (scraped, sent): {diff}")
    print(f"-- /metrics counts all {sum(expected.values())} requests sent, by endpoint and status",
          flush=True)

    samples = {line.split("{")[0].split(" ")[0] for line in scrape.splitlines()
               if line and not line.startswith("#")}
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs.append(dashboard["templating"]["list"][0]["definition"])
    referenced = {name for e in exprs for name in re.findall(r"\b((?:rag|vecperf)_[a-z0-9_]+)", e)}
    missing = sorted(referenced - samples)
    if not referenced or missing:
        fail(f"dashboard queries metrics the service does not emit: {missing}")
    print(f"-- dashboard: all {len(referenced)} metrics it queries are in the scrape", flush=True)


def wait_for(poll, done, what):
    """Polls until done(poll()) holds; fails after START_TIMEOUT_S."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        value = poll()
        if done(value):
            return value
        if time.monotonic() > deadline:
            fail(f"waited {START_TIMEOUT_S} s for {what}; last value: {value}")
        time.sleep(0.2)


def damage(paths):
    """Flips one byte in the middle of the only file in `paths`."""
    if len(paths) != 1:
        fail(f"expected one file to damage, found {paths}")
    with open(paths[0], "r+b") as f:
        f.seek(os.path.getsize(paths[0]) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


def tear_log_tail(data_dir):
    """Appends half a record to the newest log segment, as a crash during a write would."""
    segments = sorted(glob.glob(os.path.join(data_dir, "wal", "wal-*.log")))
    if not segments:
        fail("no log segment in the data directory")
    with open(segments[-1], "ab") as f:
        f.write((4096).to_bytes(4, "little") + b"\x12\x34\x56\x78" + b"torn")
    return segments[-1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True, help="vecperf build tree to install")
    parser.add_argument("--source-dir", required=True, help="examples/rag_service")
    parser.add_argument("--work-dir", required=True, help="scratch directory (deleted first)")
    parser.add_argument("--cxx-compiler", help="compiler of the vecperf build, for the example too")
    parser.add_argument("--documents", type=int, default=3000)
    args = parser.parse_args()

    work = os.path.abspath(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    prefix, build, data = (os.path.join(work, d) for d in ("prefix", "build", "data"))
    run("install vecperf", ["cmake", "--install", args.build_dir, "--prefix", prefix])
    run("configure the example", ["cmake", "-S", args.source_dir, "-B", build,
                                  "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={prefix}",
                                  "-DRAG_SERVICE_WERROR=ON"]
        + ([f"-DCMAKE_CXX_COMPILER={args.cxx_compiler}"] if args.cxx_compiler else []))
    run("build the example", ["cmake", "--build", build, "-j", "2"])

    svc = Service(os.path.join(build, "rag_service"), data, os.path.join(work, "service.log"))
    try:
        rng = random.Random(20240601)
        texts = make_documents(args.documents, rng)
        svc.start()

        # 1. Ingestion with concurrent searches; then a repeat of some documents. The first half
        # goes in alone, then two threads search for QUIET_SEARCH_S with nothing else running,
        # then again while the second half streams in: the search latency of both periods is
        # reported (not asserted: the machine is shared), as the service's load figures.
        half = len(texts) // 2
        ids, replies = ingest(svc, texts[:half], threads=4, batch=50)
        stop = threading.Event()
        latencies = {"quiet": [], "ingesting": []}

        def background_search(seed, period):
            local = random.Random(seed)  # the main generator stays deterministic
            while not stop.is_set():
                started = time.perf_counter()
                search_top(svc, " ".join(local.sample(WORDS, 3)))
                latencies[period].append(time.perf_counter() - started)

        def search_while(period, work):
            stop.clear()
            searcher = concurrent.futures.ThreadPoolExecutor(2)
            background = [searcher.submit(background_search, seed, period) for seed in range(2)]
            try:
                return work()
            finally:
                stop.set()
                searcher.shutdown(wait=True)
                for f in background:
                    f.result()  # re-raises a failed background search

        search_while("quiet", lambda: time.sleep(QUIET_SEARCH_S))
        more, more_replies = search_while(
            "ingesting", lambda: ingest(svc, texts[half:], threads=4, batch=50))
        ids.update(more)
        replies += more_replies
        searches = [len(latencies["ingesting"])]
        if sum(r["added"] for r in replies) != len(texts) or len(set(ids.values())) != len(texts):
            fail("every new document must be reported as added, with a distinct id")
        again, replies = ingest(svc, texts[:200] + ["a brand new document about vectors"],
                                threads=2, batch=67)
        if (sum(r["added"] for r in replies), sum(r["existing"] for r in replies)) != (1, 200):
            fail(f"re-posting 200 stored documents and 1 new one: {replies}")
        if any(again[t] != ids[t] for t in texts[:200]):
            fail("a re-posted document got a different id")
        ids.update(again)
        health = svc.ok("GET", "/healthz")
        if health["documents"] != len(ids):
            fail(f"/healthz reports {health['documents']} documents, expected {len(ids)}")
        print(f"-- ingested {len(ids)} documents in batches from 4 threads, "
              f"with {searches[0]} concurrent searches", flush=True)
        quiet, busy = (percentiles(latencies[p]) for p in ("quiet", "ingesting"))
        print(f"-- search latency over HTTP, 2 client threads: quiet p50 {quiet[0]:.2f} ms / "
              f"p99 {quiet[1]:.2f} ms ({len(latencies['quiet'])} searches); while documents "
              f"stream in p50 {busy[0]:.2f} ms / p99 {busy[1]:.2f} ms "
              f"({len(latencies['ingesting'])} searches)", flush=True)

        # 2. Search load with concurrent deletes.
        to_delete = dict(rng.sample(sorted(ids.items()), 150))
        kept = {t: i for t, i in ids.items() if t not in to_delete}
        sample = dict(rng.sample(sorted(kept.items()), 800))
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            deletes = pool.map(lambda doc_id: svc.ok("DELETE", f"/documents/{doc_id}"),
                               to_delete.values())
            check_self_search(svc, sample, threads=6)
            list(deletes)
        check_deleted(svc, to_delete)
        report = wait_for(lambda: svc.ok("GET", "/report"), lambda r: r["store"]["snapshots"] > 0,
                          "a snapshot once the log outgrew --snapshot-log-bytes")
        for stage in ("cache_lookup", "embedding", "log_append", "index_add", "index_search",
                      "serialization"):
            if report["stages"][stage]["samples"] == 0:
                fail(f"/report has no samples for stage {stage}: {report['stages']}")
        print(f"-- {len(sample)} concurrent self-searches found their document first; "
              f"{len(to_delete)} concurrent deletes; {report['store']['snapshots']} snapshots",
              flush=True)

        # 3, 4.
        check_bad_requests(svc)
        check_metrics(svc, os.path.join(args.source_dir, "grafana-dashboard.json"))

        # 5. kill -9, a torn log tail, restart.
        svc.kill(signal.SIGKILL)
        torn = tear_log_tail(data)
        svc.start()
        report = svc.ok("GET", "/report")
        recovery = report["recovery"]
        if recovery["dropped_tail_bytes"] != 12:
            fail(f"the torn record appended to {torn} was not dropped: {recovery}")
        if recovery["embedded_texts"] != 0:
            fail(f"the replay called the embedding model: {recovery}")
        if report["store"]["documents"] != len(kept):
            fail(f"{report['store']['documents']} documents after restart, expected {len(kept)}")
        check_self_search(svc, kept)
        check_deleted(svc, to_delete)
        print(f"-- after SIGKILL and a torn log record: all {len(kept)} acknowledged documents "
              f"found first, deleted ones gone, {recovery['log_entries']} log entries replayed "
              f"without calling the model", flush=True)

        # 6. Clean stop: a final snapshot, nothing left to replay.
        final = {"the last document before a clean stop": None}
        final.update(ingest(svc, list(final), threads=1, batch=1)[0])
        kept.update(final)
        code = svc.kill(signal.SIGTERM)
        if code != 0:
            fail(f"SIGTERM: exit code {code}, expected 0")
        svc.start()
        report = svc.ok("GET", "/report")
        if report["recovery"]["log_entries"] != 0 or report["store"]["documents"] != len(kept):
            fail(f"after a clean stop: {report['recovery']}, {report['store']['documents']} "
                 f"documents (expected {len(kept)}, nothing to replay)")
        check_self_search(svc, dict(rng.sample(sorted(kept.items()), 200)))
        print("-- SIGTERM: clean exit with a final snapshot; restart replays nothing", flush=True)

        # 7. Damaged snapshot files: a bad index file is rebuilt from the documents; a bad
        #    MANIFEST stops the start with a message instead of serving a partial corpus.
        svc.kill(signal.SIGTERM)
        damage(glob.glob(os.path.join(data, "snapshot", "index-*.vpi")))
        offset = os.path.getsize(svc.log_path)
        svc.start()
        if svc.ok("GET", "/healthz")["documents"] != len(kept):
            fail("documents missing after rebuilding a damaged index file")
        with open(svc.log_path) as f:
            f.seek(offset)
            if "rebuilding" not in f.read():
                fail("the damaged index file was not detected")
        check_self_search(svc, dict(rng.sample(sorted(kept.items()), 200)))
        svc.kill(signal.SIGKILL)
        damage(glob.glob(os.path.join(data, "snapshot", "MANIFEST")))
        code, log = svc.start_expecting_failure()
        if code != 1 or "MANIFEST" not in log or "Corruption" not in log:
            fail(f"start with a damaged MANIFEST: exit code {code}, log tail {log[-500:]!r}")
        print("-- damaged index file rebuilt from the documents; damaged MANIFEST refused",
              flush=True)
    except BaseException:
        if os.path.exists(svc.log_path):
            with open(svc.log_path) as f:
                sys.stderr.write("--- service log ---\n" + f.read()[-5000:])
        raise
    finally:
        svc.kill(signal.SIGKILL)
    shutil.rmtree(work, ignore_errors=True)
    print("service test passed")


if __name__ == "__main__":
    main()
