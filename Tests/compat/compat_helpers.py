"""Checksums computed locally, and hand-built signed requests for the cases no client sends."""

import base64
import hashlib
import http.client
import zlib
from urllib.parse import urlsplit

# ---------------------------------------------------------------- checksums (pure Python)


def _reflected_table(poly, width):
    mask = (1 << width) - 1
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c & mask)
    return table


_CRC32C_TABLE = _reflected_table(0x82F63B78, 32)
_CRC64NVME_TABLE = _reflected_table(0x9A6C9329AC4BC9B5, 64)


def _reflected_crc(data, table, width):
    mask = (1 << width) - 1
    crc = mask
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ mask


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def crc32c(data):
    return _reflected_crc(data, _CRC32C_TABLE, 32)


def crc64nvme(data):
    return _reflected_crc(data, _CRC64NVME_TABLE, 64)


def checksum_b64(algorithm, data):
    """The value S3 puts in x-amz-checksum-<algorithm>: base64 of the big-endian digest."""
    a = algorithm.upper()
    if a == "CRC32":
        raw = crc32(data).to_bytes(4, "big")
    elif a == "CRC32C":
        raw = crc32c(data).to_bytes(4, "big")
    elif a == "CRC64NVME":
        raw = crc64nvme(data).to_bytes(8, "big")
    elif a == "SHA1":
        raw = hashlib.sha1(data).digest()
    elif a == "SHA256":
        raw = hashlib.sha256(data).digest()
    else:
        raise ValueError(algorithm)
    return base64.b64encode(raw).decode()


def checksum_raw(algorithm, data):
    return base64.b64decode(checksum_b64(algorithm, data))


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


# ---------------------------------------------------------------- hand-signed requests


def sign_v4(server, method, path, body=b"", headers=None, payload_hash=None, secret=None, when=None):
    """Signs like an SDK would (SigV4, header auth) and returns (path_and_query, headers).

    payload_hash goes into x-amz-content-sha256 verbatim (a hash of other bytes, or one of
    the literal values); when (a datetime) overrides the signing time.
    """
    from botocore import auth as bauth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=dict(headers or {}))
    req.headers["X-Amz-Content-SHA256"] = payload_hash or hashlib.sha256(body).hexdigest()
    signer = bauth.SigV4Auth(Credentials(server.access_key, secret or server.secret_key), "s3", server.region)
    if when is None:
        signer.add_auth(req)
    else:
        saved = bauth.get_current_datetime
        bauth.get_current_datetime = lambda: when
        try:
            signer.add_auth(req)
        finally:
            bauth.get_current_datetime = saved
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    target = parts.path + (("?" + parts.query) if parts.query else "")
    # Content-Length is not signed; send() sets it for the bytes actually sent (or uses
    # Transfer-Encoding: chunked instead).
    return target, {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}


def send(server, method, target, body=b"", headers=None, chunked=False, timeout=30):
    """Sends one request on a fresh connection; returns (status, headers dict lower-cased, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        headers = dict(headers or {})
        if chunked:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(body), 7000):
                piece = body[i:i + 7000]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def error_code(body):
    """The <Code> of an S3 XML error body (or None)."""
    import re

    m = re.search(rb"<Code>([^<]*)</Code>", body or b"")
    return m.group(1).decode() if m else None


def aws_chunked_unsigned(data, chunk_size, trailer_name=None, trailer_value=None):
    """An aws-chunked body as SDKs send it with STREAMING-UNSIGNED-PAYLOAD-TRAILER."""
    out = bytearray()
    for i in range(0, len(data), chunk_size):
        piece = data[i:i + chunk_size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    out += b"0\r\n"
    if trailer_name:
        out += f"{trailer_name}:{trailer_value}\r\n".encode()
    out += b"\r\n"
    return bytes(out)
