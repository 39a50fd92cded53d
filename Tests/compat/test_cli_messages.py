"""What `strata` says when something is off, as an operator sees it: one plain line on
stderr and a non-zero exit, never a usage dump, an S3 error code or an XML document. Also
the conveniences of `strata serve` around its output: the banner for --host 0.0.0.0,
--log-format json on every stdout line, the access log naming error codes and access
keys, a second Ctrl-C, and the --tls-self-signed CA kept across restarts for
`strata compact --server https://…`.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import compat_helpers as h
from conftest import (ACCESS_KEY, SECRET_KEY, TARGET, _is_ready, free_port, make_client, start_server, stop_server,
                      strata_binary)

pytestmark = pytest.mark.skipif(TARGET != "strata", reason="strata's own command line")


def clean_env(**extra):
    """This environment without STRATA_* settings (STRATA_BIN, the suite's own, stays)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_") or k == "STRATA_BIN"}
    env.pop("AWS_CA_BUNDLE", None)
    env.update(extra)
    return env


def strata(*args, env=None, timeout=120):
    return subprocess.run([str(strata_binary()), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env or clean_env())


def one_line_failure(result, *needles):
    """The command failed with exactly one line on stderr holding every needle."""
    assert result.returncode != 0, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    for leak in ("Usage:", "<?xml", "<Error>", "InternalError", "InvalidArgument", "SignatureDoesNotMatch",
                 "InvalidAccessKeyId", "errno"):
        assert leak not in lines[0], lines[0]
    return lines[0]


class Serve:
    """A `strata serve` of this test's own, with stdout and stderr kept apart."""

    access_key, secret_key, region = ACCESS_KEY, SECRET_KEY, "us-east-1"

    def __init__(self, tmp_path, args, env=None, data=None, ready=True):
        self.port = free_port()
        self.data = Path(data) if data else tmp_path / f"data-{self.port}"
        self.stdout_path, self.stderr_path = tmp_path / f"out-{self.port}", tmp_path / f"err-{self.port}"
        cmd = [str(strata_binary()), "serve", "--port", str(self.port), "--access-key", ACCESS_KEY,
               "--secret-key", SECRET_KEY, *map(str, args)]
        if "--ephemeral" not in args and "--data" not in args:
            cmd += ["--data", str(self.data)]
        if "--host" not in args:
            cmd += ["--host", "127.0.0.1"]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env or clean_env(), start_new_session=True)
        if ready:
            deadline = time.monotonic() + 30
            while not _is_ready(self.port, args):
                assert self.proc.poll() is None, f"exited {self.proc.returncode}: {self.stderr()}"
                assert time.monotonic() < deadline, self.stderr()
                time.sleep(0.1)
            # The banner follows readiness by a moment.
            while "try:" not in self.stdout() and '"endpoint"' not in self.stdout() and time.monotonic() < deadline:
                time.sleep(0.05)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(args=(), **kwargs):
        s = Serve(tmp_path, list(args), **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop(signal.SIGKILL)


# ------------------------------------------------------------------ strata compact --server


def compact_server(url, *args, env=None):
    return strata("compact", "--server", url, "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
                  "--threshold", "0.99", *args, env=env)


def test_compact_over_https_trusts_the_ca_bundle_option_or_aws_ca_bundle(serve, tmp_path):
    s = serve(["--tls-self-signed"])
    ca = s.data / "tls-ca.pem"
    url = f"https://127.0.0.1:{s.port}"
    with_option = compact_server(url, "--ca-bundle", ca)
    assert with_option.returncode == 0, with_option.stderr
    assert "nothing to compact" in with_option.stdout or "segments compacted" in with_option.stdout
    with_env = compact_server(f"https://localhost:{s.port}", "--json", env=clean_env(AWS_CA_BUNDLE=str(ca)))
    assert with_env.returncode == 0, with_env.stderr
    assert "victims" in json.loads(with_env.stdout)
    untrusted = compact_server(url)
    one_line_failure(untrusted, url, "--ca-bundle")


def test_compact_says_when_nothing_listens():
    port = free_port()
    result = compact_server(f"http://127.0.0.1:{port}")
    one_line_failure(result, f"strata compact: cannot connect to http://127.0.0.1:{port}: connection refused",
                     "is strata serve running there?")


def test_compact_says_when_the_server_does_not_answer():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # connections complete in the backlog; nothing ever answers
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = compact_server(f"http://127.0.0.1:{port}", "--timeout", "1")
        assert time.monotonic() - started < 30
    one_line_failure(result, f"http://127.0.0.1:{port} did not answer within 1 s")


def test_compact_says_which_credential_the_server_refused(server):
    wrong_secret = strata("compact", "--server", server.endpoint, "--access-key", ACCESS_KEY, "--secret-key", "wrong")
    assert wrong_secret.returncode == 1
    one_line_failure(wrong_secret, "strata compact: the server refused the credentials: the secret key does not match",
                     "--secret-key", "STRATA_SECRET_KEY")
    unknown = strata("compact", "--server", server.endpoint, "--access-key", "AKIANOSUCHKEY0000000",
                     "--secret-key", SECRET_KEY)
    one_line_failure(unknown, "AKIANOSUCHKEY0000000", "--access-key")
    bad_url = strata("compact", "--server", "ftp://127.0.0.1:9000")
    one_line_failure(bad_url, "--server ftp://127.0.0.1:9000")


# ------------------------------------------------------------------ offline commands


def test_offline_commands_name_a_missing_data_directory(tmp_path):
    missing = tmp_path / "nope"
    for command in (["verify"], ["inspect", "segments"], ["recover"], ["compact"]):
        result = strata(*command, "--data", missing)
        one_line_failure(result, f"strata {command[0]} --data {missing}: no such directory")


def test_a_data_directory_a_server_holds_is_named_in_plain_words(serve):
    s = serve()
    for command in (["verify"], ["compact"], ["recover"]):
        result = strata(*command, "--data", s.data)
        one_line_failure(result, f"the data directory {s.data} is in use by another process (a running strata serve?)")


def test_segments_are_named_as_their_files(serve):
    s = serve()
    make_client(s).create_bucket(Bucket="named")
    s.stop()
    result = strata("compact", "--data", s.data, "--segment", "99")
    one_line_failure(result, "segment file 0000000000000063.seg")
    result = strata("inspect", "segment", "0000000000000063.seg", "--data", s.data)
    one_line_failure(result, "no segment file 0000000000000063.seg")
    table = strata("inspect", "segments", "--data", s.data)
    assert "0000000000000001.seg" in table.stdout, table.stdout


# ------------------------------------------------------------------ strata serve start-up


def test_a_port_in_use_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = strata("serve", "--ephemeral", "--host", "127.0.0.1", "--port", port, timeout=60)
    one_line_failure(result, f"port {port} on 127.0.0.1 is already in use")


def test_a_missing_tls_file_is_named(tmp_path):
    result = strata("serve", "--ephemeral", "--port", "0", "--tls-cert", "/x", "--tls-key", "/y", timeout=60)
    one_line_failure(result, "--tls-cert /x: no such file")


def test_ephemeral_excludes_a_data_directory_from_any_source(tmp_path):
    config = tmp_path / "strata.conf"
    config.write_text(f"data = {tmp_path / 'from-file'}\n")
    for args, env, source in ((["--data", tmp_path / "d"], clean_env(), "--data"),
                              ([], clean_env(STRATA_DATA=str(tmp_path / "e")), "$STRATA_DATA"),
                              (["--config", config], clean_env(), str(config))):
        result = strata("serve", "--ephemeral", "--port", "0", *args, env=env, timeout=60)
        assert result.returncode == 2, result.stderr
        one_line_failure(result, "--ephemeral", source)


def test_unknown_strata_variables_are_warned_about_and_tooling_ones_are_not(serve):
    env = clean_env(STRATA_SEGMENTSIZE="64M", STRATA_NO_SUCH_THING="1", STRATA_BIN=str(strata_binary()),
                    STRATA_COMPAT_TARGET="strata", STRATA_POWERLOSS_SEED="1")
    s = serve(["--ephemeral"], env=env)
    s.stop()
    warnings = [line for line in s.stderr().splitlines() if "warning" in line]
    assert any("STRATA_SEGMENTSIZE" in w and "did you mean STRATA_SEGMENT_SIZE?" in w for w in warnings), warnings
    assert any("STRATA_NO_SUCH_THING" in w and "did you mean" not in w for w in warnings), warnings
    assert len(warnings) == 2, warnings


@pytest.mark.parametrize("host,reachable", [("0.0.0.0", "127.0.0.1"), ("::", "[::1]")])
def test_listening_on_all_interfaces_offers_a_reachable_endpoint(serve, host, reachable):
    if host == "::" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        s = serve(["--ephemeral", "--host", host], ready=False)
        deadline = time.monotonic() + 30
        while "try:" not in s.stdout():
            assert s.proc.poll() is None, s.stderr()
            assert time.monotonic() < deadline, s.stdout()
            time.sleep(0.1)
    finally:
        pass
    out = s.stdout()
    endpoint = f"http://{reachable}:{s.port}"
    assert f"S3 endpoint {endpoint} (listening on all interfaces" in out, out
    assert f"--endpoint-url {endpoint} s3 ls" in out, out
    assert "0.0.0.0" not in re.search(r"try:.*", out).group(0)


def test_a_second_ctrl_c_stops_at_once(serve):
    s = serve(["--ephemeral", "--shutdown-timeout", "120", "--bucket", "held"])
    # A request in flight: a signed PUT whose body never comes, so the graceful stop waits.
    target, headers = h.sign_v4(s, "PUT", "/held/k", payload_hash="UNSIGNED-PAYLOAD")
    head = f"PUT {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    held = socket.create_connection(("127.0.0.1", s.port))
    held.sendall(head.encode() + b"Content-Length: 1000\r\n\r\nabc")
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    while "stopping" not in s.stdout():
        assert time.monotonic() < deadline, s.stdout()
        time.sleep(0.05)
    assert "Ctrl-C again" in s.stdout()
    time.sleep(0.3)
    assert s.proc.poll() is None, "the first Ctrl-C waits for the request in flight"
    started = time.monotonic()
    s.proc.send_signal(signal.SIGINT)
    assert s.proc.wait(timeout=10) == 130
    assert time.monotonic() - started < 5
    held.close()


# ------------------------------------------------------------------ serve's output


def test_json_log_format_makes_every_stdout_line_json(serve):
    s = serve(["--ephemeral", "--log-format", "json", "--bucket", "jsonb"])
    c = make_client(s)
    c.put_object(Bucket="jsonb", Key="k", Body=b"x")
    with pytest.raises(Exception):
        c.get_object(Bucket="jsonb", Key="missing")
    assert s.stop(signal.SIGINT) == 0
    lines = s.stdout().splitlines()
    assert len(lines) > 5
    objects = [json.loads(line) for line in lines]
    banner = next(o for o in objects if "endpoint" in o and "region" in o)
    assert banner["endpoint"] == s.endpoint and banner["port"] == s.port and banner["access_key"] == ACCESS_KEY
    assert any(o.get("error") == "NoSuchKey" and o.get("status") == 404 for o in objects), objects
    assert any(o.get("msg") == "Strata stopped." for o in objects)


def test_access_log_names_error_codes_and_the_access_key_tried(serve):
    s = serve(["--ephemeral", "--bucket", "logged"])
    good, wrong = make_client(s), make_client(s, secret="not-the-secret")
    with pytest.raises(Exception):
        good.get_object(Bucket="logged", Key="missing")
    with pytest.raises(Exception):
        wrong.list_objects_v2(Bucket="logged")
    s.stop()
    out = s.stdout()
    missing = re.search(r"GET /logged/missing 404 .*", out).group(0)
    assert "error=NoSuchKey" in missing and f"access_key={ACCESS_KEY}" in missing, missing
    refused = re.search(r"GET /logged 403 .*", out).group(0)
    assert "error=SignatureDoesNotMatch" in refused and f"access_key={ACCESS_KEY}" in refused, refused


# ------------------------------------------------------------------ the self-signed CA


def test_the_self_signed_ca_is_kept_across_restarts(serve, tmp_path):
    import boto3
    from botocore.config import Config

    first = serve(["--tls-self-signed"])
    ca = first.data / "tls-ca.pem"
    key = first.data / "tls-ca-key.pem"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    kept = tmp_path / "first-ca.pem"
    shutil.copy(ca, kept)
    first.stop()
    second = serve(["--tls-self-signed"], data=first.data)
    assert "kept from an earlier start" in second.stdout()
    s3 = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{second.port}", aws_access_key_id=ACCESS_KEY,
                      aws_secret_access_key=SECRET_KEY, region_name="us-east-1", verify=str(kept),
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    s3.create_bucket(Bucket="kept-ca")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["kept-ca"]
