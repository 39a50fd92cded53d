"""`strata compact` as operators run it: online against a running `strata serve`
(--server, signed with the root credentials) and offline on a stopped data directory,
with boto3 reading every object back afterwards. Also: a second process on a data
directory in use is refused (offline compaction next to a running server would corrupt it),
and the repair of a corrupt byte (`strata recover --rebuild-index [--salvage]`, `strata verify`).
"""

import json
import urllib.request
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
    assert "the secret key does not match" in wrong.stderr and "SignatureDoesNotMatch" not in wrong.stderr


def test_offline_compaction_on_a_stopped_data_directory(small_segment_server, tmp_path):
    srv = small_segment_server
    s3 = make_client(srv)
    bucket = unique_bucket("offline")
    latest = churn(s3, bucket)

    busy = strata("compact", "--data", srv.data_dir, check=False)
    assert busy.returncode != 0
    assert "in use by another process" in busy.stderr

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


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x5A]))


def body_of(i):
    return bytes([(i * 7 + j) % 251 for j in range(20_000 + i)])


def test_one_corrupt_byte_costs_only_its_object(tmp_path):
    """The repair the README recommends, as a new user runs it: one flipped byte in the
    middle of the active segment costs the object it lies in and nothing else."""
    srv = start_server(tmp_path, ["--compact-interval", "0"])
    try:
        s3 = make_client(srv)
        s3.create_bucket(Bucket="fixtures")
        for i in range(150):
            s3.put_object(Bucket="fixtures", Key=f"k{i:03}", Body=body_of(i))
    finally:
        stop_server(srv)
    data = srv.data_dir
    where = json.loads(strata("inspect", "object", "fixtures", "k075", "--data", data, "--json").stdout)
    extent = where["extents"][0]
    segment = data / "segments" / f"{extent['segment']:016x}.seg"
    size = segment.stat().st_size
    flip_byte(segment, extent["offset"] + 1000)

    # Without --salvage the rebuild stops at the damage, names it, and changes nothing.
    stopped = strata("recover", "--rebuild-index", "--data", data, check=False)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "--salvage" in stopped.stderr and "the index was not changed" in stopped.stderr
    verify = strata("verify", "--data", data, "--json", check=False)
    assert verify.returncode == 1
    problems = json.loads(verify.stdout)["problems"]
    assert [p["code"] for p in problems] == ["damaged-records"], problems
    assert "fixtures/k075" in problems[0]["message"]

    salvaged = strata("recover", "--rebuild-index", "--salvage", "--data", data)
    assert "fixtures/k075" in salvaged.stdout, salvaged.stdout
    assert segment.stat().st_size == size, "nothing was cut"

    again = start_server(tmp_path, ["--compact-interval", "0"], data_dir=data)
    try:
        assert "DAMAGED: segment file" in again.output()
        s3 = make_client(again)
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="fixtures")["Contents"]]
        assert len(listed) == 150
        for i in range(150):
            if i == 75:
                with pytest.raises(s3.exceptions.ClientError) as err:
                    s3.get_object(Bucket="fixtures", Key="k075")["Body"].read()
                assert err.value.response["Error"]["Code"] == "InternalError"
                assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            else:
                assert s3.get_object(Bucket="fixtures", Key=f"k{i:03}")["Body"].read() == body_of(i), i
        metrics = urllib.request.urlopen(f"{again.endpoint}/metrics").read().decode()
        assert "strata_damaged_records 1" in metrics, [l for l in metrics.splitlines() if "damaged" in l]
        # verify next to a running server refuses instead of reporting false differences.
        busy = strata("verify", "--data", data, check=False)
        assert busy.returncode == 2 and "in use by another process" in busy.stderr, busy.stderr
    finally:
        stop_server(again)
