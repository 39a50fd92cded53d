#!/usr/bin/env python3
"""One 4 KiB phase against a fresh release `strata serve`, optionally under `perf record`.

The harness behind the per-change figures in the performance commits (issue 7): starts
.build-release/release/strata on 127.0.0.1:19111 with a data directory under /var/tmp,
writes 1,000 keys of 4 KiB with loadgen, then runs `--seconds` of GET, HEAD or PUT at
16 connections and prints ops/s, p50/p99 and the server's CPU; LIST writes 20,000 keys
to a bucket of their own and walks them with ListObjectsV2 30 times (1000 a page, one
connection), printing the fastest and median walk and the server's CPU per walk. With --perf the phase is
recorded (perf record -F 999 -g; with PERF_DWARF=1 in the environment -F 250 --call-graph dwarf) into /tmp/perf.data; with --metrics the group-commit
histograms of /metrics are printed after it.

    cc -O2 -o /tmp/loadgen Tools/bench/loadgen.c -lpthread
    python3 Tools/bench/profile.py --method GET [--perf] [--extra "--access-log false"]
    python3 Tools/bench/profile.py --method LIST [--perf]   # 30 walks through 20,000 keys
"""
import os, subprocess, sys, time, signal, argparse, urllib.request, urllib.parse, re, html
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sigv4 import Signer
p = argparse.ArgumentParser()
p.add_argument("--method", default="GET")
p.add_argument("--seconds", type=int, default=8)
p.add_argument("--perf", action="store_true")
p.add_argument("--metrics", action="store_true")
p.add_argument("--bin", default=os.path.join(HERE, "..", "..", ".build-release", "release", "strata"))
p.add_argument("--loadgen", default="/tmp/loadgen")
p.add_argument("--extra", default="--access-log false")
a = p.parse_args()
AK, SK = "AKIASTRATABENCH00001", "strataBenchSecretKey/0123456789abcdefXYZ"
data = "/var/tmp/prof-data"; subprocess.run(["rm", "-rf", data]); os.makedirs(data)
port = 19111
srv = subprocess.Popen([a.bin, "serve", "--data", data, "--host", "127.0.0.1", "--port", str(port),
                        "--access-key", AK, "--secret-key", SK] + a.extra.split(), stdout=open("/tmp/prof-srv.log", "w"), stderr=subprocess.STDOUT)
try:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_strata/health/ready"); break
        except Exception: time.sleep(0.1)
    s = Signer(AK, SK, "us-east-1")
    host = f"127.0.0.1:{port}"
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port)
    h = s.headers("PUT", host, "/bench", None); h["Content-Length"] = "0"
    c.request("PUT", "/bench", headers=h); r = c.getresponse(); r.read(); assert r.status == 200, r.status
    def targets(method, keys, f):
        with open(f, "w") as fh:
            for t in s.presign_many(method, host, [f"/bench/{k}" for k in keys]): fh.write(t + "\n")
    LG = a.loadgen
    keys = [f"read/{i:05d}" for i in range(1000)]
    targets("PUT", keys, "/tmp/prof-put.txt")
    subprocess.run([LG, "-p", str(port), "-a", "127.0.0.1", "-H", host, "-m", "PUT", "-f", "/tmp/prof-put.txt", "-s", "4096", "-n", "1000", "-d", "60"], check=True, capture_output=True)
    if a.method == "PUT":
        targets("PUT", [f"put/{i:07d}" for i in range(100000)], "/tmp/prof-t.txt")
    elif a.method == "LIST":
        # 20,000 keys of 256 bytes in a bucket of their own, listed 1000 a page.
        h = s.headers("PUT", host, "/benchlist", None); h["Content-Length"] = "0"
        c.request("PUT", "/benchlist", headers=h); r = c.getresponse(); r.read(); assert r.status == 200, r.status
        with open("/tmp/prof-t.txt", "w") as fh:
            for t in s.presign_many("PUT", host, [f"/benchlist/list-{i:05d}" for i in range(20000)]): fh.write(t + "\n")
        subprocess.run([LG, "-p", str(port), "-a", "127.0.0.1", "-H", host, "-m", "PUT", "-f", "/tmp/prof-t.txt", "-s", "256",
                        "-n", "20000", "-d", "120", "-c", "16", "-t", "2"], check=True, capture_output=True)
    else:
        targets(a.method, keys, "/tmp/prof-t.txt")
    subprocess.run(["sync"])
    perf = None
    if a.perf:
        # PERF_DWARF=1: DWARF call graphs (stacks through Swift's runtime and async code), sampled less often.
        sampling = ["-F", "250", "--call-graph", "dwarf,32768"] if os.environ.get("PERF_DWARF") else ["-F", "999", "-g"]
        perf = subprocess.Popen(["perf", "record"] + sampling + ["-p", str(srv.pid), "-o", "/tmp/perf.data"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    if a.method == "LIST":
        def walk():
            """One ListObjectsV2 walk through the 20,000 keys, SigV4 header-signed, on one connection."""
            token, n, started = None, 0, time.perf_counter()
            while True:
                query = {"list-type": "2", "max-keys": "1000"}
                if token: query["continuation-token"] = token
                target = "/benchlist?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
                h = s.headers("GET", host, "/benchlist", query); h["Content-Length"] = "0"
                c.request("GET", target, headers=h); r = c.getresponse(); body = r.read(); assert r.status == 200, r.status
                n += body.count(b"<Key>")
                m = re.search(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>", body)
                if not m: break
                token = html.unescape(m.group(1).decode())
            assert n == 20000, n
            return time.perf_counter() - started
        walks = 30
        cpu0 = sum(int(x) for x in open(f"/proc/{srv.pid}/stat").read().split()[13:15])
        times = sorted(walk() for _ in range(walks))
        cpu1 = sum(int(x) for x in open(f"/proc/{srv.pid}/stat").read().split()[13:15])
        if perf: perf.send_signal(signal.SIGINT); perf.wait()
        print(f"LIST walks {walks} min_ms {times[0]*1000:.1f} median_ms {times[walks // 2]*1000:.1f} "
              f"server_cpu_ms_per_walk {(cpu1 - cpu0) / os.sysconf('SC_CLK_TCK') / walks * 1000:.1f}")
        sys.exit(0)
    cmd = [LG, "-p", str(port), "-a", "127.0.0.1", "-H", host, "-m", a.method, "-f", "/tmp/prof-t.txt", "-c", "16", "-t", "2", "-d", str(a.seconds)]
    if a.method == "PUT": cmd += ["-s", "4096"]
    else: cmd += ["-e", "4096"]
    cpu0 = sum(int(x) for x in open(f"/proc/{srv.pid}/stat").read().split()[13:15])
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    cpu1 = sum(int(x) for x in open(f"/proc/{srv.pid}/stat").read().split()[13:15])
    if perf: perf.send_signal(signal.SIGINT); perf.wait()
    if a.metrics:
        m = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        print("\n".join(l for l in m.splitlines() if "group_commit" in l and not l.startswith("#"))[:3000])
    d = {l.split()[0]: l.split()[1] for l in out.splitlines() if l.strip()}
    print(a.method, "ops_s", d.get("ops_s"), "p50", d.get("p50_ms"), "p99", d.get("p99_ms"), "errors", d.get("non2xx"), d.get("wrong_length"), "server_cpu%", round((cpu1-cpu0)/os.sysconf("SC_CLK_TCK")/float(d["duration_s"])*100))
finally:
    srv.terminate(); srv.wait()
