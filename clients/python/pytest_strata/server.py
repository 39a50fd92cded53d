"""Start and stop a throw-away `strata serve` (the pytest fixtures use this; it works alone too).

    server = start_server("/path/to/strata", ["--region", "eu-west-1"])
    try:
        s3 = server.client()
        ...
    finally:
        server.stop()

The server runs `strata serve --ephemeral --port 0 ARGS...`: a free port and a temporary
data directory that the server removes when it stops. The port, region, access key and
CA file (with --tls-self-signed) are read from what the server prints; every line is
parsed both as text and, when it is a JSON object (`--log-format json`), as JSON.
"""

from __future__ import annotations

import atexit
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

DEFAULT_ACCESS_KEY = "strata-access-key"
DEFAULT_SECRET_KEY = "strata-secret-key"
DEFAULT_REGION = "us-east-1"
DEFAULT_STARTUP_TIMEOUT = 30.0
DEFAULT_STOP_TIMEOUT = 15.0
READY_PATH = "/_strata/health/ready"
ADMIN_ATTEMPTS = 8  # tries of an operator request that is answered 503 SlowDown


class StrataError(Exception):
    """The binary is missing, or the server did not start or answer ready in time."""


def find_binary(explicit: Optional[str] = None, *, base_dir: Optional[str] = None) -> str:
    """The strata executable: `explicit`, else $STRATA_BIN, else `strata` on PATH.

    A relative path is taken relative to `base_dir` (default: the current directory).
    Raises StrataError naming what was tried.
    """
    def resolve(path: str, source: str) -> str:
        path = os.path.expanduser(path)
        if not os.path.isabs(path):
            path = os.path.join(base_dir or os.getcwd(), path)
        if not os.path.isfile(path):
            raise StrataError(f"strata binary not found: {source} is {path!r}, which does not exist "
                              "(build it with `swift build --product strata`)")
        if not os.access(path, os.X_OK):
            raise StrataError(f"strata binary {path!r} ({source}) is not executable")
        return path

    if explicit:
        return resolve(explicit, "the configured binary")
    env = os.environ.get("STRATA_BIN")
    if env:
        return resolve(env, "STRATA_BIN")
    found = shutil.which("strata")
    if found:
        return found
    raise StrataError("strata binary not found: STRATA_BIN is not set and there is no `strata` on PATH. "
                      "Build Strata (`swift build --product strata`) and set "
                      "STRATA_BIN=/path/to/.build/debug/strata, or put `strata` on PATH.")


# --- reading what the server prints ---------------------------------------------------

_LISTENING = re.compile(r"listening on (https?)://(\[[^\]\s]+\]|[^\s:/\[\]]+):(\d+)")
_ENDPOINT = re.compile(r"^(https?)://(\[[^\]\s]+\]|[^\s:/\[\]]+):(\d+)/?$")
# Banner lines: "  port        40123", "  region      us-east-1 (requests signed ...)",
# "  access key  strata-access-key", "  CA file     /tmp/x/tls-ca.pem  (export ...)".
_FIELD = re.compile(r"^\s*(port|region|access key|secret key|CA file)\s{2,}(\S+)", re.IGNORECASE)
_EPHEMERAL = re.compile(r"data directory: (.+?) \(ephemeral")
# Keys of a JSON line that may carry the same facts.
_JSON_KEYS = {
    "port": "port", "region": "region",
    "access_key": "access_key", "accesskey": "access_key", "access-key": "access_key", "access key": "access_key",
    "secret_key": "secret_key", "secretkey": "secret_key", "secret-key": "secret_key", "secret key": "secret_key",
    "ca_file": "ca_file", "cafile": "ca_file", "ca-file": "ca_file", "ca file": "ca_file",
    "endpoint": "endpoint", "endpoint_url": "endpoint", "endpointurl": "endpoint", "url": "endpoint",
}


@dataclass
class BannerInfo:
    """What the server's output told so far (None: not seen)."""
    scheme: Optional[str] = None
    host: Optional[str] = None
    port: Optional[int] = None
    region: Optional[str] = None
    access_key: Optional[str] = None
    secret_key: Optional[str] = None
    ca_file: Optional[str] = None
    ephemeral_dir: Optional[str] = None

    def feed(self, line: str) -> None:
        """Takes one line of output: text, or a JSON object whose string values are read
        as text too (a JSON line's message may hold the banner)."""
        stripped = line.strip()
        if stripped.startswith("{"):
            try:
                obj = json.loads(stripped)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                self._feed_json(obj)
                return
        self._feed_text(line)

    def _feed_json(self, obj: Any, depth: int = 0) -> None:
        if depth > 8:
            return
        if isinstance(obj, dict):
            for key, value in obj.items():
                name = _JSON_KEYS.get(str(key).strip().lower())
                if name and isinstance(value, (str, int)) and not isinstance(value, bool):
                    self._set(name, str(value))
                if isinstance(value, (dict, list)):
                    self._feed_json(value, depth + 1)
                elif isinstance(value, str):
                    for part in value.splitlines():
                        self._feed_text(part)
        elif isinstance(obj, list):
            for value in obj:
                if isinstance(value, (dict, list)):
                    self._feed_json(value, depth + 1)
                elif isinstance(value, str):
                    for part in value.splitlines():
                        self._feed_text(part)

    def _feed_text(self, line: str) -> None:
        match = _LISTENING.search(line)
        if match:
            self._set_endpoint(*match.groups())
        match = _FIELD.match(line)
        if match:
            name = match.group(1).lower().replace(" ", "_")
            self._set(name, match.group(2))
        match = _EPHEMERAL.search(line)
        if match:
            self.ephemeral_dir = match.group(1)

    def _set(self, name: str, value: str) -> None:
        value = value.strip()
        if not value:
            return
        if name == "port":
            if value.isdigit() and 0 < int(value) < 65536:
                self.port = int(value)
        elif name == "endpoint":
            match = _ENDPOINT.match(value)
            if match:
                self._set_endpoint(*match.groups())
        elif name == "secret_key":
            if set(value) - {"*", "\u2026", "."}:  # the banner masks secrets it did not default
                self.secret_key = value
        elif name in ("region", "access_key", "ca_file"):
            setattr(self, name, value)

    def _set_endpoint(self, scheme: str, host: str, port: str) -> None:
        self.scheme = scheme
        self.host = host
        if port.isdigit() and 0 < int(port) < 65536:
            self.port = int(port)


# --- the server ---------------------------------------------------------------------------

def _option(args: Sequence[str], name: str) -> Optional[str]:
    """The last value of --name in args (`--name value` or `--name=value`)."""
    value = None
    flag = "--" + name
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(flag + "="):
            value = arg[len(flag) + 1:]
    return value


def _connect_host(host: Optional[str]) -> str:
    """A host to connect to for the address the server listens on."""
    if not host or host in ("0.0.0.0", "*"):
        return "127.0.0.1"
    if host in ("[::]", "::"):
        return "[::1]"
    return host


@dataclass
class StrataServer:
    """A running `strata serve`. `endpoint_url`, `access_key`, `secret_key` and `region`
    are what an S3 client needs; `boto3_kwargs()` has them as boto3 arguments."""
    endpoint_url: str
    host: str
    port: int
    access_key: str
    secret_key: str
    region: str
    process: subprocess.Popen
    command: List[str]
    ca_bundle: Optional[str] = None
    data_dir: Optional[str] = None
    _log_dir: Optional[str] = field(default=None, repr=False)
    _log_path: Optional[str] = field(default=None, repr=False)
    _final_output: Optional[str] = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def is_https(self) -> bool:
        return self.endpoint_url.startswith("https:")

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """Everything the server printed (stdout and stderr) so far."""
        if self._final_output is not None:
            return self._final_output
        return _read(self._log_path)

    def boto3_kwargs(self, **overrides: Any) -> Dict[str, Any]:
        """Arguments for boto3.client("s3", ...) / boto3.resource("s3", ...): endpoint,
        credentials, region, and a botocore Config with path-style addressing, SigV4 and
        no proxies from the environment. `overrides` replace or add arguments."""
        from botocore.config import Config

        kwargs: Dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
            "config": Config(signature_version="s3v4", region_name=self.region,
                             s3={"addressing_style": "path"}, proxies={},
                             retries={"max_attempts": 3, "mode": "standard"}),
        }
        if self.is_https:
            kwargs["verify"] = self.ca_bundle or False
        kwargs.update(overrides)
        return kwargs

    def client(self, service: str = "s3", **overrides: Any):
        """A boto3 client for this server (see boto3_kwargs)."""
        import boto3

        return boto3.session.Session().client(service, **self.boto3_kwargs(**overrides))

    def resource(self, service: str = "s3", **overrides: Any):
        """A boto3 resource for this server (see boto3_kwargs)."""
        import boto3

        return boto3.session.Session().resource(service, **self.boto3_kwargs(**overrides))

    def env(self) -> Dict[str, str]:
        """AWS_* variables pointing an AWS CLI or SDK subprocess at this server."""
        env = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }
        if self.is_https and self.ca_bundle:
            env["AWS_CA_BUNDLE"] = self.ca_bundle
        return env

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Calls an operator endpoint (`/_strata/...`), signed with SigV4 by the server's
        root credentials; `body` (if any) is sent as JSON. Returns the answer's JSON (None
        for an empty answer, such as a 204). A 503 SlowDown (the store is busy with a
        reset or a snapshot) is retried a few times. Raises StrataError with the server's
        error code and message otherwise."""
        for attempt in range(ADMIN_ATTEMPTS):
            try:
                return self._admin_once(method, path, body)
            except _Busy as busy:
                if attempt + 1 == ADMIN_ATTEMPTS:
                    raise StrataError(str(busy)) from None
                time.sleep(min(0.05 * 2 ** attempt, 1.0))

    def _admin_once(self, method: str, path: str, body: Any) -> Any:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        data = b"" if body is None else json.dumps(body).encode()
        # `path` is sent as it is (percent-encoded); the signer encodes the canonical URI
        # itself, so it gets the decoded path (else a %XX would be encoded twice).
        request = AWSRequest(method=method, url=self.endpoint_url + urllib.parse.unquote(path), data=data,
                             headers={"Content-Type": "application/json"} if data else {})
        request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(data).hexdigest()
        SigV4Auth(Credentials(self.access_key, self.secret_key), "s3", self.region).add_auth(request)
        if self.is_https:
            context = ssl.create_default_context(cafile=self.ca_bundle) if self.ca_bundle else ssl._create_unverified_context()
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                _connect_host(self.host), self.port, timeout=30, context=context)
        else:
            connection = http.client.HTTPConnection(_connect_host(self.host), self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=dict(request.headers.items()))
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            code = re.search(rb"<Code>(.*?)</Code>", answer)
            message = re.search(rb"<Message>(.*?)</Message>", answer)
            error = (f"{method} {path}: {response.status} "
                     f"{(code.group(1).decode() if code else '')}: {(message.group(1).decode() if message else answer[:200])}")
            if response.status == 503 and code and code.group(1) == b"SlowDown":
                raise _Busy(error)
            raise StrataError(error)
        return json.loads(answer) if answer.strip() else None

    def add_faults(self, *rules: Mapping[str, Any]) -> List[str]:
        """Adds fault rules (dicts as `/_strata/faults` takes them, e.g.
        `{"operation": "PutObject", "error": {"code": "SlowDown"}, "count": 2}`); returns
        their ids. They stay until `clear_faults()`."""
        return self.admin("POST", "/_strata/faults", {"rules": list(rules)})["added"]

    def faults(self) -> List[Dict[str, Any]]:
        """The fault rules with `hits` (times each fired) and `matched`."""
        return self.admin("GET", "/_strata/faults")["rules"]

    def clear_faults(self) -> None:
        """Removes every fault rule."""
        self.admin("DELETE", "/_strata/faults")

    def reset(self) -> None:
        """Empties the store (every bucket and object goes; users, settings, fault rules
        and snapshots stay): `POST /_strata/reset`."""
        self.admin("POST", "/_strata/reset")

    def save_snapshot(self, name: str) -> Dict[str, Any]:
        """Saves the whole store (buckets, objects, versions, bucket settings, open
        multipart uploads) as snapshot `name` (1-64 of A-Z a-z 0-9 . _ -), replacing one
        of that name: `POST /_strata/snapshots/NAME`. Returns its description: `name`,
        `sequence`, `created`, `buckets`, `objects`, `bytes`. At most 16 snapshots exist
        at once (a 17th name raises StrataError TooManySnapshots)."""
        return self.admin("POST", _snapshot_path(name))

    def restore_snapshot(self, name: str) -> Dict[str, Any]:
        """Returns the store to exactly the state saved as `name` (the snapshot stays, to
        restore again): `POST /_strata/snapshots/NAME/restore`. Returns `{"restored":
        NAME, "sequence": ...}`; an unknown name raises StrataError NoSuchSnapshot."""
        return self.admin("POST", _snapshot_path(name) + "/restore")

    def delete_snapshot(self, name: str) -> None:
        """Deletes snapshot `name` (the store is not changed): `DELETE
        /_strata/snapshots/NAME`; an unknown name raises StrataError NoSuchSnapshot."""
        self.admin("DELETE", _snapshot_path(name))

    def snapshots(self) -> List[Dict[str, Any]]:
        """The snapshots, sorted by name, each as save_snapshot() describes it:
        `GET /_strata/snapshots`."""
        return self.admin("GET", "/_strata/snapshots")["snapshots"]

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> Optional[int]:
        """SIGTERM (the server finishes requests in flight, closes its store and removes its
        ephemeral data directory), SIGKILL after `timeout` seconds. Returns the exit status.
        Safe to call more than once."""
        _stop_process(self.process, timeout)
        if self._final_output is None:
            self._final_output = _read(self._log_path)
            if self._log_dir:
                shutil.rmtree(self._log_dir, ignore_errors=True)
        # A killed server leaves its ephemeral directory behind: remove it.
        if self.data_dir and os.path.basename(self.data_dir).startswith("strata-ephemeral-"):
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return self.process.returncode

    def __enter__(self) -> "StrataServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _Busy(Exception):
    """A 503 SlowDown from an operator endpoint: admin() tries again."""


def _snapshot_path(name: str) -> str:
    # Sent percent-encoded, so that a name the server refuses arrives as it is (400
    # InvalidArgument) instead of as another path.
    return "/_strata/snapshots/" + urllib.parse.quote(str(name), safe="")


def _read(path: Optional[str]) -> str:
    if not path:
        return ""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _stop_process(proc: subprocess.Popen, timeout: float) -> None:
    if proc.poll() is not None:
        return
    _signal(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    _signal(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _stop_at_exit(proc: subprocess.Popen, log_dir: str) -> None:
    _stop_process(proc, DEFAULT_STOP_TIMEOUT)
    shutil.rmtree(log_dir, ignore_errors=True)


def _signal(proc: subprocess.Popen, signo: int) -> None:
    # The server leads a process group of its own (start_new_session).
    try:
        os.killpg(proc.pid, signo)
    except (ProcessLookupError, PermissionError, OSError):
        try:
            proc.send_signal(signo)
        except (ProcessLookupError, OSError):
            pass


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM when the Python process that started it dies, even
    by SIGKILL, so no server outlives a killed test run."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _ready(scheme: str, host: str, port: int) -> bool:
    """GET /_strata/health/ready answers 200 (it answers 503 while the store opens)."""
    connect_host = host.strip("[]")
    try:
        if scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(connect_host, port, timeout=2, context=context)
        else:
            conn = http.client.HTTPConnection(connect_host, port, timeout=2)
        try:
            conn.request("GET", READY_PATH, headers={"Connection": "close"})
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return False


def start_server(binary: str, args: Iterable[str] = (), *,
                 startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
                 env: Optional[Mapping[str, str]] = None,
                 banner_grace: float = 2.0) -> StrataServer:
    """Runs `BINARY serve --ephemeral --port 0 ARGS...` and returns once
    /_strata/health/ready answers 200. Later ARGS win over earlier ones (`--port 9100`
    instead of a free port). Raises StrataError, with the server's output, when the
    server exits or is not ready within `startup_timeout` seconds (and stops it)."""
    args = [str(a) for a in args]
    command = [binary, "serve", "--ephemeral", "--port", "0", *args]
    child_env = dict(os.environ if env is None else env)
    log_dir = tempfile.mkdtemp(prefix="pytest-strata-")
    log_path = os.path.join(log_dir, "server.log")
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=child_env, start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        except OSError as error:
            shutil.rmtree(log_dir, ignore_errors=True)
            raise StrataError(f"cannot run {' '.join(command)}: {error}") from error
    atexit.register(_stop_at_exit, proc, log_dir)  # a server nobody stopped

    info = BannerInfo()
    consumed = 0
    pending = b""

    def read_new() -> None:
        nonlocal consumed, pending
        try:
            with open(log_path, "rb") as f:
                f.seek(consumed)
                chunk = f.read()
        except OSError:
            return
        consumed += len(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            info.feed(raw.decode("utf-8", errors="replace"))

    def fail(reason: str) -> StrataError:
        _stop_process(proc, 5)
        output = _read(log_path)
        shutil.rmtree(log_dir, ignore_errors=True)
        return StrataError(f"{reason}\ncommand: {' '.join(command)}\n--- server output ---\n{output.rstrip()}\n---")

    deadline = time.monotonic() + startup_timeout
    while True:
        read_new()
        if proc.poll() is not None:
            read_new()
            raise fail(f"strata serve exited with status {proc.returncode} before it was ready")
        if info.port and _ready(info.scheme or "http", _connect_host(info.host), info.port):
            break
        if time.monotonic() > deadline:
            what = (f"did not answer 200 on {READY_PATH} (port {info.port})" if info.port
                    else "did not print the port it listens on")
            raise fail(f"strata serve {what} within {startup_timeout:g} s")
        time.sleep(0.05)

    # The banner (region, access key) follows right after the store reports ready.
    grace_end = time.monotonic() + banner_grace
    while info.access_key is None and time.monotonic() < grace_end and proc.poll() is None:
        time.sleep(0.02)
        read_new()

    scheme = info.scheme or "http"
    host = _connect_host(info.host)
    region = info.region or _option(args, "region") or child_env.get("STRATA_REGION") or DEFAULT_REGION
    access_key = (info.access_key or _option(args, "access-key") or child_env.get("STRATA_ACCESS_KEY")
                  or DEFAULT_ACCESS_KEY)
    secret_key = (info.secret_key or _option(args, "secret-key") or child_env.get("STRATA_SECRET_KEY")
                  or DEFAULT_SECRET_KEY)
    return StrataServer(
        endpoint_url=f"{scheme}://{host}:{info.port}", host=host.strip("[]"), port=info.port,
        access_key=access_key, secret_key=secret_key, region=region, process=proc,
        command=command, ca_bundle=info.ca_file, data_dir=info.ephemeral_dir,
        _log_dir=log_dir, _log_path=log_path)
