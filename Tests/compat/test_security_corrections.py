"""Issue 20, security and integrity: requests AWS S3 refuses because they would reach more
than their signer meant, checked with real clients (boto3, s3cmd) and hand-made requests
where no client would send them. Each test is named for the AWS behaviour it matches:

- an `x-amz-copy-source` version id that does not decode is 400 InvalidArgument, never
  "no version" (which would copy the current one);
- `host` and every `x-amz-*` header must be signed (403 AccessDenied, HeadersNotSigned),
  in the Authorization header and in presigned URLs alike;
- a presigned URL with X-Amz-Expires=0 has already expired;
- with `--region` set, a request signed for another region is 400
  AuthorizationHeaderMalformed naming the region (s3cmd, which guesses "US", signs again
  with it); without, any region is accepted;
- reserved bucket-name prefixes and suffixes are InvalidBucketName;
- `x-amz-expected-bucket-owner` (boto3's ExpectedBucketOwner) must match the owner.
"""

import html
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

import compat_helpers as h
from conftest import ACCESS_KEY, SECRET_KEY, SKIP_UNDER_MOTO, make_client, strata_binary

pytestmark = SKIP_UNDER_MOTO


def http(method, url, headers=None, body=None):
    """One request with urllib (no signing, no retries); returns (status, body)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def error_field(body, name):
    m = re.search(rb"<%s>([^<]*)</%s>" % (name.encode(), name.encode()), body or b"")
    return html.unescape(m.group(1).decode()) if m else None


def client_error(call):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


# ---------------------------------------------------------------- x-amz-copy-source version ids


@pytest.mark.parametrize("bad", ["%zz", "%C3%28", "abc%"])
def test_copy_source_version_id_that_does_not_decode_is_invalid_argument(s3, bucket, bad):
    """AWS: a malformed version id in x-amz-copy-source is 400 InvalidArgument; no copy."""
    s3.put_object(Bucket=bucket, Key="src", Body=b"current")
    response = client_error(lambda: s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src?versionId={bad}"))
    assert response["Error"]["Code"] == "InvalidArgument", response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="dst")


def test_copy_source_unknown_version_id_is_no_such_version(s3, bucket):
    """AWS: a well-formed version id that names no version is 404 NoSuchVersion; no copy."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="src", Body=b"current")
    response = client_error(lambda: s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": "A" * 32}))
    assert response["Error"]["Code"] == "NoSuchVersion", response
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="dst")


# ---------------------------------------------------------------- headers a signature must cover


def test_unsigned_amz_header_on_header_signed_request_is_headers_not_signed(server, s3, bucket):
    """AWS: every x-amz-* header must be signed; an unsigned x-amz-copy-source added to a
    signed PUT is 403 AccessDenied (HeadersNotSigned) and copies nothing."""
    s3.put_object(Bucket=bucket, Key="secret", Body=b"the signer's secret")
    target, headers = h.sign_v4(server, "PUT", f"/{bucket}/upload", body=b"")
    headers["x-amz-copy-source"] = f"/{bucket}/secret"
    status, _, body = h.send(server, "PUT", target, b"", headers)
    assert status == 403 and h.error_code(body) == "AccessDenied", body
    assert error_field(body, "HeadersNotSigned") == "x-amz-copy-source"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="upload")


def test_unsigned_amz_header_on_presigned_url_is_headers_not_signed(server, s3, bucket):
    """AWS: an x-amz-* header sent with a presigned URL but not in X-Amz-SignedHeaders is
    403 AccessDenied (HeadersNotSigned); the same URL without it works."""
    url = make_client(server, signature_version="s3v4").generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    status, body = http("PUT", url, {"x-amz-acl": "public-read", "x-amz-meta-owner": "mallory"}, b"data")
    assert status == 403 and h.error_code(body) == "AccessDenied", body
    assert error_field(body, "HeadersNotSigned") == "x-amz-acl, x-amz-meta-owner"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="k")
    status, body = http("PUT", url, {}, b"data")
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"


# ---------------------------------------------------------------- presigned URL expiry


def test_presigned_url_with_expires_zero_is_already_expired(server, s3, bucket):
    """AWS: X-Amz-Expires=0 is expired on arrival: 403 AccessDenied "Request has expired".
    (boto3 with awscrt refuses to presign for 0 seconds, so botocore's own SigV4 query
    signer makes the URL.)"""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    request = AWSRequest(method="GET", url=f"{server.endpoint}/{bucket}/k")
    S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", server.region, expires=0).add_auth(request)
    assert "X-Amz-Expires=0" in request.url
    status, body = http("GET", request.url)
    assert status == 403 and h.error_code(body) == "AccessDenied", body
    assert error_field(body, "Message") == "Request has expired"
    assert error_field(body, "X-Amz-Expires") == "0"


# ---------------------------------------------------------------- signing region


class Strata:
    """A `strata serve` with exactly the given options (no --region unless given)."""

    def __init__(self, tmp_path, *args):
        self.log = tmp_path / f"serve-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(strata_binary()), "serve", "--ephemeral", "--port", "0", "--access-key", ACCESS_KEY,
                 "--secret-key", SECRET_KEY, *args],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = re.search(r"^  port +(\d+)", self.log.read_text(errors="replace"), re.M)
            if m:
                self.port = int(m.group(1))
                self.endpoint = f"http://127.0.0.1:{self.port}"
                return
            assert self.proc.poll() is None, self.log.read_text(errors="replace")
            time.sleep(0.05)
        raise AssertionError(self.log.read_text(errors="replace"))

    def client(self, region):
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=region, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, signature_version="s3v4"))

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


@pytest.fixture
def strata(tmp_path):
    started = []

    def start(*args):
        s = Strata(tmp_path, *args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def test_request_signed_for_another_region_is_authorization_header_malformed(strata):
    """AWS: with the endpoint in eu-west-1, a request signed for us-east-1 is 400
    AuthorizationHeaderMalformed, the expected region in <Region>; a presigned URL gets
    AuthorizationQueryParametersError. Signed for eu-west-1, it works."""
    s = strata("--region", "eu-west-1")
    assert "region      eu-west-1\n" in s.log.read_text()
    eu = s.client("eu-west-1")
    eu.create_bucket(Bucket="regional", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    eu.put_object(Bucket="regional", Key="k", Body=b"x")
    us = SimpleNamespace(endpoint=s.endpoint, port=s.port, access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                         region="us-east-1")
    target, headers = h.sign_v4(us, "GET", "/regional/k")
    status, _, body = h.send(us, "GET", target, b"", headers)
    assert status == 400 and h.error_code(body) == "AuthorizationHeaderMalformed", body
    assert error_field(body, "Message") == \
        "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"
    assert error_field(body, "Region") == "eu-west-1"

    url = s.client("us-east-1").generate_presigned_url("get_object", Params={"Bucket": "regional", "Key": "k"})
    status, body = http("GET", url)
    assert status == 400 and h.error_code(body) == "AuthorizationQueryParametersError", body
    assert error_field(body, "Region") == "eu-west-1"
    url = eu.generate_presigned_url("get_object", Params={"Bucket": "regional", "Key": "k"})
    assert http("GET", url) == (200, b"x")


def test_s3cmd_signing_for_us_follows_the_region_the_server_names(strata, tmp_path):
    """s3cmd signs with "US" until told better: AWS names the right region in the
    AuthorizationHeaderMalformed error, and s3cmd signs again with it."""
    exe = shutil.which("s3cmd")
    if exe is None:
        pytest.skip("s3cmd is not installed; run `make client-deps`")
    s = strata("--region", "eu-west-1")
    config = tmp_path / "s3cfg"
    config.write_text(f"[default]\naccess_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\n"
                      f"host_base = 127.0.0.1:{s.port}\nhost_bucket = 127.0.0.1:{s.port}\n"
                      "use_https = False\nbucket_location = US\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    s.client("eu-west-1").create_bucket(Bucket="s3cmd-region")
    upload = tmp_path / "f.txt"
    upload.write_bytes(b"hello")
    for args in (["put", str(upload), "s3://s3cmd-region/f.txt"], ["ls", "s3://s3cmd-region"]):
        p = subprocess.run([exe, "-c", str(config), *args], env=env, capture_output=True, timeout=120)
        assert p.returncode == 0, (p.stdout, p.stderr)
    assert "s3://s3cmd-region/f.txt" in p.stdout.decode()


def test_any_signing_region_is_accepted_when_none_is_configured(strata):
    """Without --region (flag, environment or config file), Strata accepts a signature
    for any region, and buckets report us-east-1."""
    s = strata()
    assert "region      us-east-1 (requests signed for any region accepted)" in s.log.read_text()
    s.client("us-east-1").create_bucket(Bucket="anywhere")
    for region in ("ap-south-1", "eu-west-1", "US"):
        c = s.client(region)
        c.put_object(Bucket="anywhere", Key=region, Body=b"x")
        assert c.get_bucket_location(Bucket="anywhere").get("LocationConstraint") in (None, "")


# ---------------------------------------------------------------- reserved bucket names


@pytest.mark.parametrize("name", ["xn--bcher-kva", "sthree-data", "amzn-s3-demo-bucket", "data-s3alias",
                                  "data--ol-s3", "data.mrap", "data--x-s3", "data--table-s3"])
def test_create_bucket_with_reserved_prefix_or_suffix_is_invalid_bucket_name(server, s3, name):
    """AWS reserves these prefixes and suffixes: CreateBucket is 400 InvalidBucketName.
    (boto3 takes a name ending in --x-s3 for an S3 Express directory bucket and signs for
    another service, so that one is sent hand-signed, as an SDK signs for S3.)"""
    if name.endswith("--x-s3"):
        target, headers = h.sign_v4(server, "PUT", f"/{name}")
        status, _, body = h.send(server, "PUT", target, b"", headers)
        assert status == 400 and h.error_code(body) == "InvalidBucketName", body
    else:
        response = client_error(lambda: s3.create_bucket(Bucket=name))
        assert response["Error"]["Code"] == "InvalidBucketName", response
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# ---------------------------------------------------------------- x-amz-expected-bucket-owner


def test_expected_bucket_owner_that_differs_is_access_denied(s3, bucket):
    """AWS: ExpectedBucketOwner (x-amz-expected-bucket-owner) that is not the bucket
    owner's id is 403 AccessDenied and changes nothing; the owner's id (Strata: the
    canonical id ListBuckets shows as Owner/ID) passes."""
    owner = s3.list_buckets()["Owner"]["ID"]
    wrong = "0" * 64 if owner != "0" * 64 else "1" * 64
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    refused = [
        lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"y", ExpectedBucketOwner=wrong),
        lambda: s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner=wrong),
        lambda: s3.list_objects_v2(Bucket=bucket, ExpectedBucketOwner=wrong),
        lambda: s3.delete_object(Bucket=bucket, Key="k", ExpectedBucketOwner=wrong),
        lambda: s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]}, ExpectedBucketOwner=wrong),
        lambda: s3.get_bucket_acl(Bucket=bucket, ExpectedBucketOwner=wrong),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="mp", ExpectedBucketOwner=wrong),
        lambda: s3.delete_bucket(Bucket=bucket, ExpectedBucketOwner=wrong),
    ]
    for call in refused:
        response = client_error(call)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 403, response
        assert response["Error"]["Code"] == "AccessDenied", response
    head = client_error(lambda: s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=wrong))
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    s3.put_object(Bucket=bucket, Key="new", Body=b"y", ExpectedBucketOwner=owner)
    s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"},
                   ExpectedBucketOwner=owner, ExpectedSourceBucketOwner=owner)
    response = client_error(lambda: s3.copy_object(Bucket=bucket, Key="copy2", CopySource={"Bucket": bucket, "Key": "k"},
                                                   ExpectedSourceBucketOwner=wrong))
    assert response["Error"]["Code"] == "AccessDenied", response
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["copy", "k", "new"]
