"""AWS Signature Version 4 for the benchmark client: header auth and presigned URLs.

Only what s3bench.py needs: path-style requests, the `host` header signed, payloads
UNSIGNED-PAYLOAD. Every server under test gets signed requests (moto refuses anonymous
GETs; signing everywhere keeps the load identical). `python3 sigv4.py` checks both forms
against botocore byte for byte.
"""
import datetime
import hashlib
import hmac
import urllib.parse

UNSIGNED = "UNSIGNED-PAYLOAD"
_SAFE = "-_.~"


def _quote(s, safe=""):
    return urllib.parse.quote(s, safe=_SAFE + safe)


def _canonical_query(params):
    return "&".join(f"{k}={v}" for k, v in sorted((_quote(k), _quote(str(v))) for k, v in params.items()))


class Signer:
    """Signs for one access key in one region (service s3)."""

    def __init__(self, access_key, secret_key, region="us-east-1"):
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self._keys = {}

    def _signing_key(self, day):
        key = self._keys.get(day)
        if key is None:
            key = ("AWS4" + self.secret_key).encode()
            for part in (day, self.region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys[day] = key
        return key

    def _sign(self, amz_date, canonical_request):
        scope = f"{amz_date[:8]}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical_request.encode()).hexdigest()])
        return hmac.new(self._signing_key(amz_date[:8]), to_sign.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _now(now):
        return (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")

    def headers(self, method, host, path, query=None, now=None, payload_hash=UNSIGNED):
        """The Authorization, x-amz-date and x-amz-content-sha256 headers of a request."""
        amz_date = self._now(now)
        signed = "host;x-amz-content-sha256;x-amz-date"
        canonical = "\n".join([method, _quote(path, "/"), _canonical_query(query or {}),
                               f"host:{host}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{amz_date}\n",
                               signed, payload_hash])
        credential = f"{self.access_key}/{amz_date[:8]}/{self.region}/s3/aws4_request"
        return {
            "x-amz-date": amz_date,
            "x-amz-content-sha256": payload_hash,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}, "
                             f"Signature={self._sign(amz_date, canonical)}",
        }

    def presign(self, method, host, path, query=None, expires=3600, now=None, headers=None):
        """A presigned request target, `path?query`, valid for `expires` seconds. `headers`:
        headers the request will carry that the signature must cover (S3 wants every
        `x-amz-*` header signed, e.g. the encryption headers)."""
        amz_date = self._now(now)
        signed = {name.lower(): value.strip() for name, value in (headers or {}).items()}
        signed["host"] = host
        names = sorted(signed)
        params = dict(query or {})
        params.update({
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{self.access_key}/{amz_date[:8]}/{self.region}/s3/aws4_request",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": ";".join(names),
        })
        uri, query_string = _quote(path, "/"), _canonical_query(params)
        canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)
        canonical = "\n".join([method, uri, query_string, canonical_headers, ";".join(names), UNSIGNED])
        return f"{uri}?{query_string}&X-Amz-Signature={self._sign(amz_date, canonical)}"

    def presign_many(self, method, host, paths, expires=3600, now=None):
        """`presign` for many paths at one time stamp, without repeating the shared work."""
        amz_date = self._now(now)
        scope = f"{amz_date[:8]}/{self.region}/s3/aws4_request"
        query_string = _canonical_query({
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{self.access_key}/{scope}",
            "X-Amz-Date": amz_date, "X-Amz-Expires": str(expires), "X-Amz-SignedHeaders": "host"})
        head, tail = f"{method}\n", f"\n{query_string}\nhost:{host}\n\nhost\n{UNSIGNED}"
        prefix = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n".encode()
        key, sha256 = self._signing_key(amz_date[:8]), hashlib.sha256
        for path in paths:
            uri = _quote(path, "/")
            digest = sha256((head + uri + tail).encode()).hexdigest().encode()
            signature = hmac.new(key, prefix + digest, sha256).hexdigest()
            yield f"{uri}?{query_string}&X-Amz-Signature={signature}"


def selftest():
    """Compares both forms with botocore's signer at a fixed time; True when all match."""
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    fixed = datetime.datetime(2026, 1, 2, 3, 4, 5)
    botocore.auth.get_current_datetime = lambda *a, **k: fixed
    now = fixed.replace(tzinfo=datetime.timezone.utc)
    creds, mine, host = Credentials("AKID", "secret"), Signer("AKID", "secret"), "127.0.0.1:9000"
    ok = True
    for method, path, query in [("PUT", "/bench/a b/k+1~x", {}),
                                ("GET", "/bench", {"list-type": "2", "prefix": "p/q", "max-keys": "1000"}),
                                ("PUT", "/bench/mpu", {"partNumber": "3", "uploadId": "u/+=x"})]:
        url = f"http://{host}{urllib.parse.quote(path)}"
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        theirs = AWSRequest(method=method, url=url, headers={"x-amz-content-sha256": UNSIGNED})
        botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(theirs)
        same = theirs.headers["Authorization"] == mine.headers(
            method, host, path, query, now, theirs.headers["X-Amz-Content-SHA256"])["Authorization"]
        theirs_q = AWSRequest(method=method, url=url)
        botocore.auth.S3SigV4QueryAuth(creds, "s3", "us-east-1", expires=3600).add_auth(theirs_q)
        signature = urllib.parse.parse_qs(urllib.parse.urlsplit(theirs_q.url).query)["X-Amz-Signature"][0]
        same_q = mine.presign(method, host, path, query, 3600, now).endswith("X-Amz-Signature=" + signature)
        if not query:
            same_q = same_q and next(mine.presign_many(method, host, [path], 3600, now)) == \
                mine.presign(method, host, path, None, 3600, now)
        print(f"{method} {path} {query}: header {'ok' if same else 'MISMATCH'}, "
              f"presigned {'ok' if same_q else 'MISMATCH'}")
        ok = ok and same and same_q
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if selftest() else 1)
