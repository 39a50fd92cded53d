#!/usr/bin/env python3
"""The benchmark's load against one running S3 endpoint (run.sh runs it once per server).

Phases, in this order, every request SigV4-signed (presigned for loadgen and curl):

  small      4 KiB objects with loadgen (C, epoll; 16 connections, 2 threads, closed loop):
             a short unreported PUT warm-up; 1000 keys written for the reads; then PUT of
             new keys, GET and HEAD cycling through the 1000 keys, each for --duration s.
  list       --list-keys small objects written to a bucket of their own, then
             ListObjectsV2 through all of them (1000 a page, following continuation
             tokens) on one keep-alive connection; best of --list-runs walks.
  large      one PUT of --large-file (curl -T, presigned) and one GET of it (curl to
             /dev/null), --large-runs times each.
  encrypted  (Strata) the large PUT and GET again as SSE-S3 and as SSE-C objects (the
             encryption headers signed into the presigned URLs), --large-runs times each.
  multipart  CreateMultipartUpload, --parts UploadParts of --part-file (curl, presigned,
             --part-concurrency at once), CompleteMultipartUpload; timed from create to
             complete, the object's size checked by HEAD afterwards.
  memory     the server's peak (VmHWM) and current (VmRSS) resident memory from
             /proc/PID/status.

Before each timed phase the page cache is synced, so writes a server left dirty do not
land in the next phase. Every response status is checked: a phase with any non-2xx
response, socket error or wrong body length reports `<phase>_errors` > 0 and run.sh's
table marks it. Output: one `label metric value unit` line per figure on stdout;
progress on stderr.
"""
import argparse
import concurrent.futures
import html
import http.client
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse

from sigv4 import Signer

MiB = 1024 * 1024


def log(*args):
    print(f"[s3bench {time.strftime('%H:%M:%S')}]", *args, file=sys.stderr, flush=True)


class Endpoint:
    """One S3 endpoint: signed http.client requests and presigned request targets."""

    def __init__(self, url, signer):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise SystemExit(f"loopback http:// endpoints only, not {url}")
        self.host, self.port, self.hostport = parts.hostname, parts.port or 80, parts.netloc
        self.signer = signer

    def connect(self, timeout=300):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, conn, method, path, query=None, body=None):
        """Sends one signed request on `conn`; returns (status, headers, body bytes)."""
        target = urllib.parse.quote(path)
        if query:
            target += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        headers = self.signer.headers(method, self.hostport, path, query)
        headers["Content-Length"] = str(len(body or b""))
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.headers, response.read()

    def once(self, method, path, query=None, body=None):
        conn = self.connect()
        try:
            return self.request(conn, method, path, query, body)
        finally:
            conn.close()

    def url(self, method, path, query=None, headers=None):
        return f"http://{self.hostport}{self.signer.presign(method, self.hostport, path, query, headers=headers)}"

    def write_targets(self, file, method, paths):
        with open(file, "w") as f:
            for target in self.signer.presign_many(method, self.hostport, paths):
                f.write(target + "\n")


class Process:
    """The server's /proc figures: CPU seconds and resident memory."""

    def __init__(self, pid):
        self.pid = pid

    def cpu_seconds(self):
        if not self.pid:
            return 0.0
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_kib(self):
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    out[key] = int(rest.split()[0])
        return out


class Bench:
    def __init__(self, args):
        self.args = args
        self.label = args.label
        self.endpoint = Endpoint(args.endpoint, Signer(args.access_key, args.secret_key, args.region))
        self.server = Process(args.pid)
        self.work = args.work
        os.makedirs(self.work, exist_ok=True)

    def emit(self, metric, value, unit):
        if isinstance(value, float):
            value = f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
        print(f"{self.label} {metric} {value} {unit}", flush=True)

    @staticmethod
    def settle():
        """Writes left in the page cache by the last phase reach the disk, outside any timing."""
        os.sync()
        time.sleep(1)

    # --- buckets ---------------------------------------------------------------------

    def prepare(self):
        """Creates both buckets and waits until a PUT lands (SeaweedFS answers before its
        volume server has registered)."""
        for bucket in (self.args.bucket, self.args.list_bucket):
            status, _, body = self.endpoint.once("PUT", f"/{bucket}")
            if status not in (200, 409):
                raise SystemExit(f"{self.label}: CreateBucket {bucket}: HTTP {status} {body[:300]!r}")
        for _ in range(120):
            status, _, body = self.endpoint.once("PUT", f"/{self.args.bucket}/probe", body=os.urandom(4096))
            if status == 200:
                return
            time.sleep(0.5)
        raise SystemExit(f"{self.label}: a PUT still fails after 60 s: HTTP {status} {body[:300]!r}")

    # --- loadgen ---------------------------------------------------------------------

    def loadgen(self, method, targets_file, seconds=None, count=None, size=0, expect=None):
        """Runs loadgen; returns its figures plus client and server CPU percent of one core."""
        a = self.args
        cmd = [a.loadgen, "-p", str(self.endpoint.port), "-a", self.endpoint.host, "-H", self.endpoint.hostport,
               "-m", method, "-f", targets_file, "-c", str(a.connections), "-t", str(a.threads)]
        if size:
            cmd += ["-s", str(size)]
        if expect is not None:
            cmd += ["-e", str(expect)]
        if count:
            cmd += ["-n", str(count), "-d", str(a.populate_deadline)]
            limit = a.populate_deadline + 60
        else:
            cmd += ["-d", str(seconds)]
            limit = seconds + 60
        server_cpu = self.server.cpu_seconds()
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
        if result.returncode != 0:
            raise SystemExit(f"{self.label}: loadgen failed: {result.stderr.strip()}")
        figures = {}
        for line in result.stdout.splitlines():
            name, _, value = line.partition(" ")
            figures[name] = value if name == "first_error" else float(value)
        seconds_run = figures["duration_s"]
        figures["server_cpu_pct"] = 100 * (self.server.cpu_seconds() - server_cpu) / seconds_run
        figures["client_cpu_pct"] = 100 * figures["cpu_s"] / seconds_run
        figures["errors"] = figures["non2xx"] + figures["sock_errors"] + figures["wrong_length"]
        if figures["errors"]:
            log(f"{method}: {figures['non2xx']:.0f} non-2xx, {figures['sock_errors']:.0f} socket errors, "
                f"{figures['wrong_length']:.0f} wrong lengths; first: {figures.get('first_error', '-')}")
        return figures

    def populate(self, bucket, keys, size, name):
        """Writes every key once (loadgen count mode); stops the run if any write failed."""
        targets = os.path.join(self.work, f"{name}-put.txt")
        self.endpoint.write_targets(targets, "PUT", [f"/{bucket}/{k}" for k in keys])
        r = self.loadgen("PUT", targets, count=len(keys), size=size)
        os.unlink(targets)
        self.emit(f"{name}_populate_ops_s", r["ops_s"], "ops/s")
        if r["ok"] != len(keys) or r["errors"]:
            raise SystemExit(f"{self.label}: writing {len(keys)} {name} keys: {r['ok']:.0f} ok, "
                             f"{r['errors']:.0f} errors, {r.get('unfinished', 0):.0f} unfinished")

    def report_small(self, name, r):
        self.emit(f"{name}_ops_s", r["ops_s"], "ops/s")
        self.emit(f"{name}_p50_ms", r["p50_ms"], "ms")
        self.emit(f"{name}_p99_ms", r["p99_ms"], "ms")
        self.emit(f"{name}_errors", int(r["errors"]), "count")
        self.emit(f"{name}_server_cpu_pct", r["server_cpu_pct"], "%core")
        self.emit(f"{name}_client_cpu_pct", r["client_cpu_pct"], "%core")

    def small(self):
        a, B = self.args, self.args.bucket
        warm = os.path.join(self.work, "warm.txt")
        self.endpoint.write_targets(warm, "PUT", (f"/{B}/warm/{i:06d}" for i in range(20000)))
        if a.warmup > 0:
            self.loadgen("PUT", warm, seconds=a.warmup, size=a.size)
        os.unlink(warm)

        read_keys = [f"read/{i:05d}" for i in range(a.read_keys)]
        self.populate(B, read_keys, a.size, "read")

        # New keys for every PUT; a run that outlasts them overwrites (reported as wrapped).
        targets = os.path.join(self.work, "put.txt")
        self.endpoint.write_targets(targets, "PUT",
                                    (f"/{B}/put/{i:07d}" for i in range(max(20000, a.duration * a.put_keys_per_s))))
        self.settle()
        log("4 KiB PUT")
        r = self.loadgen("PUT", targets, seconds=a.duration, size=a.size)
        os.unlink(targets)
        self.report_small("put4k", r)
        self.emit("put4k_wrapped", int(r["wrapped"]), "count")

        for method, name in (("GET", "get4k"), ("HEAD", "head4k")):
            targets = os.path.join(self.work, f"{name}.txt")
            self.endpoint.write_targets(targets, method, (f"/{B}/{k}" for k in read_keys))
            self.settle()
            log(f"4 KiB {method}")
            r = self.loadgen(method, targets, seconds=a.duration, expect=a.size)
            os.unlink(targets)
            self.report_small(name, r)

    # --- list ------------------------------------------------------------------------

    def list_walk(self, bucket):
        """ListObjectsV2 through the whole bucket; returns (keys, pages, seconds)."""
        conn = self.endpoint.connect()
        token, keys, pages = None, 0, 0
        started = time.perf_counter()
        while pages < 10000:
            query = {"list-type": "2", "max-keys": "1000"}
            if token:
                query["continuation-token"] = token
            status, _, body = self.endpoint.request(conn, "GET", f"/{bucket}", query)
            if status != 200:
                raise SystemExit(f"{self.label}: ListObjectsV2: HTTP {status} {body[:300]!r}")
            pages += 1
            keys += body.count(b"<Key>")
            if b"<IsTruncated>true</IsTruncated>" not in body:
                break
            match = re.search(rb"<NextContinuationToken>(.*?)</NextContinuationToken>", body)
            if not match:
                raise SystemExit(f"{self.label}: a truncated page without NextContinuationToken")
            token = html.unescape(match.group(1).decode())
        seconds = time.perf_counter() - started
        conn.close()
        return keys, pages, seconds

    def list(self):
        a, B = self.args, self.args.list_bucket
        log(f"writing {a.list_keys} keys for the listing")
        self.populate(B, [f"list-{i:05d}" for i in range(a.list_keys)], 256, "list")
        self.settle()
        runs = []
        for _ in range(a.list_runs):
            keys, pages, seconds = self.list_walk(B)
            log(f"ListObjectsV2: {keys} keys in {pages} pages, {seconds:.3f} s")
            runs.append(seconds)
            if keys != a.list_keys:
                self.emit("list_errors", 1, "count")
                log(f"listing found {keys} keys, {a.list_keys} were written")
        self.emit("list_s", min(runs), "s")
        self.emit("list_runs", ",".join(f"{s:.3f}" for s in runs), "s")
        self.emit("list_keys", keys, "keys")

    # --- large objects with curl -----------------------------------------------------

    def curl(self, args, timeout=1800):
        result = subprocess.run(["curl", "-sS", "-H", "Expect:", *args], capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise SystemExit(f"{self.label}: curl failed: {result.stderr.strip()}")
        return result.stdout

    def large(self):
        a, B = self.args, self.args.bucket
        size = os.path.getsize(a.large_file)
        path = f"/{B}/large"
        put, get, errors, cpu = [], [], 0, {"put": 0.0, "get": 0.0}
        answer = os.path.join(self.work, "answer.xml")
        for run in range(a.large_runs):
            self.settle()
            before = self.server.cpu_seconds()
            out = self.curl(["-T", a.large_file, "-o", answer, "-w", "%{http_code} %{size_upload} %{time_total}",
                             self.endpoint.url("PUT", path)]).split()
            if out[0] != "200" or int(out[1]) != size:
                errors += 1
                log(f"large PUT: HTTP {out[0]}, {out[1]} bytes sent: {open(answer, errors='replace').read(300)}")
            put.append(size / MiB / float(out[2]))
            cpu["put"] += 100 * (self.server.cpu_seconds() - before) / float(out[2]) / a.large_runs
            self.settle()
            before = self.server.cpu_seconds()
            out = self.curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}",
                             self.endpoint.url("GET", path)]).split()
            if out[0] != "200" or int(out[1]) != size:
                errors += 1
                log(f"large GET: HTTP {out[0]}, {out[1]} of {size} bytes")
            get.append(size / MiB / float(out[2]))
            cpu["get"] += 100 * (self.server.cpu_seconds() - before) / float(out[2]) / a.large_runs
            log(f"large run {run + 1}: PUT {put[-1]:.0f} MiB/s, GET {get[-1]:.0f} MiB/s")
        if os.path.exists(answer):
            os.unlink(answer)
        self.emit("put_large_mib_s", statistics.median(put), "MiB/s")
        self.emit("put_large_runs", ",".join(f"{x:.1f}" for x in put), "MiB/s")
        self.emit("get_large_mib_s", statistics.median(get), "MiB/s")
        self.emit("get_large_runs", ",".join(f"{x:.1f}" for x in get), "MiB/s")
        self.emit("put_large_server_cpu_pct", cpu["put"], "%core")
        self.emit("get_large_server_cpu_pct", cpu["get"], "%core")
        self.emit("large_errors", errors, "count")
        self.emit("large_bytes", size, "bytes")
        status, _, _ = self.endpoint.once("DELETE", path)
        if status not in (200, 204):
            log(f"DELETE {path}: HTTP {status}")

    def encrypted(self):
        """The large transfer of `large`, sealed: SSE-S3 (`AES256`) and SSE-C (a random key
        sent with PUT and GET), each --large-runs times, medians."""
        import base64
        import hashlib
        a, B = self.args, self.args.bucket
        size = os.path.getsize(a.large_file)
        key = os.urandom(32)
        customer = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
                    "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
                    "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(key).digest()).decode()}
        kinds = {"sse_s3": ({"x-amz-server-side-encryption": "AES256"}, {}), "sse_c": (customer, customer)}
        errors = 0
        for kind, (put_headers, get_headers) in kinds.items():
            path = f"/{B}/large-{kind}"
            put, get = [], []
            for run in range(a.large_runs):
                for method, headers, rates in (("PUT", put_headers, put), ("GET", get_headers, get)):
                    self.settle()
                    flags = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
                    body = ["-T", a.large_file, "-o", "/dev/null"] if method == "PUT" else ["-o", "/dev/null"]
                    out = self.curl([*flags, *body, "-w", "%{http_code} %{size_upload} %{size_download} %{time_total}",
                                     self.endpoint.url(method, path, headers=headers)]).split()
                    moved = int(out[1]) if method == "PUT" else int(out[2])
                    if out[0] != "200" or moved != size:
                        errors += 1
                        log(f"{kind} {method}: HTTP {out[0]}, {moved} of {size} bytes")
                    rates.append(size / MiB / float(out[3]))
                log(f"{kind} run {run + 1}: PUT {put[-1]:.0f} MiB/s, GET {get[-1]:.0f} MiB/s")
            self.emit(f"put_{kind}_mib_s", statistics.median(put), "MiB/s")
            self.emit(f"put_{kind}_runs", ",".join(f"{x:.1f}" for x in put), "MiB/s")
            self.emit(f"get_{kind}_mib_s", statistics.median(get), "MiB/s")
            self.emit(f"get_{kind}_runs", ",".join(f"{x:.1f}" for x in get), "MiB/s")
            status, _, _ = self.endpoint.once("DELETE", path)
            if status not in (200, 204):
                log(f"DELETE {path}: HTTP {status}")
        self.emit("encrypted_errors", errors, "count")

    def multipart(self):
        a, B = self.args, self.args.bucket
        part_size = os.path.getsize(a.part_file)
        total = part_size * a.parts
        path = f"/{B}/multipart"
        self.settle()
        log(f"multipart upload: {a.parts} parts of {part_size // MiB} MiB, {a.part_concurrency} at once")
        started, cpu = time.perf_counter(), self.server.cpu_seconds()
        status, _, body = self.endpoint.once("POST", path, {"uploads": ""})
        match = re.search(rb"<UploadId>(.*?)</UploadId>", body)
        if status != 200 or not match:
            raise SystemExit(f"{self.label}: CreateMultipartUpload: HTTP {status} {body[:300]!r}")
        upload_id = html.unescape(match.group(1).decode())

        def upload(number):
            url = self.endpoint.url("PUT", path, {"partNumber": str(number), "uploadId": upload_id})
            out = self.curl(["-T", a.part_file, "-o", "/dev/null", "-D", "-", "-w", "\n%{http_code}", url])
            etag = re.search(r"(?im)^etag:\s*(\S+)", out)
            return out.rsplit("\n", 1)[1].strip(), etag.group(1) if etag else None

        with concurrent.futures.ThreadPoolExecutor(a.part_concurrency) as pool:
            answers = list(pool.map(upload, range(1, a.parts + 1)))
        failed = [(n, s) for n, (s, etag) in enumerate(answers, 1) if s != "200" or not etag]
        if failed:
            raise SystemExit(f"{self.label}: UploadPart failed (part, status): {failed[:5]}")
        document = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{html.escape(etag, quote=False)}</ETag></Part>"
            for n, (_, etag) in enumerate(answers, 1)) + "</CompleteMultipartUpload>"
        status, _, body = self.endpoint.once("POST", path, {"uploadId": upload_id}, document.encode())
        seconds = time.perf_counter() - started
        cpu = self.server.cpu_seconds() - cpu
        errors = 0
        # (moto names the document CompleteMultipartUploadResponse.)
        if status != 200 or b"<Error>" in body or b"<ETag>" not in body:
            errors += 1
            log(f"CompleteMultipartUpload: HTTP {status} {body[:300]!r}")
        status, headers, _ = self.endpoint.once("HEAD", path)
        if status != 200 or int(headers.get("Content-Length", -1)) != total:
            errors += 1
            log(f"HEAD after the multipart upload: HTTP {status}, Content-Length {headers.get('Content-Length')}")
        self.emit("multipart_mib_s", total / MiB / seconds, "MiB/s")
        self.emit("multipart_server_cpu_pct", 100 * cpu / seconds, "%core")
        self.emit("multipart_errors", errors, "count")
        self.emit("multipart_bytes", total, "bytes")
        log(f"multipart: {total / MiB / seconds:.0f} MiB/s")
        self.endpoint.once("DELETE", path)

    def memory(self):
        kib = self.server.memory_kib()
        self.emit("rss_peak_mib", kib["VmHWM"] / 1024, "MiB")
        self.emit("rss_end_mib", kib["VmRSS"] / 1024, "MiB")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT")
    p.add_argument("--label", required=True, help="first column of the output lines")
    p.add_argument("--pid", type=int, default=0, help="the server's process, for CPU and memory")
    p.add_argument("--access-key", required=True)
    p.add_argument("--secret-key", required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--loadgen", required=True, help="the compiled loadgen")
    p.add_argument("--work", required=True, help="scratch directory for request-target files")
    p.add_argument("--phases", default="small,list,large,multipart,memory")
    p.add_argument("--bucket", default="bench")
    p.add_argument("--list-bucket", default="benchlist")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--duration", type=int, default=10, help="seconds of each 4 KiB phase")
    p.add_argument("--warmup", type=int, default=2, help="seconds of unreported 4 KiB PUTs first")
    p.add_argument("--size", type=int, default=4096, help="small object bytes")
    p.add_argument("--read-keys", type=int, default=1000, help="keys the GET and HEAD phases cycle through")
    p.add_argument("--put-keys-per-s", type=int, default=8000,
                   help="presigned PUT targets per second of --duration (more PUTs overwrite)")
    p.add_argument("--populate-deadline", type=int, default=300, help="seconds to write the key sets")
    p.add_argument("--list-keys", type=int, default=20000)
    p.add_argument("--list-runs", type=int, default=3)
    p.add_argument("--large-file", help="the object for the single PUT and GET")
    p.add_argument("--large-runs", type=int, default=3)
    p.add_argument("--part-file", help="the body of every UploadPart")
    p.add_argument("--parts", type=int, default=80)
    p.add_argument("--part-concurrency", type=int, default=4)
    args = p.parse_args()
    # SIGTERM (run.sh's clean-up) as an exception: subprocess.run then kills loadgen or
    # curl on its way out instead of leaving it to load a server being stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    bench = Bench(args)
    bench.prepare()
    for phase in args.phases.split(","):
        getattr(bench, {"small": "small", "list": "list", "large": "large", "encrypted": "encrypted",
                        "multipart": "multipart", "memory": "memory"}[phase])()
    return 0


if __name__ == "__main__":
    sys.exit(main())
