"""Browser form uploads as boto3's generate_presigned_post and a browser make them, where
S3 reads the form before it checks the policy: `${filename}` in the key is replaced by the
file's name first, and `x-amz-checksum-*` fields need no policy condition (verified
against the file like a PUT's checksum header)."""

import base64
import hashlib
import zlib

import pytest

from conftest import SKIP_UNDER_MOTO, make_client
from test_browser import post_form

pytestmark = SKIP_UNDER_MOTO


@pytest.fixture(scope="module")
def s3v4(server):
    return make_client(server, signature_version="s3v4")


def test_post_key_filename_is_substituted_before_the_policy_is_checked(s3, s3v4, bucket):
    """S3 (and ceph's s3-tests test_post_object_set_key_from_filename): a `starts-with
    $key` condition is checked against the key with the file's name in it."""
    post = s3v4.generate_presigned_post(bucket, "${filename}", Conditions=[["starts-with", "$key", "photo"]],
                                        ExpiresIn=300)
    r = post_form(post, ("file", b"picture"))  # the browser names the file photo.bin
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="photo.bin")["Body"].read() == b"picture"


@pytest.mark.parametrize("field, digest", [
    ("x-amz-checksum-sha256", lambda b: hashlib.sha256(b).digest()),
    ("x-amz-checksum-crc32", lambda b: zlib.crc32(b).to_bytes(4, "big")),
])
def test_post_checksum_field_needs_no_condition_and_is_verified(s3, s3v4, bucket, field, digest):
    body = b"form upload with a checksum"
    value = base64.b64encode(digest(body)).decode()
    post = s3v4.generate_presigned_post(bucket, "sum.bin", ExpiresIn=300)
    r = post_form(post, ("file", body), extra_fields={field: value})
    assert r.status_code == 204, r.text
    assert r.headers[field] == value
    head = s3.head_object(Bucket=bucket, Key="sum.bin", ChecksumMode="ENABLED")
    assert head["Checksum" + field.rsplit("-", 1)[1].upper()] == value

    wrong = base64.b64encode(digest(b"other bytes")).decode()
    post = s3v4.generate_presigned_post(bucket, "bad.bin", ExpiresIn=300)
    r = post_form(post, ("file", body), extra_fields={field: wrong})
    assert r.status_code == 400 and b"<Code>BadDigest</Code>" in r.content, r.text
    assert "bad.bin" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
