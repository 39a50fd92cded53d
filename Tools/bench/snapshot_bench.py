#!/usr/bin/env python3
"""Snapshot save and restore time for a store of many objects, at two object sizes.

For each size: a fresh `strata serve`, one bucket filled with --objects objects of that
size (loadgen, presigned PUTs), then --runs rounds of: save the snapshot `bench`
(replacing the last one), overwrite --churn objects, restore `bench`. Each save and
restore is timed by the client (the signed admin request, from send to answer: what
`strata snapshot` or a test fixture waits for) and by the server (`duration_ms` of its
access log line). Prints one `size metric value unit` line per figure and a markdown
table; the median and the largest of the runs.

    Tools/bench/snapshots.sh                 # builds what it needs, then runs this
    snapshot_bench.py --strata BIN --loadgen LOADGEN [--objects 100000] [--sizes 1024,65536]

Loopback only; every loop is bounded (runs, objects, a ready-wait of 60 s).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3bench import Endpoint  # noqa: E402
from sigv4 import Signer  # noqa: E402

ACCESS, SECRET = "bench-access-key", "bench-secret-key"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def wait_ready(endpoint, server, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"strata serve exited with {server.returncode}")
        try:
            conn = endpoint.connect(timeout=2)
            conn.request("GET", "/_strata/health/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("strata serve was not ready after 60 s")


def populate(args, endpoint, bucket, keys, size, work):
    targets = os.path.join(work, "put.txt")
    endpoint.write_targets(targets, "PUT", [f"/{bucket}/{k}" for k in keys])
    cmd = [args.loadgen, "-p", str(endpoint.port), "-a", endpoint.host, "-H", endpoint.hostport, "-m", "PUT",
           "-f", targets, "-c", "16", "-t", "2", "-s", str(size), "-n", str(len(keys)), "-d", "900"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=960, check=True).stdout
    figures = dict(line.split(" ", 1) for line in out.splitlines())
    if int(float(figures["ok"])) != len(keys):
        raise SystemExit(f"populating: {figures}")
    return float(figures["ops_s"])


def timed(endpoint, method, path):
    start = time.perf_counter()
    status, _, body = endpoint.once(method, path)
    elapsed = (time.perf_counter() - start) * 1000
    if status != 200:
        raise SystemExit(f"{method} {path}: HTTP {status} {body[:300]!r}")
    return elapsed


def server_ms(log_path, path):
    """The duration_ms of every access-log line of `POST path`, in order."""
    pattern = re.compile(r"POST " + re.escape(path) + r" 200 .*duration_ms=([0-9.]+)")
    with open(log_path) as f:
        return [float(m.group(1)) for m in map(pattern.search, f) if m]


def bench_size(args, size, work):
    data = os.path.join(work, f"data-{size}")
    log_path = os.path.join(work, f"serve-{size}.log")
    endpoint = Endpoint(f"http://127.0.0.1:{args.port}", Signer(ACCESS, SECRET))
    with open(log_path, "w") as out:
        server = subprocess.Popen([args.strata, "serve", "--data", data, "--port", str(args.port),
                                   "--access-key", ACCESS, "--secret-key", SECRET, "--compact-interval", "0"],
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(endpoint, server)
        status, _, body = endpoint.once("PUT", "/bench")
        if status != 200:
            raise SystemExit(f"CreateBucket: HTTP {status} {body[:200]!r}")
        keys = [f"obj/{i:07d}" for i in range(args.objects)]
        rate = populate(args, endpoint, "bench", keys, size, work)
        log(f"size {size}: {args.objects} objects written at {rate:.0f}/s")
        saves, restores = [], []
        for run in range(args.runs):
            saves.append(timed(endpoint, "POST", "/_strata/snapshots/bench"))
            populate(args, endpoint, "bench", keys[run * args.churn:(run + 1) * args.churn], size, work)
            restores.append(timed(endpoint, "POST", "/_strata/snapshots/bench/restore"))
        status, _, body = endpoint.once("GET", "/_strata/snapshots")
        log(f"size {size}: {body.decode()[:300]}")
        return {
            "save_client": saves, "restore_client": restores,
            "save_server": server_ms(log_path, "/_strata/snapshots/bench"),
            "restore_server": server_ms(log_path, "/_strata/snapshots/bench/restore"),
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(data, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strata", required=True, help="the strata binary (a release build)")
    p.add_argument("--loadgen", required=True, help="the compiled Tools/bench/loadgen.c")
    p.add_argument("--objects", type=int, default=100_000)
    p.add_argument("--sizes", default="1024,65536", help="object sizes in bytes, comma-separated")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--churn", type=int, default=1000, help="objects overwritten between save and restore")
    p.add_argument("--port", type=int, default=9460)
    p.add_argument("--work", default=None, help="scratch directory on a real disk (default: a temporary one)")
    args = p.parse_args()
    if args.churn * args.runs > args.objects:
        raise SystemExit("--churn × --runs must not exceed --objects")
    work = args.work or tempfile.mkdtemp(prefix="strata-snapshot-bench-")
    os.makedirs(work, exist_ok=True)
    rows = []
    try:
        for size in map(int, args.sizes.split(",")):
            figures = bench_size(args, size, work)
            for name, values in figures.items():
                log(f"size {size}: {name} runs: " + ", ".join(f"{v:.1f}" for v in values))
                print(f"{size} {name}_median_ms {statistics.median(values):.1f} ms")
                print(f"{size} {name}_max_ms {max(values):.1f} ms")
            rows.append((size, figures))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"| {args.objects:,} objects of | save (client) | save (server) | restore (client) | restore (server) |")
    print("|---|---|---|---|---|")
    for size, f in rows:
        def cell(name):
            return f"{statistics.median(f[name]):.1f} ms (max {max(f[name]):.1f})"
        print(f"| {size:,} bytes | {cell('save_client')} | {cell('save_server')} | {cell('restore_client')} | {cell('restore_server')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
