"""`strata serve` as a service (issue 8): where settings come from (flag over
environment over config file over default), the JSON access log, --ephemeral and
--port 0, and the lock that keeps a second server off a data directory in use."""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ACCESS_KEY, SECRET_KEY, TARGET, free_port, strata_binary

pytestmark = pytest.mark.skipif(TARGET == "moto", reason="strata's own service behaviour")


class Serve:
    """A `strata serve` with the given args and environment; output collected in a file."""

    def __init__(self, tmp_path, args, env=None):
        self.log = tmp_path / f"serve-{time.monotonic_ns()}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        environment.update(env or {})
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([str(strata_binary()), "serve", *map(str, args)], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment,
                                         start_new_session=True)

    def output(self):
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output(), re.M)
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the output of strata serve:\n{self.output()}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        return self.proc.returncode


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(args, env=None):
        s = Serve(tmp_path, args, env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def test_flag_beats_environment_beats_config_file_beats_default(serve, tmp_path):
    config = tmp_path / "strata.conf"
    config.write_text('# settings\nregion = "eu-west-1"\nport = 0\ndata = "%s"\naccess-key = file-key\n' % (tmp_path / "d1"))
    s = serve(["--config", config], env={"STRATA_REGION": "us-west-2"})
    assert s.wait_for(r"^  region +(\S+)").group(1) == "us-west-2", "the environment beats the file"
    assert s.wait_for(r"^  access key +(\S+)").group(1) == "file-key", "the file beats the default"
    assert s.wait_for(r"^data directory: (\S+)").group(1) == str(tmp_path / "d1")
    s.stop()

    s = serve(["--config", config, "--region", "ap-south-1", "--data", tmp_path / "d2"],
              env={"STRATA_REGION": "us-west-2"})
    assert s.wait_for(r"^  region +(\S+)").group(1) == "ap-south-1", "the flag beats the environment"
    s.stop()

    s = serve(["--port", "0", "--data", tmp_path / "d3"], env={"STRATA_CONFIG": str(config)})
    assert s.wait_for(r"^  region +(\S+)").group(1) == "eu-west-1", "STRATA_CONFIG names the file"
    assert s.wait_for(r"^  secret key +(\S+)").group(1) == "********", "a secret that is not the default is masked"
    s.stop()

    s = serve(["--port", "0", "--data", tmp_path / "d4"])
    assert s.wait_for(r"^  region +(\S+)").group(1) == "us-east-1", "the default"
    s.stop()


def test_bad_settings_are_refused_with_their_source(serve, tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("prot = 9000\n")
    s = serve(["--config", bad])
    s.proc.wait(timeout=30)
    assert s.proc.returncode != 0
    assert "unknown setting prot" in s.output()
    s = serve(["--port", "0"], env={"STRATA_SEGMENT_SIZE": "12"})
    s.proc.wait(timeout=30)
    assert s.proc.returncode != 0
    assert "$STRATA_SEGMENT_SIZE" in s.output()


def test_json_access_log_has_one_line_per_request(serve, tmp_path):
    import boto3
    from botocore.config import Config

    s = serve(["--port", "0", "--data", tmp_path / "d", "--log-format", "json",
               "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
    # The banner is a JSON line too: its port field.
    port = int(s.wait_for(r'"port":(\d+)').group(1))
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=ACCESS_KEY,
                      aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    s3.create_bucket(Bucket="logged")
    s3.put_object(Bucket="logged", Key="dir/k.txt", Body=b"x" * 1234)
    with pytest.raises(Exception):
        s3.get_object(Bucket="logged", Key="missing")
    s.wait_for(r'"status":404')
    # (stderr is in the same file: its plain lines are skipped.)
    lines = [json.loads(line) for line in s.output().splitlines() if line.startswith("{")]
    put = next(l for l in lines if l.get("method") == "PUT" and l["key"] == "dir/k.txt")
    assert put["bucket"] == "logged" and put["status"] == 200 and put["bytes_in"] == 1234
    assert put["access_key"] == ACCESS_KEY and put["level"] == "info"
    assert re.fullmatch(r"[0-9A-F]{16}", put["request_id"]) and put["duration_ms"] >= 0
    missing = next(l for l in lines if l.get("key") == "missing")
    assert missing["status"] == 404 and missing["bytes_out"] > 0 and missing["error"] == "NoSuchKey"


def test_ephemeral_data_directory_is_removed_at_exit(serve):
    s = serve(["--ephemeral", "--port", "0"])
    directory = s.wait_for(r"^data directory: (\S+) \(ephemeral").group(1)
    s.wait_for(r"^  port +(\d+)")
    assert Path(directory).is_dir()
    assert s.stop() == 0
    assert not Path(directory).exists()


def test_second_server_on_the_same_data_directory_is_refused(serve, tmp_path):
    first = serve(["--port", "0", "--data", tmp_path / "shared"])
    first.wait_for(r"^  port +(\d+)")
    second = serve(["--port", "0", "--data", tmp_path / "shared"])
    second.proc.wait(timeout=30)
    assert second.proc.returncode != 0
    assert "in use by another process" in second.output()
    assert first.proc.poll() is None, "the first server keeps running"


def _start_upload(srv, bucket, key, body):
    """Sends the head and half the body of a PUT; returns the open connection."""
    import http.client

    from compat_helpers import sign_v4

    target, headers = sign_v4(srv, "PUT", f"/{bucket}/{key}", body)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.putrequest("PUT", target, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    conn.send(body[: len(body) // 2])
    return conn


def test_graceful_shutdown_lets_an_upload_in_flight_finish(tmp_path):
    from conftest import make_client, start_server, stop_server

    srv = start_server(tmp_path, ["--shutdown-timeout", "20"])
    s3 = make_client(srv)
    s3.create_bucket(Bucket="graceful")
    body = bytes(range(256)) * 4096  # 1 MiB
    conn = _start_upload(srv, "graceful", "in-flight", body)
    time.sleep(0.3)
    os.killpg(srv.proc.pid, signal.SIGTERM)
    time.sleep(0.5)
    assert srv.proc.poll() is None, "the server waits for the request in flight"
    conn.send(body[len(body) // 2:])
    response = conn.getresponse()
    assert response.status == 200, response.read()
    assert response.getheader("Connection") == "close", "a stopping server closes after the response"
    conn.close()
    answered = time.monotonic()
    assert srv.proc.wait(timeout=20) == 0
    # The client's idle keep-alive connection (from create_bucket) was closed at once,
    # not kept until the 20 s grace period ended.
    assert time.monotonic() - answered < 5
    assert "stopping: no new connections" in srv.output()

    again = start_server(tmp_path, [], data_dir=srv.data_dir)
    try:
        assert make_client(again).get_object(Bucket="graceful", Key="in-flight")["Body"].read() == body
    finally:
        stop_server(again)


def test_graceful_shutdown_cuts_an_upload_that_outlasts_the_deadline(tmp_path):
    from conftest import make_client, start_server, stop_server

    srv = start_server(tmp_path, ["--shutdown-timeout", "1"])
    s3 = make_client(srv)
    s3.create_bucket(Bucket="cut")
    conn = _start_upload(srv, "cut", "too-slow", b"y" * (1 << 20))
    time.sleep(0.3)
    started = time.monotonic()
    os.killpg(srv.proc.pid, signal.SIGTERM)
    assert srv.proc.wait(timeout=20) == 0
    assert time.monotonic() - started < 10
    conn.close()

    again = start_server(tmp_path, [], data_dir=srv.data_dir)
    try:
        client = make_client(again)
        with pytest.raises(client.exceptions.NoSuchKey):
            client.get_object(Bucket="cut", Key="too-slow")
        assert [o["Key"] for o in client.list_objects_v2(Bucket="cut").get("Contents", [])] == []
    finally:
        stop_server(again)
