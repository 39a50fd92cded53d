"""boto3 (the installed version, default configuration) against the server."""

import base64
import datetime as dt
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

import compat_helpers as h
from conftest import SKIP_UNDER_MOTO, curl, make_client, moto_skip, unique_bucket

try:
    import awscrt  # noqa: F401  (botocore needs it to compute CRC32C / CRC64NVME itself)
    HAVE_CRT = True
except ImportError:
    HAVE_CRT = False

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def code_of(exc_info):
    return exc_info.value.response["Error"]["Code"]


def status_of(exc_info):
    return exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def assert_missing(s3, bucket, key):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert status_of(e) == 404, f"{key!r} should not exist"


# ---------------------------------------------------------------- buckets


def test_bucket_create_list_head_delete(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket_name in names
    assert s3.head_bucket(Bucket=bucket_name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3.delete_bucket(Bucket=bucket_name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=bucket_name)
    assert status_of(e) == 404
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_delete_non_empty_bucket_is_bucket_not_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert code_of(e) == "BucketNotEmpty" and status_of(e) == 409


def test_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=unique_bucket("missing"))
    assert code_of(e) == "NoSuchBucket" and status_of(e) == 404


def test_get_bucket_location_is_null_for_us_east_1(s3, bucket):
    assert s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") in (None, "")


# ---------------------------------------------------------------- objects


def test_object_put_get_head_delete(s3, bucket):
    body = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key="obj", Body=body, ContentType="application/x-test",
                        Metadata={"color": "blue", "Mixed-Case": "Value"})
    assert put["ETag"] == f'"{h.md5_hex(body)}"'
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert head["ContentLength"] == len(body)
    assert head["ContentType"] == "application/x-test"
    assert head["ETag"] == put["ETag"]
    assert head["Metadata"] == {"color": "blue", "mixed-case": "Value"}
    assert isinstance(head["LastModified"], dt.datetime)
    assert head["ResponseMetadata"]["HTTPHeaders"].get("accept-ranges") == "bytes"
    s3.delete_object(Bucket=bucket, Key="obj")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="obj")
    assert code_of(e) == "NoSuchKey" and status_of(e) == 404
    assert_missing(s3, bucket, "obj")
    # Deleting a missing key succeeds (204), as on S3.
    assert s3.delete_object(Bucket=bucket, Key="obj")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_overwrite_replaces_body_and_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", Metadata={"a": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second!", Metadata={"b": "2"})
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second!"
    assert got["Metadata"] == {"b": "2"}


def test_repeated_reads_see_every_change_at_once(s3, bucket):
    """Strata keeps recently read small objects in memory (--cache-size); S3 is strongly
    consistent, so each read after a write, tag change, ACL change or delete must see it."""
    for round in range(5):
        body = f"round {round} ".encode() * (round + 1)
        s3.put_object(Bucket=bucket, Key="hot", Body=body, Metadata={"round": str(round)})
        for _ in range(3):  # the first read fills the cache, the others are served from it
            got = s3.get_object(Bucket=bucket, Key="hot")
            assert got["Body"].read() == body
            assert got["Metadata"] == {"round": str(round)}
        assert s3.head_object(Bucket=bucket, Key="hot")["ContentLength"] == len(body)
        part = s3.get_object(Bucket=bucket, Key="hot", Range="bytes=1-3")["Body"].read()
        assert part == body[1:4]
    s3.put_object_tagging(Bucket=bucket, Key="hot", Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    assert s3.get_object(Bucket=bucket, Key="hot")["TagCount"] == 1
    s3.put_object_acl(Bucket=bucket, Key="hot", ACL="public-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="hot")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants)
    s3.delete_object(Bucket=bucket, Key="hot")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="hot")
    assert code_of(e) == "NoSuchKey"
    assert_missing(s3, bucket, "hot")

    # Versioned: the current version changes with each write and each version delete.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"one"
    v2 = s3.put_object(Bucket=bucket, Key="v", Body=b"two")["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"two"
    assert s3.get_object(Bucket=bucket, Key="v", VersionId=v1)["Body"].read() == b"one"
    s3.delete_object(Bucket=bucket, Key="v", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"one"
    s3.delete_object(Bucket=bucket, Key="v")  # a delete marker
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="v")
    assert code_of(e) == "NoSuchKey"


ODD_KEYS = {
    "space": "with space/and more spaces",
    "plus": "a+b/c+d",
    "percent": "100%/%41%2F",
    "unicode": "ü/日本",
    "double-slash": "//double",
    "trailing-slash": "trailing/",
    "dots": "a/./b/../c",
    "xml-specials": "x&y<z>'\"",
    "query-chars": "q?x=1&y=#frag",
    "tilde-eq-colon": "~user/a=b:c;d,e@f$g",
    "max-1024-bytes": "long/" + "k" * 1019,
}


@pytest.mark.parametrize("key", list(ODD_KEYS.values()), ids=list(ODD_KEYS))
def test_odd_keys_roundtrip_and_list(s3, key):
    bucket = unique_bucket("oddkey")
    s3.create_bucket(Bucket=bucket)
    assert len(key.encode()) <= 1024
    body = key.encode() * 3
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)
    # boto3 asks for encoding-type=url by default and decodes; both must give the exact key.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == [key]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket).get("Contents", [])] == [key]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])] == [key]
    copy_key = "copy-" + key[:1000]  # stays within 1024 bytes
    s3.copy_object(Bucket=bucket, Key=copy_key, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=copy_key)["Body"].read() == body
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_object(Bucket=bucket, Key=copy_key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


@moto_skip("does not enforce the 1024-byte key limit")
def test_key_longer_than_1024_bytes_is_key_too_long(s3, bucket):
    key = "long/" + "k" * 1020
    assert len(key.encode()) == 1025
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert code_of(e) == "KeyTooLongError" and status_of(e) == 400
    # Multi-byte characters count in bytes: 342 * 3 = 1026 bytes.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="日" * 342, Body=b"x")
    assert code_of(e) == "KeyTooLongError"


def test_listing_without_encoding_type_escapes_xml(server, s3, bucket):
    from botocore.handlers import set_list_objects_encoding_type_url

    keys = sorted(["x&y<z>'\"", "ü/日本", "tab\there", "plain"])
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    raw = make_client(server)
    raw.meta.events.unregister("before-parameter-build.s3.ListObjectsV2", set_list_objects_encoding_type_url)
    raw.meta.events.unregister("before-parameter-build.s3.ListObjects", set_list_objects_encoding_type_url)
    assert [o["Key"] for o in raw.list_objects_v2(Bucket=bucket)["Contents"]] == keys
    assert [o["Key"] for o in raw.list_objects(Bucket=bucket)["Contents"]] == keys


def test_empty_object_has_md5_of_nothing(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == f'"{EMPTY_MD5}"'
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0
    assert got["ETag"] == f'"{EMPTY_MD5}"'
    assert s3.head_object(Bucket=bucket, Key="empty")["ContentLength"] == 0


def test_file_like_body_with_expect_continue_does_not_stall(s3, bucket, tmp_path):
    # boto3 sends Expect: 100-continue with file bodies; a server that does not answer
    # it makes botocore wait for its timeout (read_timeout is 30 s here, no retries).
    p = tmp_path / "f.bin"
    data = os.urandom(2 * 1024 * 1024 + 17)
    p.write_bytes(data)
    start = time.monotonic()
    for i in range(3):
        with open(p, "rb") as f:
            s3.put_object(Bucket=bucket, Key=f"f{i}", Body=f)
        assert s3.head_object(Bucket=bucket, Key=f"f{i}")["ContentLength"] == len(data)
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    s3.upload_file(str(p), bucket, "via-transfer")
    assert s3.get_object(Bucket=bucket, Key="via-transfer")["Body"].read() == data
    assert time.monotonic() - start < 20


# ---------------------------------------------------------------- conditional requests


def test_conditional_put_if_none_match_star(s3, bucket):
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert code_of(e) == "PreconditionFailed" and status_of(e) == 412
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_conditional_put_if_match(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    etag2 = s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag)["ETag"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v3", IfMatch=etag)  # stale
    assert code_of(e) == "PreconditionFailed" and status_of(e) == 412
    assert s3.get_object(Bucket=bucket, Key="k")["ETag"] == etag2
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=etag)
    assert status_of(e) in (404, 412)
    assert_missing(s3, bucket, "absent")


def test_conditional_get_and_head(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"hello")["ETag"]
    lm = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    hour = dt.timedelta(hours=1)
    for op in (s3.get_object, s3.head_object):
        assert op(Bucket=bucket, Key="k", IfMatch=etag)["ETag"] == etag
        with pytest.raises(ClientError) as e:
            op(Bucket=bucket, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"')
        assert status_of(e) == 412
        with pytest.raises(ClientError) as e:
            op(Bucket=bucket, Key="k", IfNoneMatch=etag)
        assert status_of(e) == 304
        assert op(Bucket=bucket, Key="k", IfNoneMatch='"other"')["ETag"] == etag
        with pytest.raises(ClientError) as e:
            op(Bucket=bucket, Key="k", IfModifiedSince=lm + hour)
        assert status_of(e) == 304
        assert op(Bucket=bucket, Key="k", IfModifiedSince=lm - hour)["ETag"] == etag
        with pytest.raises(ClientError) as e:
            op(Bucket=bucket, Key="k", IfUnmodifiedSince=lm - hour)
        assert status_of(e) == 412
        assert op(Bucket=bucket, Key="k", IfUnmodifiedSince=lm + hour)["ETag"] == etag


@moto_skip("evaluates If-Unmodified-Since even when If-Match is true")
def test_conditional_get_if_match_wins_over_if_unmodified_since(s3, bucket):
    # S3 docs / RFC 7232: If-Match true and If-Unmodified-Since false gives 200;
    # If-None-Match false and If-Modified-Since true gives 304.
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"hello")["ETag"]
    lm = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    hour = dt.timedelta(hours=1)
    for op in (s3.get_object, s3.head_object):
        assert op(Bucket=bucket, Key="k", IfMatch=etag, IfUnmodifiedSince=lm - hour)["ETag"] == etag
        with pytest.raises(ClientError) as e:
            op(Bucket=bucket, Key="k", IfNoneMatch=etag, IfModifiedSince=lm - hour)
        assert status_of(e) == 304


@moto_skip("ignores the response-* query parameters")
def test_get_response_header_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket, Key="k",
        ResponseContentType="application/x-custom",
        ResponseContentDisposition='attachment; filename="x y.txt"',
        ResponseCacheControl="no-cache",
        ResponseContentEncoding="identity",
        ResponseContentLanguage="de-CH",
        ResponseExpires=dt.datetime(2031, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc))
    assert got["ContentType"] == "application/x-custom"
    assert got["ContentDisposition"] == 'attachment; filename="x y.txt"'
    assert got["CacheControl"] == "no-cache"
    assert got["ContentEncoding"] == "identity"
    assert got["ContentLanguage"] == "de-CH"
    assert "2031" in got["ResponseMetadata"]["HTTPHeaders"]["expires"]
    assert got["Body"].read() == b"data"


# ---------------------------------------------------------------- ranges


def test_ranges(s3, bucket):
    data = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    n = len(data)
    cases = {
        "bytes=0-9": (data[:10], f"bytes 0-9/{n}"),
        "bytes=-5": (data[-5:], f"bytes {n - 5}-{n - 1}/{n}"),
        "bytes=1000-": (data[1000:], f"bytes 1000-{n - 1}/{n}"),
        "bytes=-5000": (data, f"bytes 0-{n - 1}/{n}"),          # suffix longer than object clamps
        "bytes=1020-5000": (data[1020:], f"bytes 1020-{n - 1}/{n}"),  # last byte beyond end clamps
    }
    for rng, (want, content_range) in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=rng)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206, rng
        assert got["Body"].read() == want, rng
        assert got["ContentRange"] == content_range, rng
        assert got["ContentLength"] == len(want), rng


def test_range_beyond_end_is_416(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-20")
    assert status_of(e) == 416 and code_of(e) == "InvalidRange"
    if not server.is_moto:  # moto leaves Content-Range out
        assert e.value.response["ResponseMetadata"]["HTTPHeaders"].get("content-range") == "bytes */10"


@moto_skip("HEAD ignores Range")
def test_head_honours_range(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    head = s3.head_object(Bucket=bucket, Key="r", Range="bytes=2-4")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 3
    assert head["ContentRange"] == "bytes 2-4/10"


# ---------------------------------------------------------------- checksums

ALGORITHMS = ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_put_checksum_is_stored_and_returned(server, s3, bucket, algorithm):
    data = os.urandom(123_457)
    expected = h.checksum_b64(algorithm, data)
    field = "Checksum" + algorithm
    if algorithm in ("CRC32C", "CRC64NVME") and not HAVE_CRT:
        if server.is_moto:
            pytest.skip("moto: does not store a checksum value the client computed itself (install awscrt)")
        # botocore computes these only with awscrt; send the value computed here instead.
        put = s3.put_object(Bucket=bucket, Key="k", Body=data, **{field: expected})
    else:
        put = s3.put_object(Bucket=bucket, Key="k", Body=data, ChecksumAlgorithm=algorithm)
    assert put.get(field) == expected
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head.get(field) == expected
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got.get(field) == expected
    assert got["Body"].read() == data


@moto_skip("does not verify x-amz-checksum-* values")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_wrong_checksum_is_bad_digest_and_not_stored(s3, bucket, algorithm):
    wrong = h.checksum_b64(algorithm, b"some other bytes")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"the real bytes", **{"Checksum" + algorithm: wrong})
    assert status_of(e) == 400 and code_of(e) in ("BadDigest", "InvalidRequest"), e.value.response["Error"]
    assert_missing(s3, bucket, "k")


@SKIP_UNDER_MOTO
def test_content_md5_mismatch_is_bad_digest_and_not_stored(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"the real bytes", ContentMD5=h.md5_b64(b"other bytes"))
    assert code_of(e) == "BadDigest" and status_of(e) == 400
    assert_missing(s3, bucket, "k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"the real bytes", ContentMD5=h.md5_b64(b"the real bytes"))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"the real bytes"


# ---------------------------------------------------------------- multipart


def test_multipart_upload_etag_and_composite_checksum(server, s3, bucket):
    parts_data = [os.urandom(5 * 1024 * 1024), os.urandom(5 * 1024 * 1024), os.urandom(1234)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC32",
                                    ContentType="application/x-mp", Metadata={"m": "1"})
    parts = []
    for i, pd in enumerate(parts_data, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=i, Body=pd,
                           ChecksumAlgorithm="CRC32")
        assert r["ETag"] == f'"{h.md5_hex(pd)}"'
        assert r.get("ChecksumCRC32") == h.checksum_b64("CRC32", pd)
        parts.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=up["UploadId"])
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": parts})
    want_etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts_data)).hexdigest() + "-3"
    assert done["ETag"] == f'"{want_etag}"'
    data = b"".join(parts_data)
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == data
    assert got["ETag"] == f'"{want_etag}"'
    assert got["ContentType"] == "application/x-mp" and got["Metadata"] == {"m": "1"}
    composite = base64.b64encode(
        h.checksum_raw("CRC32", b"".join(h.checksum_raw("CRC32", p) for p in parts_data))).decode() + "-3"
    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    if not server.is_moto:  # moto returns a full-object CRC32 without the -N suffix
        assert head.get("ChecksumCRC32") == composite


def test_abort_multipart_upload(server, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 100)
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [up["UploadId"]]
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"])
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert_missing(s3, bucket, "mp")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=2, Body=b"y")
    if not server.is_moto:  # moto answers 500 here
        assert code_of(e) == "NoSuchUpload" and status_of(e) == 404


# ---------------------------------------------------------------- delete_objects


@moto_skip("ignores Quiet and lists every deleted key")
def test_delete_objects_quiet(s3, bucket):
    for k in ("a", "b", "c/d"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    r = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": "a"}, {"Key": "c/d"}, {"Key": "never-existed"}], "Quiet": True})
    assert r.get("Deleted", []) == [] and r.get("Errors", []) == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["b"]


def test_delete_objects_verbose(s3, bucket):
    for k in ("a", "b b", "ü+%"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b b"}, {"Key": "ü+%"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == sorted(["a", "b b", "ü+%"])
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# ---------------------------------------------------------------- listing

LIST_KEYS = ["a/1", "a/2", "a/b/3", "a/b/4", "b/1", "c", "d/e/f", "e ü+x", "z"]


@pytest.fixture
def listing_bucket(s3, bucket):
    for k in LIST_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    return bucket


def keys_of(resp):
    return [o["Key"] for o in resp.get("Contents", [])]


def prefixes_of(resp):
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


def test_list_objects_v2_delimiter_prefix_start_after(s3, listing_bucket):
    b = listing_bucket
    r = s3.list_objects_v2(Bucket=b)
    assert keys_of(r) == LIST_KEYS and r["KeyCount"] == len(LIST_KEYS) and r["IsTruncated"] is False
    r = s3.list_objects_v2(Bucket=b, Delimiter="/")
    assert keys_of(r) == ["c", "e ü+x", "z"] and prefixes_of(r) == ["a/", "b/", "d/"]
    assert r["KeyCount"] == 6
    r = s3.list_objects_v2(Bucket=b, Prefix="a/", Delimiter="/")
    assert keys_of(r) == ["a/1", "a/2"] and prefixes_of(r) == ["a/b/"] and r["Prefix"] == "a/"
    r = s3.list_objects_v2(Bucket=b, Prefix="a/b")
    assert keys_of(r) == ["a/b/3", "a/b/4"] and prefixes_of(r) == []
    r = s3.list_objects_v2(Bucket=b, StartAfter="a/b/4")
    assert keys_of(r) == LIST_KEYS[4:] and r["StartAfter"] == "a/b/4"
    r = s3.list_objects_v2(Bucket=b, StartAfter="b")   # not itself a key
    assert keys_of(r) == LIST_KEYS[4:]
    r = s3.list_objects_v2(Bucket=b, Prefix="nothing-here")
    assert keys_of(r) == [] and r["KeyCount"] == 0
    item = s3.list_objects_v2(Bucket=b, Prefix="c")["Contents"][0]
    assert item["Size"] == 1 and item["ETag"] == f'"{h.md5_hex(b"c")}"' and item["StorageClass"] == "STANDARD"


def test_list_objects_v2_fetch_owner(s3, listing_bucket):
    with_owner = s3.list_objects_v2(Bucket=listing_bucket, FetchOwner=True)["Contents"]
    assert all(o.get("Owner", {}).get("ID") for o in with_owner)
    without = s3.list_objects_v2(Bucket=listing_bucket)["Contents"]
    assert not any("Owner" in o for o in without)


def test_list_objects_v2_encoding_type_url(s3, bucket):
    keys = sorted(["a b/c", "x+y", "ü/日本", "p%q", "amp&lt"])
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    # EncodingType given explicitly: botocore hands back the encoded values untouched;
    # decode them the way botocore does when it asks for url encoding itself (unquote_plus).
    r = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert r.get("EncodingType") == "url"
    assert [unquote_plus(k) for k in keys_of(r)] == keys
    assert all(c not in k for k in keys_of(r) for c in " ü&"), keys_of(r)
    r = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert sorted(unquote_plus(p) for p in prefixes_of(r)) == ["a b/", "ü/"]
    assert [unquote_plus(k) for k in keys_of(r)] == ["amp&lt", "p%q", "x+y"]
    r = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="ü/", StartAfter="ü/", Delimiter="/")
    assert unquote_plus(r["Prefix"]) == "ü/" and unquote_plus(r["StartAfter"]) == "ü/"
    assert unquote_plus(r.get("Delimiter", "/")) == "/"
    assert [unquote_plus(k) for k in keys_of(r)] == ["ü/日本"]


def test_list_objects_v2_max_keys_zero(s3, listing_bucket):
    r = s3.list_objects_v2(Bucket=listing_bucket, MaxKeys=0)
    assert keys_of(r) == [] and r["KeyCount"] == 0 and r["IsTruncated"] is False
    assert "NextContinuationToken" not in r


def test_list_objects_v2_paging_never_repeats(s3, listing_bucket):
    for delimiter in ("", "/"):
        seen_keys, seen_prefixes, tokens = [], [], []
        kwargs = {"Bucket": listing_bucket, "MaxKeys": 2}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        while True:
            r = s3.list_objects_v2(**kwargs)
            seen_keys += keys_of(r)
            seen_prefixes += prefixes_of(r)
            assert r["KeyCount"] == len(keys_of(r)) + len(prefixes_of(r)) <= 2
            assert ("NextContinuationToken" in r) == r["IsTruncated"]
            if not r["IsTruncated"]:
                break
            assert r["NextContinuationToken"] not in tokens
            tokens.append(r["NextContinuationToken"])
            kwargs["ContinuationToken"] = r["NextContinuationToken"]
        if delimiter:
            assert seen_keys == ["c", "e ü+x", "z"] and seen_prefixes == ["a/", "b/", "d/"]
        else:
            assert seen_keys == LIST_KEYS and seen_prefixes == []


def test_list_objects_v1_marker_and_paging(server, s3, listing_bucket):
    b = listing_bucket
    r = s3.list_objects(Bucket=b, Marker="a/b/4")
    assert keys_of(r) == LIST_KEYS[4:]
    if not server.is_moto:  # moto does not echo Marker
        assert r["Marker"] == "a/b/4"
    keys, marker = [], ""
    while True:
        r = s3.list_objects(Bucket=b, MaxKeys=3, Marker=marker)
        keys += keys_of(r)
        if not r["IsTruncated"]:
            break
        marker = r.get("NextMarker") or keys[-1]
    assert keys == LIST_KEYS
    if server.is_moto:  # moto repeats a common prefix on the page after NextMarker=that prefix
        return
    # With a delimiter, NextMarker is returned when truncated and a prefix is not repeated.
    seen, marker = [], ""
    while True:
        r = s3.list_objects(Bucket=b, MaxKeys=2, Delimiter="/", Marker=marker)
        seen += keys_of(r) + prefixes_of(r)
        if not r["IsTruncated"]:
            break
        assert r.get("NextMarker"), "NextMarker missing from a truncated delimited listing"
        marker = r["NextMarker"]
    assert sorted(seen) == ["a/", "b/", "c", "d/", "e ü+x", "z"] and len(seen) == 6


def test_list_paginator_over_big_bucket_with_delimiter(s3, big_bucket):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=big_bucket, Delimiter="/",
                                                         PaginationConfig={"PageSize": 7})
    prefixes = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
    assert prefixes == [f"d{i}/" for i in range(10)]


# ---------------------------------------------------------------- copy


@moto_skip("ignores x-amz-copy-source-if-* conditions")
def test_copy_object_conditions(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"source")["ETag"]
    src = {"Bucket": bucket, "Key": "src"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, CopySourceIfMatch='"00000000000000000000000000000000"')
    assert code_of(e) == "PreconditionFailed" and status_of(e) == 412
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, CopySourceIfNoneMatch=etag)
    assert code_of(e) == "PreconditionFailed" and status_of(e) == 412
    assert_missing(s3, bucket, "dst")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, CopySourceIfMatch=etag)
    assert r["CopyObjectResult"]["ETag"] == etag
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source"


def test_copy_object_metadata_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"source", ContentType="text/x-src", Metadata={"a": "1"})
    src = {"Bucket": bucket, "Key": "src"}
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=src)
    head = s3.head_object(Bucket=bucket, Key="copy")
    assert head["Metadata"] == {"a": "1"} and head["ContentType"] == "text/x-src"
    s3.copy_object(Bucket=bucket, Key="repl", CopySource=src, MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, ContentType="text/x-new")
    head = s3.head_object(Bucket=bucket, Key="repl")
    assert head["Metadata"] == {"b": "2"} and head["ContentType"] == "text/x-new"


def test_copy_between_buckets_with_encoded_source(s3, bucket):
    other = unique_bucket("copydst")
    s3.create_bucket(Bucket=other)
    key = "dir/sp ace+plus%ü"
    s3.put_object(Bucket=bucket, Key=key, Body=b"payload")
    s3.copy_object(Bucket=other, Key=key, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=other, Key=key)["Body"].read() == b"payload"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert code_of(e) == "NoSuchKey" and status_of(e) == 404


def test_copy_onto_itself(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"same", Metadata={"v": "1"})
    src = {"Bucket": bucket, "Key": "self"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="self", CopySource=src)
    assert code_of(e) == "InvalidRequest" and status_of(e) == 400
    s3.copy_object(Bucket=bucket, Key="self", CopySource=src, MetadataDirective="REPLACE", Metadata={"v": "2"})
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Metadata"] == {"v": "2"} and got["Body"].read() == b"same"


# ---------------------------------------------------------------- authentication


@SKIP_UNDER_MOTO
def test_wrong_secret_is_signature_does_not_match(server, bucket):
    bad = make_client(server, secret="not-the-secret-key-0000000000000000000000")
    with pytest.raises(ClientError) as e:
        bad.list_objects_v2(Bucket=bucket)
    assert code_of(e) == "SignatureDoesNotMatch" and status_of(e) == 403
    with pytest.raises(ClientError) as e:
        bad.put_object(Bucket=bucket, Key="k", Body=b"x" * 2000)
    assert code_of(e) == "SignatureDoesNotMatch"
    # SigV2 (signature_version='s3') with the wrong secret, too.
    bad2 = make_client(server, secret="not-the-secret-key-0000000000000000000000", signature_version="s3")
    with pytest.raises(ClientError) as e:
        bad2.list_objects(Bucket=bucket)
    assert code_of(e) == "SignatureDoesNotMatch" and status_of(e) == 403


@SKIP_UNDER_MOTO
def test_unknown_access_key_is_invalid_access_key_id(server, bucket):
    import boto3

    c = boto3.session.Session().client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                                       aws_access_key_id="AKIANOBODY0000000000", aws_secret_access_key="x" * 40)
    with pytest.raises(ClientError) as e:
        c.list_objects_v2(Bucket=bucket)
    assert code_of(e) == "InvalidAccessKeyId" and status_of(e) == 403


@SKIP_UNDER_MOTO
def test_anonymous_request_is_access_denied(server, bucket, client_env):
    status, body = curl(client_env, f"{server.endpoint}/{bucket}?list-type=2")
    assert status == 403 and h.error_code(body) == "AccessDenied", body


def test_sigv2_client_works(server, bucket):
    v2 = make_client(server, signature_version="s3")
    v2.put_object(Bucket=bucket, Key="v2 key+ü", Body=b"signed with v2", ContentType="text/plain",
                  Metadata={"x": "y"})
    assert v2.get_object(Bucket=bucket, Key="v2 key+ü")["Body"].read() == b"signed with v2"
    assert keys_of(v2.list_objects(Bucket=bucket)) == ["v2 key+ü"]


@SKIP_UNDER_MOTO
def test_clock_skew_is_request_time_too_skewed(server, bucket):
    when = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=20)
    target, headers = h.sign_v4(server, "GET", f"/{bucket}?list-type=2", when=when)
    status, _, body = h.send(server, "GET", target, headers=headers)
    assert status == 403 and h.error_code(body) == "RequestTimeTooSkewed", body
    # Within 15 minutes is fine.
    when = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=10)
    target, headers = h.sign_v4(server, "GET", f"/{bucket}?list-type=2", when=when)
    status, _, body = h.send(server, "GET", target, headers=headers)
    assert status == 200, body


@SKIP_UNDER_MOTO
def test_tampered_body_is_x_amz_content_sha256_mismatch(server, s3, bucket):
    claimed = hashlib.sha256(b"the bytes that were signed").hexdigest()
    target, headers = h.sign_v4(server, "PUT", f"/{bucket}/tampered", body=b"the bytes that were sent!",
                                payload_hash=claimed)
    status, _, body = h.send(server, "PUT", target, body=b"the bytes that were sent!", headers=headers)
    assert status == 400 and h.error_code(body) == "XAmzContentSHA256Mismatch", body
    assert_missing(s3, bucket, "tampered")


def test_hand_signed_put_with_correct_hash_works(server, s3, bucket):
    data = b"hand signed body"
    target, headers = h.sign_v4(server, "PUT", f"/{bucket}/hand", body=data)
    status, resp_headers, body = h.send(server, "PUT", target, body=data, headers=headers)
    assert status == 200, body
    assert resp_headers.get("etag") == f'"{h.md5_hex(data)}"'
    assert s3.get_object(Bucket=bucket, Key="hand")["Body"].read() == data


def test_unsigned_payload_with_transfer_encoding_chunked(server, s3, bucket):
    data = os.urandom(50_000)
    target, headers = h.sign_v4(server, "PUT", f"/{bucket}/te-chunked", payload_hash="UNSIGNED-PAYLOAD")
    status, _, body = h.send(server, "PUT", target, body=data, headers=headers, chunked=True)
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="te-chunked")["Body"].read() == data


@moto_skip("does not decode aws-chunked bodies sent with Content-Length, nor store the trailer checksum")
@pytest.mark.parametrize("transfer", ["content-length", "transfer-encoding-chunked"])
def test_aws_chunked_unsigned_trailer_is_decoded(server, s3, bucket, transfer):
    # What boto3 >= 1.36 / CLI >= 2.23 send over HTTPS: aws-chunked framing with a CRC32 trailer.
    data = os.urandom(70_000)
    crc = h.checksum_b64("CRC32", data)
    framed = h.aws_chunked_unsigned(data, 16384, "x-amz-checksum-crc32", crc)
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "x-amz-trailer": "x-amz-checksum-crc32", "Content-Type": "application/octet-stream"}
    target, headers = h.sign_v4(server, "PUT", f"/{bucket}/chunked", headers=headers,
                                payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    status, _, body = h.send(server, "PUT", target, body=framed, headers=headers,
                             chunked=(transfer != "content-length"))
    assert status == 200, body
    got = s3.get_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    assert got.get("ContentEncoding") in (None, "")
    assert got.get("ChecksumCRC32") == crc


@SKIP_UNDER_MOTO
def test_aws_chunked_bad_trailer_checksum_is_bad_digest(server, s3, bucket):
    data = os.urandom(10_000)
    framed = h.aws_chunked_unsigned(data, 4096, "x-amz-checksum-crc32", h.checksum_b64("CRC32", b"other"))
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "x-amz-trailer": "x-amz-checksum-crc32"}
    target, headers = h.sign_v4(server, "PUT", f"/{bucket}/badtrailer", headers=headers,
                                payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    status, _, body = h.send(server, "PUT", target, body=framed, headers=headers)
    assert status == 400 and h.error_code(body) == "BadDigest", body
    assert_missing(s3, bucket, "badtrailer")


@SKIP_UNDER_MOTO
def test_aws_chunked_missing_declared_trailer_is_400(server, s3, bucket):
    data = os.urandom(10_000)
    framed = h.aws_chunked_unsigned(data, 4096)  # x-amz-trailer declared, trailer absent
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "x-amz-trailer": "x-amz-checksum-crc32"}
    target, headers = h.sign_v4(server, "PUT", f"/{bucket}/notrailer", headers=headers,
                                payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    status, _, body = h.send(server, "PUT", target, body=framed, headers=headers)
    assert 400 <= status < 500, (status, body)
    assert_missing(s3, bucket, "notrailer")


# ---------------------------------------------------------------- presigned URLs


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"], ids=["sigv4", "sigv2"])
def test_presigned_get_and_put_with_curl(server, client_env, bucket, tmp_path, signature_version):
    c = make_client(server, signature_version=signature_version)
    key = "pre signed/ü+x"
    c.put_object(Bucket=bucket, Key=key, Body=b"presigned body")
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    status, body = curl(client_env, url)
    assert status == 200 and body == b"presigned body", (status, body)
    upload = tmp_path / "up.bin"
    upload.write_bytes(os.urandom(4096))
    put_url = c.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "uploaded"}, ExpiresIn=300)
    status, body = curl(client_env, put_url, "-X", "PUT", "-T", str(upload))
    assert status == 200, (status, body)
    assert c.get_object(Bucket=bucket, Key="uploaded")["Body"].read() == upload.read_bytes()


@SKIP_UNDER_MOTO
def test_expired_presigned_url_is_access_denied(server, client_env, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    time.sleep(2.5)
    status, body = curl(client_env, url)
    assert status == 403 and h.error_code(body) == "AccessDenied", body


@SKIP_UNDER_MOTO
def test_presigned_url_with_tampered_key_is_signature_does_not_match(server, client_env, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    s3.put_object(Bucket=bucket, Key="b", Body=b"y")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a"}, ExpiresIn=300)
    status, body = curl(client_env, url.replace(f"/{bucket}/a?", f"/{bucket}/b?"))
    assert status == 403 and h.error_code(body) == "SignatureDoesNotMatch", body


# ---------------------------------------------------------------- unsupported and headers


@SKIP_UNDER_MOTO
def test_unconfigured_subresources_answer_as_aws_and_unsupported_writes_are_not_implemented(s3, bucket):
    # Reads answer as an AWS bucket without the configuration; a PUT of a feature Strata
    # does not run (a website) is 501 naming it.
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for call, status, code in ((lambda: s3.get_bucket_website(Bucket=bucket), 404, "NoSuchWebsiteConfiguration"),
                               (lambda: s3.get_bucket_replication(Bucket=bucket), 404, "ReplicationConfigurationNotFoundError"),
                               (lambda: s3.get_object_retention(Bucket=bucket, Key="k"), 400, "InvalidRequest"),
                               (lambda: s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
                                   "IndexDocument": {"Suffix": "index.html"}}), 501, "NotImplemented")):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == code and status_of(e) == status, e.value.response["Error"]
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"


@moto_skip("sends x-amzn-requestid, not x-amz-request-id")
def test_request_id_header_on_success_and_error(s3, bucket):
    ok = s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
    assert ok.get("x-amz-request-id"), ok
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    err = e.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert err.get("x-amz-request-id"), err
    assert e.value.response["Error"].get("Key") in (None, "missing")


def test_many_concurrent_puts_and_gets(s3, bucket):
    bodies = {f"c/{i:03d}": os.urandom(1000 + i) for i in range(64)}
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), bodies.items()))
        got = dict(pool.map(lambda k: (k, s3.get_object(Bucket=bucket, Key=k)["Body"].read()), bodies))
    assert got == bodies
    assert keys_of(s3.list_objects_v2(Bucket=bucket)) == sorted(bodies)
