#!/usr/bin/env python3
"""scaling.py - how Strata's speed grows with the number of objects it holds.

Starts `strata serve` (release build) on a fresh data directory under $BENCH_HOME and
fills one bucket step by step to each count in --counts (default 10k, 100k, 1M objects of
4 KiB). After each step it measures, with the same loadgen as the side-by-side bench:

- PUT ops/s: the rate of the fill itself (16 connections, new keys, presigned);
- GET ops/s and p50/p99: 10 s of GETs of 1,000 keys drawn at random from all written;
- LIST: one ListObjectsV2 page of 1,000 keys from a random start (median of 20), and a
  walk through the whole bucket (pages of 1,000);
- start-up: the server is stopped with SIGTERM (a clean shutdown) and started again;
  the time from exec to `/_strata/health/ready` answering 200.

Output: a markdown table on stdout (and one `metric value` line per figure on stderr).
Loopback only; every loop is bounded; the server is stopped and the data deleted at exit.

    python3 Tools/bench/scaling.py --strata .build-release/release/strata --loadgen LOADGEN
"""
import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import types
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3bench import Bench, log  # noqa: E402

ACCESS_KEY, SECRET_KEY = "bench-access-key", "bench-secret-key"


class Server:
    def __init__(self, binary, data, port, log_path):
        self.binary, self.data, self.port, self.log_path = binary, data, port, log_path
        self.process = None

    def start(self):
        """Starts the server; returns seconds from exec to ready."""
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [self.binary, "serve", "--data", self.data, "--host", "127.0.0.1", "--port", str(self.port),
             "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY],
            stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT)
        deadline = started + 600
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"strata exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_strata/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.005)
        raise SystemExit("strata was not ready within 600 s")

    def stop(self):
        """SIGTERM, a clean shutdown; returns its seconds."""
        if not self.process or self.process.poll() is not None:
            return 0.0
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise SystemExit("strata did not stop within 120 s of SIGTERM")
        if self.process.returncode != 0:
            raise SystemExit(f"strata exited with {self.process.returncode} after SIGTERM; see {self.log_path}")
        return time.perf_counter() - started


def du_mib(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total / (1 << 20)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strata", required=True, help="the strata binary (release build)")
    p.add_argument("--loadgen", required=True, help="the compiled Tools/bench/loadgen.c")
    p.add_argument("--counts", default="10000,100000,1000000")
    p.add_argument("--port", type=int, default=9371)
    p.add_argument("--get-seconds", type=int, default=10)
    p.add_argument("--home", default=os.environ.get("BENCH_HOME", os.path.join(os.environ.get("TMPDIR", "/tmp"), "strata-bench")))
    a = p.parse_args()
    counts = [int(c) for c in a.counts.split(",")]
    work = os.path.join(a.home, f"scaling-{os.getpid()}")
    data = os.path.join(work, "data")
    os.makedirs(work)
    server = Server(a.strata, data, a.port, os.path.join(work, "strata.log"))
    bench_args = types.SimpleNamespace(
        endpoint=f"http://127.0.0.1:{a.port}", label="strata", pid=0, access_key=ACCESS_KEY, secret_key=SECRET_KEY,
        region="us-east-1", loadgen=a.loadgen, work=work, bucket="scale", list_bucket="scale",
        connections=16, threads=2, populate_deadline=3600)
    rows = []
    try:
        server.start()
        bench_args.pid = server.process.pid
        bench = Bench(bench_args)
        status, _, body = bench.endpoint.once("PUT", "/scale")
        if status != 200:
            raise SystemExit(f"CreateBucket: HTTP {status} {body[:200]!r}")
        written = 0
        rng = random.Random(2026)
        for count in counts:
            # Fill in chunks of at most 100k keys (the presigned target files stay small).
            put_seconds, put_ok = 0.0, 0
            while written < count:
                step = min(count - written, 100_000)
                targets = os.path.join(work, "put.txt")
                bench.endpoint.write_targets(targets, "PUT", [f"/scale/k{i:08d}" for i in range(written, written + step)])
                r = bench.loadgen("PUT", targets, count=step, size=4096)
                os.unlink(targets)
                if r["ok"] != step or r["errors"]:
                    raise SystemExit(f"filling to {count}: {r['ok']:.0f} of {step} ok, {r['errors']:.0f} errors")
                put_seconds += r["duration_s"]
                put_ok += step
                written += step
            put_rate = put_ok / put_seconds
            Bench.settle()
            targets = os.path.join(work, "get.txt")
            bench.endpoint.write_targets(targets, "GET", [f"/scale/k{rng.randrange(written):08d}" for _ in range(1000)])
            g = bench.loadgen("GET", targets, seconds=a.get_seconds, expect=4096)
            os.unlink(targets)
            if g["errors"]:
                raise SystemExit(f"GET at {count} objects: {g['errors']:.0f} errors")
            conn = bench.endpoint.connect()
            pages = []
            for _ in range(20):
                start = f"k{rng.randrange(max(1, written - 1000)):08d}"
                t = time.perf_counter()
                status, _, body = bench.endpoint.request(conn, "GET", "/scale",
                                                         {"list-type": "2", "max-keys": "1000", "start-after": start})
                pages.append(time.perf_counter() - t)
                if status != 200 or body.count(b"<Key>") != 1000:
                    raise SystemExit(f"ListObjectsV2 page at {count}: HTTP {status}, {body.count(b'<Key>')} keys")
            conn.close()
            keys, walked_pages, walk = bench.list_walk("scale")
            if keys != written:
                raise SystemExit(f"the walk found {keys} keys, {written} were written")
            stop_s = server.stop()
            size = du_mib(data)
            ready_s = server.start()
            bench.server.pid = server.process.pid
            row = dict(count=count, put=put_rate, get=g["ops_s"], get_p50=g["p50_ms"], get_p99=g["p99_ms"],
                       page_ms=1000 * statistics.median(pages), walk=walk, stop=stop_s, ready=ready_s, size=size)
            for k, v in row.items():
                print(f"scaling_{count} {k} {v:.3f}", file=sys.stderr, flush=True)
            rows.append(row)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("| objects | data dir, MiB | 4 KiB PUT ops/s (the fill) | 4 KiB GET ops/s | GET p50 / p99, ms "
          "| ListObjectsV2 page of 1,000, ms (median) | walk through all, s | clean stop, s | start to ready, s |")
    print("|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['count']:,} | {r['size']:,.0f} | {r['put']:,.0f} | {r['get']:,.0f} | "
              f"{r['get_p50']:.2f} / {r['get_p99']:.2f} | {r['page_ms']:.1f} | {r['walk']:.2f} | "
              f"{r['stop']:.2f} | {r['ready']:.3f} |")


if __name__ == "__main__":
    main()
