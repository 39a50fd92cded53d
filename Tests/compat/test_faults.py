"""Fault rules (/_strata/faults, `strata faults`, `strata serve --faults FILE`) with the
clients whose retries they are for: boto3's standard retry mode, the AWS CLI's multipart
upload and s3transfer's download. Each test has a server of its own (rules are
server-wide), and checks through the rule's hit count that the fault really fired."""
import json
import os
import subprocess

import pytest

import compat_helpers as h
from conftest import ACCESS_KEY, SECRET_KEY, TARGET, make_client, start_server, stop_server, strata_binary
from test_awscli import AWS_V2

pytestmark = pytest.mark.skipif(TARGET != "strata", reason="Strata's fault rules")


@pytest.fixture
def srv(tmp_path):
    server = start_server(tmp_path, ["--bucket", "faults"])
    yield server
    stop_server(server)


def admin(server, method, body=b""):
    target, headers = h.sign_v4(server, method, "/_strata/faults", body=body)
    status, _, answer = h.send(server, method, target, body=body, headers=headers)
    assert status == 200, answer
    return json.loads(answer)


def hits(server):
    return {rule["id"]: rule["hits"] for rule in admin(server, "GET")["rules"]}


def strata(server, *args):
    p = subprocess.run([str(strata_binary()), "faults", *args, "--server", server.endpoint,
                        "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY],
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_boto3_standard_retry_retries_slowdown_twice_and_the_third_put_lands(srv):
    admin(srv, "POST", json.dumps({"id": "slow", "operation": "PutObject", "bucket": "faults",
                                   "error": {"code": "SlowDown"}, "count": 2}).encode())
    # The standard mode's default: 3 attempts in all (botocore's `max_attempts` would
    # count retries only).
    s3 = make_client(srv, retries={"mode": "standard", "total_max_attempts": 3})
    answer = s3.put_object(Bucket="faults", Key="k", Body=b"third time")
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert s3.get_object(Bucket="faults", Key="k")["Body"].read() == b"third time"
    assert hits(srv) == {"slow": 2}


def test_slowdown_past_the_retry_budget_reaches_the_caller_as_slowdown_and_stores_nothing(srv):
    import botocore.exceptions
    admin(srv, "POST", json.dumps({"id": "always", "operation": "PutObject", "error": {"code": "SlowDown"}}).encode())
    s3 = make_client(srv, retries={"mode": "standard", "total_max_attempts": 2})
    with pytest.raises(botocore.exceptions.ClientError) as failure:
        s3.put_object(Bucket="faults", Key="never", Body=b"x")
    assert failure.value.response["Error"]["Code"] == "SlowDown"
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert s3.list_objects_v2(Bucket="faults")["KeyCount"] == 0
    assert hits(srv) == {"always": 2}


def test_aws_cli_multipart_upload_survives_one_failing_upload_part(srv, client_env, tmp_path):
    if not os.path.exists(AWS_V2):
        pytest.skip("AWS CLI v2 is not installed; run `make client-deps`")
    admin(srv, "POST", json.dumps({"id": "part", "operation": "UploadPart", "error": {"code": "InternalError"},
                                   "count": 1}).encode())
    source = tmp_path / "twenty.bin"
    data = os.urandom(20 << 20)  # above the CLI's 8 MiB multipart threshold: three parts
    source.write_bytes(data)
    aws = [AWS_V2, "--endpoint-url", srv.endpoint]
    client_env.run(aws + ["s3", "cp", str(source), "s3://faults/twenty.bin"])
    assert hits(srv) == {"part": 1}
    back = tmp_path / "back.bin"
    client_env.run(aws + ["s3", "cp", "s3://faults/twenty.bin", str(back)])
    assert back.read_bytes() == data
    head = make_client(srv).head_object(Bucket="faults", Key="twenty.bin")
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]


def test_a_reset_mid_get_makes_the_sdk_retry_and_the_bytes_still_match(srv, tmp_path):
    s3 = make_client(srv, retries={"mode": "standard", "total_max_attempts": 3})
    data = os.urandom(3 << 20)
    s3.put_object(Bucket="faults", Key="big", Body=data)
    admin(srv, "POST", json.dumps({"id": "reset", "operation": "GetObject", "resetAfterBytes": 100000,
                                   "count": 1}).encode())
    target = tmp_path / "big"
    s3.download_file("faults", "big", str(target))
    assert target.read_bytes() == data
    assert hits(srv) == {"reset": 1}


def test_a_response_cut_short_is_an_incomplete_read_and_the_object_stays_whole(srv):
    import botocore.exceptions
    import urllib3.exceptions
    s3 = make_client(srv)
    s3.put_object(Bucket="faults", Key="k", Body=b"0123456789" * 1000)
    admin(srv, "POST", json.dumps({"operation": "GetObject", "truncateAfterBytes": 10, "count": 1}).encode())
    with pytest.raises((botocore.exceptions.ResponseStreamingError, urllib3.exceptions.ProtocolError)):
        s3.get_object(Bucket="faults", Key="k")["Body"].read()
    assert s3.get_object(Bucket="faults", Key="k")["Body"].read() == b"0123456789" * 1000


def test_strata_faults_cli_adds_lists_removes_and_clears(srv):
    code, out, err = strata(srv, "add", "--operation", "HeadBucket", "--error", "SlowDown", "--count", "1")
    assert code == 0 and "added fault rule 1: HeadBucket → 503 SlowDown, once" in out, (out, err)
    code, out, err = strata(srv, "add", "--id", "lat", "--bucket", "faults", "--latency-ms", "5")
    assert code == 0 and "added fault rule lat" in out, (out, err)
    s3 = make_client(srv, retries={"mode": "standard", "total_max_attempts": 1})
    with pytest.raises(Exception):
        s3.head_bucket(Bucket="faults")
    s3.head_bucket(Bucket="faults")
    code, out, _ = strata(srv, "list")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "HITS", "MATCHED", "ACTIVE", "RULE"]
    assert lines[1].split()[:4] == ["1", "1", "1", "no"], out
    # One rule acts on a request: the first that fires (rule 1 took the first HEAD).
    assert lines[2].split()[:4] == ["lat", "1", "1", "yes"], out
    code, out, _ = strata(srv, "list", "--json")
    assert [r["id"] for r in json.loads(out)["rules"]] == ["1", "lat"]
    code, out, err = strata(srv, "add", "--operation", "PutObjects", "--latency-ms", "1")
    assert code == 1 and "not an S3 operation name" in err and "did you mean PutObject" in err, err
    assert strata(srv, "remove", "lat")[0] == 0
    code, _, err = strata(srv, "remove", "lat")
    assert code == 1 and "no fault rule with the id" in err, err
    assert strata(srv, "clear")[0] == 0
    assert strata(srv, "list")[1].strip() == "no fault rules"
    p = subprocess.run([str(strata_binary()), "faults", "list"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "give --server URL" in p.stderr, p.stderr


def test_serve_faults_file_is_in_force_from_the_start_and_a_bad_one_stops_it(tmp_path):
    rules = tmp_path / "faults.json"
    rules.write_text(json.dumps({"rules": [{"id": "boot", "operation": "ListBuckets",
                                            "error": {"code": "ServiceUnavailable"}}]}))
    server = start_server(tmp_path, ["--faults", str(rules)])
    try:
        import botocore.exceptions
        with pytest.raises(botocore.exceptions.ClientError) as failure:
            make_client(server, retries={"mode": "standard", "total_max_attempts": 1}).list_buckets()
        assert failure.value.response["Error"]["Code"] == "ServiceUnavailable"
        assert hits(server) == {"boot": 1}
        assert "fault rule(s) from" in server.output()
    finally:
        stop_server(server)
    rules.write_text('{"operation": "GetObject"}')
    p = subprocess.run([str(strata_binary()), "serve", "--ephemeral", "--port", "0", "--faults", str(rules)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--faults" in p.stderr and "has no action" in p.stderr, p.stderr
