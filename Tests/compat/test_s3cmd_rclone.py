"""s3cmd (Debian 2.3.0) and rclone (Debian 1.60) against the server."""

import filecmp
import os
import shutil
from pathlib import Path

import pytest

from conftest import IN_CI, curl, unique_bucket


def require(tool):
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} is missing (CI=true: every client must be present; run `make client-deps`)")
        pytest.skip(f"{tool} is not installed; run `make client-deps`")
    return path


@pytest.fixture(scope="module")
def s3cmd(client_env):
    exe = require("s3cmd")

    def run(*args, **kw):
        return client_env.run([exe, "-c", str(client_env.home / ".s3cfg"), *args], **kw)
    return run


@pytest.fixture(scope="module")
def rclone(client_env):
    exe = require("rclone")

    def run(*args, **kw):
        return client_env.run([exe, "--retries", "1", "--low-level-retries", "2", *args], **kw)
    return run


def make_tree(root: Path):
    files = {
        "a.txt": b"alpha\n",
        "sub/b.bin": os.urandom(40_000),
        "sub/deeper/c.txt": b"gamma " * 300,
        "sub/deeper/d with space.txt": b"delta",
        "empty": b"",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


# ---------------------------------------------------------------- s3cmd


def test_s3cmd_version(s3cmd):
    assert s3cmd("--version").stdout.decode().startswith("s3cmd version 2.")


def test_s3cmd_mb_put_ls_get_del_rb(s3cmd, tmp_path):
    b = unique_bucket("s3cmd")
    s3cmd("mb", f"s3://{b}")
    assert f"s3://{b}" in s3cmd("ls").stdout.decode()
    src = tmp_path / "upload.bin"
    src.write_bytes(os.urandom(70_000))
    s3cmd("put", str(src), f"s3://{b}/dir/upload.bin")
    listing = s3cmd("ls", f"s3://{b}/dir/").stdout.decode()
    assert f"s3://{b}/dir/upload.bin" in listing and "70000" in listing
    top = s3cmd("ls", f"s3://{b}").stdout.decode()
    assert "DIR" in top and f"s3://{b}/dir/" in top, top
    info = s3cmd("info", f"s3://{b}/dir/upload.bin").stdout.decode()
    assert "70000" in info
    dst = tmp_path / "download.bin"
    s3cmd("get", f"s3://{b}/dir/upload.bin", str(dst))
    assert filecmp.cmp(src, dst, shallow=False)
    s3cmd("del", f"s3://{b}/dir/upload.bin")
    assert "upload.bin" not in s3cmd("ls", "-r", f"s3://{b}").stdout.decode()
    s3cmd("rb", f"s3://{b}")
    assert f"s3://{b}" not in s3cmd("ls").stdout.decode()


def test_s3cmd_large_file_multipart(s3cmd, tmp_path):
    # s3cmd splits uploads above 15 MiB into 15 MiB parts.
    b = unique_bucket("s3cmd-mp")
    s3cmd("mb", f"s3://{b}")
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(17 * 1024 * 1024))
    s3cmd("put", str(src), f"s3://{b}/big.bin")
    dst = tmp_path / "big.out"
    s3cmd("get", f"s3://{b}/big.bin", str(dst))
    assert filecmp.cmp(src, dst, shallow=False)


def test_s3cmd_signurl_then_curl_get(s3cmd, client_env, tmp_path):
    b = unique_bucket("s3cmd-sign")
    s3cmd("mb", f"s3://{b}")
    src = tmp_path / "signed.txt"
    src.write_bytes(b"fetched through an s3cmd signed URL\n")
    s3cmd("put", str(src), f"s3://{b}/signed.txt")
    url = s3cmd("signurl", f"s3://{b}/signed.txt", "+600").stdout.decode().strip().splitlines()[-1]
    assert url.startswith("http://"), url
    status, body = curl(client_env, url)
    assert status == 200, (url, status, body[:500])
    assert body == src.read_bytes()


# ---------------------------------------------------------------- rclone


def test_rclone_version(rclone):
    assert rclone("version").stdout.decode().startswith("rclone v1.")


def test_rclone_mkdir_copy_ls_check_delete_rmdir(rclone, tmp_path):
    b = unique_bucket("rclone")
    src = tmp_path / "src"
    files = make_tree(src)
    rclone("mkdir", f"s3:{b}")
    assert b in rclone("lsd", "s3:").stdout.decode()
    rclone("copy", str(src), f"s3:{b}/tree")
    lsf = sorted(rclone("lsf", "-R", "--files-only", f"s3:{b}/tree").stdout.decode().splitlines())
    assert lsf == sorted(files)
    ls = rclone("ls", f"s3:{b}").stdout.decode()
    for rel, data in files.items():
        assert f"{len(data)} tree/{rel}" in " ".join(ls.split()), (rel, ls)
    # check compares sizes and MD5s (the ETags of single-part uploads).
    rclone("check", str(src), f"s3:{b}/tree")
    dst = tmp_path / "dst"
    rclone("copy", f"s3:{b}/tree", str(dst))
    for rel, data in files.items():
        assert (dst / rel).read_bytes() == data, rel
    # A modified local file makes check fail.
    (src / "a.txt").write_bytes(b"changed\n")
    assert rclone("check", str(src), f"s3:{b}/tree", check=False).returncode != 0
    rclone("delete", f"s3:{b}")
    assert rclone("lsf", "-R", f"s3:{b}").stdout.decode().strip() == ""
    rclone("rmdir", f"s3:{b}")
    assert b not in rclone("lsd", "s3:").stdout.decode()
