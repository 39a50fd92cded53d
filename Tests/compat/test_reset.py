"""`strata reset` (POST /_strata/reset): the store emptied in one commit, online with
--server and offline with --data; durable across a restart, and verified by `strata
verify` (a rebuild from the segments gives the same index)."""
import subprocess

import pytest

from conftest import ACCESS_KEY, SECRET_KEY, TARGET, make_client, start_server, stop_server, strata_binary

pytestmark = pytest.mark.skipif(TARGET != "strata", reason="Strata's reset")


def strata(*args):
    p = subprocess.run([str(strata_binary()), *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def fill(s3):
    s3.create_bucket(Bucket="one")
    for i in range(30):
        s3.put_object(Bucket="one", Key=f"k{i}", Body=b"x" * 2000)
    s3.create_bucket(Bucket="two")
    s3.put_bucket_versioning(Bucket="two", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="two", Key="v", Body=b"1")
    s3.put_object(Bucket="two", Key="v", Body=b"2")
    s3.create_multipart_upload(Bucket="two", Key="open")


def test_reset_online_then_the_store_is_empty_after_a_restart_and_verifies(tmp_path):
    srv = start_server(tmp_path, ["--bucket", "keep"])
    try:
        s3 = make_client(srv)
        fill(s3)
        s3.put_object(Bucket="keep", Key="old", Body=b"old")
        code, out, err = strata("reset", "--server", srv.endpoint, "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY)
        assert code == 0 and "reset the store" in out, (out, err)
        # The bucket the server was started with is made again, empty.
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["keep"]
        assert s3.list_objects_v2(Bucket="keep")["KeyCount"] == 0
        s3.create_bucket(Bucket="one")
        s3.put_object(Bucket="one", Key="after", Body=b"after")
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="one")["Contents"]] == ["after"]
        code, _, err = strata("reset", "--server", srv.endpoint, "--access-key", ACCESS_KEY, "--secret-key", "wrong")
        assert code == 1 and "secret key does not match" in err, err
    finally:
        stop_server(srv)
    code, out, err = strata("verify", "--data", str(srv.data_dir))
    assert code == 0 and out.strip().endswith("OK"), (out, err)
    srv = start_server(tmp_path, data_dir=srv.data_dir)
    try:
        s3 = make_client(srv)
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["keep", "one"]
        assert s3.get_object(Bucket="one", Key="after")["Body"].read() == b"after"
    finally:
        stop_server(srv)


def test_reset_offline_on_a_stopped_data_directory(tmp_path):
    srv = start_server(tmp_path)
    try:
        fill(make_client(srv))
        code, _, err = strata("reset", "--data", str(srv.data_dir))
        assert code == 1 and "in use by another process" in err, err
    finally:
        stop_server(srv)
    code, out, err = strata("reset", "--data", str(srv.data_dir))
    assert code == 0 and "reset the store in" in out, (out, err)
    code, out, _ = strata("verify", "--data", str(srv.data_dir))
    assert code == 0 and "buckets 0" in out and "objects 0" in out, out
    # What the reset removed is dead space that compaction reclaims.
    code, out, err = strata("compact", "--data", str(srv.data_dir), "--threshold", "0", "--json")
    assert code == 0, err
    srv = start_server(tmp_path, data_dir=srv.data_dir)
    try:
        assert make_client(srv).list_buckets()["Buckets"] == []
    finally:
        stop_server(srv)
    code, out, _ = strata("reset", "--data", str(tmp_path / "nowhere"))
    assert code != 0
