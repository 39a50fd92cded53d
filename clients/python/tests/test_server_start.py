"""Reading what the server prints, and start/stop against stand-in binaries (Python
scripts that behave like `strata serve` would in odd cases: JSON-only output, never
ready, an early exit, a server that ignores SIGTERM)."""

import json
import os
import sys
import textwrap
import time

import pytest

from pytest_strata import BannerInfo, StrataError, start_server
from pytest_strata.buckets import unique_bucket_name

HUMAN = """\
listening on http://127.0.0.1:41381, opening /tmp/strata-ephemeral-BA882992 (health: http://127.0.0.1:41381/_strata/health/ready)
data directory: /tmp/strata-ephemeral-BA882992 (ephemeral, removed at exit)
segments scanned: 0, records scanned: 0, commits applied: 0
Strata 0.12.0-dev S3 endpoint listening on http://127.0.0.1:41381
  port        41381
  region      eu-west-1
  access key  AKIAEXAMPLE
  secret key  ********
  account     632722996004
"""


def feed(text):
    info = BannerInfo()
    for line in text.splitlines():
        info.feed(line)
    return info


def test_human_banner():
    info = feed(HUMAN)
    assert (info.scheme, info.host, info.port) == ("http", "127.0.0.1", 41381)
    assert (info.region, info.access_key, info.secret_key) == ("eu-west-1", "AKIAEXAMPLE", None)
    assert info.ephemeral_dir == "/tmp/strata-ephemeral-BA882992"


def test_default_banner_and_tls():
    info = feed("listening on https://[::1]:9443, opening x (health: ...)\n"
                "  region      us-east-1 (requests signed for any region accepted)\n"
                "  secret key  strata-secret-key\n"
                "  CA file     /tmp/d/tls-ca.pem  (export AWS_CA_BUNDLE=/tmp/d/tls-ca.pem)\n")
    assert (info.scheme, info.host, info.port) == ("https", "[::1]", 9443)
    assert (info.region, info.secret_key, info.ca_file) == ("us-east-1", "strata-secret-key", "/tmp/d/tls-ca.pem")


@pytest.mark.parametrize("lines", [
    # each banner line as the message of a JSON log line
    [json.dumps({"level": "info", "message": line}) for line in HUMAN.splitlines()],
    # the whole banner as one message
    [json.dumps({"ts": "2026-01-01T00:00:00Z", "level": "info", "message": HUMAN})],
    # facts as fields
    [json.dumps({"level": "info", "msg": "listening", "endpoint": "http://127.0.0.1:41381"}),
     json.dumps({"level": "info", "msg": "ready", "meta": {"port": 41381, "region": "eu-west-1",
                                                           "access_key": "AKIAEXAMPLE", "secret_key": "********"}})],
])
def test_json_lines(lines):
    info = feed("\n".join(lines))
    assert (info.port, info.region, info.access_key, info.secret_key) == (41381, "eu-west-1", "AKIAEXAMPLE", None)


def test_lines_that_only_look_like_json():
    info = feed('{not json: port 1\n{"unrelated": [1, 2, {"deep": "no facts"}]}\n  port        4321\n')
    assert info.port == 4321


def test_bucket_names():
    names = {unique_bucket_name("test_x[Param-1/ÄÖ]") for _ in range(100)}
    assert len(names) == 100
    long = unique_bucket_name("t" * 200)
    for name in names | {long, unique_bucket_name(""), unique_bucket_name("---")}:
        assert 3 <= len(name) <= 63, name
        assert name[0].isalnum() and name[-1].isalnum() and "--" not in name, name
        assert all(c.islower() or c.isdigit() or c == "-" for c in name), name
    assert next(iter(names)).startswith("pytest-test-x-param-1-")


FAKE_PRELUDE = f"""#!{sys.executable}
import http.server, json, os, signal, sys, threading, time
mode = {{mode!r}}
"""

FAKE_BODY = """
if mode == "exit":
    print("strata serve: --bucket Bad_Name: invalid bucket name", file=sys.stderr, flush=True)
    sys.exit(2)
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/_strata/health/ready" and mode != "never-ready"
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
port = server.server_address[1]
log = lambda **fields: print(json.dumps({"level": "info", **fields}), flush=True)
log(message=f"listening on http://127.0.0.1:{port}, opening /tmp/x (health: ...)")
log(message=f"Strata S3 endpoint listening on http://127.0.0.1:{port}", port=port,
    region="eu-north-1", access_key="AKIAFAKE")
if mode != "ignore-term":
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
server.serve_forever()
log(message="Strata stopped.")
"""


def fake(tmp_path, mode):
    path = tmp_path / f"fake-strata-{mode}"
    path.write_text(FAKE_PRELUDE.format(mode=mode) + textwrap.dedent(FAKE_BODY))
    path.chmod(0o755)
    return str(path)


def test_json_only_output(tmp_path):
    server = start_server(fake(tmp_path, "json"), ["--ignored"])
    try:
        assert server.endpoint_url == f"http://127.0.0.1:{server.port}"
        assert (server.region, server.access_key, server.secret_key) == ("eu-north-1", "AKIAFAKE", "strata-secret-key")
        assert server.command[1:5] == ["serve", "--ephemeral", "--port", "0"]
    finally:
        assert server.stop() == 0
    assert "Strata stopped." in server.output()


def test_never_ready(tmp_path):
    started = time.monotonic()
    with pytest.raises(StrataError) as error:
        start_server(fake(tmp_path, "never-ready"), startup_timeout=1.5)
    assert time.monotonic() - started < 10
    message = str(error.value)
    assert "did not answer 200 on /_strata/health/ready" in message and "within 1.5 s" in message
    assert "--- server output ---" in message and "listening on http://127.0.0.1:" in message


def test_exits_at_start(tmp_path):
    with pytest.raises(StrataError) as error:
        start_server(fake(tmp_path, "exit"))
    message = str(error.value)
    assert "exited with status 2 before it was ready" in message
    assert "invalid bucket name" in message


def test_sigkill_after_the_stop_timeout(tmp_path):
    server = start_server(fake(tmp_path, "ignore-term"))
    started = time.monotonic()
    status = server.stop(timeout=1)
    assert status == -9 and time.monotonic() - started < 8
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    assert server.stop() == -9  # again: nothing to do


class _SnapshotStub:
    """An in-process stand-in for the snapshot endpoints: records each request; answers
    503 SlowDown `busy` times first, then as Strata would."""

    def __init__(self, busy=0):
        import http.server
        import threading

        stub = self
        self.busy, self.seen = busy, []

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self, status, body=b"", kind="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self):
                stub.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
                if stub.busy:
                    stub.busy -= 1
                    return self.answer(503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate."
                                            b"</Message></Error>", "application/xml")
                if self.command == "GET" and self.path == "/_strata/snapshots":
                    return self.answer(200, json.dumps({"snapshots": [{"name": "a", "objects": 1}]}).encode())
                if self.command == "DELETE" and self.path == "/_strata/snapshots/a":
                    return self.answer(204)
                if self.command == "POST" and self.path == "/_strata/snapshots/a":
                    return self.answer(200, json.dumps({"name": "a", "sequence": 7}).encode())
                if self.path.endswith("/restore"):
                    return self.answer(404, b"<Error><Code>NoSuchSnapshot</Code><Message>There is no snapshot "
                                            b"named b.</Message></Error>", "application/xml")
                return self.answer(400, b"<Error><Code>InvalidArgument</Code><Message>bad name</Message></Error>",
                                   "application/xml")

            do_GET = do_POST = do_DELETE = handle_any

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        port = self.httpd.server_address[1]
        from pytest_strata import StrataServer
        self.server = StrataServer(endpoint_url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port,
                                   access_key="AKIAFAKE", secret_key="secret", region="us-east-1",
                                   process=None, command=[])

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_snapshot_requests_against_a_stand_in():
    stub = _SnapshotStub(busy=2)
    try:
        server = stub.server
        # Two 503 SlowDown answers are retried; the third request gets the list.
        assert server.snapshots() == [{"name": "a", "objects": 1}]
        assert [m for m, _, _ in stub.seen] == ["GET"] * 3
        assert all(auth.startswith("AWS4-HMAC-SHA256 Credential=AKIAFAKE/") for _, _, auth in stub.seen)
        assert server.save_snapshot("a") == {"name": "a", "sequence": 7}
        assert server.delete_snapshot("a") is None  # 204, no body
        with pytest.raises(StrataError, match="404 NoSuchSnapshot: There is no snapshot named b"):
            server.restore_snapshot("b")
        assert stub.seen[-1][:2] == ("POST", "/_strata/snapshots/b/restore")
        # A name the server refuses is sent as it is, percent-encoded, not as another path.
        for bad, path in [("no/slash", "/_strata/snapshots/no%2Fslash"), ("a b", "/_strata/snapshots/a%20b")]:
            with pytest.raises(StrataError, match="400 InvalidArgument"):
                server.save_snapshot(bad)
            assert stub.seen[-1][:2] == ("POST", path)
    finally:
        stub.close()


def test_snapshot_requests_give_up_when_the_server_stays_busy(monkeypatch):
    import pytest_strata.server

    monkeypatch.setattr(pytest_strata.server, "ADMIN_ATTEMPTS", 3)
    stub = _SnapshotStub(busy=10)
    try:
        with pytest.raises(StrataError, match="503 SlowDown"):
            stub.server.save_snapshot("a")
        assert len(stub.seen) == 3
    finally:
        stub.close()
