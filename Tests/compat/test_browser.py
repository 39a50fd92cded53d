"""What a browser does, driven with boto3 (configuration, presigning) and `requests` (the
page's own HTTP): bucket CORS, the preflight OPTIONS, CORS headers on actual requests,
and HTML form uploads (POST policy signed by boto3's generate_presigned_post)."""

import hashlib
import http.client
import os

import pytest
import requests
from botocore.exceptions import ClientError

import compat_helpers as h
from conftest import SKIP_UNDER_MOTO, make_client, unique_bucket

ORIGIN = "https://app.example.com"
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

CORS = {
    "CORSRules": [
        {
            "ID": "app",
            "AllowedOrigins": [ORIGIN, "https://*.example.org"],
            "AllowedMethods": ["PUT", "GET", "POST"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "x-amz-request-id"],
            "MaxAgeSeconds": 3000,
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
    ]
}


def code_of(exc_info):
    return exc_info.value.response["Error"]["Code"]


def session():
    s = requests.Session()
    s.trust_env = False  # no proxies from the environment: loopback only
    return s


# ---------------------------------------------------------------- CORS configuration


def test_cors_configuration_round_trip(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert code_of(e) == "NoSuchCORSConfiguration"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == [ORIGIN, "https://*.example.org"]
    assert rules[0]["AllowedHeaders"] == ["*"]
    assert rules[0]["MaxAgeSeconds"] == 3000
    assert rules[1]["AllowedMethods"] == ["GET", "HEAD"]
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert code_of(e) == "NoSuchCORSConfiguration"


@pytest.mark.parametrize(
    "rules, code",
    [
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}], "InvalidRequest"),
        ([{"AllowedOrigins": ["http://*.*.example.com"], "AllowedMethods": ["GET"]}], "InvalidRequest"),
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, "InvalidRequest"),
        ([{"AllowedOrigins": [], "AllowedMethods": ["GET"]}], "MalformedXML"),
    ],
    ids=["unsupported-method", "two-wildcards", "too-many-rules", "no-origin"],
)
def test_invalid_cors_configuration_is_refused(s3, bucket, rules, code):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert code_of(e) == code
    # Nothing changed.
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["ID"] == "app"


def test_cors_on_missing_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket="compat-no-such-bucket-cors")
    assert code_of(e) == "NoSuchBucket"


# ---------------------------------------------------------------- preflight and actual requests


@SKIP_UNDER_MOTO
def test_browser_page_uploads_to_presigned_url(server, s3, bucket):
    """The flow of a page: preflight OPTIONS, then the presigned PUT with an Origin header;
    the page can read the ETag because it is exposed."""
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "from-page.txt",
                                                          "ContentType": "text/plain"}, ExpiresIn=300)
    with session() as web:
        pre = web.options(url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
                                        "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code == 200, pre.text
        assert pre.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert pre.headers["Access-Control-Allow-Methods"] == "PUT, GET, POST"
        assert pre.headers["Access-Control-Allow-Headers"] == "content-type"
        assert pre.headers["Access-Control-Max-Age"] == "3000"
        assert pre.headers["Access-Control-Allow-Credentials"] == "true"
        assert pre.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
        assert pre.headers["Vary"] == VARY

        body = b"uploaded by a browser page\n" * 100
        put = web.put(url, data=body, headers={"Origin": ORIGIN, "Content-Type": "text/plain"})
        assert put.status_code == 200, put.text
        assert put.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert put.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
        assert put.headers["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'

        # A wildcard subdomain origin matches the first rule too.
        pre = web.options(url, headers={"Origin": "https://cdn.example.org", "Access-Control-Request-Method": "PUT"})
        assert pre.status_code == 200
        assert pre.headers["Access-Control-Allow-Origin"] == "https://cdn.example.org"

        # Any origin may GET (second rule): S3 answers "*" and no credentials header.
        get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "from-page.txt"})
        got = web.get(get_url, headers={"Origin": "http://elsewhere.test"})
        assert got.status_code == 200
        assert got.content == body
        assert got.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in got.headers

    obj = s3.get_object(Bucket=bucket, Key="from-page.txt")
    assert obj["Body"].read() == body
    assert obj["ContentType"] == "text/plain"


@SKIP_UNDER_MOTO
def test_preflight_denials(server, s3, bucket):
    url = f"{server.endpoint}/{bucket}/k"
    with session() as web:
        # No CORS configuration.
        r = web.options(url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"})
        assert r.status_code == 403
        assert h.error_code(r.content) == "AccessForbidden"
        assert b"CORS is not enabled for this bucket" in r.content

        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
        for headers in (
            {"Origin": "https://evil.test", "Access-Control-Request-Method": "PUT"},  # origin
            {"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"},  # method
            {"Origin": "http://elsewhere.test", "Access-Control-Request-Method": "GET",
             "Access-Control-Request-Headers": "x-amz-meta-a"},  # header not allowed by rule 2
        ):
            r = web.options(url, headers=headers)
            assert r.status_code == 403, headers
            assert h.error_code(r.content) == "AccessForbidden"
            assert b"This CORS request is not allowed" in r.content
            assert "Access-Control-Allow-Origin" not in r.headers

        r = web.options(url, headers={"Access-Control-Request-Method": "PUT"})
        assert r.status_code == 400
        assert h.error_code(r.content) == "BadRequest"
        r = web.options(url, headers={"Origin": ORIGIN})
        assert r.status_code == 400

        # An actual request from an origin no rule allows gets no CORS headers (the
        # browser then hides the response from the page).
        put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"})
        r = web.put(put_url, data=b"x", headers={"Origin": "https://evil.test"})
        assert r.status_code == 200
        assert "Access-Control-Allow-Origin" not in r.headers


@SKIP_UNDER_MOTO
def test_error_responses_carry_cors_headers(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "missing"})
    with session() as web:
        r = web.get(url, headers={"Origin": ORIGIN})
        assert r.status_code == 404
        assert h.error_code(r.content) == "NoSuchKey"
        assert r.headers["Access-Control-Allow-Origin"] == ORIGIN


# ---------------------------------------------------------------- POST (HTML form) uploads


@pytest.fixture(scope="module")
def s3v4(server):
    """A client whose generate_presigned_post signs with SigV4 (x-amz-signature); boto3's
    default for it is still SigV2 (AWSAccessKeyId + signature)."""
    return make_client(server, signature_version="s3v4")


def post_form(post, files_field=("file", b""), extra_fields=None, after=None):
    """Posts a form as a browser does: the fields, then the file; returns the response."""
    fields = dict(post["fields"])
    fields.update(extra_fields or {})
    parts = [(name, (None, value)) for name, value in fields.items()]
    name, content = files_field
    parts.append(("file", ("photo.bin", content, "application/octet-stream")))
    for name, value in (after or {}).items():
        parts.append((name, (None, value)))
    with session() as web:
        return web.post(post["url"], files=parts, allow_redirects=False)


@SKIP_UNDER_MOTO
def test_post_upload_with_presigned_post(s3, s3v4, bucket):
    post = s3v4.generate_presigned_post(
        bucket, "uploads/${filename}",
        Fields={"success_action_status": "201", "Content-Type": "image/png", "x-amz-meta-owner": "page"},
        Conditions=[{"success_action_status": "201"}, ["starts-with", "$Content-Type", "image/"],
                    {"x-amz-meta-owner": "page"}, ["content-length-range", 1, 10 * 1024 * 1024]],
        ExpiresIn=300)
    assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    body = os.urandom(200_000)
    r = post_form(post, ("file", body), after={"ignored-after-file": "x"})
    assert r.status_code == 201, r.text
    assert b"<Key>uploads/photo.bin</Key>" in r.content
    assert f"<Bucket>{bucket}</Bucket>".encode() in r.content
    assert r.headers["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    obj = s3.get_object(Bucket=bucket, Key="uploads/photo.bin")
    assert obj["Body"].read() == body
    assert obj["ContentType"] == "image/png"
    assert obj["Metadata"] == {"owner": "page"}


@SKIP_UNDER_MOTO
def test_post_upload_default_status_and_redirect(s3, bucket):
    """boto3's default generate_presigned_post signs with SigV2 (AWSAccessKeyId, signature)."""
    post = s3.generate_presigned_post(bucket, "plain.txt", ExpiresIn=300)
    assert "signature" in post["fields"]
    r = post_form(post, ("file", b"hello"))
    assert r.status_code == 204, r.text
    assert r.headers["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="plain.txt")["Body"].read() == b"hello"

    redirect = "https://app.example.com/done"
    post = s3.generate_presigned_post(bucket, "redirected.txt", Fields={"success_action_redirect": redirect},
                                      Conditions=[{"success_action_redirect": redirect}], ExpiresIn=300)
    r = post_form(post, ("file", b"bye"))
    assert r.status_code == 303, r.text
    location = r.headers["Location"]
    assert location.startswith(redirect + "?bucket=" + bucket)
    assert "key=redirected.txt" in location and "etag=%22" in location


@SKIP_UNDER_MOTO
def test_post_upload_streams_a_large_file(server, s3, s3v4, bucket):
    """A 64 MiB file goes through the streamed multipart parser into the store intact."""
    post = s3v4.generate_presigned_post(bucket, "big.bin", ExpiresIn=300)
    chunk = os.urandom(1 << 20)
    size = 64
    digest = hashlib.md5()
    for _ in range(size):
        digest.update(chunk)

    boundary = "----strataLargeBoundary"
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in post["fields"].items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
             f"Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    # Sent piece by piece with a Content-Length (requests would send a generator chunked).
    length = len(head) + size * len(chunk) + len(tail)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.putrequest("POST", f"/{bucket}")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        conn.send(head)
        for _ in range(size):
            conn.send(chunk)
        conn.send(tail)
        r = conn.getresponse()
        text = r.read()
        assert r.status == 204, text
        assert r.getheader("ETag") == f'"{digest.hexdigest()}"'
    finally:
        conn.close()
    head_obj = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head_obj["ContentLength"] == size * len(chunk)
    assert head_obj["ETag"] == f'"{digest.hexdigest()}"'


def assert_post_refused(s3, bucket, response, code, key="denied.bin"):
    assert response.status_code in (400, 403), response.text
    assert h.error_code(response.content) == code, response.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key=key)


@SKIP_UNDER_MOTO
@pytest.mark.parametrize("version", ["v4", "v2"])
def test_post_upload_denials(s3, s3v4, bucket, version):
    signer = s3v4 if version == "v4" else s3
    signature_field = "x-amz-signature" if version == "v4" else "signature"
    limited = signer.generate_presigned_post(bucket, "denied.bin", Conditions=[["content-length-range", 10, 100]],
                                         ExpiresIn=300)
    assert_post_refused(s3, bucket, post_form(limited, ("file", b"x" * 101)), "EntityTooLarge")
    assert_post_refused(s3, bucket, post_form(limited, ("file", b"x" * 9)), "EntityTooSmall")

    post = signer.generate_presigned_post(bucket, "denied.bin", ExpiresIn=300)
    # A field no condition covers.
    r = post_form(post, ("file", b"data"), extra_fields={"x-amz-meta-sneaky": "1"})
    assert_post_refused(s3, bucket, r, "AccessDenied")
    assert b"Extra input fields: x-amz-meta-sneaky" in r.content
    # A field that fails its condition.
    r = post_form(post, ("file", b"data"), extra_fields={"key": "other.bin"})
    assert_post_refused(s3, bucket, r, "AccessDenied")
    assert b"Policy Condition failed" in r.content
    # A tampered signature.
    r = post_form(post, ("file", b"data"), extra_fields={signature_field: post["fields"][signature_field][::-1]})
    assert_post_refused(s3, bucket, r, "SignatureDoesNotMatch")
    # A policy that is not a policy (signed, so only its content is wrong).
    expired = signer.generate_presigned_post(bucket, "denied.bin", ExpiresIn=-60)
    r = post_form(expired, ("file", b"data"))
    assert_post_refused(s3, bucket, r, "AccessDenied")
    assert b"Policy expired" in r.content
    # No signature fields at all: an anonymous upload.
    with session() as web:
        r = web.post(post["url"], files=[("key", (None, "denied.bin")), ("file", ("f", b"data"))])
    assert_post_refused(s3, bucket, r, "AccessDenied")
    # No file.
    with session() as web:
        r = web.post(post["url"], files=[(k, (None, v)) for k, v in post["fields"].items()])
    assert_post_refused(s3, bucket, r, "InvalidArgument")
    # A canned ACL field (covered by the policy) applies to the stored object.
    acl = signer.generate_presigned_post(bucket, "public.bin", Fields={"acl": "public-read"},
                                     Conditions=[{"acl": "public-read"}], ExpiresIn=300)
    r = post_form(acl, ("file", b"data"))
    assert r.status_code == 204, r.text
    with session() as web:
        assert web.get(f"{post['url'].rstrip('/')}/public.bin").content == b"data"
    # An unknown canned ACL is refused and stores nothing.
    bad = signer.generate_presigned_post(bucket, "denied.bin", Fields={"acl": "everyone"},
                                         Conditions=[{"acl": "everyone"}], ExpiresIn=300)
    assert_post_refused(s3, bucket, post_form(bad, ("file", b"data")), "InvalidArgument")


@SKIP_UNDER_MOTO
def test_post_upload_cut_short_stores_nothing(server, s3, s3v4, bucket):
    import socket

    post = s3v4.generate_presigned_post(bucket, "denied.bin", ExpiresIn=300)
    boundary = "cutShortBoundary"
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in post["fields"].items())
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'.encode()
    body = head + b"x" * 100_000
    request = (f"POST /{bucket} HTTP/1.1\r\nHost: {server.host}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
               f"Content-Length: {len(body) + 1_000_000}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="denied.bin")


@SKIP_UNDER_MOTO
def test_post_upload_with_cors(s3, bucket):
    """A page posting its form cross-origin gets the CORS headers on the POST response."""
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    post = s3.generate_presigned_post(bucket, "cors-post.bin", ExpiresIn=300)
    parts = [(k, (None, v)) for k, v in post["fields"].items()] + [("file", ("f", b"abc"))]
    with session() as web:
        r = web.post(post["url"], files=parts, headers={"Origin": ORIGIN})
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN


# ---------------------------------------------------------------- AWS CLI s3api

from test_awscli import aws  # noqa: E402,F401  (the v1/v2 fixture)


@SKIP_UNDER_MOTO
def test_awscli_cors(aws, tmp_path):  # noqa: F811
    import json

    name = unique_bucket(f"{aws.major}-cors")
    aws.api("create-bucket", "--bucket", name)
    missing = aws.run("s3api", "get-bucket-cors", "--bucket", name, check=False)
    assert missing.returncode != 0 and b"NoSuchCORSConfiguration" in missing.stderr
    config = {"CORSRules": [{"AllowedOrigins": [ORIGIN], "AllowedMethods": ["PUT", "GET"], "AllowedHeaders": ["*"],
                             "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]}
    aws.api("put-bucket-cors", "--bucket", name, "--cors-configuration", json.dumps(config))
    assert aws.api("get-bucket-cors", "--bucket", name)["CORSRules"][0]["AllowedMethods"] == ["PUT", "GET"]
    refused = aws.run("s3api", "put-bucket-cors", "--bucket", name, "--cors-configuration",
                      json.dumps({"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}), check=False)
    assert refused.returncode != 0 and b"InvalidRequest" in refused.stderr
    aws.api("delete-bucket-cors", "--bucket", name)
    missing = aws.run("s3api", "get-bucket-cors", "--bucket", name, check=False)
    assert missing.returncode != 0 and b"NoSuchCORSConfiguration" in missing.stderr
