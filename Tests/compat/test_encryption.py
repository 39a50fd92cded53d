"""Server-side encryption with real clients: boto3 and AWS CLI v2 (/usr/bin/aws).

What AWS S3 documents and these tests hold Strata to:
- SSE-S3 (`AES256`), SSE-KMS (`aws:kms`, with the AWS-managed `aws/s3` key or a key named
  by id, alias or ARN; `aws:kms:dsse`; bucket keys) and SSE-C on PutObject, POST,
  GetObject/HeadObject (ranges, PartNumber), CopyObject and multipart uploads, with the
  response headers S3 sends (the KMS key always as its full ARN, the SSE-C algorithm and
  key MD5 echoed);
- ETags: SSE-S3's is the MD5 of the plaintext, SSE-C's and SSE-KMS's are not; flexible
  checksums are of the plaintext;
- objects are encrypted at rest: no plaintext (and no SSE-C key) in the data directory;
- bucket default encryption (Put/Get/DeleteBucketEncryption) and what it does to writes
  without headers;
- the errors S3 answers: no / wrong SSE-C key, SSE-C headers for an object that is not
  SSE-C, a key MD5 that does not match, mixed methods, an unknown KMS key, and so on;
- bucket policies conditioned on s3:x-amz-server-side-encryption.

The session server runs with a KMS key list naming KMS_KEY_ID (alias KMS_KEY_ALIAS), see
conftest.py. SSE-C over plain HTTP is allowed here because the client is on loopback.
"""

import base64
import hashlib
import json
import os
import re
import stat
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import compat_helpers as h
from conftest import (IN_CI, KMS_KEY_ALIAS, KMS_KEY_ID, REGION, make_client, moto_skip, start_server, stop_server,
                      unique_bucket)
from test_awscli import AWS_V2, Aws, _version

pytestmark = moto_skip("moto does not encrypt at rest and has no local KMS key list")

MiB = 1024 * 1024
KEY = hashlib.sha256(b"strata compat SSE-C key one").digest()
OTHER_KEY = hashlib.sha256(b"strata compat SSE-C key two").digest()
ARN_RE = re.compile(r"^arn:aws:kms:" + REGION + r":(\d{12}):key/([A-Za-z0-9-]+)$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEX32_RE = re.compile(r'^"[0-9a-f]{32}"$')


def code_of(exc_info):
    return exc_info.value.response["Error"]["Code"]


def status_of(exc_info):
    return exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def fails(call):
    """(status, code) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call()
    return status_of(e), code_of(e)


def assert_missing(s3, bucket, key):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert status_of(e) == 404, f"{key!r} should not exist"


def ssec(key=KEY):
    """boto3's SSE-C parameters (it base64-encodes the key and adds its MD5 itself)."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def copy_ssec(key=KEY):
    return {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key}


def ssec_headers(key=KEY, md5_of=None, prefix="x-amz-server-side-encryption-customer-"):
    """SSE-C headers as sent on the wire; md5_of: the bytes whose MD5 to send (a mismatch)."""
    return {prefix + "algorithm": "AES256", prefix + "key": base64.b64encode(key).decode(),
            prefix + "key-MD5": h.md5_b64(key if md5_of is None else md5_of)}


def raw(server, method, bucket, key, headers=None, body=b"", query=""):
    """A hand-signed request (for what boto3 will not send); (status, headers, body)."""
    target, signed = h.sign_v4(server, method, f"/{bucket}/{key}" + (f"?{query}" if query else ""),
                               body=body, headers=headers)
    return h.send(server, method, target, body=body, headers=signed)


def assert_not_md5_etag(etag, body):
    assert HEX32_RE.match(etag), etag
    assert etag != f'"{h.md5_hex(body)}"', "an SSE-C / SSE-KMS ETag is not the MD5 of the plaintext"


def assert_multipart_etag(etag, parts):
    assert re.match(r'^"[0-9a-f]{32}-%d"$' % parts, etag), etag


@pytest.fixture(scope="module")
def kms_arn(s3):
    """The ARN of the listed KMS key, as the server answers it for the key id."""
    name = unique_bucket("kmsarn")
    s3.create_bucket(Bucket=name)
    arn = s3.put_object(Bucket=name, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                        SSEKMSKeyId=KMS_KEY_ID)["SSEKMSKeyId"]
    m = ARN_RE.match(arn)
    assert m and m.group(2) == KMS_KEY_ID, arn
    return arn


@pytest.fixture(scope="module")
def managed_arn(s3, kms_arn):
    """The ARN of the AWS-managed aws/s3 key: aws:kms without a key id."""
    name = unique_bucket("awss3arn")
    s3.create_bucket(Bucket=name)
    arn = s3.put_object(Bucket=name, Key="k", Body=b"x", ServerSideEncryption="aws:kms")["SSEKMSKeyId"]
    m = ARN_RE.match(arn)
    assert m, arn
    assert UUID_RE.match(m.group(2)) and m.group(2) != KMS_KEY_ID, arn
    assert m.group(1) == ARN_RE.match(kms_arn).group(1), "both keys are in the bucket owner's account"
    return arn


# ---------------------------------------------------------------- the kinds of encryption

# name -> (PutObject parameters, expected ServerSideEncryption, expected key ("managed",
# "listed" or None), BucketKeyEnabled, SSE-C)
KINDS = {
    "sse-s3": ({"ServerSideEncryption": "AES256"}, "AES256", None, False, False),
    "kms-aws-managed": ({"ServerSideEncryption": "aws:kms"}, "aws:kms", "managed", False, False),
    "kms-alias-aws-s3": ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/aws/s3"}, "aws:kms", "managed",
                         False, False),
    "kms-key-id": ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY_ID}, "aws:kms", "listed", False, False),
    "kms-alias": ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY_ALIAS}, "aws:kms", "listed", False, False),
    "kms-key-arn": ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "ARN"}, "aws:kms", "listed", False, False),
    "kms-bucket-key": ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY_ID, "BucketKeyEnabled": True},
                       "aws:kms", "listed", True, False),
    "dsse-kms": ({"ServerSideEncryption": "aws:kms:dsse"}, "aws:kms:dsse", "managed", False, False),
    "sse-c": (ssec(), None, None, False, True),
}


def put_params(kind, kms_arn):
    params = dict(KINDS[kind][0])
    if params.get("SSEKMSKeyId") == "ARN":
        params["SSEKMSKeyId"] = kms_arn
    return params


def read_params(kind):
    return ssec() if KINDS[kind][4] else {}


def check_encryption_fields(resp, kind, kms_arn, managed_arn, what):
    _, sse, key, bucket_key, customer = KINDS[kind]
    if customer:
        assert "ServerSideEncryption" not in resp, (what, resp.get("ServerSideEncryption"))
        assert resp["SSECustomerAlgorithm"] == "AES256", what
        assert resp["SSECustomerKeyMD5"] == h.md5_b64(KEY), what
        assert "SSEKMSKeyId" not in resp, what
        return
    assert resp["ServerSideEncryption"] == sse, what
    assert "SSECustomerAlgorithm" not in resp and "SSECustomerKeyMD5" not in resp, what
    if key is None:
        assert "SSEKMSKeyId" not in resp, what
    else:
        assert resp["SSEKMSKeyId"] == (kms_arn if key == "listed" else managed_arn), what
    if bucket_key:
        assert resp.get("BucketKeyEnabled") is True, what
    else:
        assert not resp.get("BucketKeyEnabled"), what


def check_etag(etag, kind, body):
    if kind == "sse-s3":
        assert etag == f'"{h.md5_hex(body)}"', "SSE-S3: the ETag is the MD5 of the plaintext"
    else:
        assert_not_md5_etag(etag, body)


@pytest.mark.parametrize("kind", list(KINDS))
def test_put_get_head_ranges_like_s3(s3, bucket, kind, kms_arn, managed_arn):
    """AWS: PutObject/GetObject/HeadObject answer the encryption (SSE-KMS key as its full
    ARN, SSE-C algorithm + key MD5); ranges read the plaintext bytes asked for."""
    body = os.urandom(300_000)
    put = s3.put_object(Bucket=bucket, Key="obj", Body=body, **put_params(kind, kms_arn))
    check_encryption_fields(put, kind, kms_arn, managed_arn, "put")
    check_etag(put["ETag"], kind, body)

    got = s3.get_object(Bucket=bucket, Key="obj", **read_params(kind))
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"] and got["ContentLength"] == len(body)
    check_encryption_fields(got, kind, kms_arn, managed_arn, "get")
    head = s3.head_object(Bucket=bucket, Key="obj", **read_params(kind))
    assert head["ETag"] == put["ETag"] and head["ContentLength"] == len(body)
    check_encryption_fields(head, kind, kms_arn, managed_arn, "head")

    n = len(body)
    # Across 64 KiB boundaries, on one, within the last chunk, the last byte, a suffix.
    for rng, start, end in (("bytes=65530-131080", 65530, 131080), ("bytes=65536-65536", 65536, 65536),
                            ("bytes=0-65535", 0, 65535), ("bytes=262144-262150", 262144, 262150),
                            (f"bytes={n - 1}-{n - 1}", n - 1, n - 1), ("bytes=-70000", n - 70000, n - 1),
                            ("bytes=131072-", 131072, n - 1)):
        r = s3.get_object(Bucket=bucket, Key="obj", Range=rng, **read_params(kind))
        assert r["Body"].read() == body[start:end + 1], rng
        assert r["ContentRange"] == f"bytes {start}-{end}/{n}", rng
        assert r["ContentLength"] == end - start + 1, rng
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 206, rng
        check_encryption_fields(r, kind, kms_arn, managed_arn, rng)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="obj", Range=f"bytes={n}-", **read_params(kind))
    assert code_of(e) == "InvalidRange" and status_of(e) == 416

    empty = s3.put_object(Bucket=bucket, Key="empty", Body=b"", **put_params(kind, kms_arn))
    check_encryption_fields(empty, kind, kms_arn, managed_arn, "put empty")
    check_etag(empty["ETag"], kind, b"")
    got = s3.get_object(Bucket=bucket, Key="empty", **read_params(kind))
    assert got["Body"].read() == b"" and got["ContentLength"] == 0 and got["ETag"] == empty["ETag"]
    check_encryption_fields(got, kind, kms_arn, managed_arn, "get empty")
    assert s3.head_object(Bucket=bucket, Key="empty", **read_params(kind))["ContentLength"] == 0


@pytest.mark.parametrize("kind", ["sse-s3", "kms-key-id", "sse-c"])
def test_flexible_checksums_are_of_the_plaintext(s3, bucket, kind, kms_arn):
    """AWS: x-amz-checksum-* of an encrypted object is that of the bytes the client sent."""
    body = os.urandom(150_000)
    put = s3.put_object(Bucket=bucket, Key="c", Body=body, ChecksumAlgorithm="SHA256", **put_params(kind, kms_arn))
    assert put["ChecksumSHA256"] == h.checksum_b64("SHA256", body)
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED", **read_params(kind))
    assert got["ChecksumSHA256"] == h.checksum_b64("SHA256", body)
    assert got["Body"].read() == body  # botocore also checks the checksum as it reads
    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED", **read_params(kind))
    assert head["ChecksumSHA256"] == h.checksum_b64("SHA256", body)


def test_kms_encryption_context_is_returned_on_put(s3, bucket, kms_arn):
    """AWS: PutObject echoes x-amz-server-side-encryption-context; GET reads the object."""
    context = base64.b64encode(json.dumps({"project": "strata"}).encode()).decode()
    put = s3.put_object(Bucket=bucket, Key="ctx", Body=b"with context", ServerSideEncryption="aws:kms",
                        SSEKMSKeyId=KMS_KEY_ID, SSEKMSEncryptionContext=context)
    assert put["SSEKMSEncryptionContext"] == context and put["SSEKMSKeyId"] == kms_arn
    assert s3.get_object(Bucket=bucket, Key="ctx")["Body"].read() == b"with context"


def test_post_form_upload_with_encryption_fields(s3, server, bucket, kms_arn):
    """AWS: a POST form's x-amz-server-side-encryption* fields encrypt the object as headers would."""
    import requests

    v4 = make_client(server, signature_version="s3v4")
    fields = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": KMS_KEY_ID}
    post = v4.generate_presigned_post(bucket, "posted", Fields=fields, Conditions=[{k: v} for k, v in fields.items()],
                                      ExpiresIn=300)
    body = os.urandom(70_000)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", body)}, timeout=30)
    assert r.status_code == 204, r.text
    assert r.headers["x-amz-server-side-encryption"] == "aws:kms"
    assert r.headers["x-amz-server-side-encryption-aws-kms-key-id"] == kms_arn
    head = s3.head_object(Bucket=bucket, Key="posted")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_arn
    assert s3.get_object(Bucket=bucket, Key="posted")["Body"].read() == body

    fields = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
              "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
              "x-amz-server-side-encryption-customer-key-MD5": h.md5_b64(KEY)}
    post = v4.generate_presigned_post(bucket, "posted-c", Fields=fields, Conditions=[{k: v} for k, v in fields.items()],
                                      ExpiresIn=300)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", body)}, timeout=30)
    assert r.status_code == 204, r.text
    assert r.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    assert r.headers["x-amz-server-side-encryption-customer-key-MD5"] == h.md5_b64(KEY)
    assert s3.get_object(Bucket=bucket, Key="posted-c", **ssec())["Body"].read() == body
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="posted-c")) == (400, "InvalidRequest")


# ---------------------------------------------------------------- at rest


def _files(root: Path):
    return [p for p in sorted(root.rglob("*")) if p.is_file()]


def _where(files, needles, block=8 * MiB):
    """needle -> the files holding it; each file read once, in blocks that overlap by
    the longest needle (a file removed meanwhile, say by compaction, is skipped)."""
    found = {n: [] for n in needles}
    overlap = max(len(n) for n in needles)
    for path in files:
        try:
            with open(path, "rb") as f:
                tail = b""
                while True:
                    data = f.read(block)
                    if not data:
                        break
                    window = tail + data
                    for n in needles:
                        if n in window and str(path) not in found[n]:
                            found[n].append(str(path))
                    tail = window[-overlap:]
        except FileNotFoundError:
            continue
    return found


def test_encrypted_bytes_are_not_stored_in_plaintext(s3, server, bucket, kms_arn):
    """What SSE is for: the data directory holds no plaintext of an encrypted object (nor the
    SSE-C key), while an object stored as sent is there as it was sent (so this can fail)."""
    markers = {}

    def body_with(marker, size):
        return (marker * (size // len(marker) + 1))[:size]

    for kind in ("sse-s3", "kms-aws-managed", "kms-key-id", "dsse-kms", "sse-c"):
        marker = f"SSE-AT-REST-{kind}-{uuid.uuid4().hex}|".encode()
        markers[kind] = marker
        s3.put_object(Bucket=bucket, Key=kind, Body=body_with(marker, 200_000), **put_params(kind, kms_arn))
    # Multipart SSE-C and SSE-KMS.
    for kind, params in (("mp-sse-c", ssec()), ("mp-kms", {"ServerSideEncryption": "aws:kms",
                                                           "SSEKMSKeyId": KMS_KEY_ID})):
        marker = f"SSE-AT-REST-{kind}-{uuid.uuid4().hex}|".encode()
        markers[kind] = marker
        up = s3.create_multipart_upload(Bucket=bucket, Key=kind, **params)
        part_params = ssec() if kind == "mp-sse-c" else {}
        parts = []
        for number, size in ((1, 5 * MiB), (2, 300_000)):
            r = s3.upload_part(Bucket=bucket, Key=kind, UploadId=up["UploadId"], PartNumber=number,
                               Body=body_with(marker, size), **part_params)
            parts.append({"PartNumber": number, "ETag": r["ETag"]})
        s3.complete_multipart_upload(Bucket=bucket, Key=kind, UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts}, **part_params)
    # A copy of an SSE-C object to SSE-KMS.
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "sse-c"},
                   ServerSideEncryption="aws:kms", **copy_ssec())
    plain_marker = f"PLAIN-AT-REST-{uuid.uuid4().hex}|".encode()
    s3.put_object(Bucket=bucket, Key="plain", Body=body_with(plain_marker, 200_000))
    # Each object reads back (the markers went in).
    assert s3.get_object(Bucket=bucket, Key="sse-c", **ssec())["Body"].read().startswith(markers["sse-c"])
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read().startswith(markers["sse-c"])
    assert s3.get_object(Bucket=bucket, Key="mp-kms")["Body"].read().startswith(markers["mp-kms"])

    segments = _files(server.data_dir / "segments")
    assert segments, f"no segment files under {server.data_dir / 'segments'}"
    assert _where(segments, [plain_marker])[plain_marker], "the plain object's bytes should be in a segment file"
    secrets = {"the SSE-C key": KEY, "the SSE-C key (base64)": base64.b64encode(KEY)}
    found = _where(_files(server.data_dir), list(markers.values()) + list(secrets.values()))
    for kind, marker in markers.items():
        assert not found[marker], f"{kind}: plaintext found at rest in {found[marker]}"
    for what, secret in secrets.items():
        assert not found[secret], f"{what} is stored in {found[secret]}"


def test_master_key_file_and_restart(tmp_path):
    """Strata's key storage (README, "Encryption keys"): DATA/master.key is made at first
    start, mode 0600, one line of base64 of 32 bytes; after a restart on it, SSE-S3, SSE-KMS
    and SSE-C objects still read, and the aws/s3 key keeps its ARN."""
    keys = tmp_path / "kms-keys.txt"
    keys.write_text(f"{KMS_KEY_ID} {KMS_KEY_ALIAS}\n")
    srv = start_server(tmp_path, ["--kms-keys", str(keys)])
    try:
        master = srv.data_dir / "master.key"
        assert stat.S_IMODE(master.stat().st_mode) == 0o600
        assert len(base64.b64decode(master.read_text().strip(), validate=True)) == 32
        c = make_client(srv)
        c.create_bucket(Bucket="restart")
        body = os.urandom(100_000)
        arn = c.put_object(Bucket="restart", Key="kms", Body=body, ServerSideEncryption="aws:kms")["SSEKMSKeyId"]
        c.put_object(Bucket="restart", Key="kms-listed", Body=body, ServerSideEncryption="aws:kms",
                     SSEKMSKeyId=KMS_KEY_ALIAS)
        c.put_object(Bucket="restart", Key="s3", Body=body, ServerSideEncryption="AES256")
        c.put_object(Bucket="restart", Key="c", Body=body, **ssec())
    finally:
        stop_server(srv)
    srv = start_server(tmp_path, ["--kms-keys", str(keys)], data_dir=srv.data_dir)
    try:
        c = make_client(srv)
        for key, params in (("kms", {}), ("kms-listed", {}), ("s3", {}), ("c", ssec())):
            assert c.get_object(Bucket="restart", Key=key, **params)["Body"].read() == body, key
        assert c.head_object(Bucket="restart", Key="kms")["SSEKMSKeyId"] == arn
    finally:
        stop_server(srv)


# ---------------------------------------------------------------- SSE-C


def test_ssec_get_and_head_need_the_right_key(s3, server, bucket):
    """AWS: an SSE-C object without its key is 400 InvalidRequest, with another key 403
    AccessDenied (HEAD: the same statuses, no body); SSE-C headers for an object that is
    not SSE-C are 400 InvalidRequest."""
    marker = b"SSEC-SECRET-" + uuid.uuid4().hex.encode()
    body = marker * 100
    s3.put_object(Bucket=bucket, Key="c", Body=body, **ssec())
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="c")) == (400, "InvalidRequest")
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="c", **ssec(OTHER_KEY))) == (403, "AccessDenied")
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="c", Range="bytes=0-9", **ssec(OTHER_KEY)))[0] == 403
    assert fails(lambda: s3.head_object(Bucket=bucket, Key="c"))[0] == 400
    assert fails(lambda: s3.head_object(Bucket=bucket, Key="c", **ssec(OTHER_KEY)))[0] == 403
    # On the wire: the error bodies carry no plaintext.
    for headers, want in (({}, 400), (ssec_headers(OTHER_KEY), 403)):
        status, _, data = raw(server, "GET", bucket, "c", headers=headers)
        assert status == want and marker not in data, (status, data[:300])
    status, resp_headers, data = raw(server, "GET", bucket, "c", headers=ssec_headers(KEY))
    assert status == 200 and data == body
    assert resp_headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    assert resp_headers["x-amz-server-side-encryption-customer-key-md5"] == h.md5_b64(KEY)
    # SSE-C headers on objects that are not SSE-C.
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    s3.put_object(Bucket=bucket, Key="s3", Body=b"s3", ServerSideEncryption="AES256")
    for key in ("plain", "s3"):
        assert fails(lambda: s3.get_object(Bucket=bucket, Key=key, **ssec())) == (400, "InvalidRequest"), key
        assert fails(lambda: s3.head_object(Bucket=bucket, Key=key, **ssec()))[0] == 400, key


def test_ssec_copy_to_sse_s3_other_key_and_plain(s3, bucket):
    """AWS: CopyObject opens an SSE-C source with x-amz-copy-source-server-side-encryption-
    customer-*; the copy is encrypted as its own headers say (not as the source was)."""
    body = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="src", Body=body, **ssec())
    src = {"Bucket": bucket, "Key": "src"}

    r = s3.copy_object(Bucket=bucket, Key="to-s3", CopySource=src, ServerSideEncryption="AES256", **copy_ssec())
    assert r["ServerSideEncryption"] == "AES256" and "SSECustomerAlgorithm" not in r
    assert r["CopyObjectResult"]["ETag"] == f'"{h.md5_hex(body)}"'
    got = s3.get_object(Bucket=bucket, Key="to-s3")
    assert got["Body"].read() == body and got["ServerSideEncryption"] == "AES256"

    r = s3.copy_object(Bucket=bucket, Key="to-other", CopySource=src, **ssec(OTHER_KEY), **copy_ssec())
    assert r["SSECustomerAlgorithm"] == "AES256" and r["SSECustomerKeyMD5"] == h.md5_b64(OTHER_KEY)
    assert s3.get_object(Bucket=bucket, Key="to-other", **ssec(OTHER_KEY))["Body"].read() == body
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="to-other", **ssec()))[0] == 403

    r = s3.copy_object(Bucket=bucket, Key="to-plain", CopySource=src, **copy_ssec())
    assert "ServerSideEncryption" not in r and "SSECustomerAlgorithm" not in r
    assert r["CopyObjectResult"]["ETag"] == f'"{h.md5_hex(body)}"'
    got = s3.get_object(Bucket=bucket, Key="to-plain")
    assert got["Body"].read() == body and "ServerSideEncryption" not in got

    # In place: an SSE-C object re-encrypted with SSE-KMS (the encryption changes, so it is legal).
    r = s3.copy_object(Bucket=bucket, Key="src", CopySource=src, ServerSideEncryption="aws:kms", **copy_ssec())
    assert r["ServerSideEncryption"] == "aws:kms"
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == body

    s3.put_object(Bucket=bucket, Key="src2", Body=body, **ssec())
    src2 = {"Bucket": bucket, "Key": "src2"}
    assert fails(lambda: s3.copy_object(Bucket=bucket, Key="x", CopySource=src2)) == (400, "InvalidRequest")
    assert fails(lambda: s3.copy_object(Bucket=bucket, Key="x", CopySource=src2, **copy_ssec(OTHER_KEY)))[0] == 403
    # The destination's SSE-C key is not the source's.
    assert fails(lambda: s3.copy_object(Bucket=bucket, Key="x", CopySource=src2, **ssec()))[0] == 400
    assert_missing(s3, bucket, "x")


def test_ssec_multipart_upload_every_part_keyed(s3, bucket):
    """AWS: each UploadPart of an SSE-C upload carries the key (400 InvalidRequest without,
    or with another); the object opens with it; GET partNumber=1 reads part 1."""
    part1, tail = os.urandom(5 * MiB), os.urandom(123_457)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", **ssec())
    assert up["SSECustomerAlgorithm"] == "AES256" and up["SSECustomerKeyMD5"] == h.md5_b64(KEY)
    uid = up["UploadId"]
    assert fails(lambda: s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                                        Body=part1)) == (400, "InvalidRequest")
    status, code = fails(lambda: s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=part1,
                                                **ssec(OTHER_KEY)))
    assert (status, code) == (400, "InvalidRequest")
    parts = []
    for number, data in ((1, part1), (2, tail)):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=number, Body=data, **ssec())
        assert r["SSECustomerAlgorithm"] == "AES256" and r["SSECustomerKeyMD5"] == h.md5_b64(KEY)
        assert_not_md5_etag(r["ETag"], data)
        parts.append({"PartNumber": number, "ETag": r["ETag"]})
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, len(part1)), (2, len(tail))]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts},
                                        **ssec())
    assert_multipart_etag(done["ETag"], 2)
    whole = part1 + tail
    got = s3.get_object(Bucket=bucket, Key="mp", **ssec())
    assert got["Body"].read() == whole and got["ETag"] == done["ETag"]
    assert got["SSECustomerKeyMD5"] == h.md5_b64(KEY)
    first = s3.get_object(Bucket=bucket, Key="mp", PartNumber=1, **ssec())
    assert first["Body"].read() == part1
    assert first["PartsCount"] == 2 and first["ContentRange"] == f"bytes 0-{len(part1) - 1}/{len(whole)}"
    second = s3.head_object(Bucket=bucket, Key="mp", PartNumber=2, **ssec())
    assert second["ContentLength"] == len(tail) and second["PartsCount"] == 2
    r = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={len(part1) - 10}-{len(part1) + 9}", **ssec())
    assert r["Body"].read() == whole[len(part1) - 10:len(part1) + 10]
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="mp", PartNumber=1)) == (400, "InvalidRequest")
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="mp", **ssec(OTHER_KEY)))[0] == 403


def test_upload_part_copy_from_sse_kms_source_into_ssec_upload(s3, bucket, kms_arn):
    """AWS: UploadPartCopy opens the source with its own encryption and seals the part with
    the destination upload's SSE-C key."""
    source = os.urandom(5 * MiB + 70_000)
    s3.put_object(Bucket=bucket, Key="kms-src", Body=source, ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY_ID)
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst", **ssec())
    uid = up["UploadId"]
    src = {"Bucket": bucket, "Key": "kms-src"}
    assert fails(lambda: s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                                             CopySource=src))[0] == 400
    r1 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource=src,
                             CopySourceRange=f"bytes=0-{5 * MiB - 1}", **ssec())
    assert r1["SSECustomerAlgorithm"] == "AES256" and r1["SSECustomerKeyMD5"] == h.md5_b64(KEY)
    tail = os.urandom(1000)
    r2 = s3.upload_part(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2, Body=tail, **ssec())
    parts = [{"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": r2["ETag"]}]
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts}, **ssec())
    got = s3.get_object(Bucket=bucket, Key="dst", **ssec())
    assert got["Body"].read() == source[:5 * MiB] + tail
    assert "ServerSideEncryption" not in got
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="dst")) == (400, "InvalidRequest")


def test_kms_multipart_upload_and_part_number_read(s3, bucket, kms_arn):
    """AWS: an SSE-KMS upload names its key on create, each part and the object; parts need
    no headers."""
    part1, tail = os.urandom(5 * MiB), os.urandom(1000)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY_ALIAS,
                                    BucketKeyEnabled=True)
    assert up["ServerSideEncryption"] == "aws:kms" and up["SSEKMSKeyId"] == kms_arn and up["BucketKeyEnabled"] is True
    uid = up["UploadId"]
    parts = []
    for number, data in ((1, part1), (2, tail)):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=number, Body=data)
        assert r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"] == kms_arn
        parts.append({"PartNumber": number, "ETag": r["ETag"]})
    # SSE-C headers on a part of an upload that is not SSE-C.
    assert fails(lambda: s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=3, Body=b"x",
                                        **ssec())) == (400, "InvalidRequest")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    assert done["ServerSideEncryption"] == "aws:kms" and done["SSEKMSKeyId"] == kms_arn
    assert_multipart_etag(done["ETag"], 2)
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["SSEKMSKeyId"] == kms_arn and head["BucketKeyEnabled"] is True
    first = s3.get_object(Bucket=bucket, Key="mp", PartNumber=1)
    assert first["Body"].read() == part1 and first["PartsCount"] == 2
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == part1 + tail


# ---------------------------------------------------------------- bucket default encryption


def test_bucket_default_encryption_put_get_delete_and_writes(s3, bucket, kms_arn):
    """AWS: PutBucketEncryption's default applies to PutObject, CopyObject and
    CreateMultipartUpload without encryption headers; headers still win; after
    DeleteBucketEncryption, GET is 404 ServerSideEncryptionConfigurationNotFoundError."""
    assert fails(lambda: s3.get_bucket_encryption(Bucket=bucket)) == (404, "ServerSideEncryptionConfigurationNotFoundError")
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY_ID},
            "BucketKeyEnabled": True}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    got = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert got == [rule]

    body = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key="plain-put", Body=body)
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == kms_arn
    assert put["BucketKeyEnabled"] is True
    assert_not_md5_etag(put["ETag"], body)
    head = s3.head_object(Bucket=bucket, Key="plain-put")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_arn
    assert s3.get_object(Bucket=bucket, Key="plain-put")["Body"].read() == body

    # Headers win over the default.
    r = s3.put_object(Bucket=bucket, Key="s3", Body=body, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in r
    r = s3.put_object(Bucket=bucket, Key="c", Body=body, **ssec())
    assert "ServerSideEncryption" not in r and r["SSECustomerAlgorithm"] == "AES256"

    # CopyObject without headers: the default, not the source's encryption.
    r = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "s3"})
    assert r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"] == kms_arn
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == body

    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert up["ServerSideEncryption"] == "aws:kms" and up["SSEKMSKeyId"] == kms_arn
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"one part")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_arn
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"one part"

    # An SSE-S3 default.
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    r = s3.put_object(Bucket=bucket, Key="s3-default", Body=body)
    assert r["ServerSideEncryption"] == "AES256" and r["ETag"] == f'"{h.md5_hex(body)}"'

    assert s3.delete_bucket_encryption(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert fails(lambda: s3.get_bucket_encryption(Bucket=bucket)) == (404, "ServerSideEncryptionConfigurationNotFoundError")
    r = s3.put_object(Bucket=bucket, Key="after", Body=body)
    assert "ServerSideEncryption" not in r and r["ETag"] == f'"{h.md5_hex(body)}"'
    # Objects written under the default stay readable.
    assert s3.get_object(Bucket=bucket, Key="plain-put")["Body"].read() == body


def test_bucket_default_encryption_errors(s3, bucket):
    """AWS: an unknown SSEAlgorithm is MalformedXML; a KMSMasterKeyID with AES256 is
    InvalidArgument; a default naming a KMS key that does not exist fails the writes."""
    def put(default):
        return s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default}]})

    assert fails(lambda: put({"SSEAlgorithm": "AES128"})) == (400, "MalformedXML")
    assert fails(lambda: put({"SSEAlgorithm": "AES256", "KMSMasterKeyID": KMS_KEY_ID})) == (400, "InvalidArgument")
    assert fails(lambda: s3.get_bucket_encryption(Bucket=bucket))[1] == "ServerSideEncryptionConfigurationNotFoundError"
    put({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/no-such-alias"})
    assert fails(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x")) == (400, "KMS.NotFoundException")
    assert_missing(s3, bucket, "k")


# ---------------------------------------------------------------- request validation


def test_encryption_request_errors_like_s3(s3, server, bucket, kms_arn):
    """AWS's answers to malformed encryption requests."""
    account = ARN_RE.match(kms_arn).group(1)
    def put(**kw):
        return s3.put_object(Bucket=bucket, Key="k", Body=b"data", **kw)

    # SSE-S3 with SSE-C.
    assert fails(lambda: put(ServerSideEncryption="AES256", **ssec())) == (400, "InvalidArgument")
    # A KMS key id (or context) with AES256.
    assert fails(lambda: put(ServerSideEncryption="AES256", SSEKMSKeyId=KMS_KEY_ID)) == (400, "InvalidArgument")
    ctx = base64.b64encode(b'{"a":"b"}').decode()
    assert fails(lambda: put(ServerSideEncryption="AES256", SSEKMSEncryptionContext=ctx)) == (400, "InvalidArgument")
    # A method S3 does not know.
    assert fails(lambda: put(ServerSideEncryption="AES512")) == (400, "InvalidArgument")
    # An encryption context that is not base64 JSON of strings.
    assert fails(lambda: put(ServerSideEncryption="aws:kms", SSEKMSEncryptionContext="not base64 json")) \
        == (400, "InvalidArgument")
    # KMS keys that do not exist.
    for missing in ("no-such-key", "alias/no-such-alias", "99999999-8888-7777-6666-555555555555",
                    f"arn:aws:kms:{REGION}:{account}:key/99999999-8888-7777-6666-555555555555"):
        assert fails(lambda: put(ServerSideEncryption="aws:kms", SSEKMSKeyId=missing)) == (400, "KMS.NotFoundException"), missing
    # An SSE-C algorithm other than AES256.
    assert fails(lambda: put(SSECustomerAlgorithm="AES128", SSECustomerKey=KEY)) \
        == (400, "InvalidEncryptionAlgorithmError")
    assert_missing(s3, bucket, "k")

    # On the wire: an SSE-C key MD5 that does not match, a key of the wrong length, a key
    # without its MD5.
    for headers in (ssec_headers(KEY, md5_of=OTHER_KEY), ssec_headers(KEY[:16]),
                    {k: v for k, v in ssec_headers().items() if not k.endswith("MD5")}):
        status, _, data = raw(server, "PUT", bucket, "k", headers=headers, body=b"data")
        assert (status, h.error_code(data)) == (400, "InvalidArgument"), (headers, data[:300])
    s3.put_object(Bucket=bucket, Key="c", Body=b"secret", **ssec())
    status, _, data = raw(server, "GET", bucket, "c", headers=ssec_headers(KEY, md5_of=OTHER_KEY))
    assert (status, h.error_code(data)) == (400, "InvalidArgument") and b"secret" not in data
    # x-amz-server-side-encryption on GET and HEAD.
    s3.put_object(Bucket=bucket, Key="s3", Body=b"sse-s3", ServerSideEncryption="AES256")
    status, _, data = raw(server, "GET", bucket, "s3", headers={"x-amz-server-side-encryption": "AES256"})
    assert (status, h.error_code(data)) == (400, "InvalidArgument"), data[:300]
    status, _, _ = raw(server, "HEAD", bucket, "s3", headers={"x-amz-server-side-encryption": "AES256"})
    assert status == 400
    assert_missing(s3, bucket, "k")


# ---------------------------------------------------------------- versioning


def test_versions_keep_their_own_encryption(s3, bucket, kms_arn):
    """AWS: each version is encrypted as it was written; older versions read with their own
    key after an overwrite with another kind."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first, second, third = os.urandom(70_000), os.urandom(80_000), os.urandom(90_000)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=first, **ssec())["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=second, ServerSideEncryption="aws:kms",
                       SSEKMSKeyId=KMS_KEY_ID)["VersionId"]
    v3 = s3.put_object(Bucket=bucket, Key="k", Body=third, **ssec(OTHER_KEY))["VersionId"]
    assert len({v1, v2, v3}) == 3
    got = s3.get_object(Bucket=bucket, Key="k", VersionId=v1, **ssec())
    assert got["Body"].read() == first and got["VersionId"] == v1
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="k", VersionId=v1, **ssec(OTHER_KEY)))[0] == 403
    got = s3.get_object(Bucket=bucket, Key="k", VersionId=v2)
    assert got["Body"].read() == second and got["SSEKMSKeyId"] == kms_arn
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="k", VersionId=v2, **ssec()))[0] == 400
    assert s3.get_object(Bucket=bucket, Key="k", **ssec(OTHER_KEY))["Body"].read() == third
    assert fails(lambda: s3.get_object(Bucket=bucket, Key="k"))[0] == 400
    head = s3.head_object(Bucket=bucket, Key="k", VersionId=v1, **ssec())
    assert head["SSECustomerKeyMD5"] == h.md5_b64(KEY) and head["ContentLength"] == len(first)
    # A copy of an old SSE-C version into an SSE-S3 one.
    r = s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1},
                       ServerSideEncryption="AES256", **copy_ssec())
    assert r["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == first


# ---------------------------------------------------------------- bucket policy


def test_policy_denies_unencrypted_puts(s3, bucket):
    """AWS's documented policy: Deny s3:PutObject when s3:x-amz-server-side-encryption is
    not AES256 (StringNotEquals also matches a request without the header)."""
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "RequireSSES3", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}}]}))
    try:
        assert fails(lambda: s3.put_object(Bucket=bucket, Key="plain", Body=b"x")) == (403, "AccessDenied")
        assert fails(lambda: s3.put_object(Bucket=bucket, Key="kms", Body=b"x",
                                           ServerSideEncryption="aws:kms")) == (403, "AccessDenied")
        assert fails(lambda: s3.create_multipart_upload(Bucket=bucket, Key="mp")) == (403, "AccessDenied")
        r = s3.put_object(Bucket=bucket, Key="s3", Body=b"encrypted", ServerSideEncryption="AES256")
        assert r["ServerSideEncryption"] == "AES256"
        assert s3.get_object(Bucket=bucket, Key="s3")["Body"].read() == b"encrypted"
        assert_missing(s3, bucket, "plain")
        assert_missing(s3, bucket, "kms")
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")


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


def test_cli_v2_cp_with_sse_s3_and_sse_kms(aws2, s3, tmp_path, kms_arn):
    """`aws s3 cp --sse AES256` and `--sse aws:kms --sse-kms-key-id`: the objects are encrypted
    as asked and download unchanged."""
    b = unique_bucket("cli-sse")
    aws2.run("s3", "mb", f"s3://{b}")
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(400_000))
    aws2.run("s3", "cp", str(src), f"s3://{b}/s3.bin", "--sse", "AES256")
    aws2.run("s3", "cp", str(src), f"s3://{b}/kms.bin", "--sse", "aws:kms", "--sse-kms-key-id", KMS_KEY_ID)
    head = aws2.api("head-object", "--bucket", b, "--key", "s3.bin")
    assert head["ServerSideEncryption"] == "AES256" and head["ETag"] == f'"{h.md5_hex(src.read_bytes())}"'
    head = aws2.api("head-object", "--bucket", b, "--key", "kms.bin")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_arn
    for key in ("s3.bin", "kms.bin"):
        out = tmp_path / f"out-{key}"
        aws2.run("s3", "cp", f"s3://{b}/{key}", str(out))
        assert out.read_bytes() == src.read_bytes(), key


def test_cli_v2_cp_with_sse_c_small_and_multipart(aws2, s3, tmp_path, kms_arn):
    """`aws s3 cp --sse-c AES256 --sse-c-key fileb://key.bin`: up (20 MiB: multipart, every
    part keyed) and down (ranged GETs with the key); without the key the download fails;
    s3-to-s3 `cp --sse-c-copy-source` re-encrypts (multipart copy for 20 MiB)."""
    b = unique_bucket("cli-ssec")
    aws2.run("s3", "mb", f"s3://{b}")
    keyfile = tmp_path / "key.bin"
    keyfile.write_bytes(KEY)
    small, big = tmp_path / "small.bin", tmp_path / "big.bin"
    small.write_bytes(os.urandom(100_000))
    big.write_bytes(os.urandom(20 * MiB))
    sse_c = ["--sse-c", "AES256", "--sse-c-key", f"fileb://{keyfile}"]
    for f in (small, big):
        aws2.run("s3", "cp", str(f), f"s3://{b}/{f.name}", *sse_c)
        head = s3.head_object(Bucket=b, Key=f.name, **ssec())
        assert head["ContentLength"] == f.stat().st_size
        assert head["SSECustomerAlgorithm"] == "AES256" and head["SSECustomerKeyMD5"] == h.md5_b64(KEY)
        assert fails(lambda: s3.head_object(Bucket=b, Key=f.name))[0] == 400
        out = tmp_path / f"out-{f.name}"
        aws2.run("s3", "cp", f"s3://{b}/{f.name}", str(out), *sse_c)
        assert out.read_bytes() == f.read_bytes(), f.name
    assert re.match(r'^"[0-9a-f]{32}-3"$', s3.head_object(Bucket=b, Key="big.bin", **ssec())["ETag"])
    p = aws2.run("s3", "cp", f"s3://{b}/small.bin", str(tmp_path / "nokey"), check=False)
    assert p.returncode != 0 and not (tmp_path / "nokey").exists()
    assert b"400" in p.stderr or b"Bad Request" in p.stderr, p.stderr
    # s3 -> s3: from SSE-C to SSE-KMS.
    aws2.run("s3", "cp", f"s3://{b}/big.bin", f"s3://{b}/big-kms.bin", "--sse-c-copy-source", "AES256",
             "--sse-c-copy-source-key", f"fileb://{keyfile}", "--sse", "aws:kms", "--sse-kms-key-id", KMS_KEY_ALIAS)
    head = aws2.api("head-object", "--bucket", b, "--key", "big-kms.bin")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_arn
    out = tmp_path / "out-big-kms"
    aws2.run("s3", "cp", f"s3://{b}/big-kms.bin", str(out))
    assert out.read_bytes() == big.read_bytes()


def test_cli_v2_bucket_encryption(aws2, tmp_path, kms_arn):
    """`aws s3api put/get/delete-bucket-encryption`, and a plain `aws s3 cp` under the default."""
    b = unique_bucket("cli-default")
    aws2.run("s3", "mb", f"s3://{b}")
    config = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                                 "KMSMasterKeyID": KMS_KEY_ALIAS},
                         "BucketKeyEnabled": False}]}
    aws2.api("put-bucket-encryption", "--bucket", b, "--server-side-encryption-configuration", json.dumps(config))
    assert aws2.api("get-bucket-encryption", "--bucket", b)["ServerSideEncryptionConfiguration"] == config
    src = tmp_path / "f"
    src.write_bytes(b"default encrypted")
    aws2.run("s3", "cp", str(src), f"s3://{b}/f")
    head = aws2.api("head-object", "--bucket", b, "--key", "f")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_arn
    aws2.api("delete-bucket-encryption", "--bucket", b)
    p = aws2.run("s3api", "get-bucket-encryption", "--bucket", b, check=False)
    assert p.returncode != 0 and b"ServerSideEncryptionConfigurationNotFoundError" in p.stderr, p.stderr
