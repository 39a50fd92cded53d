#!/usr/bin/env python3
"""Crash-recovery torture test for `strata serve` (issue 5, item 4).

Starts `strata serve` on a fresh data directory and a free loopback port, drives it from
several threads with boto3 (small PUTs, multipart uploads, overwrites, deletes,
CopyObject, in-load GETs and, with --compact, online compaction), kills it with SIGKILL
at a random moment, restarts it (sometimes killing it again while it recovers), and
checks every key against what the server acknowledged:

* the current content of a key is the last acknowledged write (PUT, Complete, Copy) or
  delete, or one of the writes whose outcome is unknown (in flight when the server died);
  when acknowledged writes overlap in time (keys shared by threads), any of them whose
  end is not followed by the start of another acknowledged write may be the last;
* a body that reads back is complete and byte-exact (sha256 and length of a
  deterministic body from (key, seed, generation)); nothing half-written is visible;
* ListObjectsV2, HEAD and GET agree on which keys exist, their size and ETag;
* with --versioned-threads, on buckets with versioning Enabled or Suspended: every acknowledged
  version and delete marker is listed (ListObjectVersions) in order and reads back
  byte-exact by id with its ACL, and a version deleted for good stays gone.

After the last cycle the server is stopped with SIGTERM and `strata verify` and
`strata verify --deep` must exit 0. Exit status: 0 PASS, 1 FAIL, 2 usage or set-up
error. See README.md next to this file.
"""

import argparse
import atexit
import hashlib
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
ACCESS_KEY = "AKIASTRATACRASHTEST1"
SECRET_KEY = "strataCrashtestSecret/0123456789abcdefXYZ"
REGION = "us-east-1"
BUCKET = "crashtest"
VBUCKET = "crashtest-versions"   # versioning Enabled (--versioned-threads: even threads)
SBUCKET = "crashtest-suspended"  # Enabled, then Suspended, then switched during the load (odd versioned threads)
VMAX_VERSIONS = 6                # a key with more versions gets permanent deletes first
MiB = 1024 * 1024
PART_SIZE = 5 * MiB
SMALL_MAX = 300 * 1024
STARTUP_TIMEOUT = 60.0      # seconds until a (re)started server must accept connections
STOP_TIMEOUT = 30.0         # seconds for a SIGTERM'd server to exit
TOOL_TIMEOUT = 300.0        # seconds for verify / offline compact
COMPACT_TIMEOUT = 120.0     # seconds for one online `strata compact --server`
JOIN_TIMEOUT = 90.0         # seconds to wait for a load thread after the kill

# This process's boto3 must not see the user's AWS configuration or endpoint overrides.
_isolation = tempfile.mkdtemp(prefix="strata-crashtest-aws-")
for _name in list(os.environ):
    if _name.startswith("AWS_"):
        del os.environ[_name]
os.environ["AWS_CONFIG_FILE"] = os.path.join(_isolation, "config")
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(_isolation, "credentials")
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
atexit.register(shutil.rmtree, _isolation, True)
# strata takes settings from STRATA_* variables (and a file named by STRATA_CONFIG): its
# processes get none of them, only the flags the harness passes.
CHILD_ENV = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}

import boto3  # noqa: E402  (after the environment is cleaned)
from botocore.config import Config  # noqa: E402
from botocore.exceptions import (ClientError, ConnectTimeoutError,  # noqa: E402
                                 EndpointConnectionError)


# ----------------------------------------------------------------------------- processes

_children = set()            # every Popen this process started and has not reaped
_children_lock = threading.Lock()


def _track(proc):
    with _children_lock:
        _children.add(proc)
    return proc


def _untrack(proc):
    with _children_lock:
        _children.discard(proc)


def kill_all_children():
    """SIGKILL every process we started that is still running (atexit, finally, signals)."""
    with _children_lock:
        procs = list(_children)
    for p in procs:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
        try:
            p.wait(timeout=10)
        except Exception:
            pass
        _untrack(p)


atexit.register(kill_all_children)


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _die_with_parent():
    """In the server child before exec: SIGKILL when the harness dies, even by SIGKILL."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def readiness(port):
    """'down' (no connection), 'recovering' (accepts, /_strata/health/ready is not 200 yet)
    or 'ready'. A strata that has no health endpoint (it listened only after recovery)
    answers it with an S3 error other than 503: ready as soon as it accepts."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/_strata/health/ready")
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return "recovering" if port_accepts(port) else "down"
    finally:
        conn.close()
    return "recovering" if status == 503 else "ready"


def run_tool(cmd, timeout, log_path=None):
    """Runs a strata subcommand to completion; returns (rc, output). rc None on timeout."""
    proc = _track(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=CHILD_ENV))
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        rc = None
    finally:
        _untrack(proc)
    text = out.decode(errors="replace")
    if log_path:
        with open(log_path, "a") as f:
            f.write(f"\n$ {' '.join(cmd)}\n{text}[exit {rc}]\n")
    return rc, text


class Server:
    """One `strata serve` process at a time on a fixed data directory and port."""

    def __init__(self, binary, data_dir, log_path, port, segment_size=None, extra=()):
        self.binary, self.data_dir, self.log_path, self.port = binary, data_dir, log_path, port
        self.segment_size = segment_size
        self.extra = list(extra)
        self.proc = None
        self.launched_at = 0.0

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def cmd(self):
        c = [str(self.binary), "serve", "--data", str(self.data_dir), "--host", "127.0.0.1",
             "--port", str(self.port), "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
             "--region", REGION]
        if self.segment_size:
            c += ["--segment-size", str(self.segment_size)]
        return c + self.extra

    def launch(self):
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} launch: {' '.join(self.cmd())}\n".encode())
            log.flush()
            self.proc = _track(subprocess.Popen(
                self.cmd(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=CHILD_ENV,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None))
        self.launched_at = time.monotonic()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=STARTUP_TIMEOUT):
        """Waits until the server is ready (recovered; /_strata/health/ready answers 200);
        returns seconds since launch. Raises when it exits or times out."""
        deadline = self.launched_at + timeout
        while True:
            if self.proc.poll() is not None:
                raise HarnessError(f"strata serve exited with {self.proc.returncode} during start-up\n"
                                   f"--- server log (tail) ---\n{self.log_tail()}")
            if readiness(self.port) == "ready":
                return time.monotonic() - self.launched_at
            if time.monotonic() > deadline:
                raise HarnessError(f"strata serve was not ready on port {self.port} "
                                   f"within {timeout:.0f}s\n--- server log (tail) ---\n{self.log_tail()}")
            time.sleep(0.01)

    def kill(self):
        """SIGKILL (only this process, by its pid) and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        _untrack(self.proc)
        with open(self.log_path, "ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} SIGKILL (exit {self.proc.returncode})\n".encode())

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns (clean, exit code). SIGKILLs it when it does not exit."""
        if self.proc is None or self.proc.poll() is not None:
            return True, self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=timeout)
            _untrack(self.proc)
            return rc == 0, rc
        except subprocess.TimeoutExpired:
            self.kill()
            return False, None

    def log_tail(self, n=3000):
        try:
            return Path(self.log_path).read_text(errors="replace")[-n:]
        except OSError:
            return ""


def make_client(endpoint, read_timeout=30):
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                 read_timeout=read_timeout, max_pool_connections=8,
                 s3={"addressing_style": "path"})
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, config=cfg)


class HarnessError(Exception):
    """The harness itself could not proceed (server would not start, a tool timed out)."""


# ----------------------------------------------------------------------------- model

@dataclass(frozen=True)
class Version:
    """Content of one attempted write: identified by length and sha256."""
    length: int
    sha256: str
    desc: str = field(compare=False)

    def short(self):
        return f"{self.desc} ({self.length} B, sha256 {self.sha256[:12]})"


def describe_value(v):
    return "absent" if v is None else v.short()


def body_for(key, seed, gen, length):
    """The deterministic body of write `gen` of `key`: a readable header, then SHAKE-128."""
    header = f"crashtest key={key} seed={seed} gen={gen} len={length}\n".encode()
    if length <= len(header):
        return header[:length]
    return header + hashlib.shake_128(f"{key}|{seed}|{gen}".encode()).digest(length - len(header))


def version_of(body, desc):
    return Version(len(body), hashlib.sha256(body).hexdigest(), desc)


@dataclass
class Op:
    """One attempt to change a key: a write (value) or a delete (value None)."""
    cycle: int
    thread: int
    key: str
    kind: str                      # put, mpu, copy, delete
    value: Optional[Version]
    start: float
    end: Optional[float] = None    # when the outcome arrived (None: unknown)
    outcome: str = "pending"       # acked, failed, unknown, refused
    detail: str = ""

    def brief(self, t0):
        end = f"{self.end - t0:.3f}" if self.end is not None else "?"
        d = f" [{self.detail}]" if self.detail else ""
        return (f"{self.kind} t{self.thread} {describe_value(self.value)} "
                f"{self.start - t0:.3f}-{end}s {self.outcome}{d}")


def candidates(initial, ops):
    """The values a key may hold after a crash, given its value at the cycle's start and the
    ops of the cycle (in any order). An acked op (or an S3 5xx, which may have committed
    before its response) is excluded when an acked op started after it ended; an op with
    no outcome (connection died) can never be excluded; the initial value only survives
    when nothing was acked."""
    acked_starts = [o.start for o in ops if o.outcome == "acked"]
    latest_acked_start = max(acked_starts) if acked_starts else None
    out = []
    if latest_acked_start is None:
        out.append(("initial", initial))
    for o in ops:
        if o.outcome == "acked" or (o.outcome == "unknown" and o.end is not None):
            if o.end is not None and latest_acked_start is not None and latest_acked_start > o.end:
                continue
            out.append((o.outcome, o.value))
        elif o.outcome == "unknown":
            out.append(("unknown", o.value))
    return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"acked": 0, "failed": 0, "unknown": 0, "refused": 0}
        self.kinds = {}
        self.errors = []            # first few S3 errors (none expected: every request is valid)
        self.s3_errors = 0
        self.gets_checked = 0

    def add(self, outcome, kind, detail=""):
        with self.lock:
            self.counts[outcome] += 1
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            if detail.startswith("HTTP"):           # an S3 error document (4xx or 5xx)
                self.s3_errors += 1
                if len(self.errors) < 5:
                    self.errors.append(f"{kind}: {detail}")


SERVER_SIDE_CODES = ("InternalError", "ServiceUnavailable", "SlowDown", "InsufficientStorage")


def classify(exc):
    """(outcome, detail) of a failed request. An S3 error's detail starts with "HTTP": its
    response arrived (so the op has an end time); a 5xx is "unknown" (it may have landed)."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = exc.response.get("Error", {}).get("Code", "?")
        msg = exc.response.get("Error", {}).get("Message", "")
        if status >= 500:
            # A server error may come after the commit record was written: it may land.
            return "unknown", f"HTTP {status} {code} {msg}".strip()
        return "failed", f"HTTP {status} {code} {msg}".strip()
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return "refused", type(exc).__name__       # never reached the server
    return "unknown", f"{type(exc).__name__}: {exc}"[:200]


# ----------------------------------------------------------------------------- load

class Cycle:
    """Shared state of one cycle's load."""

    def __init__(self, number, args, endpoint, states, owned, shared, gens, oplog, t0):
        self.number, self.args, self.endpoint = number, args, endpoint
        self.states = states            # key -> Version | None at the cycle's start
        self.owned, self.shared = owned, shared
        self.gens = gens                # key -> next generation (whole run)
        self.gen_lock = threading.Lock()
        self.ops = {}                   # key -> [Op]
        self.ops_lock = threading.Lock()
        self.stats = Stats()
        self.stop = threading.Event()
        self.failures = []              # in-load failures (a GET that read wrong bytes)
        self.oplog = oplog
        self.t0 = t0
        self.in_flight = {}             # thread -> kind, for the kill report
        self.pending_uploads = []       # multipart uploads left open (or maybe open) at the kill
        self.vstates = {}               # versioned key -> [VEntry] newest first, at the cycle's start
        self.vkeys = []                 # versioned thread -> its keys
        self.vresults = {}              # versioned thread -> VResult at its end

    def next_gen(self, key):
        with self.gen_lock:
            g = self.gens.get(key, 0) + 1
            self.gens[key] = g
            return g

    def begin(self, thread, key, kind, value):
        op = Op(self.number, thread, key, kind, value, time.monotonic())
        with self.ops_lock:
            self.ops.setdefault(key, []).append(op)
        return op

    def finish(self, op, outcome, detail=""):
        op.outcome, op.detail = outcome, detail
        # A connection that died gives no end: such an op may land at any later moment.
        op.end = time.monotonic() if outcome != "unknown" or detail.startswith("HTTP") else None
        self.stats.add(outcome, op.kind, detail)
        self.log_op(op)

    def log_op(self, op):
        rec = {"cycle": op.cycle, "thread": op.thread, "key": op.key, "kind": op.kind,
               "value": None if op.value is None else
               {"desc": op.value.desc, "length": op.value.length, "sha256": op.value.sha256},
               "start": round(op.start - self.t0, 4),
               "end": None if op.end is None else round(op.end - self.t0, 4),
               "outcome": op.outcome, "detail": op.detail}
        with self.ops_lock:
            self.oplog.write(json.dumps(rec) + "\n")


@dataclass
class PendingUpload:
    """A multipart upload the load left open, or whose Complete/Abort had no answer."""
    key: str
    upload_id: str
    value: Version                  # the object it completes to
    thread: int
    own: bool                       # the key is the thread's own (its later value is exact)
    sizes: list
    md5s: list                      # each part's expected ETag
    acked: dict = field(default_factory=dict)     # part number -> ETag of an acked UploadPart
    complete_attempted: bool = False
    abort_attempted: bool = False


class Stop(Exception):
    """The server went away: this load thread is done for the cycle."""


def small_size(rng):
    r = rng.random()
    if r < 0.04:
        return 0
    if r < 0.30:
        return rng.randint(1, 100)
    return int(math.exp(rng.uniform(math.log(100), math.log(SMALL_MAX))))


def worker(cyc: Cycle, t: int):
    """One load thread: operations on its own keys (states known exactly) and on the
    shared keys (written concurrently by every thread). Returns at the first connection
    error or 5xx (the server is gone), or when the cycle stops."""
    args = cyc.args
    rng = random.Random(f"{args.seed}/{cyc.number}/thread{t}")
    s3 = make_client(cyc.endpoint)
    mine = {k: cyc.states[k] for k in cyc.owned[t]}     # exact current values of own keys
    seed = args.seed

    def attempt(op_kind, key, value, fn):
        """Runs one key-changing request and records it; raises Stop when the server is gone."""
        op = cyc.begin(t, key, op_kind, value)
        cyc.in_flight[t] = op_kind
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is classified
            outcome, detail = classify(e)
            cyc.finish(op, outcome, detail)
            if outcome == "failed" or (detail.startswith("HTTP") and key not in mine):
                return False            # a shared key's exact value is not tracked: go on
            raise Stop() from None      # the server is gone, or an own key's value is uncertain
        finally:
            cyc.in_flight.pop(t, None)
        cyc.finish(op, "acked")
        if key in mine:
            mine[key] = value
        return True

    def plain(kind, fn):
        """A request that changes no key (multipart create/part/abort): counted only."""
        cyc.in_flight[t] = kind
        try:
            r = fn()
        except Exception as e:  # noqa: BLE001
            outcome, detail = classify(e)
            cyc.stats.add(outcome, kind, detail)
            if outcome != "failed":
                raise Stop() from None
            return None
        finally:
            cyc.in_flight.pop(t, None)
        cyc.stats.add("acked", kind)
        return r

    def pick_key(shared_share):
        if cyc.shared and rng.random() < shared_share:
            return rng.choice(cyc.shared)
        return rng.choice(cyc.owned[t])

    def put(key, size):
        gen = cyc.next_gen(key)
        body = body_for(key, seed, gen, size)
        v = version_of(body, f"put gen {gen}")
        attempt("put", key, v, lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=body))

    def multipart(key):
        gen = cyc.next_gen(key)
        nparts = rng.choice([n for n in (1, 2, 2, 3) if n <= args.max_parts])
        size = (nparts - 1) * PART_SIZE + rng.randint(1, PART_SIZE)
        body = body_for(key, seed, gen, size)
        v = version_of(body, f"multipart gen {gen} ({nparts} parts)")
        up = plain("mpu-create", lambda: s3.create_multipart_upload(Bucket=BUCKET, Key=key))
        if up is None:
            return
        chunks = [body[i * PART_SIZE:(i + 1) * PART_SIZE] for i in range(nparts)]
        u = PendingUpload(key, up["UploadId"], v, t, own=key in mine,
                          sizes=[len(c) for c in chunks],
                          md5s=[f'"{hashlib.md5(c).hexdigest()}"' for c in chunks])
        closed = False
        try:
            for i, chunk in enumerate(chunks):
                r = plain("mpu-part", lambda: s3.upload_part(Bucket=BUCKET, Key=key, UploadId=u.upload_id,
                                                             PartNumber=i + 1, Body=chunk))
                if r is None or cyc.stop.is_set():
                    if r is not None:
                        u.acked[i + 1] = r["ETag"]
                    return                      # left open: resolved by the check
                u.acked[i + 1] = r["ETag"]
            parts = [{"PartNumber": n, "ETag": e} for n, e in sorted(u.acked.items())]
            if rng.random() < 0.15:
                u.abort_attempted = True
                closed = plain("mpu-abort", lambda: s3.abort_multipart_upload(
                    Bucket=BUCKET, Key=key, UploadId=u.upload_id)) is not None
                return
            u.complete_attempted = True
            closed = attempt("mpu", key, v, lambda: s3.complete_multipart_upload(
                Bucket=BUCKET, Key=key, UploadId=u.upload_id, MultipartUpload={"Parts": parts}))
        finally:
            if not closed:
                with cyc.ops_lock:
                    cyc.pending_uploads.append(u)

    def copy(src, dst):
        sv = mine[src]
        origin = sv.desc.split(" (copied from")[0]
        v = Version(sv.length, sv.sha256, f"{origin} (copied from {src!r})")
        attempt("copy", dst, v, lambda: s3.copy_object(
            Bucket=BUCKET, Key=dst, CopySource={"Bucket": BUCKET, "Key": src}))

    def delete(key):
        attempt("delete", key, None, lambda: s3.delete_object(Bucket=BUCKET, Key=key))

    def delete_many(keys):
        """DeleteObjects: one op per key, acked when the response lists it as Deleted."""
        ops = [cyc.begin(t, k, "multi-delete", None) for k in keys]
        cyc.in_flight[t] = "multi-delete"
        try:
            r = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})
        except Exception as e:  # noqa: BLE001
            outcome, detail = classify(e)
            for op in ops:
                cyc.finish(op, outcome, detail)
            if outcome != "failed":
                raise Stop() from None
            return
        finally:
            cyc.in_flight.pop(t, None)
        deleted = {d["Key"] for d in r.get("Deleted", [])}
        errors = {e["Key"]: (e.get("Code", "?"), e.get("Message", "")) for e in r.get("Errors", [])}
        uncertain = False
        for op in ops:
            if op.key in deleted:
                cyc.finish(op, "acked")
                if op.key in mine:
                    mine[op.key] = None
            else:
                code, msg = errors.get(op.key, ("?", "neither Deleted nor Errors"))
                outcome = "unknown" if code in SERVER_SIDE_CODES else "failed"
                cyc.finish(op, outcome, f"HTTP 200 DeleteObjects entry {code} {msg}".strip())
                uncertain |= outcome == "unknown" and op.key in mine
        if uncertain:
            raise Stop()

    def get_check(key):
        expected = mine[key]
        cyc.in_flight[t] = "get"
        try:
            try:
                r = s3.get_object(Bucket=BUCKET, Key=key)
                body = r["Body"].read()
                found = version_of(body, "")
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") != "NoSuchKey":
                    raise
                found, body = None, b""
        except Exception as e:  # noqa: BLE001
            outcome, detail = classify(e)
            cyc.stats.add(outcome, "get", detail)
            if outcome != "failed":
                raise Stop() from None
            return
        finally:
            cyc.in_flight.pop(t, None)
        cyc.stats.add("acked", "get")
        with cyc.stats.lock:
            cyc.stats.gets_checked += 1
        if found != expected:
            cyc.failures.append(
                f"cycle {cyc.number}: GET {key!r} while the server ran returned "
                f"{describe_found(found, body)}; expected {describe_value(expected)} "
                f"(the key is written only by thread {t}, all its writes acknowledged)")

    deadline = time.monotonic() + args.duration_per_cycle * 3 + 60     # bounded in any case
    try:
        while not cyc.stop.is_set() and time.monotonic() < deadline:
            r = rng.random()
            if r < 0.40:
                put(pick_key(0.0), small_size(rng))
            elif r < 0.50:
                put(pick_key(1.0), small_size(rng))
            elif r < 0.62:
                if rng.random() < 0.3:
                    delete_many(sorted({pick_key(0.25) for _ in range(rng.randint(1, 4))}))
                else:
                    delete(pick_key(0.25))
            elif r < 0.74:
                present = [k for k in cyc.owned[t] if mine[k] is not None]
                if present:
                    src = rng.choice(present)
                    dst = pick_key(0.25)
                    if dst == src:              # a copy onto itself is an error in S3
                        dst = rng.choice(cyc.shared) if cyc.shared else None
                    if dst:
                        copy(src, dst)
                else:
                    put(pick_key(0.0), small_size(rng))
            elif r < 0.74 + args.multipart_share:
                multipart(pick_key(0.25))
            else:
                get_check(rng.choice(cyc.owned[t]))
    except Stop:
        pass
    except Exception as e:  # noqa: BLE001 - a harness bug must not pass silently
        cyc.failures.append(f"cycle {cyc.number}: load thread {t} crashed: {type(e).__name__}: {e}")


# ----------------------------------------------------------------------------- versioned load

@dataclass
class VEntry:
    """One version of a key in the versioned bucket: an object (value) or a delete marker
    (value None). `vid` "null" is the null version; "?" a version whose id is not known yet
    (written by a request whose answer never came)."""
    vid: str
    value: Optional[Version]
    acl: str = "private"            # "private" or "authenticated-read" (PutObjectAcl re-commits)

    def short(self):
        what = "delete marker" if self.value is None else self.value.short()
        return f"{self.vid[:8]} {what}{' [' + self.acl + ']' if self.acl != 'private' else ''}"


@dataclass
class VResult:
    """What a versioned load thread leaves: its keys' exact versions after every acked
    request, the one request whose outcome is unknown (it stops there), and the version ids
    it deleted for good (acked)."""
    model: dict
    uncertain: Optional[tuple] = None   # (kind, key, vid, value, acl), kind put/marker/vdelete/acl
    gone: list = field(default_factory=list)


def vbucket(t):
    """The bucket of versioned thread `t`: even threads VBUCKET (Enabled), odd ones SBUCKET
    (Suspended: PUTs replace the null version, DELETEs make a null delete marker)."""
    return VBUCKET if t % 2 == 0 else SBUCKET


def place_version(entries, entry):
    """A new version on top; a null one replaces the key's null version (Suspended)."""
    if entry.vid == "null":
        entries[:] = [e for e in entries if e.vid != "null"]
    entries.insert(0, entry)


def version_worker(cyc: Cycle, t: int):
    """One versioned load thread on its own keys of its bucket (vbucket): PUTs and
    one-part multipart uploads (new versions, or the null version when Suspended), DELETEs
    (delete markers), DELETEs of a version id (gone for good), PutObjectAcl on a version (a
    metadata-only re-commit) and GETs of versions, whose content it knows exactly at every
    moment."""
    args = cyc.args
    rng = random.Random(f"{args.seed}/{cyc.number}/vthread{t}")
    s3 = make_client(cyc.endpoint)
    mine = {k: list(cyc.vstates[k]) for k in cyc.vkeys[t]}
    res = cyc.vresults[t] = VResult(mine)
    slot = f"v{t}"
    bucket = vbucket(t)
    switched = bucket == SBUCKET    # Suspended or Enabled, switched while the load runs
    either = "null|?" if switched else None

    def new_id(r, what):
        """The version id an answer names: null (Suspended) or a fresh one (Enabled)."""
        vid = r.get("VersionId") or ("null" if switched else None)
        if not vid or (vid == "null" and not switched):
            cyc.failures.append(f"cycle {cyc.number}: {what} in bucket {bucket} answered version id {vid!r}")
            raise Stop()
        return vid

    def attempt(kind, key, value, fn, uncertain):
        op = cyc.begin(t, key, kind, value)
        cyc.in_flight[slot] = kind
        try:
            r = fn()
        except Exception as e:  # noqa: BLE001 - every failure is classified
            outcome, detail = classify(e)
            cyc.finish(op, outcome, detail)
            if outcome == "failed":
                return None
            if outcome == "unknown":
                res.uncertain = uncertain
            raise Stop() from None
        finally:
            cyc.in_flight.pop(slot, None)
        cyc.finish(op, "acked")
        return r

    def new_value(key, size, what):
        gen = cyc.next_gen(key)
        body = body_for(key, args.seed, gen, size)
        return body, version_of(body, f"{what} gen {gen}")

    def put(key):
        body, v = new_value(key, small_size(rng) // 4, "versioned put")
        r = attempt("v-put", key, v, lambda: s3.put_object(Bucket=bucket, Key=key, Body=body),
                    ("put", key, either, v, None))
        if r is not None:
            place_version(mine[key], VEntry(new_id(r, f"PUT {key!r}"), v))

    def multipart(key):
        body, v = new_value(key, rng.randint(1, 64 * 1024), "versioned multipart")
        cyc.in_flight[slot] = "v-mpu-part"
        try:
            up = s3.create_multipart_upload(Bucket=bucket, Key=key)
            part = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=body)
        except Exception as e:  # noqa: BLE001 - the key is unchanged either way
            outcome, detail = classify(e)
            cyc.stats.add(outcome, "v-mpu-part", detail)
            if outcome == "failed":
                return
            raise Stop() from None
        finally:
            cyc.in_flight.pop(slot, None)
        r = attempt("v-mpu", key, v, lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}),
            ("put", key, either, v, None))
        if r is not None:
            place_version(mine[key], VEntry(new_id(r, f"CompleteMultipartUpload {key!r}"), v))

    def marker(key):
        r = attempt("v-marker", key, None, lambda: s3.delete_object(Bucket=bucket, Key=key),
                    ("marker", key, either, None, None))
        if r is not None:
            if not r.get("DeleteMarker"):
                cyc.failures.append(f"cycle {cyc.number}: DELETE {key!r} in a versioned bucket answered "
                                    f"without a delete marker: {r.get('DeleteMarker')!r} {r.get('VersionId')!r}")
                raise Stop()
            place_version(mine[key], VEntry(new_id(r, f"DELETE {key!r}"), None))

    def vdelete(key):
        entries = mine[key]
        e = rng.choice(entries[1:] if len(entries) > VMAX_VERSIONS else entries)
        if rng.random() < 0.3:
            r = attempt("v-delete-multi", key, None, lambda: s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": e.vid}]}), ("vdelete", key, e.vid, None, None))
            if r is not None and [(d["Key"], d.get("VersionId")) for d in r.get("Deleted", [])] != [(key, e.vid)]:
                cyc.failures.append(f"cycle {cyc.number}: DeleteObjects of {key!r} version {e.vid} answered "
                                    f"Deleted {r.get('Deleted')}, Errors {r.get('Errors')}")
                raise Stop()
        else:
            r = attempt("v-delete", key, None, lambda: s3.delete_object(Bucket=bucket, Key=key, VersionId=e.vid),
                        ("vdelete", key, e.vid, None, None))
        if r is not None:
            entries.remove(e)
            if e.vid != "null":         # a null version can come back (Suspended); an id cannot
                res.gone.append((key, e.vid))

    def set_acl(key):
        objects = [e for e in mine[key] if e.value is not None]
        if not objects:
            return put(key)
        e = rng.choice(objects)
        acl = "authenticated-read" if e.acl == "private" else "private"
        r = attempt("v-acl", key, e.value, lambda: s3.put_object_acl(Bucket=bucket, Key=key, VersionId=e.vid, ACL=acl),
                    ("acl", key, e.vid, None, acl))
        if r is not None:
            e.acl = acl

    def get_check(key):
        entries = mine[key]
        e = rng.choice(entries) if entries and rng.random() < 0.7 else None
        cyc.in_flight[slot] = "v-get"
        try:
            if e is not None and e.value is not None:
                body = s3.get_object(Bucket=bucket, Key=key, VersionId=e.vid)["Body"].read()
                found, expected, what = version_of(body, ""), e.value, f"version {e.vid}"
            else:
                expected = entries[0].value if entries else None
                what = "the current version"
                try:
                    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                    found = version_of(body, "")
                except ClientError as ce:
                    if ce.response.get("Error", {}).get("Code") != "NoSuchKey":
                        raise
                    found, body = None, b""
        except Exception as ex:  # noqa: BLE001
            outcome, detail = classify(ex)
            cyc.stats.add(outcome, "v-get", detail)
            if outcome != "failed":
                raise Stop() from None
            return
        finally:
            cyc.in_flight.pop(slot, None)
        cyc.stats.add("acked", "v-get")
        with cyc.stats.lock:
            cyc.stats.gets_checked += 1
        if found != expected:
            cyc.failures.append(f"cycle {cyc.number}: GET {key!r} ({what}) while the server ran returned "
                                f"{describe_found(found, body)}; expected {describe_value(expected)}")

    deadline = time.monotonic() + args.duration_per_cycle * 3 + 60
    try:
        while not cyc.stop.is_set() and time.monotonic() < deadline:
            key = rng.choice(cyc.vkeys[t])
            r = rng.random()
            if len(mine[key]) > VMAX_VERSIONS or (r < 0.18 and mine[key]):
                vdelete(key)
            elif r < 0.50:
                put(key)
            elif r < 0.56:
                multipart(key)
            elif r < 0.68:
                marker(key)
            elif r < 0.78:
                set_acl(key)
            else:
                get_check(key)
    except Stop:
        pass
    except Exception as e:  # noqa: BLE001 - a harness bug must not pass silently
        cyc.failures.append(f"cycle {cyc.number}: versioned load thread {t} crashed: {type(e).__name__}: {e}")


def versioning_switcher(cyc: Cycle):
    """Switches SBUCKET between Suspended and Enabled while the load runs, so its threads'
    writes make null versions or versions with ids by turns (they go by the answers)."""
    rng = random.Random(f"{cyc.args.seed}/{cyc.number}/switcher")
    s3 = make_client(cyc.endpoint)
    status = rng.choice(["Enabled", "Suspended"])
    while not cyc.stop.wait(rng.uniform(0.2, 0.8)):
        status = "Enabled" if status == "Suspended" else "Suspended"
        try:
            s3.put_bucket_versioning(Bucket=SBUCKET, VersioningConfiguration={"Status": status})
        except Exception as e:  # noqa: BLE001
            outcome, detail = classify(e)
            cyc.stats.add(outcome, "v-versioning", detail)
            if outcome != "failed":
                return
            continue
        cyc.stats.add("acked", "v-versioning")


def list_versions(s3, bucket, prefix, rng):
    """ListObjectVersions under `prefix` with a random page size (key and version-id
    markers): key -> ([(vid, size, etag, latest)] of versions, [(vid, latest)] of markers),
    each newest first."""
    out = {}
    kw = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": rng.choice([2, 5, 1000])}
    seen = set()
    for _ in range(100000):
        r = s3.list_object_versions(**kw)
        for v in r.get("Versions", []):
            if (v["Key"], v["VersionId"]) in seen:
                raise CheckError(f"ListObjectVersions returned {v['Key']!r} {v['VersionId']} twice")
            seen.add((v["Key"], v["VersionId"]))
            out.setdefault(v["Key"], ([], []))[0].append((v["VersionId"], v["Size"], v["ETag"], v["IsLatest"]))
        for m in r.get("DeleteMarkers", []):
            if (m["Key"], m["VersionId"]) in seen:
                raise CheckError(f"ListObjectVersions returned {m['Key']!r} {m['VersionId']} twice")
            seen.add((m["Key"], m["VersionId"]))
            out.setdefault(m["Key"], ([], []))[1].append((m["VersionId"], m["IsLatest"]))
        if not r.get("IsTruncated"):
            return out
        if "NextKeyMarker" not in r:
            raise CheckError("ListObjectVersions is truncated without a NextKeyMarker")
        kw["KeyMarker"] = r["NextKeyMarker"]
        kw["VersionIdMarker"] = r.get("NextVersionIdMarker", "")
    raise CheckError("ListObjectVersions did not end")


def version_candidates(model, uncertain):
    """The version lists a key may have: its model, and, when the request whose outcome is
    unknown was on it, the model with that request applied."""
    out = [("acked", model)]
    if uncertain:
        kind, _, vid, value, acl = uncertain
        if kind in ("put", "marker"):
            # A new id, or (a bucket Suspended at the time) the null version replaced.
            for new in (vid or "?").split("|"):
                landed = list(model)
                place_version(landed, VEntry(new, value if kind == "put" else None))
                out.append((f"unknown {'put' if kind == 'put' else 'delete marker'}", landed))
        elif kind == "vdelete":
            out.append(("unknown permanent delete", [e for e in model if e.vid != vid]))
        elif kind == "acl":
            out.append(("unknown ACL change", [VEntry(e.vid, e.value, acl) if e.vid == vid else e for e in model]))
    return out


def listing_matches(cand, found, gone):
    """Whether the listing of a key (versions, markers) fits the candidate list: the same
    versions and markers in the same order (an unknown id only where the candidate has "?",
    and never a deleted or known one), the newest one marked latest."""
    versions, markers = found
    known = {e.vid for e in cand if e.vid != "?"}
    want_v = [e for e in cand if e.value is not None]
    want_m = [e for e in cand if e.value is None]
    if len(want_v) != len(versions) or len(want_m) != len(markers):
        return False
    for e, (vid, size, _etag, _) in zip(want_v, versions):
        if (e.vid != vid and (e.vid != "?" or vid in known or vid in gone)) or size != e.value.length:
            return False
    for e, (vid, _) in zip(want_m, markers):
        if e.vid != vid and (e.vid != "?" or vid in known or vid in gone):
            return False
    latest = [v[0] for v in versions if v[3]] + [vid for vid, lt in markers if lt]
    if not cand:
        return not latest
    top = cand[0]
    newest = top.vid if top.vid != "?" else versions[0][0] if top.value is not None else markers[0][0]
    return latest == [newest]


def check_versions(s3, vkeys, vstates, results, gone, rng, label):
    """After a restart: every key of the versioned bucket lists exactly its acknowledged
    versions and delete markers, in order (plus or minus the one request whose outcome is
    unknown); every version reads back byte-exact by id with its ACL; the current GET is
    the newest version (NoSuchKey under a delete marker); a version deleted for good is
    neither listed nor readable. Returns (new vstates, failures, counts: in_doubt, landed)."""
    failures = []
    counts = {"in_doubt": 0, "landed": 0}
    new_states = dict(vstates)
    for t, keys in enumerate(vkeys):
        res = results.get(t) or VResult({k: vstates[k] for k in keys})
        bucket = vbucket(t)
        gone.update(vid for _, vid in res.gone)
        try:
            listing = list_versions(s3, vbucket(t), f"v{t}/", rng)
        except CheckError as e:
            failures.append(f"{label}: {e}")
            continue
        except Exception as e:  # noqa: BLE001
            failures.append(f"{label}: ListObjectVersions failed: {classify(e)[1]}")
            continue
        for extra in sorted(set(listing) - set(keys)):
            failures.append(f"{label}: ListObjectVersions lists {extra!r}, a key the harness never wrote")
        for key in keys:
            found = listing.get(key, ([], []))
            unc = res.uncertain if res.uncertain and res.uncertain[1] == key else None
            cands = version_candidates(res.model[key], unc)
            match = next(((o, c) for o, c in cands if listing_matches(c, found, gone)), None)
            if match is None:
                failures.append(
                    f"{label}: versioned key {key!r} lists versions "
                    f"{[(v[0][:8], v[1], 'latest' if v[3] else '') for v in found[0]]} and delete markers "
                    f"{[(m[0][:8], 'latest' if m[1] else '') for m in found[1]]}\n    expected one of:\n"
                    + "\n".join(f"      [{o}] " + ", ".join(e.short() for e in c) for o, c in cands)
                    + (f"\n    permanently deleted before: {sorted(v[:8] for v in gone)}" if gone else ""))
                continue
            counts["in_doubt"] += unc is not None
            counts["landed"] += match[0] != "acked"
            # Fill in the id of a version whose request had no answer.
            ids = iter([v[0] for v in found[0]] if match[1] and match[1][0].value is not None else [m[0] for m in found[1]])
            entries = [VEntry(next(ids), e.value, e.acl) if e.vid == "?" else e for e in match[1]]
            for e in entries:
                if e.value is None:
                    continue
                try:
                    body = s3.get_object(Bucket=bucket, Key=key, VersionId=e.vid)["Body"].read()
                    got = version_of(body, "")
                    grants = s3.get_object_acl(Bucket=bucket, Key=key, VersionId=e.vid)["Grants"]
                except Exception as ex:  # noqa: BLE001
                    failures.append(f"{label}: reading {key!r} version {e.vid} failed: {classify(ex)[1]}")
                    continue
                if got != e.value:
                    failures.append(f"{label}: {key!r} version {e.vid} reads {describe_found(got, body)}; "
                                    f"expected {e.value.short()}")
                acl = "authenticated-read" if len(grants) > 1 else "private"
                if acl != e.acl:
                    if unc and unc[0] == "acl" and unc[2] == e.vid:
                        e.acl = acl             # the ACL change in doubt landed (or not)
                    else:
                        failures.append(f"{label}: {key!r} version {e.vid} has ACL {acl}, expected {e.acl}")
            try:
                r = s3.get_object(Bucket=bucket, Key=key)
                body = r["Body"].read()
                current = version_of(body, "")
            except ClientError as ex:
                if ex.response.get("Error", {}).get("Code") != "NoSuchKey":
                    failures.append(f"{label}: GET {key!r}: {classify(ex)[1]}")
                    continue
                current, body = None, b""
            expected = entries[0].value if entries else None
            if current != expected:
                failures.append(f"{label}: GET {key!r} (current) reads {describe_found(current, body)}; "
                                f"expected {describe_value(expected)}")
            new_states[key] = entries
        for key, vid in res.gone:
            try:
                s3.head_object(Bucket=bucket, Key=key, VersionId=vid)
                failures.append(f"{label}: {key!r} version {vid}, deleted for good (acked), is readable again")
            except ClientError as ex:
                if ex.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                    failures.append(f"{label}: HEAD {key!r} version {vid} (deleted for good): {classify(ex)[1]}")
    return new_states, failures, counts


def describe_found(found, body):
    if found is None:
        return "absent (NoSuchKey)"
    head = body[:100].split(b"\n", 1)[0].decode(errors="replace")
    what = f"header {head!r}" if head.startswith("crashtest ") else f"first bytes {body[:24]!r}"
    return f"{found.length} bytes, sha256 {found.sha256[:12]}, {what}"


# ----------------------------------------------------------------------------- compaction

class Features:
    def __init__(self, binary):
        self.segment_size = False
        self.online_compact = False
        self.offline_compact = False
        self.threshold = False
        rc, out = run_tool([str(binary), "serve", "--help"], 30)
        self.segment_size = rc == 0 and "--segment-size" in out
        self.background_compact = rc == 0 and "--compact-interval" in out
        self.encryption = rc == 0 and "--kms-keys" in out
        rc, out = run_tool([str(binary), "compact", "--help"], 30)
        if rc == 0:
            self.online_compact = "--server" in out
            self.offline_compact = "--data" in out
            self.threshold = "--threshold" in out

    def describe(self):
        return (f"serve --segment-size {'yes' if self.segment_size else 'no'}, "
                f"serve --compact-interval {'yes' if self.background_compact else 'no'}, "
                f"compact --server {'yes' if self.online_compact else 'no'}, "
                f"compact --data {'yes' if self.offline_compact else 'no'}, "
                f"encryption {'yes' if self.encryption else 'no'}")


class Compactor(threading.Thread):
    """Runs `strata compact --server` again and again while the load runs."""

    def __init__(self, binary, endpoint, threshold, rng_seed, stop, log_path):
        super().__init__(daemon=True)
        self.binary, self.endpoint, self.threshold = binary, endpoint, threshold
        self.rng = random.Random(rng_seed)
        self.stop_event = stop
        self.log_path = log_path
        self.runs = []                  # (start, end, rc, output)
        self.running_since = None
        self.lock = threading.Lock()

    def cmd(self):
        c = [str(self.binary), "compact", "--server", self.endpoint, "--access-key", ACCESS_KEY,
             "--secret-key", SECRET_KEY, "--json"]
        if self.threshold is not None:
            c += ["--threshold", str(self.threshold)]
        return c

    def run(self):
        deadline = time.monotonic() + 3600
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            if self.stop_event.wait(self.rng.uniform(0.05, 0.6)):
                break
            start = time.monotonic()
            with self.lock:
                self.running_since = start
            rc, out = run_tool(self.cmd(), COMPACT_TIMEOUT, self.log_path)
            with self.lock:
                self.running_since = None
                self.runs.append((start, time.monotonic(), rc, out))

    def durations(self):
        with self.lock:
            return [e - s for s, e, rc, _ in self.runs if rc == 0]

    def summary(self):
        """'compactions 3 ok (2 segments removed, 40 entries moved), 1 busy, 1 cut by the kill'"""
        ok = removed = moved = busy = other = 0
        for _, _, rc, out in self.runs:
            if rc == 0:
                ok += 1
                rep = parse_compact_report(out)
                removed += len(rep.get("removed", []))
                moved += rep.get("entriesMoved", 0)
            elif "SlowDown" in out or "the server is busy" in out:
                busy += 1               # another compaction (the background one) was running
            else:
                other += 1
        text = f"compactions {ok} ok ({removed} segments removed, {moved} entries moved)"
        if busy:
            text += f", {busy} busy"
        if other:
            text += f", {other} failed or cut by the kill"
        return text


def parse_compact_report(out):
    """The JSON report of `strata compact --json` ({} when there is none)."""
    start = out.find("{")
    if start < 0:
        return {}
    try:
        return json.loads(out[start:out.rfind("}") + 1])
    except ValueError:
        return {}


# ----------------------------------------------------------------------------- check

def list_all(s3, rng):
    """ListObjectsV2 over the bucket with a random page size: key -> (size, etag)."""
    out = {}
    token = None
    max_keys = rng.choice([7, 50, 1000])
    for _ in range(100000):
        kw = {"Bucket": BUCKET, "MaxKeys": max_keys}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        for o in r.get("Contents", []):
            if o["Key"] in out:
                raise CheckError(f"ListObjectsV2 returned {o['Key']!r} twice")
            out[o["Key"]] = (o["Size"], o["ETag"])
        if not r.get("IsTruncated"):
            return out
        token = r.get("NextContinuationToken")
        if not token:
            raise CheckError("ListObjectsV2 is truncated without a NextContinuationToken")
    raise CheckError("ListObjectsV2 did not end")


class CheckError(Exception):
    pass


def read_key(s3, key):
    """(found Version | None, body, head tuple | None, get etag)."""
    try:
        h = s3.head_object(Bucket=BUCKET, Key=key)
        head = (h["ContentLength"], h["ETag"])
    except ClientError as e:
        if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
            raise CheckError(f"HEAD {key!r}: {classify(e)[1]}") from None
        head = None
    try:
        r = s3.get_object(Bucket=BUCKET, Key=key)
        body = r["Body"].read()
        if len(body) != r["ContentLength"]:
            raise CheckError(f"GET {key!r}: Content-Length {r['ContentLength']} but {len(body)} bytes")
        return version_of(body, ""), body, head, r["ETag"]
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "NoSuchKey":
            raise CheckError(f"GET {key!r}: {classify(e)[1]}") from None
        return None, b"", head, None


def check_keys(s3, keys, expect, history, t0, rng, label):
    """Reads every key (HEAD, GET) and the listing. `expect(key)` gives [(outcome, value)].
    Returns (resolved values, failures, counts: present, in_doubt, landed)."""
    failures = []
    resolved = {}
    try:
        listed = list_all(s3, rng)
    except CheckError as e:
        return resolved, [f"{label}: {e}"], {"present": 0, "in_doubt": 0, "landed": 0}
    except Exception as e:  # noqa: BLE001
        return (resolved, [f"{label}: ListObjectsV2 failed: {classify(e)[1]}"],
                {"present": 0, "in_doubt": 0, "landed": 0})
    for extra in sorted(set(listed) - set(keys)):
        failures.append(f"{label}: ListObjectsV2 lists {extra!r}, a key the harness never wrote")
    present = in_doubt = landed = 0
    for key in keys:
        try:
            found, body, head, get_etag = read_key(s3, key)
        except CheckError as e:
            failures.append(f"{label}: {e}")
            continue
        except Exception as e:  # noqa: BLE001
            failures.append(f"{label}: reading {key!r} failed: {classify(e)[1]} (is the server alive?)")
            continue
        present += found is not None
        # ListObjectsV2 vs HEAD vs GET: same existence, size and ETag.
        if (found is None) != (head is None) or (key in listed) != (found is not None):
            failures.append(f"{label}: {key!r} disagrees on existence: GET "
                            f"{'200' if found else '404'}, HEAD {'200' if head else '404'}, "
                            f"ListObjectsV2 {'lists it' if key in listed else 'does not list it'}")
        elif found is not None:
            lsize, letag = listed[key]
            if not (lsize == head[0] == found.length) or not (letag == head[1] == get_etag):
                failures.append(f"{label}: {key!r} disagrees: GET {found.length} B ETag {get_etag}, "
                                f"HEAD {head[0]} B ETag {head[1]}, ListObjectsV2 {lsize} B ETag {letag}")
        cands = expect(key)
        match = next((v for _, v in cands if v == found), "none")
        if match == "none":
            lines = [f"{label}: key {key!r}: found {describe_found(found, body)}",
                     "    expected one of: " + "; ".join(f"{describe_value(v)} [{o}]" for o, v in cands)]
            ops = history.get(key, [])
            same = [o for o in ops if o.value == found and found is not None]
            if same:
                lines.append(f"    the found body is that of {same[-1].brief(t0)}")
            if ops:
                lines.append("    this cycle's operations on the key (start-end seconds, outcome):")
                lines += [f"      {o.brief(t0)}" for o in sorted(ops, key=lambda o: o.start)[-12:]]
            failures.append("\n".join(lines))
        else:
            resolved[key] = found if found is None else match
            outcomes = {o for o, v in cands if v == found}
            in_doubt += any(o == "unknown" for o, _ in cands)
            landed += "unknown" in outcomes and not (outcomes & {"acked", "initial"})
    return resolved, failures, {"present": present, "in_doubt": in_doubt, "landed": landed}


def check_uploads(s3, pending, states, label):
    """Multipart uploads the load left open, after the restart: every acknowledged part is
    still there (same size and ETag), a part that is listed is complete, an upload whose
    Complete landed is closed (and an open one's object is not visible); then each is
    completed (all parts there: the object must read back byte-exact) or aborted.
    Updates `states` for the completed ones; returns (failures, completed, aborted)."""
    failures = []
    completed = aborted = 0
    for u in pending:
        where = f"{label}: multipart upload {u.upload_id[:16]}… of {u.key!r} ({u.value.short()}, thread {u.thread})"
        try:
            r = s3.list_parts(Bucket=BUCKET, Key=u.key, UploadId=u.upload_id, MaxParts=1000)
            listed = {p["PartNumber"]: (p["Size"], p["ETag"]) for p in r.get("Parts", [])}
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "NoSuchUpload":
                failures.append(f"{where}: ListParts failed: {classify(e)[1]}")
                continue
            if not (u.complete_attempted or u.abort_attempted):
                failures.append(f"{where}: the upload is gone (NoSuchUpload) although its parts "
                                f"{sorted(u.acked)} were acknowledged and it was never completed or aborted")
            elif u.complete_attempted and u.own and states.get(u.key) != u.value:
                failures.append(f"{where}: the upload is closed, so its Complete landed, but the key "
                                f"holds {describe_value(states.get(u.key))}")
            continue
        except Exception as e:  # noqa: BLE001
            failures.append(f"{where}: ListParts failed: {classify(e)[1]}")
            continue
        bad = False
        if u.complete_attempted and states.get(u.key) == u.value:
            failures.append(f"{where}: the completed object is visible but the upload is still open")
            bad = True
        for n, etag in sorted(u.acked.items()):
            if n not in listed:
                failures.append(f"{where}: acknowledged part {n} (ETag {etag}) is missing; listed: {sorted(listed)}")
                bad = True
            elif listed[n] != (u.sizes[n - 1], etag):
                failures.append(f"{where}: acknowledged part {n} is listed as {listed[n]}, "
                                f"expected ({u.sizes[n - 1]}, {etag})")
                bad = True
        for n, (size, etag) in sorted(listed.items()):
            if n > len(u.sizes) or (size, etag) != (u.sizes[n - 1], u.md5s[n - 1]):
                failures.append(f"{where}: part {n} is listed as ({size}, {etag}), which no "
                                f"UploadPart sent")
                bad = True
        if bad:
            continue
        try:
            if len(listed) == len(u.sizes):
                s3.complete_multipart_upload(
                    Bucket=BUCKET, Key=u.key, UploadId=u.upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": n, "ETag": listed[n][1]} for n in sorted(listed)]})
                found, body, _, _ = read_key(s3, u.key)
                if found != u.value:
                    failures.append(f"{where}: completed after the restart, it reads back as "
                                    f"{describe_found(found, body)}")
                    continue
                states[u.key] = u.value
                completed += 1
            else:
                s3.abort_multipart_upload(Bucket=BUCKET, Key=u.key, UploadId=u.upload_id)
                aborted += 1
        except (ClientError, CheckError) as e:
            failures.append(f"{where}: completing/aborting after the restart failed: "
                            f"{classify(e)[1] if isinstance(e, ClientError) else e}")
        except Exception as e:  # noqa: BLE001
            failures.append(f"{where}: completing/aborting after the restart failed: {classify(e)[1]}")
    return failures, completed, aborted


def diagnose_verify(binary, data, work, tools_log):
    """After a failed verify: does a replay (what the next start does) repair it? Run on
    a copy, so the data directory stays as the server left it."""
    copy = work / "data-replayed"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(data, copy)
    try:
        (copy / "LOCK").unlink(missing_ok=True)
        rc, out = run_tool([str(binary), "recover", "--data", str(copy)], TOOL_TIMEOUT, tools_log)
        replay = next((line for line in out.splitlines() if "records scanned" in line), out.strip()[-200:])
        rc2, _ = run_tool([str(binary), "verify", "--data", str(copy)], TOOL_TIMEOUT, tools_log)
        ck = run_tool([str(binary), "inspect", "index", "--data", str(data)], 60)[1]
        checkpoint = next((" ".join(line.split()) for line in ck.splitlines()
                           if line.startswith("checkpoint")), "checkpoint ?")
        end = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("log end")), "?")
        return (f"    diagnosis: index {checkpoint}, log end {end}; on a copy, `strata recover` "
                f"(the start-up replay) exited {rc} ({replay}), then verify exited {rc2}"
                + (": the stopped server left records after its checkpoint that the index never applied"
                   if rc == 0 and rc2 == 0 else ""))
    except Exception as e:  # noqa: BLE001 - a diagnosis must not hide the failure
        return f"    diagnosis failed: {type(e).__name__}: {e}"
    finally:
        shutil.rmtree(copy, ignore_errors=True)


# ----------------------------------------------------------------------------- main

def default_binary():
    try:
        p = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO_ROOT, capture_output=True,
                           text=True, timeout=120)
        if p.returncode == 0:
            return Path(p.stdout.strip()) / "strata"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return REPO_ROOT / ".build" / "debug" / "strata"


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Crash-recovery torture test: load, SIGKILL, restart, check every key, verify.")
    ap.add_argument("--cycles", type=int, default=5, help="kill/restart cycles (default 5)")
    ap.add_argument("--seed", type=int, default=None, help="RNG seed (default: random, printed)")
    ap.add_argument("--duration-per-cycle", type=float, default=6.0,
                    help="seconds of load per cycle; the kill lands at a random moment between 25%% and 100%% of it (default 6)")
    ap.add_argument("--threads", type=int, default=4, help="load threads (default 4)")
    ap.add_argument("--keys-per-thread", type=int, default=20, help="keys each thread owns (default 20)")
    ap.add_argument("--shared-keys", type=int, default=8,
                    help="keys every thread writes concurrently (default 8)")
    ap.add_argument("--versioned-threads", type=int, default=0,
                    help="extra load threads on versioned buckets (even ones Enabled, odd ones switched "
                         "between Suspended and Enabled while they run): "
                         "versions, null-version replacement, delete markers, permanent deletes of versions, "
                         "ACL re-commits, checked version by version after each restart (default 0)")
    ap.add_argument("--versioned-keys", type=int, default=5,
                    help="keys each versioned thread owns (default 5)")
    ap.add_argument("--max-parts", type=int, default=3, choices=[1, 2, 3],
                    help="most parts of a multipart upload (5 MiB each, last one smaller; default 3)")
    ap.add_argument("--multipart-share", type=float, default=0.04,
                    help="share of operations that are multipart uploads (default 0.04)")
    ap.add_argument("--strata", type=Path, default=None,
                    help="the strata binary (default: `swift build --show-bin-path`/strata)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (data, logs, op log)")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where to create the work directory (default $TMPDIR)")
    ap.add_argument("--compact", action="store_true",
                    help="online compaction during the load and offline compaction between cycles "
                         "(skipped, with a note, when this strata has no `compact`)")
    ap.add_argument("--segment-size", type=int, default=4 * MiB,
                    help="`serve --segment-size` when strata supports it (default 4 MiB; 0: don't pass)")
    ap.add_argument("--threshold", type=float, default=0.1,
                    help="dead-ratio threshold of online and background compaction (default 0.1)")
    ap.add_argument("--compact-interval", type=int, default=2,
                    help="with --compact: `serve --compact-interval` seconds of the server's own "
                         "background compaction (default 2; 0: not passed)")
    ap.add_argument("--restart-kill-chance", type=float, default=0.5,
                    help="chance to kill the restarted server again during start-up (default 0.5)")
    ap.add_argument("--strict", action="store_true",
                    help="S3 errors during the load (InternalError, ...) fail the run instead of warning")
    ap.add_argument("--inject-fault", action="store_true",
                    help="self-test of the harness: after the first kill, cut the last 64 KiB of the "
                         "newest segment and delete the index, losing acknowledged writes; the run "
                         "must then FAIL")
    a = ap.parse_args(argv)
    if a.versioned_threads < 0 or (a.versioned_threads and a.versioned_keys < 1):
        ap.error("--versioned-threads must be >= 0 and --versioned-keys >= 1")
    if a.cycles < 1 or a.threads < 1 or a.keys_per_thread < 1 or a.duration_per_cycle <= 0:
        ap.error("--cycles, --threads, --keys-per-thread must be >= 1 and --duration-per-cycle > 0")
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 10**6)
    return a


def log(msg=""):
    print(msg, flush=True)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if sys.platform.startswith("linux"):
        signal.signal(signal.SIGINT, _on_signal)       # also when started with SIGINT ignored
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGHUP, _on_signal)
    binary = args.strata or default_binary()
    if not Path(binary).is_file():
        print(f"crashtest: no strata binary at {binary}: run `swift build --product strata` "
              f"(Tools/crashtest/run.sh does) or pass --strata", file=sys.stderr)
        return 2
    base = args.workdir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="strata-crashtest-", dir=base))
    failed, interrupted = True, False
    try:
        failed = run(args, Path(binary).resolve(), work)
    except KeyboardInterrupt as e:
        log(f"FAIL: interrupted ({e or 'Ctrl-C'})")
        interrupted = True
    except HarnessError as e:
        log(f"FAIL: {e}")
    finally:
        kill_all_children()
        if args.keep or (failed and not interrupted):
            log(f"work directory kept: {work} (data/, server.log, tools.log, ops.jsonl)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 130 if interrupted else 1 if failed else 0


def run(args, binary, work):
    t_start = time.monotonic()
    data = work / "data"
    data.mkdir()
    server_log, tools_log = work / "server.log", work / "tools.log"
    oplog = open(work / "ops.jsonl", "w")
    features = Features(binary)
    compact_online = args.compact and features.online_compact
    compact_offline = args.compact and features.offline_compact
    seg = args.segment_size if (features.segment_size and args.segment_size > 0) else None
    log(f"crashtest: seed {args.seed}, {args.cycles} cycles x {args.duration_per_cycle:g}s, "
        f"{args.threads} threads, binary {binary}")
    log(f"  strata features: {features.describe()}")
    if args.compact and not (compact_online or compact_offline):
        log("  note: --compact asked for, but this strata has no `compact`: compaction skipped")
    if args.segment_size and not features.segment_size:
        log("  note: this strata has no `serve --segment-size`: default segment size")
    log(f"  work directory {work}")

    extra = []
    if args.compact and features.background_compact and args.compact_interval > 0:
        extra = ["--compact-interval", str(args.compact_interval),
                 "--compact-threshold", str(args.threshold)]
    server = Server(binary, data, server_log, free_port(), seg, extra)
    server.launch()
    server.wait_ready()
    s3 = make_client(server.endpoint)
    s3.create_bucket(Bucket=BUCKET)
    # The versioned bucket: ACLs enabled (PutObjectAcl re-commits a version), a null
    # version on every other key (written before versioning is enabled), then Enabled.
    vkeys = [[f"v{t}/k{i}" for i in range(args.versioned_keys)] for t in range(args.versioned_threads)]
    vstates = {k: [] for ks in vkeys for k in ks}
    vgone = set()
    # The second one (odd versioned threads) gets a version with an id on every third key
    # too, and is then Suspended.
    for bucket in sorted({vbucket(t) for t in range(len(vkeys))}):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
        mine = [k for t, ks in enumerate(vkeys) if vbucket(t) == bucket for k in ks]
        for i, k in enumerate(mine):
            if i % 2 == 0:
                body = body_for(k, args.seed, 0, 100 + len(k))
                s3.put_object(Bucket=bucket, Key=k, Body=body)
                vstates[k] = [VEntry("null", version_of(body, "null version gen 0"))]
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        if features.encryption:
            # Every later write is sealed at rest (the bucket default): SSE-S3 in one
            # bucket, SSE-KMS in the other, so crashes hit encrypted PUTs, multipart
            # uploads and copies too, and keys mix unencrypted and encrypted versions.
            algorithm = "aws:kms" if bucket == SBUCKET else "AES256"
            rules = [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}, "BucketKeyEnabled": False}]
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
            stored = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
            if stored != rules:
                raise SystemExit(f"{bucket}: bucket encryption {stored}, not {rules}")
        if bucket == SBUCKET:
            for i, k in enumerate(mine):
                if i % 3 == 0:
                    body = body_for(k, args.seed, -1, 200 + len(k))
                    r = s3.put_object(Bucket=bucket, Key=k, Body=body)
                    vstates[k].insert(0, VEntry(r["VersionId"], version_of(body, "version gen -1")))
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})

    owned = [[f"t{t}/k{i:02d}" if i else f"t{t}/odd key +%é" for i in range(args.keys_per_thread)]
             for t in range(args.threads)]
    shared = [f"shared/s{i:02d}" for i in range(args.shared_keys)]
    all_keys = [k for ks in owned for k in ks] + shared
    states = {k: None for k in all_keys}
    gens = {}
    totals = {"acked": 0, "failed": 0, "unknown": 0, "refused": 0}
    failures = []
    warnings = []
    t0 = time.monotonic()

    for cycle in range(1, args.cycles + 1):
        crng = random.Random(f"{args.seed}/cycle{cycle}")
        cyc = Cycle(cycle, args, server.endpoint, states, owned, shared, gens, oplog, t0)
        dur = args.duration_per_cycle
        kill_at = crng.uniform(0.25 * dur, dur)
        aim_compaction = compact_online and crng.random() < 0.5
        cyc.vstates, cyc.vkeys = vstates, vkeys
        threads = [threading.Thread(target=worker, args=(cyc, t), daemon=True) for t in range(args.threads)]
        threads += [threading.Thread(target=version_worker, args=(cyc, t), daemon=True) for t in range(len(vkeys))]
        if len(vkeys) > 1:
            threads.append(threading.Thread(target=versioning_switcher, args=(cyc,), daemon=True))
        compactor = None
        if compact_online:
            compactor = Compactor(binary, server.endpoint, args.threshold if features.threshold else None,
                                  f"{args.seed}/compact{cycle}", cyc.stop, tools_log)
        load_start = cyc.t0 = time.monotonic()
        for th in threads:
            th.start()
        if compactor:
            compactor.start()

        # --- the kill
        time.sleep(kill_at)
        kill_note = ""
        if aim_compaction:
            # Wait (bounded) for a compaction to be running, then kill inside it.
            durs = compactor.durations()
            typical = sorted(durs)[len(durs) // 2] if durs else 0.2
            limit = time.monotonic() + max(3.0, dur)
            while time.monotonic() < limit:
                with compactor.lock:
                    since = compactor.running_since
                if since is not None:
                    delay = crng.uniform(0, typical)
                    time.sleep(max(0.0, since + delay - time.monotonic()))
                    with compactor.lock:
                        still = compactor.running_since == since
                    kill_note = f", {'during' if still else 'just after'} a compaction"
                    break
                time.sleep(0.01)
            else:
                kill_note = " (no compaction started in time)"
        try:
            in_flight = sorted(list(cyc.in_flight.values()))
        except RuntimeError:                    # changed while we looked
            in_flight = ["?"]
        if compactor and compactor.running_since is not None:
            in_flight.append("compact")
        kill_time = time.monotonic()
        killed_at = kill_time - load_start
        server.kill()
        cyc.stop.set()
        for th in threads:
            th.join(JOIN_TIMEOUT)
            if th.is_alive():
                raise HarnessError(f"cycle {cycle}: a load thread did not finish {JOIN_TIMEOUT:.0f}s after the kill")
        if compactor:
            compactor.join(COMPACT_TIMEOUT + 10)
        with cyc.ops_lock:
            for ops in cyc.ops.values():
                for o in ops:
                    if o.outcome == "pending":      # cannot happen after join; be safe
                        o.outcome = "unknown"
        for k in totals:
            totals[k] += cyc.stats.counts[k]
        failures += cyc.failures
        if compactor:
            bad = [(rc, out) for s, e, rc, out in compactor.runs
                   if rc != 0 and e < kill_time - 0.05 and "SlowDown" not in out
                   and "the server is busy" not in out]
            for rc, out in bad[:2]:
                warnings.append(f"cycle {cycle}: `strata compact --server` exited {rc} while the server "
                                f"ran: {out.strip()[-300:]}")

        if args.inject_fault and cycle == 1:
            segs = sorted((data / "segments").glob("*"), key=lambda p: p.name)
            if segs:
                size = segs[-1].stat().st_size
                os.truncate(segs[-1], max(0, size - 64 * 1024))
                shutil.rmtree(data / "index", ignore_errors=True)
                (data / "index").mkdir()
                log(f"  injected fault: {segs[-1].name} cut from {size} to {max(0, size - 65536)} bytes, "
                    f"index deleted")

        # --- offline compaction on the crashed directory (sometimes killed itself)
        offline_note = ""
        if compact_offline and crng.random() < 0.3:
            cmd = [str(binary), "compact", "--data", str(data), "--threshold", str(args.threshold), "--json"]
            if crng.random() < 0.4:
                delay = crng.uniform(0.0, 0.5)
                proc = _track(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                               stdin=subprocess.DEVNULL, start_new_session=True,
                                               env=CHILD_ENV))
                time.sleep(delay)
                done = proc.poll() is not None
                if not done:
                    proc.kill()
                proc.wait(timeout=30)
                _untrack(proc)
                offline_note = (f"offline compact killed at {delay:.2f}s" if not done
                                else f"offline compact exited {proc.returncode} before its kill")
                if done and proc.returncode != 0:
                    failures.append(f"cycle {cycle}: offline `strata compact --data` on the crashed "
                                    f"directory exited {proc.returncode} (see {tools_log})")
            else:
                rc, out = run_tool(cmd, TOOL_TIMEOUT, tools_log)
                rep = parse_compact_report(out)
                offline_note = (f"offline compact exit {rc} ({len(rep.get('removed', []))} segments "
                                f"removed, {rep.get('entriesMoved', 0)} entries moved)")
                if rc != 0:
                    failures.append(f"cycle {cycle}: offline `strata compact --data` on the crashed "
                                    f"directory exited {rc}:\n{out[-1500:]}")

        # --- restart, sometimes killing it again during recovery
        startup_kills = []
        last_rec = getattr(server, "last_recovery", 0.3)
        for _ in range(3):
            if crng.random() >= args.restart_kill_chance:
                break
            server.launch()
            delay = crng.uniform(0.0, max(0.05, 1.3 * last_rec))
            state = "starting"                  # the last state seen before the kill
            end = server.launched_at + delay
            while time.monotonic() < end and server.alive():
                state = readiness(server.port)
                if state == "down":
                    state = "starting"
                time.sleep(0.005)
            if not server.alive():
                server.kill()
                raise HarnessError(f"cycle {cycle}: strata serve exited with {server.proc.returncode} "
                                   f"during start-up\n--- server log (tail) ---\n{server.log_tail()}")
            server.kill()
            startup_kills.append(f"{delay:.2f}s ({state})")
        server.launch()
        recovery = server.wait_ready()
        server.last_recovery = recovery

        # --- check
        s3 = make_client(server.endpoint, read_timeout=60)
        history = cyc.ops
        resolved, fails, counts = check_keys(
            s3, all_keys, lambda k: candidates(states[k], history.get(k, [])), history, cyc.t0,
            crng, f"cycle {cycle}")
        failures += fails
        if not server.alive():
            failures.append(f"cycle {cycle}: the server died during the check\n{server.log_tail()}")
        states = {k: resolved.get(k, states[k]) for k in all_keys}
        ufails, ucompleted, uaborted = check_uploads(s3, cyc.pending_uploads, states, f"cycle {cycle}")
        failures += ufails
        fails = fails + ufails
        vnote = ""
        if vkeys:
            vstates, vfails, vcounts = check_versions(s3, vkeys, vstates, cyc.vresults, vgone, crng, f"cycle {cycle}")
            failures += vfails
            fails = fails + vfails
            vnote = (f"; versioned: {len(vstates)} keys, {sum(len(v) for v in vstates.values())} versions and "
                     f"markers ({len(vgone)} deleted for good so far), in-flight changes landed on "
                     f"{vcounts['landed']} of {vcounts['in_doubt']} keys in doubt")

        c = cyc.stats.counts
        comp = ""
        if compactor:
            comp = ", " + compactor.summary()
        verdict = "ok" if not fails and not cyc.failures else "FAILED"
        log(f"cycle {cycle}/{args.cycles} {verdict}: load: ops acked {c['acked']}, failed {c['failed']}, "
            f"unknown {c['unknown']}, refused {c['refused']}; in-load GETs checked {cyc.stats.gets_checked}"
            f"{'; ' + comp[2:] if comp else ''}")
        log(f"    kill at {killed_at:.2f}s{kill_note} (in flight: {', '.join(in_flight) or 'nothing'})"
            f"{'; ' + offline_note if offline_note else ''}; start-up kills: "
            f"{', '.join(startup_kills) or 'none'}; recovery {recovery:.2f}s")
        log(f"    check: {len(all_keys)} keys ({counts['present']} present; in-flight changes landed on "
            f"{counts['landed']} of {counts['in_doubt']} keys in doubt); open uploads "
            f"{len(cyc.pending_uploads)} (completed {ucompleted}, aborted {uaborted}){vnote}")
        for e in cyc.stats.errors[:3]:
            log(f"    S3 error during the load: {e}")
        if cyc.stats.s3_errors:
            (failures if args.strict else warnings).append(
                f"cycle {cycle}: {cyc.stats.s3_errors} S3 error(s) during the load, e.g. "
                f"{cyc.stats.errors[0]} (every request of the harness is valid: a server bug)")
        if failures:
            break

    # --- the end: stop, verify (and with compaction: offline compact, verify, re-check)
    clean, rc = server.stop()
    if not clean:
        warnings.append(f"strata serve did not stop cleanly on SIGTERM (exit {rc}); killed it")
        server.launch()
        server.wait_ready()
        clean, rc = server.stop()
        if not clean:
            failures.append(f"strata serve did not stop cleanly on SIGTERM twice (exit {rc})")

    def verify(label):
        for extra in ([], ["--deep"]):
            cmd = [str(binary), "verify", "--data", str(data)] + extra
            t = time.monotonic()
            rc, out = run_tool(cmd, TOOL_TIMEOUT, tools_log)
            name = "strata verify" + (" --deep" if extra else "")
            log(f"{name}{label}: exit {rc} ({time.monotonic() - t:.1f}s)")
            if rc != 0:
                failures.append(f"{name}{label} exited {rc}:\n{out[-3000:]}\n{diagnose_verify(binary, data, work, tools_log)}")

    verify("")
    if compact_offline and not failures:
        rc, out = run_tool([str(binary), "compact", "--data", str(data), "--threshold", "0", "--json"],
                           TOOL_TIMEOUT, tools_log)
        rep = parse_compact_report(out)
        log(f"strata compact --data --threshold 0 (offline, final): exit {rc} "
            f"({len(rep.get('removed', []))} segments removed, {rep.get('entriesMoved', 0)} entries moved)")
        if rc != 0:
            failures.append(f"final offline `strata compact --data` exited {rc}:\n{out[-1500:]}")
        else:
            verify(" (after offline compaction)")
            server.launch()
            server.wait_ready()
            s3 = make_client(server.endpoint, read_timeout=60)
            _, fails, counts = check_keys(s3, all_keys, lambda k: [("acked", states[k])], {}, t0,
                                           random.Random(args.seed), "after offline compaction")
            failures += fails
            if vkeys:
                _, vfails, _ = check_versions(s3, vkeys, vstates, {}, vgone, random.Random(args.seed),
                                           "after offline compaction")
                failures += vfails
                fails = fails + vfails
            log(f"re-check after offline compaction: {len(all_keys)} keys ({counts['present']} present)"
                f"{f', {len(vstates)} versioned keys' if vkeys else ''}, {'ok' if not fails else 'FAILED'}")
            clean, rc = server.stop()
            if not clean:
                failures.append(f"strata serve did not stop cleanly on SIGTERM after the re-check (exit {rc})")
    oplog.close()

    for w in warnings:
        log(f"warning: {w}")
    elapsed = time.monotonic() - t_start
    if failures:
        log("")
        for f in failures:
            log(f"FAILURE: {f}")
        log(f"FAIL: {len(failures)} problem(s); seed {args.seed}; server log {server_log}")
        return True
    log(f"PASS: {args.cycles} cycles, seed {args.seed}, ops acked {totals['acked']}, failed {totals['failed']}, "
        f"unknown {totals['unknown']}, refused {totals['refused']}; verify ok; {elapsed:.1f}s")
    return False


if __name__ == "__main__":
    sys.exit(main())
