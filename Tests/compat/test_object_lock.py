"""S3 Object Lock with real clients: boto3 and AWS CLI v2 (/usr/bin/aws).

What AWS S3 documents and these tests hold Strata to:
- CreateBucket with x-amz-bucket-object-lock-enabled: versioning Enabled from the start,
  Object Lock on for good (versioning can no longer be Suspended: 409 InvalidBucketState);
- Get/PutObjectLockConfiguration: 404 ObjectLockConfigurationNotFoundError without Object
  Lock, 409 InvalidBucketState on a bucket whose versioning is not Enabled, a default
  retention (GOVERNANCE or COMPLIANCE, Days or Years) stored, returned and applied to
  writes that name no lock; MalformedXML for both or neither of Days and Years;
- the lock a write asks for (PutObject, CopyObject, CreateMultipartUpload, POST form
  fields), echoed by HEAD and GET, and its errors (400 InvalidArgument, 400 InvalidRequest
  without Object Lock, 400 InvalidRequest without Content-MD5 or x-amz-checksum-*);
- Put/GetObjectRetention and Put/GetObjectLegalHold per version: extending is allowed,
  shortening COMPLIANCE never, shortening or removing GOVERNANCE only with
  x-amz-bypass-governance-retention by a caller allowed s3:BypassGovernanceRetention;
- DeleteObject / DeleteObjects of a protected version: 403 AccessDenied (per-key errors in
  DeleteObjects); a delete without a version id adds a delete marker and the version stays;
- the protection ends when the retain-until date passes (dates are the server's clock);
- a NoncurrentVersionExpiration rule and compaction never remove a locked version.

Most tests use the session server; those that need other users, a short lifecycle day or
small segments use one server of their own (`own`).
"""

import datetime
import json
import os
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

import compat_helpers as h
from conftest import (ACCESS_KEY, IN_CI, REGION, SECRET_KEY, make_client, moto_skip, start_server, stop_server,
                      strata_binary, unique_bucket)
from test_awscli import AWS_V2, Aws, _version

pytestmark = moto_skip("Strata's Object Lock is tested against Strata")

UTC = datetime.timezone.utc
ONE_HOUR = 3600


# ---------------------------------------------------------------- helpers


def code_of(exc_info):
    return exc_info.value.response["Error"]["Code"]


def status_of(exc_info):
    return exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def fails(call):
    """(status, code) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call()
    return status_of(e), code_of(e)


def later(seconds):
    """A retain-until date `seconds` from now, whole seconds (as S3 stores and returns it)."""
    return datetime.datetime.fromtimestamp(int(time.time()) + seconds, UTC)


def iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def lock_bucket(s3, label="lock"):
    name = unique_bucket(label)
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def exists(s3, bucket, key, version_id):
    try:
        s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
        return True
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] in (404, 405):
            return False
        raise


def assert_missing(s3, bucket, key):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert status_of(e) == 404, f"{key!r} should not exist"


def raw(server, method, bucket, key, headers=None, body=b"", query=""):
    """A hand-signed request (SigV4 with x-amz-content-sha256, nothing else added);
    (status, headers, body)."""
    target, signed = h.sign_v4(server, method, f"/{bucket}/{key}" + (f"?{query}" if query else ""),
                               body=body, headers=headers)
    return h.send(server, method, target, body=body, headers=signed)


def lock_headers(mode="GOVERNANCE", until=None, hold=None):
    headers = {}
    if mode:
        headers["x-amz-object-lock-mode"] = mode
        headers["x-amz-object-lock-retain-until-date"] = iso(until or later(ONE_HOUR))
    if hold:
        headers["x-amz-object-lock-legal-hold"] = hold
    return headers


def versions_of(s3, bucket, key):
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return ([v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key],
            [m["VersionId"] for m in listed.get("DeleteMarkers", []) if m["Key"] == key])


@pytest.fixture
def lbucket(s3, bucket_name):
    """A bucket created with Object Lock (no default retention)."""
    s3.create_bucket(Bucket=bucket_name, ObjectLockEnabledForBucket=True)
    return bucket_name


# ---------------------------------------------------------------- the bucket


def test_create_bucket_with_object_lock_is_versioned_and_cannot_be_suspended(s3, lbucket):
    """AWS: a bucket created with ObjectLockEnabledForBucket has versioning Enabled at once,
    GetObjectLockConfiguration answers ObjectLockEnabled Enabled (no rule), and
    PutBucketVersioning Suspended is 409 InvalidBucketState."""
    assert s3.get_bucket_versioning(Bucket=lbucket)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}
    assert fails(lambda: s3.put_bucket_versioning(Bucket=lbucket, VersioningConfiguration={"Status": "Suspended"})) \
        == (409, "InvalidBucketState")
    assert s3.get_bucket_versioning(Bucket=lbucket)["Status"] == "Enabled"
    # Every write is a new version from the first one on.
    v1 = s3.put_object(Bucket=lbucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=lbucket, Key="k", Body=b"two")["VersionId"]
    assert v1 and v2 and v1 != v2 and v1 != "null"
    assert s3.get_object(Bucket=lbucket, Key="k", VersionId=v1)["Body"].read() == b"one"


def test_object_lock_configuration_needs_versioning_enabled(s3, bucket):
    """AWS: GetObjectLockConfiguration of a bucket without Object Lock is 404
    ObjectLockConfigurationNotFoundError; PutObjectLockConfiguration on an unversioned (or
    Suspended) bucket is 409 InvalidBucketState; once versioning is Enabled it turns Object
    Lock on, after which versioning cannot be Suspended."""
    assert fails(lambda: s3.get_object_lock_configuration(Bucket=bucket)) \
        == (404, "ObjectLockConfigurationNotFoundError")
    config = {"ObjectLockEnabled": "Enabled",
              "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    assert fails(lambda: s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)) \
        == (409, "InvalidBucketState")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert fails(lambda: s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)) \
        == (409, "InvalidBucketState")
    assert fails(lambda: s3.get_object_lock_configuration(Bucket=bucket)) \
        == (404, "ObjectLockConfigurationNotFoundError")
    # Lock headers are refused while the bucket has no Object Lock.
    assert fails(lambda: s3.put_object(Bucket=bucket, Key="early", Body=b"x", ObjectLockLegalHoldStatus="ON")) \
        == (400, "InvalidRequest")

    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == config
    assert fails(lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})) \
        == (409, "InvalidBucketState")
    # The default retention now applies to a plain write.
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=vid)["ObjectLockMode"] == "GOVERNANCE"
    # A configuration without Rule removes the default retention (Object Lock stays on).
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == \
        {"ObjectLockEnabled": "Enabled"}
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"y")["VersionId"]
    assert "ObjectLockMode" not in s3.head_object(Bucket=bucket, Key="k", VersionId=vid)
    s3.delete_object(Bucket=bucket, Key="k", VersionId=vid)
    assert fails(lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})) \
        == (409, "InvalidBucketState")


@pytest.mark.parametrize("mode,period", [("GOVERNANCE", {"Days": 2}), ("COMPLIANCE", {"Days": 1}),
                                         ("GOVERNANCE", {"Years": 1})])
def test_default_retention_is_stored_and_applied_to_writes_without_lock_headers(s3, lbucket, mode, period):
    """AWS: the bucket's DefaultRetention is returned as PUT and gives every new version
    written without lock headers that mode and a date of now + Days/Years (PutObject,
    CopyObject, multipart uploads); a write that names a retention keeps its own."""
    config = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": mode, **period}}}
    s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration=config)
    assert s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"] == config

    now = datetime.datetime.now(UTC)
    if "Days" in period:
        expected = now + datetime.timedelta(days=period["Days"])
    else:
        try:
            expected = now.replace(year=now.year + period["Years"])
        except ValueError:  # 29 February: the 28th of the later year
            expected = now.replace(year=now.year + period["Years"], day=28)

    def check(version_id, what):
        head = s3.head_object(Bucket=lbucket, Key=what, VersionId=version_id)
        assert head["ObjectLockMode"] == mode, what
        assert abs((head["ObjectLockRetainUntilDate"] - expected).total_seconds()) < 120, \
            (what, head["ObjectLockRetainUntilDate"], expected)
        retention = s3.get_object_retention(Bucket=lbucket, Key=what, VersionId=version_id)["Retention"]
        assert retention == {"Mode": mode, "RetainUntilDate": head["ObjectLockRetainUntilDate"]}, what

    put = s3.put_object(Bucket=lbucket, Key="put", Body=b"defaulted")
    check(put["VersionId"], "put")
    copy = s3.copy_object(Bucket=lbucket, Key="copy", CopySource={"Bucket": lbucket, "Key": "put"})
    check(copy["VersionId"], "copy")
    upload = s3.create_multipart_upload(Bucket=lbucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=lbucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")
    done = s3.complete_multipart_upload(Bucket=lbucket, Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    check(done["VersionId"], "mp")

    # An explicit retention outranks the default.
    until = later(ONE_HOUR)
    own = s3.put_object(Bucket=lbucket, Key="own", Body=b"x", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=until)
    head = s3.head_object(Bucket=lbucket, Key="own", VersionId=own["VersionId"])
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"] == until
    # The default protects the version: a delete by version id is refused.
    assert fails(lambda: s3.delete_object(Bucket=lbucket, Key="put", VersionId=put["VersionId"])) \
        == (403, "AccessDenied")


@pytest.mark.parametrize("retention,code", [
    ({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, "MalformedXML"),
    ({"Mode": "GOVERNANCE"}, "MalformedXML"),
    ({"Mode": "COMPLIANCE", "Days": 0}, "InvalidArgument"),
])
def test_invalid_default_retention_is_refused_and_changes_nothing(s3, lbucket, retention, code):
    """AWS: DefaultRetention with both Days and Years, or neither, is MalformedXML; a period
    that is not positive is InvalidArgument; the stored configuration stays as it was."""
    good = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 3}}}
    s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration=good)
    bad = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}}
    assert fails(lambda: s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration=bad)) == (400, code)
    assert s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"] == good


# ---------------------------------------------------------------- the lock of a write


def test_put_object_lock_headers_are_returned_by_head_get_and_the_lock_apis(s3, lbucket):
    """AWS: PutObject with ObjectLockMode + ObjectLockRetainUntilDate + ObjectLockLegalHoldStatus;
    HEAD and GET answer the three; GetObjectRetention and GetObjectLegalHold of the version
    answer them too; a version without any lock has no lock headers and GetObjectRetention
    is 404 NoSuchObjectLockConfiguration."""
    until = later(ONE_HOUR)
    put = s3.put_object(Bucket=lbucket, Key="k", Body=b"locked bytes", ObjectLockMode="COMPLIANCE",
                        ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
    vid = put["VersionId"]
    for resp in (s3.head_object(Bucket=lbucket, Key="k"), s3.get_object(Bucket=lbucket, Key="k", VersionId=vid)):
        assert resp["ObjectLockMode"] == "COMPLIANCE"
        assert resp["ObjectLockRetainUntilDate"] == until
        assert resp["ObjectLockLegalHoldStatus"] == "ON"
        assert resp["VersionId"] == vid
    assert s3.get_object(Bucket=lbucket, Key="k")["Body"].read() == b"locked bytes"
    assert s3.get_object_retention(Bucket=lbucket, Key="k", VersionId=vid)["Retention"] == \
        {"Mode": "COMPLIANCE", "RetainUntilDate": until}
    assert s3.get_object_legal_hold(Bucket=lbucket, Key="k", VersionId=vid)["LegalHold"] == {"Status": "ON"}
    # Without a version id: the current version.
    assert s3.get_object_retention(Bucket=lbucket, Key="k")["Retention"]["Mode"] == "COMPLIANCE"

    plain = s3.put_object(Bucket=lbucket, Key="plain", Body=b"p")["VersionId"]
    head = s3.head_object(Bucket=lbucket, Key="plain", VersionId=plain)
    assert "ObjectLockMode" not in head and "ObjectLockRetainUntilDate" not in head
    assert fails(lambda: s3.get_object_retention(Bucket=lbucket, Key="plain", VersionId=plain)) \
        == (404, "NoSuchObjectLockConfiguration")

    # Legal hold alone: no retention.
    held = s3.put_object(Bucket=lbucket, Key="held", Body=b"h", ObjectLockLegalHoldStatus="ON")["VersionId"]
    head = s3.head_object(Bucket=lbucket, Key="held", VersionId=held)
    assert head["ObjectLockLegalHoldStatus"] == "ON" and "ObjectLockMode" not in head
    assert fails(lambda: s3.get_object_retention(Bucket=lbucket, Key="held", VersionId=held)) \
        == (404, "NoSuchObjectLockConfiguration")


def test_retain_until_date_with_fractional_seconds(s3, lbucket):
    """botocore sends a datetime with microseconds as `...T12:00:00.123456Z`; S3 accepts it
    (and keeps milliseconds)."""
    until = datetime.datetime.fromtimestamp(int(time.time()) + ONE_HOUR, UTC).replace(microsecond=250000)
    vid = s3.put_object(Bucket=lbucket, Key="frac", Body=b"x", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=until)["VersionId"]
    got = s3.head_object(Bucket=lbucket, Key="frac", VersionId=vid)["ObjectLockRetainUntilDate"]
    assert abs((got - until).total_seconds()) < 1, got


def test_copy_object_and_multipart_upload_set_the_lock_they_name(s3, lbucket):
    """AWS: CopyObject and CreateMultipartUpload take the same lock headers; the copy's lock
    is its own (not the source's), the upload's applies to the completed object."""
    src_until, copy_until, mp_until = later(ONE_HOUR), later(2 * ONE_HOUR), later(3 * ONE_HOUR)
    s3.put_object(Bucket=lbucket, Key="src", Body=b"source", ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=src_until)
    copy = s3.copy_object(Bucket=lbucket, Key="copy", CopySource={"Bucket": lbucket, "Key": "src"},
                          ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=copy_until,
                          ObjectLockLegalHoldStatus="ON")
    head = s3.head_object(Bucket=lbucket, Key="copy", VersionId=copy["VersionId"])
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == \
        ("GOVERNANCE", copy_until, "ON")
    assert s3.get_object(Bucket=lbucket, Key="copy")["Body"].read() == b"source"
    # A copy that names no lock gets none (the bucket has no default retention).
    bare = s3.copy_object(Bucket=lbucket, Key="bare", CopySource={"Bucket": lbucket, "Key": "src"})
    assert "ObjectLockMode" not in s3.head_object(Bucket=lbucket, Key="bare", VersionId=bare["VersionId"])

    upload = s3.create_multipart_upload(Bucket=lbucket, Key="mp", ObjectLockMode="COMPLIANCE",
                                        ObjectLockRetainUntilDate=mp_until, ObjectLockLegalHoldStatus="OFF")["UploadId"]
    p1_body, p2_body = os.urandom(5 * 1024 * 1024), b"tail"
    p1 = s3.upload_part(Bucket=lbucket, Key="mp", UploadId=upload, PartNumber=1, Body=p1_body)
    p2 = s3.upload_part(Bucket=lbucket, Key="mp", UploadId=upload, PartNumber=2, Body=p2_body)
    done = s3.complete_multipart_upload(Bucket=lbucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    head = s3.head_object(Bucket=lbucket, Key="mp", VersionId=done["VersionId"])
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == \
        ("COMPLIANCE", mp_until, "OFF")
    assert s3.get_object(Bucket=lbucket, Key="mp")["Body"].read() == p1_body + p2_body
    assert fails(lambda: s3.delete_object(Bucket=lbucket, Key="mp", VersionId=done["VersionId"],
                                          BypassGovernanceRetention=True)) == (403, "AccessDenied")


def test_post_form_object_lock_fields(s3, server, lbucket):
    """AWS: a POST form's x-amz-object-lock-* fields lock the object as headers would; the
    form's Content-MD5 field is its integrity check."""
    import requests

    v4 = make_client(server, signature_version="s3v4")
    body = os.urandom(40_000)
    until = later(ONE_HOUR)
    fields = {"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": iso(until),
              "x-amz-object-lock-legal-hold": "ON", "Content-MD5": h.md5_b64(body)}
    post = v4.generate_presigned_post(lbucket, "posted", Fields=fields, Conditions=[{k: v} for k, v in fields.items()],
                                      ExpiresIn=300)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", body)}, timeout=30)
    assert r.status_code == 204, r.text
    head = s3.head_object(Bucket=lbucket, Key="posted")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == \
        ("GOVERNANCE", until, "ON")
    assert s3.get_object(Bucket=lbucket, Key="posted")["Body"].read() == body

    # The same fields on a bucket without Object Lock: 400 InvalidRequest, nothing written.
    plain = unique_bucket("post-plain")
    s3.create_bucket(Bucket=plain)
    post = v4.generate_presigned_post(plain, "posted", Fields=fields, Conditions=[{k: v} for k, v in fields.items()],
                                      ExpiresIn=300)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", body)}, timeout=30)
    assert r.status_code == 400 and h.error_code(r.content) == "InvalidRequest", r.text
    assert_missing(s3, plain, "posted")


@pytest.mark.parametrize("params,status,code", [
    ({"ObjectLockMode": "GOVERNANCE"}, 400, "InvalidArgument"),
    ({"ObjectLockRetainUntilDate": "FUTURE"}, 400, "InvalidArgument"),
    ({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "PAST"}, 400, "InvalidArgument"),
    ({"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": "PAST"}, 400, "InvalidArgument"),
    ({"ObjectLockMode": "FOREVER", "ObjectLockRetainUntilDate": "FUTURE"}, 400, "InvalidArgument"),
    ({"ObjectLockLegalHoldStatus": "MAYBE"}, 400, "InvalidArgument"),
])
@pytest.mark.parametrize("operation", ["put", "copy", "multipart"])
def test_write_lock_header_errors_like_s3(s3, lbucket, params, status, code, operation):
    """AWS: a mode without a date (or a date without a mode), a date in the past, an unknown
    mode or legal hold status: 400 InvalidArgument, for PutObject, CopyObject and
    CreateMultipartUpload alike; nothing is written."""
    params = dict(params)
    if params.get("ObjectLockRetainUntilDate") == "FUTURE":
        params["ObjectLockRetainUntilDate"] = later(ONE_HOUR)
    elif params.get("ObjectLockRetainUntilDate") == "PAST":
        params["ObjectLockRetainUntilDate"] = later(-60)
    s3.put_object(Bucket=lbucket, Key="src", Body=b"source")
    calls = {
        "put": lambda: s3.put_object(Bucket=lbucket, Key="k", Body=b"x", **params),
        "copy": lambda: s3.copy_object(Bucket=lbucket, Key="k", CopySource={"Bucket": lbucket, "Key": "src"}, **params),
        "multipart": lambda: s3.create_multipart_upload(Bucket=lbucket, Key="k", **params),
    }
    assert fails(calls[operation]) == (status, code)
    assert_missing(s3, lbucket, "k")
    assert not s3.list_multipart_uploads(Bucket=lbucket).get("Uploads")


@pytest.mark.parametrize("operation", ["put", "copy", "multipart"])
def test_lock_headers_on_a_bucket_without_object_lock_are_invalid_request(s3, bucket, operation):
    """AWS: lock headers on a bucket without Object Lock: 400 InvalidRequest ("Bucket is
    missing Object Lock Configuration"), versioned or not."""
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    params = {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": later(ONE_HOUR)}
    for versioned in (False, True):
        if versioned:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        calls = {
            "put": lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", **params),
            "copy": lambda: s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "src"},
                                           **params),
            "multipart": lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", **params),
        }
        with pytest.raises(ClientError) as e:
            calls[operation]()
        assert (status_of(e), code_of(e)) == (400, "InvalidRequest")
        assert "Object Lock" in e.value.response["Error"]["Message"]
        assert_missing(s3, bucket, "k")
        assert fails(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="OFF")) \
            == (400, "InvalidRequest")


def test_locked_put_needs_content_md5_or_a_checksum(s3, server, lbucket):
    """AWS: a PutObject that sets a lock (by its headers or by the bucket's default retention)
    without Content-MD5 or x-amz-checksum-*: 400 InvalidRequest. (boto3 >= 1.36 always
    sends a CRC32, so these are hand-signed requests without one.)"""
    body = b"lock me"
    headers = lock_headers("GOVERNANCE", hold="ON")
    status, _, resp = raw(server, "PUT", lbucket, "nocheck", headers=headers, body=body)
    assert (status, h.error_code(resp)) == (400, "InvalidRequest"), resp
    assert b"Content-MD5" in resp, resp
    status, _, resp = raw(server, "PUT", lbucket, "nocheck", headers={"x-amz-object-lock-legal-hold": "ON"}, body=body)
    assert (status, h.error_code(resp)) == (400, "InvalidRequest"), resp
    assert_missing(s3, lbucket, "nocheck")

    status, rh, resp = raw(server, "PUT", lbucket, "md5", headers={**headers, "Content-MD5": h.md5_b64(body)},
                           body=body)
    assert status == 200, resp
    head = s3.head_object(Bucket=lbucket, Key="md5", VersionId=rh["x-amz-version-id"])
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockLegalHoldStatus"] == "ON"
    status, rh, resp = raw(server, "PUT", lbucket, "crc",
                           headers={**headers, "x-amz-checksum-crc32": h.checksum_b64("CRC32", body)}, body=body)
    assert status == 200, resp
    assert s3.head_object(Bucket=lbucket, Key="crc", VersionId=rh["x-amz-version-id"])["ObjectLockMode"] == "GOVERNANCE"

    # No lock asked for and no default retention: no check needed.
    status, _, resp = raw(server, "PUT", lbucket, "free", body=body)
    assert status == 200, resp
    # With a default retention, a plain PUT sets a lock, so it needs one too.
    s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    status, _, resp = raw(server, "PUT", lbucket, "defaulted", body=body)
    assert (status, h.error_code(resp)) == (400, "InvalidRequest"), resp
    assert_missing(s3, lbucket, "defaulted")
    status, rh, resp = raw(server, "PUT", lbucket, "defaulted", headers={"Content-MD5": h.md5_b64(body)}, body=body)
    assert status == 200, resp
    assert s3.head_object(Bucket=lbucket, Key="defaulted")["ObjectLockMode"] == "GOVERNANCE"
    assert s3.get_object(Bucket=lbucket, Key="defaulted")["Body"].read() == body


# ---------------------------------------------------------------- retention and legal hold


def test_retention_and_legal_hold_calls_on_a_bucket_without_object_lock(s3, bucket):
    """AWS: Put/GetObjectRetention and Put/GetObjectLegalHold on a bucket without Object Lock:
    400 InvalidRequest."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    calls = [
        lambda: s3.put_object_retention(Bucket=bucket, Key="k",
                                        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(ONE_HOUR)}),
        lambda: s3.get_object_retention(Bucket=bucket, Key="k"),
        lambda: s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"}),
        lambda: s3.get_object_legal_hold(Bucket=bucket, Key="k"),
    ]
    for call in calls:
        assert fails(call) == (400, "InvalidRequest")
    s3.delete_object(Bucket=bucket, Key="k")
    assert_missing(s3, bucket, "k")


def test_put_object_retention_and_legal_hold_per_version(s3, lbucket):
    """AWS: PutObjectRetention / PutObjectLegalHold with a VersionId lock that version only;
    the other versions of the key stay unlocked."""
    v1 = s3.put_object(Bucket=lbucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=lbucket, Key="k", Body=b"two")["VersionId"]
    until = later(ONE_HOUR)
    r = s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=v1,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3.put_object_legal_hold(Bucket=lbucket, Key="k", VersionId=v1, LegalHold={"Status": "ON"})
    assert s3.get_object_retention(Bucket=lbucket, Key="k", VersionId=v1)["Retention"] == \
        {"Mode": "GOVERNANCE", "RetainUntilDate": until}
    assert s3.get_object_legal_hold(Bucket=lbucket, Key="k", VersionId=v1)["LegalHold"] == {"Status": "ON"}
    assert fails(lambda: s3.get_object_retention(Bucket=lbucket, Key="k", VersionId=v2)) \
        == (404, "NoSuchObjectLockConfiguration")
    head = s3.head_object(Bucket=lbucket, Key="k")
    assert head["VersionId"] == v2 and "ObjectLockMode" not in head
    head = s3.head_object(Bucket=lbucket, Key="k", VersionId=v1)
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == \
        ("GOVERNANCE", until, "ON")
    s3.put_object_legal_hold(Bucket=lbucket, Key="k", VersionId=v1, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=lbucket, Key="k", VersionId=v1)["LegalHold"] == {"Status": "OFF"}
    # The unlocked current version can be removed; the governed one cannot without bypass.
    s3.delete_object(Bucket=lbucket, Key="k", VersionId=v2)
    assert fails(lambda: s3.delete_object(Bucket=lbucket, Key="k", VersionId=v1)) == (403, "AccessDenied")
    assert s3.get_object(Bucket=lbucket, Key="k")["Body"].read() == b"one"
    # A version that does not exist.
    assert fails(lambda: s3.get_object_retention(Bucket=lbucket, Key="k", VersionId="nosuchversion0000000"))[0] \
        in (400, 404)
    # A retention date in the past is refused.
    assert fails(lambda: s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=v1, BypassGovernanceRetention=True,
                                                 Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(-60)})) \
        == (400, "InvalidArgument")


def test_compliance_retention_can_only_be_extended(s3, lbucket):
    """AWS: a COMPLIANCE retention can be lengthened; shortening it or changing it to
    GOVERNANCE is 403 AccessDenied, even with BypassGovernanceRetention."""
    until = later(ONE_HOUR)
    vid = s3.put_object(Bucket=lbucket, Key="k", Body=b"x", ObjectLockMode="COMPLIANCE",
                        ObjectLockRetainUntilDate=until)["VersionId"]
    longer = later(2 * ONE_HOUR)
    s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": longer})
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": until},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": longer},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": later(3 * ONE_HOUR)}):
        for bypass in (False, True):
            assert fails(lambda: s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid, Retention=retention,
                                                         BypassGovernanceRetention=bypass)) == (403, "AccessDenied"), \
                (retention, bypass)
    assert fails(lambda: s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid, Retention={},
                                                 BypassGovernanceRetention=True)) == (403, "AccessDenied")
    assert s3.get_object_retention(Bucket=lbucket, Key="k", VersionId=vid)["Retention"] == \
        {"Mode": "COMPLIANCE", "RetainUntilDate": longer}


def test_governance_retention_shortened_or_removed_only_with_bypass(s3, lbucket):
    """AWS: a GOVERNANCE retention can be lengthened freely; shortening or removing it needs
    BypassGovernanceRetention (403 AccessDenied without); once removed, GetObjectRetention is
    404 and the version can be deleted."""
    until = later(2 * ONE_HOUR)
    vid = s3.put_object(Bucket=lbucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=until)["VersionId"]
    longer = later(3 * ONE_HOUR)
    s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": longer})
    shorter = later(ONE_HOUR)
    assert fails(lambda: s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid,
                                                 Retention={"Mode": "GOVERNANCE", "RetainUntilDate": shorter})) \
        == (403, "AccessDenied")
    assert fails(lambda: s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid, Retention={})) \
        == (403, "AccessDenied")
    assert s3.get_object_retention(Bucket=lbucket, Key="k", VersionId=vid)["Retention"]["RetainUntilDate"] == longer

    s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid, BypassGovernanceRetention=True,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": shorter})
    assert s3.get_object_retention(Bucket=lbucket, Key="k", VersionId=vid)["Retention"]["RetainUntilDate"] == shorter
    s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid, Retention={}, BypassGovernanceRetention=True)
    assert fails(lambda: s3.get_object_retention(Bucket=lbucket, Key="k", VersionId=vid)) \
        == (404, "NoSuchObjectLockConfiguration")
    assert "ObjectLockMode" not in s3.head_object(Bucket=lbucket, Key="k", VersionId=vid)
    s3.delete_object(Bucket=lbucket, Key="k", VersionId=vid)
    assert not exists(s3, lbucket, "k", vid)


# ---------------------------------------------------------------- deletes


def test_delete_of_a_protected_version_is_access_denied(s3, lbucket):
    """AWS: DeleteObject with the VersionId of a version under retention or legal hold is 403
    AccessDenied; GOVERNANCE yields to BypassGovernanceRetention by the bucket owner,
    COMPLIANCE and a legal hold do not (the hold until it is OFF)."""
    gov = s3.put_object(Bucket=lbucket, Key="gov", Body=b"g", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=later(ONE_HOUR))["VersionId"]
    comp = s3.put_object(Bucket=lbucket, Key="comp", Body=b"c", ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=later(ONE_HOUR))["VersionId"]
    held = s3.put_object(Bucket=lbucket, Key="held", Body=b"h", ObjectLockLegalHoldStatus="ON")["VersionId"]
    gov_held = s3.put_object(Bucket=lbucket, Key="govheld", Body=b"gh", ObjectLockMode="GOVERNANCE",
                             ObjectLockRetainUntilDate=later(ONE_HOUR), ObjectLockLegalHoldStatus="ON")["VersionId"]

    for key, vid in (("gov", gov), ("comp", comp), ("held", held), ("govheld", gov_held)):
        assert fails(lambda: s3.delete_object(Bucket=lbucket, Key=key, VersionId=vid)) == (403, "AccessDenied"), key
        assert exists(s3, lbucket, key, vid), key
    for key, vid in (("comp", comp), ("held", held), ("govheld", gov_held)):
        assert fails(lambda: s3.delete_object(Bucket=lbucket, Key=key, VersionId=vid,
                                              BypassGovernanceRetention=True)) == (403, "AccessDenied"), key
        assert exists(s3, lbucket, key, vid), key

    r = s3.delete_object(Bucket=lbucket, Key="gov", VersionId=gov, BypassGovernanceRetention=True)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204 and r["VersionId"] == gov
    assert not exists(s3, lbucket, "gov", gov)

    s3.put_object_legal_hold(Bucket=lbucket, Key="held", VersionId=held, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=lbucket, Key="held", VersionId=held)
    assert not exists(s3, lbucket, "held", held)
    # Hold OFF: the GOVERNANCE retention still holds, and the bypass then removes it.
    s3.put_object_legal_hold(Bucket=lbucket, Key="govheld", VersionId=gov_held, LegalHold={"Status": "OFF"})
    assert fails(lambda: s3.delete_object(Bucket=lbucket, Key="govheld", VersionId=gov_held)) == (403, "AccessDenied")
    s3.delete_object(Bucket=lbucket, Key="govheld", VersionId=gov_held, BypassGovernanceRetention=True)
    assert not exists(s3, lbucket, "govheld", gov_held)
    assert s3.get_object(Bucket=lbucket, Key="comp", VersionId=comp)["Body"].read() == b"c"


def test_delete_without_version_id_adds_a_marker_and_the_locked_version_stays(s3, lbucket):
    """AWS: DeleteObject without a VersionId on a locked object succeeds (a delete marker);
    the locked version is still there and readable by its id; removing the marker brings it
    back as the current version."""
    body = os.urandom(10_000)
    vid = s3.put_object(Bucket=lbucket, Key="k", Body=body, ObjectLockMode="COMPLIANCE",
                        ObjectLockRetainUntilDate=later(ONE_HOUR), ObjectLockLegalHoldStatus="ON")["VersionId"]
    r = s3.delete_object(Bucket=lbucket, Key="k")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204 and r["DeleteMarker"] is True
    marker = r["VersionId"]
    assert marker and marker != vid
    assert_missing(s3, lbucket, "k")
    assert s3.get_object(Bucket=lbucket, Key="k", VersionId=vid)["Body"].read() == body
    assert versions_of(s3, lbucket, "k") == ([vid], [marker])
    s3.delete_object(Bucket=lbucket, Key="k", VersionId=marker)  # a marker carries no lock
    assert s3.get_object(Bucket=lbucket, Key="k")["Body"].read() == body


def test_delete_objects_reports_locked_versions_as_access_denied(s3, lbucket):
    """AWS: DeleteObjects answers a per-key Error (Code AccessDenied) for every protected
    version and deletes the rest; without version ids, locked keys get delete markers;
    BypassGovernanceRetention lets the GOVERNANCE versions go."""
    gov = s3.put_object(Bucket=lbucket, Key="gov", Body=b"g", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=later(ONE_HOUR))["VersionId"]
    comp = s3.put_object(Bucket=lbucket, Key="comp", Body=b"c", ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=later(ONE_HOUR))["VersionId"]
    held = s3.put_object(Bucket=lbucket, Key="held", Body=b"h", ObjectLockLegalHoldStatus="ON")["VersionId"]
    free = s3.put_object(Bucket=lbucket, Key="free", Body=b"f")["VersionId"]
    objects = [{"Key": "gov", "VersionId": gov}, {"Key": "comp", "VersionId": comp},
               {"Key": "held", "VersionId": held}, {"Key": "free", "VersionId": free}]
    r = s3.delete_objects(Bucket=lbucket, Delete={"Objects": objects})
    errors = {(e["Key"], e.get("VersionId")): e["Code"] for e in r.get("Errors", [])}
    assert errors == {("gov", gov): "AccessDenied", ("comp", comp): "AccessDenied",
                      ("held", held): "AccessDenied"}, r
    assert [(d["Key"], d["VersionId"]) for d in r.get("Deleted", [])] == [("free", free)], r
    assert not exists(s3, lbucket, "free", free)
    for key, vid in (("gov", gov), ("comp", comp), ("held", held)):
        assert exists(s3, lbucket, key, vid), key

    r = s3.delete_objects(Bucket=lbucket, BypassGovernanceRetention=True, Delete={"Objects": objects[:3]})
    errors = {(e["Key"], e.get("VersionId")): e["Code"] for e in r.get("Errors", [])}
    assert errors == {("comp", comp): "AccessDenied", ("held", held): "AccessDenied"}, r
    assert [(d["Key"], d["VersionId"]) for d in r.get("Deleted", [])] == [("gov", gov)], r
    assert not exists(s3, lbucket, "gov", gov)

    # Without version ids: delete markers, the locked versions stay.
    r = s3.delete_objects(Bucket=lbucket, Delete={"Objects": [{"Key": "comp"}, {"Key": "held"}]})
    assert not r.get("Errors"), r
    assert sorted((d["Key"], d["DeleteMarker"]) for d in r["Deleted"]) == [("comp", True), ("held", True)]
    assert s3.get_object(Bucket=lbucket, Key="comp", VersionId=comp)["Body"].read() == b"c"
    assert s3.get_object(Bucket=lbucket, Key="held", VersionId=held)["Body"].read() == b"h"


def test_protection_ends_when_the_retain_until_date_passes(s3, lbucket):
    """AWS: the retain-until date is checked against the server's clock; once it passes, a
    delete by version id succeeds (COMPLIANCE and GOVERNANCE alike), and a new retention can
    be set on an expired one without bypass."""
    soon = later(3)
    comp = s3.put_object(Bucket=lbucket, Key="comp", Body=b"c", ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=soon)["VersionId"]
    gov = s3.put_object(Bucket=lbucket, Key="gov", Body=b"g")["VersionId"]
    s3.put_object_retention(Bucket=lbucket, Key="gov", VersionId=gov,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": soon})
    again = s3.put_object(Bucket=lbucket, Key="again", Body=b"a", ObjectLockMode="COMPLIANCE",
                          ObjectLockRetainUntilDate=soon)["VersionId"]
    assert fails(lambda: s3.delete_object(Bucket=lbucket, Key="comp", VersionId=comp)) == (403, "AccessDenied")
    assert fails(lambda: s3.delete_object(Bucket=lbucket, Key="gov", VersionId=gov)) == (403, "AccessDenied")

    time.sleep(max(0.0, soon.timestamp() - time.time()) + 1.2)
    r = s3.delete_object(Bucket=lbucket, Key="comp", VersionId=comp)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not exists(s3, lbucket, "comp", comp)
    s3.delete_object(Bucket=lbucket, Key="gov", VersionId=gov)
    assert not exists(s3, lbucket, "gov", gov)
    # An expired COMPLIANCE retention no longer binds: GOVERNANCE with any date is accepted.
    s3.put_object_retention(Bucket=lbucket, Key="again", VersionId=again,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(ONE_HOUR)})
    assert s3.get_object_retention(Bucket=lbucket, Key="again", VersionId=again)["Retention"]["Mode"] == "GOVERNANCE"
    assert fails(lambda: s3.delete_object(Bucket=lbucket, Key="again", VersionId=again)) == (403, "AccessDenied")


# ---------------------------------------------------------------- a server of our own

USERS = {
    "alice": ("AKIAALICELOCK0000001", "alice/lock/secret/0123456789abcdefgh",
              "a11ce0000000000000000000000000000000000000000000000000000000lock", "Alice"),
    "bob": ("AKIABOBLOCK000000002", "bob/lock/secret/0123456789abcdefghij",
            "b0b0000000000000000000000000000000000000000000000000000000000lock", "Bob"),
}


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """Users (Alice, Bob), a 2-second lifecycle day checked every second, and 64 KiB
    segments without background compaction."""
    root = tmp_path_factory.mktemp("objectlock")
    users = root / "users.txt"
    users.write_text("# access key, secret, canonical id, display name\n"
                     + "".join(f"{k} {s} {i} {n}\n" for k, s, i, n in USERS.values()))
    srv = start_server(root, ["--users", str(users), "--lifecycle-day-seconds", "2", "--lifecycle-interval", "1",
                              "--segment-size", "64K", "--compact-interval", "0"])
    yield srv
    stop_server(srv)


def user_client(server, who):
    import boto3
    from botocore.config import Config

    key, secret = USERS[who][:2]
    return boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=30))


def test_bypass_governance_by_another_user_needs_the_permission(own):
    """AWS: x-amz-bypass-governance-retention counts only for a caller allowed
    s3:BypassGovernanceRetention; the bucket owner is, another user only by the bucket
    policy. Without it, the bypass is 403 AccessDenied for deletes and for shortening."""
    alice, bob = user_client(own, "alice"), user_client(own, "bob")
    name = unique_bucket("bypass")
    alice.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    vids = [alice.put_object(Bucket=name, Key=f"k{i}", Body=b"x", ObjectLockMode="GOVERNANCE",
                             ObjectLockRetainUntilDate=later(2 * ONE_HOUR))["VersionId"] for i in range(3)]
    bob_arn = {"CanonicalUser": USERS["bob"][2]}
    actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion",
               "s3:PutObjectRetention", "s3:GetObjectRetention"]

    def set_policy(extra):
        alice.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": bob_arn, "Action": actions + extra,
             "Resource": f"arn:aws:s3:::{name}/*"}]}))

    set_policy([])
    assert bob.get_object_retention(Bucket=name, Key="k0", VersionId=vids[0])["Retention"]["Mode"] == "GOVERNANCE"
    for bypass in (False, True):
        assert fails(lambda: bob.delete_object(Bucket=name, Key="k0", VersionId=vids[0],
                                               BypassGovernanceRetention=bypass)) == (403, "AccessDenied"), bypass
        assert fails(lambda: bob.put_object_retention(
            Bucket=name, Key="k0", VersionId=vids[0], BypassGovernanceRetention=bypass,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(ONE_HOUR)})) == (403, "AccessDenied"), bypass
    r = bob.delete_objects(Bucket=name, BypassGovernanceRetention=True,
                           Delete={"Objects": [{"Key": "k1", "VersionId": vids[1]}]})
    assert [(e["Key"], e["Code"]) for e in r.get("Errors", [])] == [("k1", "AccessDenied")], r
    for i, vid in enumerate(vids):
        assert exists(alice, name, f"k{i}", vid)
    # Bob may lengthen it without any bypass.
    bob.put_object_retention(Bucket=name, Key="k2", VersionId=vids[2],
                             Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(3 * ONE_HOUR)})

    set_policy(["s3:BypassGovernanceRetention"])
    assert fails(lambda: bob.delete_object(Bucket=name, Key="k0", VersionId=vids[0])) == (403, "AccessDenied")
    bob.delete_object(Bucket=name, Key="k0", VersionId=vids[0], BypassGovernanceRetention=True)
    assert not exists(alice, name, "k0", vids[0])
    r = bob.delete_objects(Bucket=name, BypassGovernanceRetention=True,
                           Delete={"Objects": [{"Key": "k1", "VersionId": vids[1]}]})
    assert not r.get("Errors") and [d["Key"] for d in r["Deleted"]] == ["k1"], r
    shorter = later(ONE_HOUR)
    bob.put_object_retention(Bucket=name, Key="k2", VersionId=vids[2], BypassGovernanceRetention=True,
                             Retention={"Mode": "GOVERNANCE", "RetainUntilDate": shorter})
    retention = alice.get_object_retention(Bucket=name, Key="k2", VersionId=vids[2])["Retention"]
    assert retention == {"Mode": "GOVERNANCE", "RetainUntilDate": shorter}


def test_lifecycle_noncurrent_expiration_keeps_locked_versions(own):
    """AWS: Object Lock outranks lifecycle: NoncurrentVersionExpiration removes noncurrent
    versions, but not one under retention or legal hold."""
    s3 = make_client(own)
    name = lock_bucket(s3, "life")
    locked = s3.put_object(Bucket=name, Key="locked", Body=b"locked v1", ObjectLockMode="GOVERNANCE",
                           ObjectLockRetainUntilDate=later(ONE_HOUR))["VersionId"]
    held = s3.put_object(Bucket=name, Key="held", Body=b"held v1", ObjectLockLegalHoldStatus="ON")["VersionId"]
    free = s3.put_object(Bucket=name, Key="free", Body=b"free v1")["VersionId"]
    for key in ("locked", "held", "free"):
        s3.put_object(Bucket=name, Key=key, Body=f"{key} v2".encode())
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": "noncurrent", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    deadline = time.monotonic() + 15
    while exists(s3, name, "free", free) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not exists(s3, name, "free", free), "NoncurrentDays 1 under a 2-second day removes the free version"
    time.sleep(2.5)  # more lifecycle passes
    assert s3.get_object(Bucket=name, Key="locked", VersionId=locked)["Body"].read() == b"locked v1"
    assert s3.get_object(Bucket=name, Key="held", VersionId=held)["Body"].read() == b"held v1"
    for key in ("locked", "held", "free"):
        assert s3.get_object(Bucket=name, Key=key)["Body"].read() == f"{key} v2".encode()


def test_compaction_keeps_locked_versions_byte_exact(own):
    """A locked version survives `strata compact --threshold 0` (every sealed segment
    rewritten) after the versions around it were deleted, and reads back byte-exact."""
    s3 = make_client(own)
    name = lock_bucket(s3, "compact")
    bodies = [os.urandom(40_000 + i) for i in range(8)]
    vids = [s3.put_object(Bucket=name, Key="k", Body=b)["VersionId"] for b in bodies[:3]]
    locked_body = os.urandom(70_000)
    locked = s3.put_object(Bucket=name, Key="k", Body=locked_body, ObjectLockMode="COMPLIANCE",
                           ObjectLockRetainUntilDate=later(ONE_HOUR))["VersionId"]
    held_body = os.urandom(30_000)
    held = s3.put_object(Bucket=name, Key="h", Body=held_body, ObjectLockLegalHoldStatus="ON")["VersionId"]
    vids += [s3.put_object(Bucket=name, Key="k", Body=b)["VersionId"] for b in bodies[3:]]
    for vid in vids:
        s3.delete_object(Bucket=name, Key="k", VersionId=vid)
    assert fails(lambda: s3.delete_object(Bucket=name, Key="k", VersionId=locked)) == (403, "AccessDenied")
    s3.delete_object(Bucket=name, Key="h")  # a delete marker over the held version

    result = subprocess.run([str(strata_binary()), "compact", "--server", own.endpoint, "--access-key", ACCESS_KEY,
                             "--secret-key", SECRET_KEY, "--threshold", "0", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["removed"] and report["bytesReclaimed"] > 0, report

    assert versions_of(s3, name, "k") == ([locked], [])
    got = s3.get_object(Bucket=name, Key="k", VersionId=locked)
    assert got["Body"].read() == locked_body
    assert got["ObjectLockMode"] == "COMPLIANCE"
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == locked_body
    got = s3.get_object(Bucket=name, Key="h", VersionId=held)
    assert got["Body"].read() == held_body and got["ObjectLockLegalHoldStatus"] == "ON"


# ---------------------------------------------------------------- AWS CLI v2


@pytest.fixture(scope="module")
def aws2(client_env):
    """AWS CLI v2 (Debian's awscli package), by full path."""
    version = _version(AWS_V2) if os.path.exists(AWS_V2) else ""
    if not version.startswith("aws-cli/2."):
        what = f"AWS CLI v2 at {AWS_V2} (apt install awscli)" + (f"; found {version!r}" if version else "")
        if IN_CI:
            pytest.fail(f"{what} is missing (CI=true: every client must be present; run `make client-deps`)")
        pytest.skip(f"{what} is not installed; run `make client-deps`")
    return Aws("v2", AWS_V2, client_env)


def cli_fails(aws2, *args):
    p = aws2.run("s3api", *args, check=False)
    assert p.returncode != 0, f"aws s3api {' '.join(args)} should fail"
    return p.stderr.decode(errors="replace")


def test_cli_v2_object_lock_bucket_retention_and_legal_hold(aws2, s3, tmp_path):
    """`aws s3api create-bucket --object-lock-enabled-for-bucket`, put/get-object-lock-configuration,
    put-object, put/get-object-retention, put/get-object-legal-hold, and delete-object
    --version-id refused (AccessDenied) until --bypass-governance-retention (GOVERNANCE)
    or the hold is OFF."""
    b = unique_bucket("cli-lock")
    aws2.api("create-bucket", "--bucket", b, "--object-lock-enabled-for-bucket")
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    config = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    aws2.api("put-object-lock-configuration", "--bucket", b, "--object-lock-configuration", json.dumps(config))
    assert aws2.api("get-object-lock-configuration", "--bucket", b)["ObjectLockConfiguration"] == config

    src = tmp_path / "body.bin"
    src.write_bytes(os.urandom(20_000))
    # The default retention makes this a locked write: the CLI is given Content-MD5.
    vid = aws2.api("put-object", "--bucket", b, "--key", "k", "--body", str(src),
                   "--content-md5", h.md5_b64(src.read_bytes()))["VersionId"]
    assert s3.head_object(Bucket=b, Key="k", VersionId=vid)["ObjectLockMode"] == "GOVERNANCE"

    until = later(2 * 86400)  # past the default's one day: a lengthening, no bypass needed
    aws2.api("put-object-retention", "--bucket", b, "--key", "k", "--version-id", vid,
             "--retention", json.dumps({"Mode": "COMPLIANCE", "RetainUntilDate": iso(until)}))
    retention = aws2.api("get-object-retention", "--bucket", b, "--key", "k", "--version-id", vid)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert datetime.datetime.fromisoformat(retention["RetainUntilDate"].replace("Z", "+00:00")) == until
    err = cli_fails(aws2, "put-object-retention", "--bucket", b, "--key", "k", "--version-id", vid,
                    "--retention", json.dumps({"Mode": "COMPLIANCE", "RetainUntilDate": iso(later(ONE_HOUR))}),
                    "--bypass-governance-retention")
    assert "AccessDenied" in err, err
    err = cli_fails(aws2, "delete-object", "--bucket", b, "--key", "k", "--version-id", vid,
                    "--bypass-governance-retention")
    assert "AccessDenied" in err, err

    gov = s3.put_object(Bucket=b, Key="g", Body=b"governed")["VersionId"]  # the default: GOVERNANCE
    aws2.api("put-object-legal-hold", "--bucket", b, "--key", "g", "--version-id", gov,
             "--legal-hold", "Status=ON")
    assert s3.get_object_legal_hold(Bucket=b, Key="g", VersionId=gov)["LegalHold"] == {"Status": "ON"}
    err = cli_fails(aws2, "delete-object", "--bucket", b, "--key", "g", "--version-id", gov,
                    "--bypass-governance-retention")
    assert "AccessDenied" in err, err  # a legal hold is not bypassed
    aws2.api("put-object-legal-hold", "--bucket", b, "--key", "g", "--version-id", gov,
             "--legal-hold", "Status=OFF")
    aws2.api("delete-object", "--bucket", b, "--key", "g", "--version-id", gov, "--bypass-governance-retention")
    assert not exists(s3, b, "g", gov)

    # Without a version id: a delete marker; the locked version stays.
    marker = aws2.api("delete-object", "--bucket", b, "--key", "k")
    assert marker.get("DeleteMarker") is True
    assert s3.get_object(Bucket=b, Key="k", VersionId=vid)["Body"].read() == src.read_bytes()


def test_cli_v2_put_object_lock_configuration_on_unversioned_bucket(aws2):
    """`aws s3api put-object-lock-configuration` on a bucket without versioning: 409
    InvalidBucketState; `get-object-lock-configuration`: ObjectLockConfigurationNotFoundError."""
    b = unique_bucket("cli-nolock")
    aws2.api("create-bucket", "--bucket", b)
    err = cli_fails(aws2, "get-object-lock-configuration", "--bucket", b)
    assert "ObjectLockConfigurationNotFoundError" in err, err
    err = cli_fails(aws2, "put-object-lock-configuration", "--bucket", b, "--object-lock-configuration",
                    json.dumps({"ObjectLockEnabled": "Enabled"}))
    assert "InvalidBucketState" in err, err
    aws2.api("put-object", "--bucket", b, "--key", "k")
    err = cli_fails(aws2, "put-object-retention", "--bucket", b, "--key", "k", "--retention",
                    json.dumps({"Mode": "GOVERNANCE", "RetainUntilDate": iso(later(ONE_HOUR))}))
    assert "InvalidRequest" in err, err
