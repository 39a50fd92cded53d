"""Fixtures of the real-client compatibility suite.

One server per pytest session: a real `strata serve` (STRATA_BIN, default
.build/debug/strata) on a free loopback port with a fresh data directory, or, with
STRATA_COMPAT_TARGET=moto, `moto_server` (for working on the harness itself; moto checks
no signatures, so the tests that need that are skipped under it).

Every client runs as a subprocess with a clean environment (credentials, region, config
files and HOME in a temp directory; no AWS_CA_BUNDLE, which breaks rclone) and a timeout.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGET = os.environ.get("STRATA_COMPAT_TARGET", "strata").strip().lower() or "strata"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ACCESS_KEY = "AKIASTRATACOMPAT0001"
SECRET_KEY = "strataCompatSecretKey/0123456789abcdefXYZ"
REGION = "us-east-1"
TIMEOUT = 120  # seconds, for every subprocess
STARTUP_TIMEOUT = 30
# The session server's KMS key list (--kms-keys): one key, with an alias (test_encryption.py).
KMS_KEY_ID = "11111111-2222-3333-4444-555555555555"
KMS_KEY_ALIAS = "alias/strata-test"

# Keep this process's own boto3 away from the user's config and any endpoint overrides.
_isolation = tempfile.mkdtemp(prefix="strata-compat-py-")
for _name in list(os.environ):
    if _name.startswith("AWS_"):
        del os.environ[_name]
os.environ["AWS_CONFIG_FILE"] = os.path.join(_isolation, "config")
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(_isolation, "credentials")
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
atexit.register(shutil.rmtree, _isolation, True)

SKIP_UNDER_MOTO = pytest.mark.skipif(
    TARGET == "moto", reason="moto accepts any credentials and does not verify signatures or bodies"
)


def moto_skip(reason):
    """Skip under moto for a behaviour moto does not model (the reason says which)."""
    return pytest.mark.skipif(TARGET == "moto", reason=f"moto: {reason}")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    kind: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    data_dir: Path
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_moto(self):
        return self.kind == "moto"

    def output(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _die_with_parent():
    """In the child before exec: get SIGTERM when the pytest process dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _terminate_on_sigterm(signum, frame):
    # pytest then unwinds: the session finalizer and atexit stop the server.
    raise KeyboardInterrupt(f"signal {signum}")


if sys.platform.startswith("linux"):
    signal.signal(signal.SIGTERM, _terminate_on_sigterm)
    signal.signal(signal.SIGHUP, _terminate_on_sigterm)


def _stop(proc):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def _is_ready(port, extra_args=()):
    """Strata: /_strata/health/ready answers 200 (it listens before recovery ends and
    answers 503 until then). moto: the port accepts connections."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            if TARGET != "strata":
                return True
            if "--tls-self-signed" in extra_args or "--tls-cert" in extra_args:
                import ssl
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                conn = context.wrap_socket(conn)
            conn.sendall(b"GET /_strata/health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return conn.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _start_server(tmp_root: Path, extra_args=(), data_dir=None) -> Server:
    port = free_port()
    if data_dir is None:
        data_dir = tmp_root / "data"
        data_dir.mkdir()
    log_path = tmp_root / f"server-{port}.log"
    if TARGET == "moto":
        exe = shutil.which("moto_server")
        if not exe:
            pytest.fail("STRATA_COMPAT_TARGET=moto but moto_server is not on PATH (pip install 'moto[server]')")
        cmd = [exe, "-H", "127.0.0.1", "-p", str(port)]
    elif TARGET == "strata":
        binary = Path(os.environ.get("STRATA_BIN", ".build/debug/strata"))
        if not binary.is_absolute():
            binary = (Path.cwd() / binary) if (Path.cwd() / binary).exists() else (REPO_ROOT / binary)
        if not binary.exists():
            pytest.fail(f"strata binary not found at {binary}: build it (`make compat` does) or set STRATA_BIN")
        cmd = [str(binary), "serve", "--data", str(data_dir), "--host", "127.0.0.1", "--port", str(port),
               "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, "--region", REGION,
               "--domain", "localhost", *extra_args]
    else:
        pytest.fail(f"unknown STRATA_COMPAT_TARGET={TARGET!r} (use strata or moto)")
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=tmp_root,
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    log.close()
    atexit.register(_stop, proc)
    server = Server(kind=TARGET, port=port, proc=proc, log_path=log_path, data_dir=data_dir)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode} before listening: {' '.join(cmd)}\n"
                        f"--- server output ---\n{server.output()}")
        if _is_ready(port, extra_args):
            break
        if time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"server not accepting connections on port {port} after {STARTUP_TIMEOUT}s: "
                        f"{' '.join(cmd)}\n--- server output ---\n{server.output()}")
        time.sleep(0.1)
    return server


def strata_binary():
    """The strata executable the suite runs (STRATA_BIN)."""
    binary = Path(os.environ.get("STRATA_BIN", ".build/debug/strata"))
    return binary if binary.is_absolute() else (REPO_ROOT / binary)


def start_server(tmp_root, extra_args=(), data_dir=None):
    """Starts one more server (stop it with stop_server) for tests that need their own;
    on `data_dir` if given (say, to restart one), else on a new one under tmp_root."""
    return _start_server(Path(tmp_root), extra_args, data_dir)


def stop_server(srv):
    _stop(srv.proc)


@pytest.fixture(scope="session")
def server(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("server")
    extra = []
    if TARGET == "strata":
        kms_keys = root / "kms-keys.txt"
        kms_keys.write_text(f"# KMS keys of the compat suite\n{KMS_KEY_ID} {KMS_KEY_ALIAS}\n")
        extra = ["--kms-keys", str(kms_keys)]
    srv = _start_server(root, extra)

    def finish():
        _stop(srv.proc)
        # Shown with -rA or on failures; useful when the server logged something odd.
        if request.session.testsfailed:
            sys.stderr.write(f"\n--- {srv.kind} server output (tail) ---\n{srv.output()[-4000:]}\n")

    request.addfinalizer(finish)
    return srv


# ---------------------------------------------------------------- client environment

@dataclass
class ClientEnv:
    """A clean environment for client subprocesses, with config files in a temp HOME."""
    server: Server
    home: Path
    env: dict = field(default_factory=dict)

    def run(self, cmd, check=True, input=None, timeout=TIMEOUT, env=None, cwd=None):
        cmd = [str(c) for c in cmd]
        try:
            p = subprocess.run(cmd, env=env or self.env, input=input, capture_output=True,
                               timeout=timeout, cwd=cwd or self.home)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"timed out after {timeout}s: {' '.join(cmd)}\n"
                                 f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}") from None
        if check and p.returncode != 0:
            raise AssertionError(
                f"exit {p.returncode}: {' '.join(cmd)}\n--- stdout ---\n"
                f"{p.stdout.decode(errors='replace')}\n--- stderr ---\n{p.stderr.decode(errors='replace')}")
        return p


@pytest.fixture(scope="session")
def client_env(server, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    (home / ".aws").mkdir()
    config = home / ".aws" / "config"
    config.write_text(f"[default]\nregion = {REGION}\noutput = json\n")
    creds = home / ".aws" / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")
    (home / ".s3cfg").write_text(
        "[default]\n"
        f"access_key = {ACCESS_KEY}\n"
        f"secret_key = {SECRET_KEY}\n"
        f"host_base = {server.host}\n"
        f"host_bucket = {server.host}\n"
        "use_https = False\n"
        f"bucket_location = {REGION}\n")
    rclone_conf = home / "rclone.conf"
    rclone_conf.write_text("")
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": str(home),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(creds),
        "AWS_PAGER": "",
        "RCLONE_CONFIG": str(rclone_conf),
        "RCLONE_CONFIG_S3_TYPE": "s3",
        "RCLONE_CONFIG_S3_PROVIDER": "Other",
        "RCLONE_CONFIG_S3_ENV_AUTH": "false",
        "RCLONE_CONFIG_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "RCLONE_CONFIG_S3_REGION": REGION,
        "RCLONE_CONFIG_S3_ENDPOINT": server.endpoint,
    }
    for keep in ("PYENV_ROOT", "PYENV_VERSION"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    return ClientEnv(server=server, home=home, env=env)


# ---------------------------------------------------------------- boto3

def make_client(server, secret=None, **config):
    import boto3
    from botocore.config import Config

    cfg = dict(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=30,
               max_pool_connections=32)
    cfg.update(config)
    return boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret or SECRET_KEY,
        config=Config(**cfg))


@pytest.fixture(scope="session")
def s3(server):
    return make_client(server)


def unique_bucket(label="b"):
    label = "".join(c for c in label.lower() if c.isalnum() or c == "-")[:30].strip("-") or "b"
    return f"compat-{label}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bucket_name(request):
    return unique_bucket(request.node.originalname or request.node.name)


@pytest.fixture
def bucket(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    return bucket_name


# ---------------------------------------------------------------- curl

def curl(client_env, url, *args, timeout=60):
    """Runs curl on a URL; returns (status, body bytes)."""
    p = client_env.run(["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout), "-o", "-",
                        "-w", "\n%{http_code}", *args, url], check=True)
    body, _, status = p.stdout.rpartition(b"\n")
    return int(status), body


BIG_BUCKET_KEYS = [f"d{i % 10}/k{i:04d}" for i in range(1200)]


@pytest.fixture(scope="session")
def big_bucket(s3):
    """A bucket with 1,200 small objects (keys d0/ … d9/), filled in parallel once per session."""
    from concurrent.futures import ThreadPoolExecutor

    name = unique_bucket("big")
    s3.create_bucket(Bucket=name)
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=name, Key=k, Body=k.encode()), BIG_BUCKET_KEYS))
    return name
