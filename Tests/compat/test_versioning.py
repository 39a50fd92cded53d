"""Bucket versioning with real clients: boto3 and the AWS CLI `s3api`.

What AWS S3 documents and these tests hold Strata to: PutBucketVersioning Enabled /
Suspended (MalformedXML otherwise, MFA delete NotImplemented here), a fresh version id on
every PUT, copy and multipart completion while Enabled, the `null` version when unversioned
or Suspended, GET/HEAD/DELETE by version id, delete markers and their headers,
ListObjectVersions (prefix, delimiter, key and version-id markers), and the error cases.
"""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import unique_bucket
from test_awscli import aws  # noqa: F401  (the AWS CLI fixture, v1 and v2)


def _code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def _status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _headers(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]


def _enable(s3, bucket, status="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


# ---------------------------------------------------------------- boto3

def test_bucket_versioning_configuration_round_trip(s3, bucket):
    got = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in got, "a bucket that never had versioning has an empty configuration"
    _enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    _enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_put_bucket_versioning_errors(s3, bucket):
    with pytest.raises(ClientError) as e:
        _enable(s3, bucket, "Sometimes")
    assert _code(e) == "MalformedXML" and _status(e) == 400
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    assert _code(e) == "NotImplemented" and _status(e) == 501
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket), "a refused request changes nothing"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_versioning(Bucket=unique_bucket("missing"))
    assert _code(e) == "NoSuchBucket"


def test_put_copy_and_complete_make_new_versions(s3, bucket):
    plain = s3.put_object(Bucket=bucket, Key="k", Body=b"null-version")
    assert "VersionId" not in plain, "an unversioned bucket names no version"
    _enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and len(v1) == 32
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    got = s3.get_object(Bucket=bucket, Key="k", VersionId=v1)
    assert got["Body"].read() == b"one" and got["VersionId"] == v1
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"null-version"
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=v1)["ContentLength"] == 3

    copy = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1})
    assert copy["CopySourceVersionId"] == v1 and len(copy["VersionId"]) == 32
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"one"

    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    part = s3.upload_part_copy(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "k", "VersionId": "null"})
    assert part["CopySourceVersionId"] == "null"
    done = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert len(done["VersionId"]) == 32
    versions = s3.list_object_versions(Bucket=bucket, Prefix="k")["Versions"]
    assert [v["VersionId"] for v in versions if v["Key"] == "k"] == [done["VersionId"], v2, v1, "null"], \
        "newest first, by commit order"
    assert [v["IsLatest"] for v in versions if v["Key"] == "k"] == [True, False, False, False]


def test_version_id_errors(s3, bucket):
    _enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    assert _code(e) == "InvalidArgument" and _status(e) == 400
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId="A" * 32)
    assert _code(e) == "NoSuchVersion" and _status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k", VersionId="A" * 32)
    assert _status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k", "VersionId": "A" * 32})
    assert _code(e) == "NoSuchVersion"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="k", VersionId="bad")
    assert _code(e) == "InvalidArgument"
    # A well-formed id that names nothing: DELETE succeeds, as in S3.
    gone = s3.delete_object(Bucket=bucket, Key="k", VersionId="B" * 32)
    assert gone["VersionId"] == "B" * 32
    with pytest.raises(ClientError) as e:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker="null")
    assert _code(e) == "InvalidArgument"


def test_delete_markers(s3, bucket):
    _enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"data")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert marker != v1

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert _code(e) == "NoSuchKey"
    assert _headers(e).get("x-amz-delete-marker") == "true"
    assert _headers(e).get("x-amz-version-id") == marker
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k")
    assert _status(e) == 404 and _headers(e).get("x-amz-delete-marker") == "true"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId=marker)
    assert _code(e) == "MethodNotAllowed" and _status(e) == 405
    assert _headers(e).get("x-amz-delete-marker") == "true" and "last-modified" in _headers(e)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k", "VersionId": marker})
    assert _code(e) == "InvalidRequest"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"data", "old versions keep their bytes"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0, "listings show no key whose current version is a marker"
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert _code(e) == "BucketNotEmpty"

    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data", "removing the marker restores the object"
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=v1)
    assert removed["VersionId"] == v1 and "DeleteMarker" not in removed
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []
    s3.delete_bucket(Bucket=bucket)


def test_suspended_bucket_writes_null_versions(s3, bucket):
    _enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    _enable(s3, bucket, "Suspended")
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"null-1")
    # As S3: the answer to a write into a Suspended bucket names no version.
    assert "VersionId" not in put
    s3.put_object(Bucket=bucket, Key="k", Body=b"null-2")
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == ["null", v1], "a null write replaces the null version"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"null-2"
    assert s3.head_object(Bucket=bucket, Key="k")["VersionId"] == "null", "reads of the current null version name it"
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    listed = s3.list_object_versions(Bucket=bucket)
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == ["null"]
    assert [v["VersionId"] for v in listed["Versions"]] == [v1], "the null marker replaced the null version"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    # A multipart upload completed in a Suspended bucket is the null version too.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"p")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert "VersionId" not in done
    assert s3.head_object(Bucket=bucket, Key="mp", VersionId="null")["VersionId"] == "null"


def test_list_object_versions_paging_prefix_delimiter(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"0")
    _enable(s3, bucket)
    for key in ["a", "b", "dir/x", "dir/y", "c+d"]:
        for i in range(2):
            s3.put_object(Bucket=bucket, Key=key, Body=str(i).encode())
    s3.delete_object(Bucket=bucket, Key="b")
    whole = s3.list_object_versions(Bucket=bucket)
    entries = sorted([(v["Key"], v["LastModified"], v["VersionId"]) for v in whole["Versions"]]
                     + [(m["Key"], m["LastModified"], m["VersionId"]) for m in whole["DeleteMarkers"]])
    assert len(entries) == 3 + 3 + 2 + 2 + 2
    assert all("Owner" in v for v in whole["Versions"])
    assert [m["IsLatest"] for m in whole["DeleteMarkers"]] == [True]

    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": 3}):
        assert len(page.get("Versions", [])) + len(page.get("DeleteMarkers", [])) <= 3
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    assert sorted(seen) == sorted((k, v) for k, _, v in entries) and len(seen) == len(set(seen)), \
        "paging by key and version-id markers walks every version once"

    rolled = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["dir/"]
    assert {v["Key"] for v in rolled["Versions"]} == {"a", "b", "c+d"}
    inside = s3.list_object_versions(Bucket=bucket, Prefix="dir/")
    assert [v["Key"] for v in inside["Versions"]] == ["dir/x", "dir/x", "dir/y", "dir/y"]
    # boto3 asks for encoding-type=url and decodes the keys again.
    assert "c+d" in {v["Key"] for v in whole["Versions"]}


def test_delete_objects_with_versions(s3, bucket):
    _enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="a", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"2")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a", "VersionId": v1}, {"Key": "b"}]})
    deleted = {d["Key"]: d for d in result["Deleted"]}
    assert deleted["a"]["VersionId"] == v1 and "DeleteMarker" not in deleted["a"]
    assert deleted["b"]["DeleteMarker"] is True and len(deleted["b"]["DeleteMarkerVersionId"]) == 32
    assert "Errors" not in result
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="a", VersionId=v1)
    assert _code(e) == "NoSuchVersion"


# ---------------------------------------------------------------- AWS CLI s3api

def test_awscli_versioning(aws, tmp_path):  # noqa: F811
    bucket = unique_bucket(f"{aws.major}-versioning")
    aws.api("create-bucket", "--bucket", bucket)
    assert "Status" not in aws.api("get-bucket-versioning", "--bucket", bucket)
    aws.api("put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    assert aws.api("get-bucket-versioning", "--bucket", bucket)["Status"] == "Enabled"

    body = tmp_path / "body"
    body.write_bytes(b"first")
    v1 = aws.api("put-object", "--bucket", bucket, "--key", "k", "--body", str(body))["VersionId"]
    body.write_bytes(b"second")
    v2 = aws.api("put-object", "--bucket", bucket, "--key", "k", "--body", str(body))["VersionId"]
    out = tmp_path / "out"
    got = aws.api("get-object", "--bucket", bucket, "--key", "k", "--version-id", v1, str(out))
    assert got["VersionId"] == v1 and out.read_bytes() == b"first"

    marker = aws.api("delete-object", "--bucket", bucket, "--key", "k")
    assert marker["DeleteMarker"] is True
    listed = aws.api("list-object-versions", "--bucket", bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [v2, v1]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(marker["VersionId"], True)]

    removed = aws.api("delete-object", "--bucket", bucket, "--key", "k", "--version-id", marker["VersionId"])
    assert removed["DeleteMarker"] is True
    head = aws.api("head-object", "--bucket", bucket, "--key", "k")
    assert head["VersionId"] == v2

    aws.api("put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Suspended")
    body.write_bytes(b"null")
    assert "VersionId" not in aws.api("put-object", "--bucket", bucket, "--key", "k", "--body", str(body))
    aws.api("get-object", "--bucket", bucket, "--key", "k", "--version-id", "null", str(out))
    assert out.read_bytes() == b"null"
    aws.api("delete-object", "--bucket", bucket, "--key", "k", "--version-id", "null")
    assert [v["VersionId"] for v in aws.api("list-object-versions", "--bucket", bucket)["Versions"]] == [v2, v1]


def test_awscli_versioning_errors(aws, tmp_path):  # noqa: F811
    bucket = unique_bucket(f"{aws.major}-version-errors")
    aws.api("create-bucket", "--bucket", bucket)
    p = aws.run("s3api", "put-bucket-versioning", "--bucket", bucket,
                "--versioning-configuration", "Status=Maybe", check=False)
    assert p.returncode != 0 and b"MalformedXML" in p.stderr
    aws.api("put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    body = tmp_path / "body"
    body.write_bytes(b"x")
    aws.api("put-object", "--bucket", bucket, "--key", "k", "--body", str(body))
    p = aws.run("s3api", "get-object", "--bucket", bucket, "--key", "k", "--version-id", "nope",
                str(tmp_path / "out"), check=False)
    assert p.returncode != 0 and b"InvalidArgument" in p.stderr
    p = aws.run("s3api", "get-object", "--bucket", bucket, "--key", "k", "--version-id", "C" * 32,
                str(tmp_path / "out"), check=False)
    assert p.returncode != 0 and b"NoSuchVersion" in p.stderr
    p = aws.run("s3api", "delete-bucket", "--bucket", bucket, check=False)
    assert p.returncode != 0 and b"BucketNotEmpty" in p.stderr
    versions = json.loads(aws.run("s3api", "list-object-versions", "--bucket", bucket, "--output", "json").stdout)
    for v in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
        aws.api("delete-object", "--bucket", bucket, "--key", v["Key"], "--version-id", v["VersionId"])
    aws.run("s3api", "delete-bucket", "--bucket", bucket)
