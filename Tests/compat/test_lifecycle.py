"""Bucket lifecycle with boto3 and AWS CLI v1 `s3api`: configurations validated as S3
does, stored durably, and applied by the lifecycle worker of a server whose lifecycle
day lasts 2 seconds (`strata serve --lifecycle-day-seconds 2 --lifecycle-interval 1`),
so an object under `Expiration Days 1` disappears within seconds."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import IN_CI, TARGET, make_client, start_server, stop_server, unique_bucket
from test_awscli import Aws, find_aws_v1

pytestmark = pytest.mark.skipif(TARGET == "moto", reason="moto: no sped-up lifecycle clock")


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("lifecycle"),
                       extra_args=("--lifecycle-day-seconds", "2", "--lifecycle-interval", "1"))
    try:
        yield srv
    finally:
        stop_server(srv)


@pytest.fixture(scope="module")
def fs3(fast):
    return make_client(fast)


def exists(s3, bucket, key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise


def wait_gone(s3, bucket, key, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not exists(s3, bucket, key):
            return True
        time.sleep(0.5)
    return False


def test_boto3_lifecycle_roundtrip_and_expiry_by_prefix_and_tag(fs3):
    bucket = unique_bucket("life")
    fs3.create_bucket(Bucket=bucket)
    rules = [
        {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "tagged", "Filter": {"Tag": {"Key": "class", "Value": "scratch"}}, "Status": "Enabled",
         "Expiration": {"Days": 1}},
        {"ID": "uploads", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
    ]
    fs3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = fs3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["tmp", "tagged", "uploads"]
    fs3.put_object(Bucket=bucket, Key="tmp/a", Body=b"a")
    fs3.put_object(Bucket=bucket, Key="keep/b", Body=b"b")
    fs3.put_object(Bucket=bucket, Key="keep/c", Body=b"c", Tagging="class=scratch")
    fs3.put_object(Bucket=bucket, Key="keep/d", Body=b"d", Tagging="class=gold")
    upload = fs3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    assert wait_gone(fs3, bucket, "tmp/a"), "Expiration Days 1 under a 2-second day"
    assert wait_gone(fs3, bucket, "keep/c"), "a tag filter selects the object"
    deadline = time.monotonic() + 30
    while fs3.list_multipart_uploads(Bucket=bucket).get("Uploads") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not fs3.list_multipart_uploads(Bucket=bucket).get("Uploads"), f"upload {upload} aborted"
    assert exists(fs3, bucket, "keep/b") and exists(fs3, bucket, "keep/d")
    fs3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        fs3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"


def test_boto3_lifecycle_expiration_date_in_the_past_expires_now(fs3):
    bucket = unique_bucket("life-date")
    fs3.create_bucket(Bucket=bucket)
    fs3.put_object(Bucket=bucket, Key="old/x", Body=b"x")
    fs3.put_object(Bucket=bucket, Key="new/x", Body=b"x")
    import datetime
    fs3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "date", "Filter": {"Prefix": "old/"}, "Status": "Enabled",
         "Expiration": {"Date": datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)}}]})
    assert wait_gone(fs3, bucket, "old/x")
    assert exists(fs3, bucket, "new/x")


@pytest.mark.parametrize("rule,code", [
    ({"ID": "r", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 0}}, "InvalidArgument"),
    ({"ID": "r", "Filter": {}, "Status": "Enabled",
      "Expiration": {"Date": "2030-01-01T12:00:00Z"}}, "InvalidArgument"),
    ({"ID": "r", "Filter": {"Tag": {"Key": "k", "Value": "v"}}, "Status": "Enabled",
      "Expiration": {"ExpiredObjectDeleteMarker": True}}, "InvalidRequest"),
    ({"ID": "r", "Filter": {}, "Status": "Enabled",
      "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}, "NotImplemented"),
    ({"ID": "r", "Filter": {}, "Status": "Enabled",
      "NoncurrentVersionExpiration": {"NoncurrentDays": 0}}, "InvalidArgument"),
])
def test_boto3_invalid_lifecycle_is_refused_and_changes_nothing(fs3, rule, code):
    bucket = unique_bucket("life-bad")
    fs3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        fs3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    assert e.value.response["Error"]["Code"] == code
    with pytest.raises(ClientError) as e:
        fs3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"


@pytest.fixture(scope="module")
def aws1(fast, tmp_path_factory):
    path = find_aws_v1()
    if path is None:
        if IN_CI:
            pytest.fail("AWS CLI v1 is missing (CI=true: run `make client-deps`)")
        pytest.skip("AWS CLI v1 is not installed; run `make client-deps`")
    from conftest import ClientEnv
    import os
    home = tmp_path_factory.mktemp("aws1-home")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "AWS_ACCESS_KEY_ID": fast.access_key, "AWS_SECRET_ACCESS_KEY": fast.secret_key,
           "AWS_DEFAULT_REGION": fast.region, "AWS_CONFIG_FILE": str(home / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"), "NO_PROXY": "127.0.0.1,localhost"}
    for keep in ("PYENV_ROOT", "PYENV_VERSION"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    return Aws("v1", path, ClientEnv(server=fast, home=home, env=env))


def test_cli_v1_lifecycle_expires_object_under_sped_up_clock(aws1, fs3, tmp_path):
    bucket = unique_bucket("cli-life")
    aws1.api("create-bucket", "--bucket", bucket)
    body = tmp_path / "b"
    body.write_bytes(b"expire me")
    aws1.api("put-object", "--bucket", bucket, "--key", "logs/one", "--body", str(body))
    aws1.api("put-object", "--bucket", bucket, "--key", "data/two", "--body", str(body))
    config = {"Rules": [{"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]}
    aws1.api("put-bucket-lifecycle-configuration", "--bucket", bucket, "--lifecycle-configuration", json.dumps(config))
    got = aws1.api("get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert got["Rules"][0]["Expiration"] == {"Days": 1}
    assert wait_gone(fs3, bucket, "logs/one")
    assert exists(fs3, bucket, "data/two")
    # Error case: a Date not at midnight UTC.
    bad = {"Rules": [{"ID": "x", "Filter": {}, "Status": "Enabled", "Expiration": {"Date": "2030-01-01T06:00:00Z"}}]}
    p = aws1.run("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
                 "--lifecycle-configuration", json.dumps(bad), check=False)
    assert p.returncode != 0 and b"InvalidArgument" in p.stderr


def test_boto3_expiration_header_on_put_get_head(fs3):
    """S3 sends x-amz-expiration (boto3: Expiration) for an object a rule will expire."""
    bucket = unique_bucket("life-hdr")
    fs3.create_bucket(Bucket=bucket)
    fs3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "far", "Filter": {"Prefix": "later/"}, "Status": "Enabled", "Expiration": {"Days": 100000}}]})
    put = fs3.put_object(Bucket=bucket, Key="later/x", Body=b"x")
    assert put["Expiration"].startswith('expiry-date="') and put["Expiration"].endswith('", rule-id="far"')
    assert fs3.head_object(Bucket=bucket, Key="later/x")["Expiration"] == put["Expiration"]
    assert fs3.get_object(Bucket=bucket, Key="later/x")["Expiration"] == put["Expiration"]
    fs3.put_object(Bucket=bucket, Key="other", Body=b"y")
    assert "Expiration" not in fs3.head_object(Bucket=bucket, Key="other")


def test_boto3_lifecycle_on_versioned_bucket(fs3):
    """S3: in a versioned bucket Expiration adds a delete marker, NoncurrentVersionExpiration
    removes versions after they stopped being current, ExpiredObjectDeleteMarker removes a
    marker nothing stands behind."""
    bucket = unique_bucket("life-versions")
    fs3.create_bucket(Bucket=bucket)
    fs3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    fs3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "expire", "Filter": {"Prefix": "cur/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "history", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
        {"ID": "markers", "Filter": {"Prefix": "gone/"}, "Status": "Enabled",
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]})
    fs3.put_object(Bucket=bucket, Key="cur/a", Body=b"a")
    for body in (b"v1", b"v2"):
        fs3.put_object(Bucket=bucket, Key="old/k", Body=body)
    fs3.put_object(Bucket=bucket, Key="gone/x", Body=b"x")
    fs3.delete_object(Bucket=bucket, Key="gone/x")

    def listing():
        out = fs3.list_object_versions(Bucket=bucket)
        return ([(v["Key"], v["IsLatest"]) for v in out.get("Versions", [])],
                [(m["Key"], m["IsLatest"]) for m in out.get("DeleteMarkers", [])])

    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        versions, markers = listing()
        if versions == [("old/k", True)] and markers == [("cur/a", True)]:
            break
        time.sleep(0.5)
    # cur/a: a delete marker in front, and (noncurrent for a day) its version removed too;
    # old/k: only the current version left; gone/x: nothing at all.
    assert listing() == ([("old/k", True)], [("cur/a", True)])
    assert fs3.get_object(Bucket=bucket, Key="old/k")["Body"].read() == b"v2"
