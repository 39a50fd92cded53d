#!/usr/bin/env python3
"""Big-object benchmark client (driven by run.sh; not a test).

Runs the phases against an already running `strata serve` and samples the server's
memory from /proc/PID/status every 100 ms while each phase runs:

  put-single     one PUT of the whole file: curl -T with a presigned URL (streams from disk)
  get-single     one GET of that object into a file: curl with a presigned URL
  put-multipart  boto3 upload_file, 64 MiB parts, 4 threads (CreateMultipartUpload,
                 UploadPart x N, CompleteMultipartUpload)
  get-multipart  one GET of the multipart object into a file: curl with a presigned URL

Every download is checked against the source's size and sha256 (outside the timed part)
and deleted right after. For each phase: MiB/s (wall clock of the client), the server's
VmRSS just before the phase (baseline), the highest sample during it (peak), peak minus
baseline, VmHWM after resetting it before the phase (the kernel's exact peak, catches
spikes between samples), RssAnon growth, and the server's CPU seconds.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time

MiB = 1024 * 1024
PART_SIZE = 64 * MiB
THREADS = 4


def log(*args):
    print("[bench]", *args, file=sys.stderr, flush=True)


# --- /proc sampling -----------------------------------------------------------------

def read_status(pid):
    """VmRSS, VmHWM, RssAnon, RssFile in bytes (None when the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[key] = int(rest.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return out


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # fields[11], fields[12] are utime and stime (fields 14 and 15 of stat(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_hwm(pid):
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Sampler:
    """Samples the server's status every `interval` seconds on a thread."""

    def __init__(self, pid, interval=0.1):
        self.pid, self.interval = pid, interval
        self.samples = []  # (t, status dict)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            st = read_status(self.pid)
            if st is None:
                break
            self.samples.append((time.monotonic(), st))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def settle(pid, seconds=1.0):
    """Lets the server go quiet before a baseline is taken."""
    time.sleep(seconds)


def run_phase(name, pid, size, fn):
    settle(pid)
    hwm_ok = reset_hwm(pid)
    base = read_status(pid)
    if base is None:
        raise SystemExit(f"server (pid {pid}) is not running before phase {name}")
    cpu0 = cpu_seconds(pid)
    log(f"{name}: start (baseline VmRSS {base['VmRSS'] / MiB:.1f} MiB)")
    with Sampler(pid) as sampler:
        t0 = time.monotonic()
        detail = fn()
        elapsed = time.monotonic() - t0
    after = read_status(pid)
    if after is None:
        raise SystemExit(f"server (pid {pid}) died during phase {name}")
    cpu1 = cpu_seconds(pid)
    samples = [st for _, st in sampler.samples] + [after]
    peak = max(s["VmRSS"] for s in samples)
    peak_anon = max(s.get("RssAnon", 0) for s in samples)
    result = {
        "phase": name,
        "bytes": size,
        "seconds": round(elapsed, 3),
        "mib_per_s": round(size / MiB / elapsed, 1),
        "rss_baseline": base["VmRSS"],
        "rss_peak": peak,
        "rss_growth": peak - base["VmRSS"],
        "rss_after": after["VmRSS"],
        "anon_baseline": base.get("RssAnon"),
        "anon_peak": peak_anon,
        "anon_growth": peak_anon - base.get("RssAnon", 0),
        "hwm": after.get("VmHWM") if hwm_ok else None,
        "hwm_growth": (after["VmHWM"] - base["VmRSS"]) if hwm_ok else None,
        "samples": len(sampler.samples),
        "server_cpu_s": round(cpu1 - cpu0, 2) if cpu0 is not None and cpu1 is not None else None,
    }
    result.update(detail or {})
    log(f"{name}: {elapsed:.1f} s, {result['mib_per_s']} MiB/s, "
        f"RSS {base['VmRSS'] / MiB:.1f} -> peak {peak / MiB:.1f} MiB "
        f"(+{result['rss_growth'] / MiB:.1f}), after {after['VmRSS'] / MiB:.1f} MiB")
    return result


# --- clients ------------------------------------------------------------------------

def s3_client(args):
    import boto3
    from botocore.config import Config

    return boto3.session.Session(
        aws_access_key_id=args.access_key,
        aws_secret_access_key=args.secret_key,
        region_name=args.region,
    ).client(
        "s3",
        endpoint_url=args.endpoint,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},  # a retry would skew the numbers
            read_timeout=600,
            connect_timeout=10,
        ),
    )


def presign(s3, method, bucket, key):
    return s3.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key}, ExpiresIn=6 * 3600)


def curl(argv):
    cmd = ["curl", "--silent", "--show-error", "--fail", "--noproxy", "*",
           "--write-out", "%{http_code} %{size_upload} %{size_download}"] + argv
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"curl failed ({p.returncode}): {p.stderr.strip()} {p.stdout.strip()}")
    code, up, down = p.stdout.split()[-3:]
    return int(code), int(float(up)), int(float(down))


def sha256_file(path):
    p = subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True)
    return p.stdout.split()[0]


def verify_download(path, size, sha, what):
    got = os.path.getsize(path)
    if got != size:
        raise SystemExit(f"{what}: downloaded {got} bytes, expected {size}")
    log(f"{what}: verifying sha256 of the download")
    digest = sha256_file(path)
    if digest != sha:
        raise SystemExit(f"{what}: sha256 mismatch: {digest} != {sha}")
    return {"verified": True}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--pid", type=int, required=True, help="the server's process id")
    ap.add_argument("--file", required=True)
    ap.add_argument("--sha256", required=True)
    ap.add_argument("--workdir", required=True, help="where downloads go (deleted after checking)")
    ap.add_argument("--phases", default="single,multipart", help="comma list of: single, multipart")
    ap.add_argument("--dd-mib-per-s", type=float)
    ap.add_argument("--dd-line", default="")
    ap.add_argument("--command", default="")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    unknown = phases - {"single", "multipart"}
    if unknown:
        raise SystemExit(f"unknown phase(s): {', '.join(sorted(unknown))}")

    size = os.path.getsize(args.file)
    s3 = s3_client(args)
    bucket = "bench"
    s3.create_bucket(Bucket=bucket)
    download = os.path.join(args.workdir, "download.bin")
    results = []

    if "single" in phases:
        key = "single"

        def put_single():
            code, _, _ = curl(["--upload-file", args.file, "--output", "/dev/null", presign(s3, "put_object", bucket, key)])
            head = s3.head_object(Bucket=bucket, Key=key)
            if head["ContentLength"] != size:
                raise SystemExit(f"put-single: stored {head['ContentLength']} bytes, expected {size}")
            return {"client": "curl -T (presigned PUT)", "http": code, "etag": head["ETag"].strip('"')}

        results.append(run_phase("put-single", args.pid, size, put_single))

        def get_single():
            code, _, _ = curl(["--output", download, presign(s3, "get_object", bucket, key)])
            return {"client": "curl (presigned GET)", "http": code}

        r = run_phase("get-single", args.pid, size, get_single)
        r.update(verify_download(download, size, args.sha256, "get-single"))
        os.unlink(download)
        results.append(r)

    if "multipart" in phases:
        key = "multipart"
        from boto3.s3.transfer import TransferConfig

        def put_multipart():
            cfg = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE,
                                 max_concurrency=THREADS, use_threads=True,
                                 preferred_transfer_client="classic")
            s3.upload_file(args.file, bucket, key, Config=cfg)
            head = s3.head_object(Bucket=bucket, Key=key)
            if head["ContentLength"] != size:
                raise SystemExit(f"put-multipart: stored {head['ContentLength']} bytes, expected {size}")
            etag = head["ETag"].strip('"')
            parts = -(-size // PART_SIZE)
            if size > PART_SIZE and not etag.endswith(f"-{parts}"):
                raise SystemExit(f"put-multipart: ETag {etag} is not a {parts}-part multipart ETag")
            return {"client": f"boto3 upload_file ({PART_SIZE // MiB} MiB parts, {THREADS} threads)",
                    "parts": parts, "etag": etag}

        results.append(run_phase("put-multipart", args.pid, size, put_multipart))

        def get_multipart():
            code, _, _ = curl(["--output", download, presign(s3, "get_object", bucket, key)])
            return {"client": "curl (presigned GET)", "http": code}

        r = run_phase("get-multipart", args.pid, size, get_multipart)
        r.update(verify_download(download, size, args.sha256, "get-multipart"))
        os.unlink(download)
        results.append(r)

    report = {
        "command": args.command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {
            "cpus": os.cpu_count(),
            "mem_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
            "kernel": platform.release(),
        },
        "bytes": size,
        "sha256": args.sha256,
        "rss_limit_mib": 64,
        "dd_reference": {"mib_per_s": args.dd_mib_per_s, "line": args.dd_line},
        "phases": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


def mib(n):
    return "-" if n is None else f"{n / MiB:.1f}"


def print_table(report):
    size = report["bytes"]
    m = report["machine"]
    print(f"Strata big-object benchmark, {report['date']}")
    print(f"object: {size} bytes ({size / MiB:.0f} MiB), sha256 {report['sha256'][:16]}...")
    print(f"machine: {m['cpus']} CPUs, {m['mem_total_gib']} GiB RAM, Linux {m['kernel']}")
    if report["command"]:
        print(f"command: {report['command']}")
    print()
    hdr = ["phase", "MiB/s", "seconds", "RSS base", "RSS peak", "growth", "HWM growth", "anon growth", "srv CPU s", "<64 MiB"]
    rows = []
    for r in report["phases"]:
        worst = max(x for x in (r["rss_growth"], r["hwm_growth"]) if x is not None)
        rows.append([
            r["phase"], f"{r['mib_per_s']:.1f}", f"{r['seconds']:.1f}",
            mib(r["rss_baseline"]), mib(r["rss_peak"]), mib(r["rss_growth"]),
            mib(r["hwm_growth"]), mib(r["anon_growth"]),
            "-" if r["server_cpu_s"] is None else f"{r['server_cpu_s']:.1f}",
            "yes" if worst < 64 * MiB else "NO",
        ])
    dd = report["dd_reference"]
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                           for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    print(line(hdr))
    print("|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")
    for row in rows:
        print(line(row))
    print()
    print("RSS columns in MiB. growth = highest 100 ms VmRSS sample minus VmRSS before the phase;")
    print("HWM growth = VmHWM (reset before the phase) minus that baseline; anon = RssAnon only.")
    for r in report["phases"]:
        extra = f", {r['parts']} parts" if "parts" in r else ""
        print(f"  {r['phase']}: {r['client']}{extra}; RSS after the phase {mib(r['rss_after'])} MiB"
              + ("; download verified (size, sha256)" if r.get("verified") else ""))
    if dd["mib_per_s"]:
        print(f"disk reference: dd bs=1M count=2048 conv=fdatasync: {dd['mib_per_s']:.1f} MiB/s ({dd['line']})")


if __name__ == "__main__":
    main()
