"""Object and bucket tagging with boto3 and AWS CLI v1 `s3api`: PutObjectTagging,
GetObjectTagging, DeleteObjectTagging, `x-amz-tagging` on PutObject / multipart /
CopyObject, `x-amz-tagging-count`, Put/Get/DeleteBucketTagging, and S3's error codes
for the limits (10 tags per object, 50 per bucket, key 128 / value 256 characters,
unique keys, no `aws:` prefix)."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import IN_CI, unique_bucket
from test_awscli import Aws, find_aws_v1


def tagset(pairs):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs.items()]}


def as_dict(response):
    return {t["Key"]: t["Value"] for t in response["TagSet"]}


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------- boto3

def test_boto3_object_tagging_roundtrip(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="k")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset({"project": "strata", "owner": "ünïcode +-=._:/@ value"}))
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"project": "strata", "owner": "ünïcode +-=._:/@ value"}
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["TagCount"] == 2
    assert got["Body"].read() == b"hello"
    assert s3.head_object(Bucket=bucket, Key="k")["TagCount"] == 2
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"


def test_boto3_put_object_with_tagging_header_and_limits(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=two%20words")
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="t")) == {"a": "1", "b": "two words"}
    # Ten tags, a 128-character key and a 256-character value are the limits.
    ten = {f"k{i}": "v" for i in range(9)}
    ten["k" * 128] = "v" * 256
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging=tagset(ten))
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="t")) == ten


@pytest.mark.parametrize("tags,code", [
    ([(f"k{i}", "v") for i in range(11)], "BadRequest"),
    ([("k" * 129, "v")], "InvalidTag"),
    ([("k", "v" * 257)], "InvalidTag"),
    ([("k", "1"), ("k", "2")], "InvalidTag"),
    ([("aws:reserved", "v")], "InvalidTag"),
    ([("AWS:reserved", "v")], "InvalidTag"),
    ([("a,b", "v")], "InvalidTag"),
    ([("k", "a;b")], "InvalidTag"),
])
def test_boto3_object_tagging_limits_are_refused_and_change_nothing(s3, bucket, tags, code):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=1")
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags]})
    assert error_of(e) == (code, 400)
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"keep": "1"}


def test_boto3_object_tagging_errors(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert error_of(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="missing", Tagging=tagset({"a": "b"}))
    assert error_of(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="new", Body=b"x", Tagging="&".join(f"k{i}=v" for i in range(11)))
    assert error_of(e) == ("BadRequest", 400)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="new", Body=b"x", Tagging="a=1&a=2")
    assert error_of(e) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="new")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_boto3_copy_object_tagging_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"data", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="copy")) == {"a": "1"}
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE", Tagging="b=2&c=3")
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="replaced")) == {"b": "2", "c": "3"}


def test_boto3_multipart_upload_tags_apply_at_completion(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="stage=upload")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"part one")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="mp")) == {"stage": "upload"}
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"part one"


def test_boto3_bucket_tagging(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_of(e) == ("NoSuchTagSet", 404)
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset({"env": "dev", "team": "storage"}))
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)) == {"env": "dev", "team": "storage"}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset({f"k{i}": "v" for i in range(51)}))
    assert error_of(e) == ("BadRequest", 400)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]})
    assert error_of(e) == ("InvalidTag", 400)
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)) == {"env": "dev", "team": "storage"}
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_of(e) == ("NoSuchTagSet", 404)


# ---------------------------------------------------------------- AWS CLI v1 s3api

@pytest.fixture(scope="module")
def aws1(client_env):
    path = find_aws_v1()
    if path is None:
        if IN_CI:
            pytest.fail("AWS CLI v1 is missing (CI=true: run `make client-deps`)")
        pytest.skip("AWS CLI v1 is not installed; run `make client-deps`")
    return Aws("v1", path, client_env)


def test_cli_v1_object_tagging(aws1, tmp_path):
    bucket = unique_bucket("cli-tagging")
    aws1.api("create-bucket", "--bucket", bucket)
    body = tmp_path / "body.txt"
    body.write_bytes(b"cli body")
    aws1.api("put-object", "--bucket", bucket, "--key", "k", "--body", str(body), "--tagging", "from=put&x=y")
    got = aws1.api("get-object-tagging", "--bucket", bucket, "--key", "k")
    assert {t["Key"]: t["Value"] for t in got["TagSet"]} == {"from": "put", "x": "y"}
    aws1.api("put-object-tagging", "--bucket", bucket, "--key", "k",
             "--tagging", json.dumps(tagset({"replaced": "yes"})))
    got = aws1.api("get-object-tagging", "--bucket", bucket, "--key", "k")
    assert got["TagSet"] == [{"Key": "replaced", "Value": "yes"}]
    assert aws1.api("head-object", "--bucket", bucket, "--key", "k")["TagCount"] == 1
    aws1.api("delete-object-tagging", "--bucket", bucket, "--key", "k")
    assert aws1.api("get-object-tagging", "--bucket", bucket, "--key", "k")["TagSet"] == []
    # Error case: an `aws:` key is refused with InvalidTag.
    p = aws1.run("s3api", "put-object-tagging", "--bucket", bucket, "--key", "k",
                 "--tagging", json.dumps(tagset({"aws:x": "1"})), check=False)
    assert p.returncode != 0 and b"InvalidTag" in p.stderr
    aws1.api("put-bucket-tagging", "--bucket", bucket, "--tagging", json.dumps(tagset({"env": "cli"})))
    assert aws1.api("get-bucket-tagging", "--bucket", bucket)["TagSet"] == [{"Key": "env", "Value": "cli"}]
    aws1.run("s3api", "delete-bucket-tagging", "--bucket", bucket)
    p = aws1.run("s3api", "get-bucket-tagging", "--bucket", bucket, check=False)
    assert p.returncode != 0 and b"NoSuchTagSet" in p.stderr
