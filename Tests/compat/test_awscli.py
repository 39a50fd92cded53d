"""AWS CLI v1 (pip) and v2 (Debian's awscli package, /usr/bin/aws), each called by full path."""

import filecmp
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import compat_helpers as h
from conftest import BIG_BUCKET_KEYS, IN_CI, curl, unique_bucket

AWS_V2 = "/usr/bin/aws"


def _version(path):
    try:
        p = subprocess.run([path, "--version"], capture_output=True, timeout=60,
                           env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
                                **({"PYENV_ROOT": os.environ["PYENV_ROOT"]} if "PYENV_ROOT" in os.environ else {})})
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (p.stdout + p.stderr).decode(errors="replace").strip()


def find_aws_v1():
    """STRATA_AWS_V1, else the first `aws` on PATH, else the one next to this Python: whichever is 1.x."""
    candidates = [os.environ.get("STRATA_AWS_V1"), shutil.which("aws"),
                  os.path.join(os.path.dirname(sys.executable), "aws")]
    candidates += [os.path.join(d, "aws") for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK) and _version(c).startswith("aws-cli/1."):
            return c
    return None


@pytest.fixture(scope="session", params=["v1", "v2"])
def aws(request, client_env):
    major = request.param
    path = find_aws_v1() if major == "v1" else (AWS_V2 if os.path.exists(AWS_V2) else None)
    if path is None:
        what = "AWS CLI v1 (pip install awscli)" if major == "v1" else f"AWS CLI v2 ({AWS_V2}, apt install awscli)"
        if IN_CI:
            pytest.fail(f"{what} is missing (CI=true: every client must be present; run `make client-deps`)")
        pytest.skip(f"{what} is not installed; run `make client-deps`")
    return Aws(major, path, client_env)


class Aws:
    def __init__(self, major, path, client_env):
        self.major, self.path, self.env = major, path, client_env

    def __repr__(self):
        return f"aws-{self.major}"

    def run(self, *args, check=True):
        return self.env.run([self.path, "--endpoint-url", self.env.server.endpoint, *args], check=check)

    def json(self, *args):
        out = self.run(*args, "--output", "json").stdout.decode()
        return json.loads(out) if out.strip() else {}

    def api(self, op, *args):
        return self.json("s3api", op, *args)


def bucket_for(aws, label):
    return unique_bucket(f"{aws.major}-{label}")


def make_tree(root: Path):
    files = {
        "top.txt": b"top level\n",
        "empty.bin": b"",
        "dir1/a.bin": os.urandom(20_000),
        "dir1/dir2/b.txt": b"nested " * 100,
        "dir1/dir2/dir3/c with space.txt": b"spaces in the name",
        "other/ü.txt": "unicode name".encode(),
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        # Not modified within the last second: `s3 sync` compares the local mtime with
        # LastModified, which has one-second resolution.
        os.utime(p, (p.stat().st_atime - 3600, p.stat().st_mtime - 3600))
    return files


def assert_same_tree(a: Path, b: Path):
    def walk(root):
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert walk(a) == walk(b)
    for rel in walk(a):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


# ---------------------------------------------------------------- tests


def test_cli_reports_its_major_version(aws):
    p = aws.env.run([aws.path, "--version"])
    out = (p.stdout + p.stderr).decode().strip()
    want = "aws-cli/1." if aws.major == "v1" else "aws-cli/2."
    assert out.startswith(want), f"{aws.path}: {out}"


def test_cli_mb_ls_rb(aws):
    b = bucket_for(aws, "mb")
    out = aws.run("s3", "mb", f"s3://{b}").stdout.decode()
    assert f"make_bucket: {b}" in out
    assert b in aws.run("s3", "ls").stdout.decode()
    assert b in [x["Name"] for x in aws.api("list-buckets")["Buckets"]]
    aws.api("head-bucket", "--bucket", b)
    assert f"remove_bucket: {b}" in aws.run("s3", "rb", f"s3://{b}").stdout.decode()
    assert b not in aws.run("s3", "ls").stdout.decode()


def test_cli_cp_upload_download_roundtrip(aws, tmp_path):
    b = bucket_for(aws, "cp")
    aws.run("s3", "mb", f"s3://{b}")
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(300_000))
    aws.run("s3", "cp", str(src), f"s3://{b}/dir/file.bin")
    dst = tmp_path / "dst.bin"
    aws.run("s3", "cp", f"s3://{b}/dir/file.bin", str(dst))
    assert filecmp.cmp(src, dst, shallow=False)
    listing = aws.run("s3", "ls", f"s3://{b}/dir/").stdout.decode()
    assert "file.bin" in listing and "300000" in listing
    assert "PRE dir/" in aws.run("s3", "ls", f"s3://{b}").stdout.decode()
    # stdin/stdout streaming
    aws.env.run([aws.path, "--endpoint-url", aws.env.server.endpoint, "s3", "cp", "-", f"s3://{b}/stdin.txt"],
                input=b"from stdin\n")
    assert aws.run("s3", "cp", f"s3://{b}/stdin.txt", "-").stdout == b"from stdin\n"


def test_cli_cp_large_file_multipart(aws, tmp_path):
    # 20 MiB is above the CLI's 8 MiB multipart threshold: three parts.
    b = bucket_for(aws, "mpcp")
    aws.run("s3", "mb", f"s3://{b}")
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(20 * 1024 * 1024))
    aws.run("s3", "cp", str(src), f"s3://{b}/big.bin")
    head = aws.api("head-object", "--bucket", b, "--key", "big.bin")
    assert head["ContentLength"] == 20 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-3")
    dst = tmp_path / "big.out"
    aws.run("s3", "cp", f"s3://{b}/big.bin", str(dst))
    assert filecmp.cmp(src, dst, shallow=False)


def test_cli_sync_tree_up_and_down_then_rm_recursive_and_rb(aws, tmp_path):
    b = bucket_for(aws, "sync")
    aws.run("s3", "mb", f"s3://{b}")
    src = tmp_path / "src"
    files = make_tree(src)
    aws.run("s3", "sync", str(src), f"s3://{b}/tree")
    listed = aws.run("s3", "ls", "--recursive", f"s3://{b}/").stdout.decode()
    for rel in files:
        assert f"tree/{rel}" in listed, rel
    # A second sync has nothing to do (sizes and times line up).
    again = aws.run("s3", "sync", "--no-progress", str(src), f"s3://{b}/tree").stdout.decode()
    assert "upload:" not in again, again
    dst = tmp_path / "dst"
    aws.run("s3", "sync", f"s3://{b}/tree", str(dst))
    assert_same_tree(src, dst)
    out = aws.run("s3", "rm", "--recursive", f"s3://{b}/tree").stdout.decode()
    assert out.count("delete:") == len(files)
    assert aws.api("list-objects-v2", "--bucket", b).get("KeyCount", 0) == 0
    aws.run("s3", "rb", f"s3://{b}")
    assert b not in aws.run("s3", "ls").stdout.decode()


def test_cli_put_object_headers_roundtrip(aws, tmp_path):
    b = bucket_for(aws, "hdr")
    aws.run("s3", "mb", f"s3://{b}")
    raw = b"compressible text " * 500
    body = tmp_path / "body.gz"
    body.write_bytes(gzip.compress(raw))
    put = aws.api("put-object", "--bucket", b, "--key", "doc.txt", "--body", str(body),
                  "--metadata", "color=blue,owner=Team-A",
                  "--content-type", "text/plain; charset=utf-8",
                  "--cache-control", "max-age=3600",
                  "--content-disposition", 'attachment; filename="doc.txt"',
                  "--content-encoding", "gzip",
                  "--expires", "2030-01-02T03:04:05Z")
    assert put["ETag"] == f'"{h.md5_hex(body.read_bytes())}"'
    out = tmp_path / "out.gz"
    got = aws.api("get-object", "--bucket", b, "--key", "doc.txt", str(out))
    head = aws.api("head-object", "--bucket", b, "--key", "doc.txt")
    for r in (got, head):
        assert r["Metadata"] == {"color": "blue", "owner": "Team-A"}
        assert r["ContentType"] == "text/plain; charset=utf-8"
        assert r["CacheControl"] == "max-age=3600"
        assert r["ContentDisposition"] == 'attachment; filename="doc.txt"'
        assert r["ContentEncoding"] == "gzip"
        expires = str(r.get("Expires", "")) + " " + str(r.get("ExpiresString", ""))
        assert "2030" in expires, r
        assert r["ContentLength"] == body.stat().st_size
        assert r["ETag"] == put["ETag"]
    assert gzip.decompress(out.read_bytes()) == raw


def test_cli_get_object_ranges(aws, tmp_path):
    b = bucket_for(aws, "range")
    aws.run("s3", "mb", f"s3://{b}")
    data = bytes(range(256)) * 8
    src = tmp_path / "src"
    src.write_bytes(data)
    aws.api("put-object", "--bucket", b, "--key", "r", "--body", str(src))
    n = len(data)
    for rng, want, cr in (("bytes=0-9", data[:10], f"bytes 0-9/{n}"),
                          ("bytes=-100", data[-100:], f"bytes {n - 100}-{n - 1}/{n}"),
                          ("bytes=2000-", data[2000:], f"bytes 2000-{n - 1}/{n}")):
        out = tmp_path / "out"
        r = aws.api("get-object", "--bucket", b, "--key", "r", "--range", rng, str(out))
        assert out.read_bytes() == want, rng
        assert r["ContentRange"] == cr and r["ContentLength"] == len(want), rng


def test_cli_copy_object_metadata_directive(aws, tmp_path):
    b = bucket_for(aws, "copy")
    aws.run("s3", "mb", f"s3://{b}")
    src = tmp_path / "src"
    src.write_bytes(b"copy me")
    aws.api("put-object", "--bucket", b, "--key", "src key", "--body", str(src),
            "--metadata", "orig=1", "--content-type", "text/x-orig")
    aws.api("copy-object", "--bucket", b, "--key", "copied", "--copy-source", f"{b}/src key",
            "--metadata-directive", "COPY")
    head = aws.api("head-object", "--bucket", b, "--key", "copied")
    assert head["Metadata"] == {"orig": "1"} and head["ContentType"] == "text/x-orig"
    aws.api("copy-object", "--bucket", b, "--key", "replaced", "--copy-source", f"{b}/src key",
            "--metadata-directive", "REPLACE", "--metadata", "new=2", "--content-type", "text/x-new")
    head = aws.api("head-object", "--bucket", b, "--key", "replaced")
    assert head["Metadata"] == {"new": "2"} and head["ContentType"] == "text/x-new"
    out = tmp_path / "out"
    aws.api("get-object", "--bucket", b, "--key", "replaced", str(out))
    assert out.read_bytes() == b"copy me"


def test_cli_delete_objects(aws, tmp_path):
    b = bucket_for(aws, "delobjs")
    aws.run("s3", "mb", f"s3://{b}")
    f = tmp_path / "f"
    f.write_bytes(b"x")
    for k in ("a", "b/c", "d e"):
        aws.api("put-object", "--bucket", b, "--key", k, "--body", str(f))
    r = aws.api("delete-objects", "--bucket", b, "--delete",
                json.dumps({"Objects": [{"Key": "a"}, {"Key": "b/c"}, {"Key": "d e"}]}))
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "b/c", "d e"]
    assert not r.get("Errors")
    assert aws.api("list-objects-v2", "--bucket", b).get("KeyCount", 0) == 0


@pytest.mark.parametrize("operation,page_size", [("list-objects", None), ("list-objects-v2", None),
                                                 ("list-objects-v2", "300")])
def test_cli_list_1200_keys_pages_through_all_exactly_once(aws, big_bucket, operation, page_size):
    args = ["--bucket", big_bucket] + (["--page-size", page_size] if page_size else [])
    r = aws.api(operation, *args)
    keys = [o["Key"] for o in r["Contents"]]
    assert len(keys) == 1200
    assert sorted(keys) == sorted(BIG_BUCKET_KEYS)
    assert keys == sorted(keys)


def test_cli_get_bucket_location(aws):
    b = bucket_for(aws, "loc")
    aws.run("s3", "mb", f"s3://{b}")
    assert aws.api("get-bucket-location", "--bucket", b).get("LocationConstraint") in (None, "")


def test_cli_presign_then_curl_get(aws, tmp_path):
    b = bucket_for(aws, "presign")
    aws.run("s3", "mb", f"s3://{b}")
    src = tmp_path / "src"
    src.write_bytes(os.urandom(5000))
    aws.run("s3", "cp", str(src), f"s3://{b}/pre signed+ü.bin")
    url = aws.run("s3", "presign", f"s3://{b}/pre signed+ü.bin", "--expires-in", "300").stdout.decode().strip()
    # v1 signs presigned URLs with SigV2 here, v2 with SigV4: the server must take both.
    kind = "sigv4" if "X-Amz-Signature=" in url else "sigv2" if "Signature=" in url else "?"
    assert kind != "?", url
    status, body = curl(aws.env, url)
    assert status == 200, (kind, status, body[:500])
    assert body == src.read_bytes(), kind
