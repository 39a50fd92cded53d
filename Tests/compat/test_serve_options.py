"""`strata serve` conveniences for test suites: buckets made at start, and the MinIO health
paths that compose files and testcontainers' MinIO wait strategies poll."""
import subprocess
import urllib.request

import pytest

import compat_helpers as h
from conftest import TARGET, make_client, start_server, stop_server, strata_binary

pytestmark = pytest.mark.skipif(TARGET != "strata", reason="strata serve options")


def names(client):
    return sorted(b["Name"] for b in client.list_buckets()["Buckets"])


def test_buckets_given_at_start_exist_when_ready_and_again_after_a_restart(tmp_path):
    srv = start_server(tmp_path, ["--bucket", "first-bucket", "--bucket", "second-bucket"])
    try:
        c = make_client(srv)
        assert names(c) == ["first-bucket", "second-bucket"]
        c.put_object(Bucket="first-bucket", Key="k", Body=b"kept")
    finally:
        stop_server(srv)
    # Idempotent: the same flags on the same data directory start fine and change nothing.
    srv = start_server(tmp_path, ["--bucket", "first-bucket", "--bucket", "third-bucket"], data_dir=srv.data_dir)
    try:
        c = make_client(srv)
        assert names(c) == ["first-bucket", "second-bucket", "third-bucket"]
        assert c.get_object(Bucket="first-bucket", Key="k")["Body"].read() == b"kept"
    finally:
        stop_server(srv)


def test_buckets_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATA_BUCKETS", "env-one, env-two")
    srv = start_server(tmp_path)
    try:
        assert names(make_client(srv)) == ["env-one", "env-two"]
    finally:
        stop_server(srv)


def test_an_invalid_bucket_name_stops_the_start(tmp_path):
    p = subprocess.run([str(strata_binary()), "serve", "--data", str(tmp_path / "data"), "--port", "0",
                        "--bucket", "Not_A_Bucket"], capture_output=True, timeout=60)
    assert p.returncode == 2 and b"--bucket Not_A_Bucket" in p.stderr, (p.returncode, p.stderr[-500:])


def test_minio_health_paths_answer_unsigned_and_stay_s3_when_signed(server):
    for path in ("/minio/health/live", "/minio/health/ready"):
        with urllib.request.urlopen(server.endpoint + path, timeout=10) as r:
            assert r.status == 200 and b'"ok"' in r.read(), path
    # Signed, the same path is S3's: bucket "minio", key "health/live".
    target, headers = h.sign_v4(server, "GET", "/minio/health/live")
    status, _, body = h.send(server, "GET", target, headers=headers)
    assert status == 404 and h.error_code(body) == "NoSuchBucket", body
