"""GetObjectAttributes and conditional writes with an If-None-Match ETag list, with real
clients: boto3 and AWS CLI v2 (/usr/bin/aws).

What AWS documents (API reference, GetObjectAttributes) and these tests hold Strata to:
- `GET /{key}?attributes` answers only the top-level fields named in
  x-amz-object-attributes: ETag (unquoted), Checksum (the object's checksum and its
  ChecksumType), ObjectParts (multipart objects only: PartsCount, PartNumberMarker,
  NextPartNumberMarker, MaxParts, IsTruncated and the parts with their sizes and
  checksums, paged by x-amz-max-parts and x-amz-part-number-marker), StorageClass and
  ObjectSize; Last-Modified and x-amz-version-id come as headers;
- versionId addresses an older version; a delete marker as the current version is 404
  with x-amz-delete-marker;
- an unknown attribute name is 400 InvalidArgument, a missing key 404 NoSuchKey;
- an SSE-C object answers only with its key (none: 400, another: 403), as GET and HEAD.

Conditional writes (PutObject and CompleteMultipartUpload): If-None-Match `*` fails with
412 PreconditionFailed when the key exists; Strata also takes an RFC 9110 list of entity
tags (412 when the current object's ETag is one of them, weak comparison; the write goes
on when none is, or when there is no current object). AWS itself documents only `*`
there. If-Match on a missing key is 404 NoSuchKey. Every case checks the stored bytes.
"""

import base64
import hashlib
import os
import re

import pytest
from botocore.exceptions import ClientError

import compat_helpers as h
from conftest import IN_CI, moto_skip, unique_bucket
from test_awscli import AWS_V2, Aws, _version

MiB = 1024 * 1024
ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
SSEC_KEY = hashlib.sha256(b"strata compat attributes SSE-C key").digest()
OTHER_KEY = hashlib.sha256(b"strata compat attributes other key").digest()


def fails(call):
    """(status, code, response headers) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call()
    meta = e.value.response["ResponseMetadata"]
    return meta["HTTPStatusCode"], e.value.response["Error"]["Code"], meta.get("HTTPHeaders", {})


def body_of(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def assert_missing(s3, bucket, key):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404, f"{key!r} should not exist"


def ssec_params(key):
    """GetObjectAttributes' SSE-C parameters: botocore encodes the key and adds its MD5
    only for GET/HEAD/PUT/copy/multipart, so here they are given as sent on the wire."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(key).decode(),
            "SSECustomerKeyMD5": h.md5_b64(key)}


def composite_crc32(part_bodies):
    """A multipart object's COMPOSITE CRC32: the CRC32 of the parts' raw CRC32s."""
    return h.checksum_b64("CRC32", b"".join(h.checksum_raw("CRC32", p) for p in part_bodies))


# ---------------------------------------------------------------- a multipart object

PART_BODIES = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1024)]


@pytest.fixture(scope="module")
def multipart_object(s3):
    """(bucket, key, ETag as CompleteMultipartUpload answered it): 3 parts of 5 MiB, 5 MiB
    and 1 KiB, uploaded with ChecksumAlgorithm CRC32."""
    bucket = unique_bucket("attrs-mpu")
    s3.create_bucket(Bucket=bucket)
    key = "multi/part.bin"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32")["UploadId"]
    parts = []
    for number, data in enumerate(PART_BODIES, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=data,
                           ChecksumAlgorithm="CRC32")
        assert r["ChecksumCRC32"] == h.checksum_b64("CRC32", data)
        parts.append({"PartNumber": number, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    return bucket, key, done["ETag"]


# ---------------------------------------------------------------- GetObjectAttributes


def test_single_part_object_with_crc32(s3, bucket):
    """A PutObject with a CRC32: ETag unquoted, the CRC32 as FULL_OBJECT, STANDARD, the size,
    Last-Modified as HEAD has it, and no ObjectParts (not a multipart object). Fields not
    asked for are not returned."""
    body = os.urandom(70_000)
    put = s3.put_object(Bucket=bucket, Key="one.bin", Body=body, ChecksumAlgorithm="CRC32")
    assert put["ChecksumCRC32"] == h.checksum_b64("CRC32", body)
    r = s3.get_object_attributes(Bucket=bucket, Key="one.bin", ObjectAttributes=ALL)
    assert r["ETag"] == h.md5_hex(body) and r["ETag"] == put["ETag"].strip('"'), r["ETag"]
    assert r["Checksum"] == {"ChecksumCRC32": h.checksum_b64("CRC32", body), "ChecksumType": "FULL_OBJECT"}
    assert "ObjectParts" not in r, r.get("ObjectParts")
    assert r["StorageClass"] == "STANDARD"
    assert r["ObjectSize"] == len(body)
    assert r["LastModified"] == s3.head_object(Bucket=bucket, Key="one.bin")["LastModified"]
    only = s3.get_object_attributes(Bucket=bucket, Key="one.bin", ObjectAttributes=["ObjectSize"])
    assert only["ObjectSize"] == len(body)
    assert not {"ETag", "Checksum", "ObjectParts", "StorageClass"} & set(only), only


def test_multipart_object_parts_and_composite_checksum(s3, multipart_object):
    """All attributes of a 3-part CRC32 upload: the multipart ETag, the COMPOSITE CRC32 of
    the part CRC32s, and every part with its size and CRC32 on one page (MaxParts 1000)."""
    bucket, key, etag = multipart_object
    r = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=ALL)
    assert r["ETag"] == etag.strip('"') and re.match(r"^[0-9a-f]{32}-3$", r["ETag"]), r["ETag"]
    assert r["ObjectSize"] == sum(len(p) for p in PART_BODIES) == 10 * MiB + 1024
    assert r["StorageClass"] == "STANDARD"
    checksum = r["Checksum"]
    assert checksum["ChecksumType"] == "COMPOSITE", checksum
    # HeadObject writes a composite checksum as <value>-<parts>; accept it with or without.
    assert checksum["ChecksumCRC32"] in (composite_crc32(PART_BODIES), composite_crc32(PART_BODIES) + "-3"), checksum
    parts = r["ObjectParts"]
    assert parts["PartNumberMarker"] == 0 and parts["MaxParts"] == 1000, parts
    assert parts["IsTruncated"] is False and parts["NextPartNumberMarker"] == 3, parts
    assert [(p["PartNumber"], p["Size"], p["ChecksumCRC32"]) for p in parts["Parts"]] == [
        (n, len(data), h.checksum_b64("CRC32", data)) for n, data in enumerate(PART_BODIES, 1)]


def test_object_parts_paged_with_max_parts_and_marker(s3, multipart_object):
    """MaxParts=1 walks the parts one page at a time by NextPartNumberMarker; a marker at
    the last part gives an empty, untruncated page."""
    bucket, key, _ = multipart_object
    seen, marker, pages = [], 0, 0
    while True:
        r = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["ObjectParts"],
                                     MaxParts=1, PartNumberMarker=marker)
        assert set(r) - {"ResponseMetadata", "LastModified", "VersionId"} == {"ObjectParts"}, r
        page = r["ObjectParts"]
        pages += 1
        assert page["MaxParts"] == 1 and page["PartNumberMarker"] == marker, page
        assert len(page["Parts"]) == 1, page
        part = page["Parts"][0]
        assert part["PartNumber"] == marker + 1 and page["NextPartNumberMarker"] == part["PartNumber"], page
        seen.append((part["PartNumber"], part["Size"], part["ChecksumCRC32"]))
        assert page["IsTruncated"] is (part["PartNumber"] < 3), page
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]
        assert pages < 5, "paging does not end"
    assert seen == [(n, len(d), h.checksum_b64("CRC32", d)) for n, d in enumerate(PART_BODIES, 1)]
    # Starting after part 1, two per page: parts 2 and 3, the end.
    r = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["ObjectParts"], MaxParts=2,
                                 PartNumberMarker=1)["ObjectParts"]
    assert [p["PartNumber"] for p in r["Parts"]] == [2, 3] and r["IsTruncated"] is False, r
    r = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["ObjectParts"],
                                 PartNumberMarker=3)["ObjectParts"]
    assert not r.get("Parts") and r["IsTruncated"] is False and r["PartNumberMarker"] == 3, r


@moto_skip("the PartsCount element")
def test_object_parts_total_count_reaches_clients(s3, server, multipart_object):
    """S3's wire element is <PartsCount> (boto3 shows it as ObjectParts.TotalPartsCount)."""
    bucket, key, _ = multipart_object
    r = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["ObjectParts"], MaxParts=1)
    assert r["ObjectParts"].get("TotalPartsCount") == 3, r["ObjectParts"]
    target, headers = h.sign_v4(server, "GET", f"/{bucket}/{key}?attributes",
                                headers={"x-amz-object-attributes": "ObjectParts"})
    status, _, data = h.send(server, "GET", target, headers=headers)
    assert status == 200 and b"<PartsCount>3</PartsCount>" in data, data[:600]


def test_versioned_object_older_version_by_version_id(s3, bucket):
    """VersionId addresses the older version (its ETag, size, checksum; the version id as a
    header); without it, the current one; a delete marker on top is 404 NoSuchKey with
    x-amz-delete-marker, while the older version still answers by id."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old, new = b"the older version", b"the newer, longer version"
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=old, ChecksumAlgorithm="CRC32")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="v", Body=new, ChecksumAlgorithm="CRC32")["VersionId"]
    assert v1 and v2 and v1 != v2
    attrs = ["ETag", "ObjectSize", "Checksum"]
    r = s3.get_object_attributes(Bucket=bucket, Key="v", ObjectAttributes=attrs, VersionId=v1)
    assert (r["VersionId"], r["ETag"], r["ObjectSize"]) == (v1, h.md5_hex(old), len(old)), r
    assert r["Checksum"]["ChecksumCRC32"] == h.checksum_b64("CRC32", old)
    assert r["LastModified"] == s3.head_object(Bucket=bucket, Key="v", VersionId=v1)["LastModified"]
    r = s3.get_object_attributes(Bucket=bucket, Key="v", ObjectAttributes=attrs)
    assert (r["VersionId"], r["ETag"], r["ObjectSize"]) == (v2, h.md5_hex(new), len(new)), r
    marker = s3.delete_object(Bucket=bucket, Key="v")["VersionId"]
    status, code, headers = fails(lambda: s3.get_object_attributes(Bucket=bucket, Key="v", ObjectAttributes=attrs))
    assert (status, code) == (404, "NoSuchKey")
    assert headers.get("x-amz-delete-marker") == "true" and headers.get("x-amz-version-id") == marker, headers
    r = s3.get_object_attributes(Bucket=bucket, Key="v", ObjectAttributes=attrs, VersionId=v1)
    assert (r["VersionId"], r["ETag"]) == (v1, h.md5_hex(old))


def test_storage_class_reduced_redundancy(s3, bucket):
    """StorageClass is the one the object was written with (STANDARD when none was given)."""
    s3.put_object(Bucket=bucket, Key="rr", Body=b"rr", StorageClass="REDUCED_REDUNDANCY")
    s3.put_object(Bucket=bucket, Key="std", Body=b"std")
    got = s3.get_object_attributes(Bucket=bucket, Key="rr", ObjectAttributes=["StorageClass", "ObjectSize"])
    assert (got["StorageClass"], got["ObjectSize"]) == ("REDUCED_REDUNDANCY", 2)
    got = s3.get_object_attributes(Bucket=bucket, Key="std", ObjectAttributes=["StorageClass"])
    assert got["StorageClass"] == "STANDARD"


def test_unknown_attribute_missing_key_and_bucket(s3, bucket):
    """An attribute name S3 does not know (names are case-sensitive) is 400 InvalidArgument;
    a missing key 404 NoSuchKey; a missing bucket 404 NoSuchBucket."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"k")
    for names in (["ETag", "Size"], ["etag"], ["LastModified"]):
        status, code, _ = fails(lambda: s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=names))
        assert (status, code) == (400, "InvalidArgument"), names
    assert fails(lambda: s3.get_object_attributes(Bucket=bucket, Key="nope", ObjectAttributes=["ETag"]))[:2] == (
        404, "NoSuchKey")
    assert fails(lambda: s3.get_object_attributes(Bucket=unique_bucket("absent"), Key="k",
                                                  ObjectAttributes=["ETag"]))[:2] == (404, "NoSuchBucket")


@moto_skip("moto does not check SSE-C keys")
def test_ssec_object_needs_its_key(s3, bucket):
    """An SSE-C object: no key is 400 InvalidRequest, another key 403 AccessDenied (as GET);
    with its key, the attributes. SSE-C headers for a plain object are 400."""
    body = os.urandom(3000)
    s3.put_object(Bucket=bucket, Key="c", Body=body, SSECustomerAlgorithm="AES256", SSECustomerKey=SSEC_KEY,
                  ChecksumAlgorithm="CRC32")
    attrs = ["ETag", "ObjectSize", "Checksum", "StorageClass"]
    assert fails(lambda: s3.get_object_attributes(Bucket=bucket, Key="c", ObjectAttributes=attrs))[:2] == (
        400, "InvalidRequest")
    assert fails(lambda: s3.get_object_attributes(Bucket=bucket, Key="c", ObjectAttributes=attrs,
                                                  **ssec_params(OTHER_KEY)))[:2] == (403, "AccessDenied")
    r = s3.get_object_attributes(Bucket=bucket, Key="c", ObjectAttributes=attrs, **ssec_params(SSEC_KEY))
    head = s3.head_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=SSEC_KEY)
    assert r["ETag"] == head["ETag"].strip('"') and r["ObjectSize"] == len(body) == head["ContentLength"], r
    assert r["Checksum"]["ChecksumCRC32"] == h.checksum_b64("CRC32", body), "the checksum is of the plaintext"
    assert r["StorageClass"] == "STANDARD"
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    assert fails(lambda: s3.get_object_attributes(Bucket=bucket, Key="plain", ObjectAttributes=["ETag"],
                                                  **ssec_params(SSEC_KEY)))[:2] == (400, "InvalidRequest")


# ---------------------------------------------------------------- conditional writes


def test_put_if_none_match_star_and_etag_list(s3, server, bucket):
    """PutObject If-None-Match: `*` and the current ETag (alone, in a list, or weak) are 412
    and leave the object as it was; a list without it, or a missing key, writes."""
    first = b"first version"
    etag = s3.put_object(Bucket=bucket, Key="k", Body=first)["ETag"]
    assert etag == f'"{h.md5_hex(first)}"'
    for value in ("*", etag, f'"{"0" * 32}", {etag}', f'{etag},"{"1" * 32}"'):
        status, code, _ = fails(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"must not land",
                                                      IfNoneMatch=value))
        assert (status, code) == (412, "PreconditionFailed"), value
        assert body_of(s3, bucket, "k") == first, value
    # RFC 9110: If-None-Match compares weakly, so W/"<etag>" matches too (hand-signed).
    target, headers = h.sign_v4(server, "PUT", f"/{bucket}/k", body=b"must not land",
                                headers={"If-None-Match": f"W/{etag}"})
    status, _, data = h.send(server, "PUT", target, body=b"must not land", headers=headers)
    assert status == 412 and h.error_code(data) == "PreconditionFailed", (status, data[:300])
    assert body_of(s3, bucket, "k") == first
    # None of the tags is the current ETag: the write goes on.
    second = b"second version"
    put = s3.put_object(Bucket=bucket, Key="k", Body=second, IfNoneMatch=f'"{h.md5_hex(b"x")}", "{"2" * 32}"')
    assert put["ETag"] == f'"{h.md5_hex(second)}"' and body_of(s3, bucket, "k") == second
    # The old ETag no longer stops a write.
    third = b"third version"
    s3.put_object(Bucket=bucket, Key="k", Body=third, IfNoneMatch=etag)
    assert body_of(s3, bucket, "k") == third
    # No current object: both forms write.
    s3.put_object(Bucket=bucket, Key="new-star", Body=b"star", IfNoneMatch="*")
    s3.put_object(Bucket=bucket, Key="new-list", Body=b"list", IfNoneMatch=etag)
    assert body_of(s3, bucket, "new-star") == b"star" and body_of(s3, bucket, "new-list") == b"list"


def test_put_if_match_on_missing_key_is_no_such_key(s3, bucket):
    """If-Match on a key that does not exist: 404 NoSuchKey, nothing written; a wrong ETag
    on an existing key is 412, the right one writes."""
    status, code, _ = fails(lambda: s3.put_object(Bucket=bucket, Key="absent", Body=b"x",
                                                  IfMatch=f'"{h.md5_hex(b"x")}"'))
    assert (status, code) == (404, "NoSuchKey")
    assert_missing(s3, bucket, "absent")
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["ETag"]
    assert fails(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch=f'"{"0" * 32}"'))[:2] == (
        412, "PreconditionFailed")
    assert body_of(s3, bucket, "k") == b"one"
    s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch=etag)
    assert body_of(s3, bucket, "k") == b"two"


def _upload_one_part(s3, bucket, key, data):
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=data)["ETag"]
    return upload, {"Parts": [{"PartNumber": 1, "ETag": etag}]}


def test_complete_multipart_if_none_match_star_and_etag_list(s3, bucket):
    """CompleteMultipartUpload If-None-Match: `*` or a list holding the current ETag is 412
    and the object stays as it was; a list without it completes; If-Match on a missing key
    is 404 NoSuchKey."""
    original = b"the original object"
    etag = s3.put_object(Bucket=bucket, Key="k", Body=original)["ETag"]
    for value in ("*", etag, f'"{"0" * 32}", {etag}'):
        upload, parts = _upload_one_part(s3, bucket, "k", b"must not land")
        status, code, _ = fails(lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload, MultipartUpload=parts, IfNoneMatch=value))
        assert (status, code) == (412, "PreconditionFailed"), value
        assert body_of(s3, bucket, "k") == original, value
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)
    replacement = b"completed over the original"
    upload, parts = _upload_one_part(s3, bucket, "k", replacement)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload, MultipartUpload=parts,
                                        IfNoneMatch=f'"{"0" * 32}", "{"1" * 32}"')
    assert re.match(r'^"[0-9a-f]{32}-1"$', done["ETag"]), done["ETag"]
    assert body_of(s3, bucket, "k") == replacement
    # A missing key: If-None-Match with a list completes; If-Match is 404 NoSuchKey.
    upload, parts = _upload_one_part(s3, bucket, "fresh", b"fresh")
    s3.complete_multipart_upload(Bucket=bucket, Key="fresh", UploadId=upload, MultipartUpload=parts,
                                 IfNoneMatch=etag)
    assert body_of(s3, bucket, "fresh") == b"fresh"
    upload, parts = _upload_one_part(s3, bucket, "absent", b"absent")
    status, code, _ = fails(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="absent", UploadId=upload, MultipartUpload=parts, IfMatch=etag))
    assert (status, code) == (404, "NoSuchKey")
    assert_missing(s3, bucket, "absent")
    s3.abort_multipart_upload(Bucket=bucket, Key="absent", UploadId=upload)


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


def test_cli_v2_get_object_attributes(aws2, multipart_object):
    """`aws s3api get-object-attributes --object-attributes ETag ObjectSize ObjectParts`, then
    one page with --max-parts 1 --part-number-marker 1; a missing key fails with NoSuchKey."""
    bucket, key, etag = multipart_object
    r = aws2.api("get-object-attributes", "--bucket", bucket, "--key", key,
                 "--object-attributes", "ETag", "ObjectSize", "ObjectParts")
    assert r["ETag"] == etag.strip('"') and r["ObjectSize"] == 10 * MiB + 1024, r
    assert "Checksum" not in r and "StorageClass" not in r, r
    parts = r["ObjectParts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts["Parts"]] == [(1, 5 * MiB), (2, 5 * MiB), (3, 1024)], parts
    assert parts["IsTruncated"] is False, parts
    page = aws2.api("get-object-attributes", "--bucket", bucket, "--key", key, "--object-attributes", "ObjectParts",
                    "--max-parts", "1", "--part-number-marker", "1")["ObjectParts"]
    assert [p["PartNumber"] for p in page["Parts"]] == [2], page
    assert (page["PartNumberMarker"], page["NextPartNumberMarker"], page["MaxParts"], page["IsTruncated"]) == (
        1, 2, 1, True), page
    assert page["Parts"][0]["ChecksumCRC32"] == h.checksum_b64("CRC32", PART_BODIES[1])
    p = aws2.run("s3api", "get-object-attributes", "--bucket", bucket, "--key", "no/such/key",
                 "--object-attributes", "ETag", check=False)
    assert p.returncode != 0 and b"NoSuchKey" in p.stderr, p.stderr
