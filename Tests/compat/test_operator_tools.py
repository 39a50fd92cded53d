"""`strata compact` as operators run it: online against a running `strata serve`
(--server, signed with the root credentials) and offline on a stopped data directory,
with boto3 reading every object back afterwards. Also: a second process on a data
directory in use is refused (offline compaction next to a running server would corrupt it).
"""

import json
import subprocess

import pytest

from conftest import (ACCESS_KEY, SECRET_KEY, TARGET, make_client, start_server, stop_server,
                      strata_binary, unique_bucket)

pytestmark = pytest.mark.skipif(TARGET == "moto", reason="strata's own operator tools")


def strata(*args, check=True):
    result = subprocess.run([str(strata_binary()), *map(str, args)], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"strata {' '.join(map(str, args))} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def churn(s3, bucket):
    """Overwrites a few keys many times: most sealed segments end up dead."""
    s3.create_bucket(Bucket=bucket)
    latest = {}
    for round_ in range(6):
        for k in range(8):
            body = bytes([(round_ * 31 + k + i) % 251 for i in range(30_000 + k * 1000)])
            s3.put_object(Bucket=bucket, Key=f"key{k}", Body=body)
            latest[f"key{k}"] = body
    s3.delete_object(Bucket=bucket, Key="key7")
    del latest["key7"]
    return latest


def check(s3, bucket, latest):
    for key, body in latest.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="key7")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert listed == sorted(latest)


@pytest.fixture
def small_segment_server(tmp_path):
    srv = start_server(tmp_path, ["--segment-size", "64K", "--compact-interval", "0"])
    yield srv
    stop_server(srv)


def test_online_compaction_through_the_server_keeps_every_object(small_segment_server):
    srv = small_segment_server
    s3 = make_client(srv)
    bucket = unique_bucket("online")
    latest = churn(s3, bucket)
    result = strata("compact", "--server", srv.endpoint, "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
                    "--threshold", "0.3", "--json")
    report = json.loads(result.stdout)
    assert report["removed"], report
    assert report["bytesReclaimed"] > 0
    check(s3, bucket, latest)

    human = strata("compact", "--server", srv.endpoint, "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
                   "--threshold", "0.99")
    assert "nothing to compact" in human.stdout or "segments compacted" in human.stdout

    wrong = strata("compact", "--server", srv.endpoint, "--access-key", ACCESS_KEY, "--secret-key", "wrong", check=False)
    assert wrong.returncode == 1
    assert "403" in wrong.stderr and "SignatureDoesNotMatch" in wrong.stderr


def test_offline_compaction_on_a_stopped_data_directory(small_segment_server, tmp_path):
    srv = small_segment_server
    s3 = make_client(srv)
    bucket = unique_bucket("offline")
    latest = churn(s3, bucket)

    busy = strata("compact", "--data", srv.data_dir, check=False)
    assert busy.returncode != 0
    assert "in use by another Strata process" in busy.stderr

    stop_server(srv)
    report = json.loads(strata("compact", "--data", srv.data_dir, "--threshold", "0.3", "--json").stdout)
    assert report["removed"], report
    assert strata("verify", "--data", srv.data_dir).returncode == 0

    again = start_server(tmp_path, ["--segment-size", "64K", "--compact-interval", "0"], data_dir=srv.data_dir)
    try:
        check(make_client(again), bucket, latest)
    finally:
        stop_server(again)


def test_compact_rejects_bad_options():
    result = strata("compact", "--threshold", "2", check=False)
    assert result.returncode != 0
    assert "--threshold" in result.stderr
    result = strata("compact", "--bandwidth", "fast", check=False)
    assert result.returncode != 0
    assert "--bandwidth" in result.stderr
