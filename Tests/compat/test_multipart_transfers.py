"""Multipart uploads as the transfer managers use them (issue 4): big files through
`aws s3 cp` (v1 and v2), boto3's upload_file/download_file with small parts, rclone,
two concurrent uploads to one key, and an aborted upload leaving nothing behind."""

import filecmp
import hashlib
import os
import threading

import pytest
from boto3.s3.transfer import TransferConfig

from conftest import moto_skip, unique_bucket
from test_awscli import aws, bucket_for  # noqa: F401  (the aws fixture, parametrized over v1 and v2)
from test_s3cmd_rclone import rclone  # noqa: F401

MiB = 1024 * 1024


def random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MiB)
            f.write(os.urandom(n))
            left -= n
    return path


def multipart_etag(path, part_size):
    digests = []
    with open(path, "rb") as f:
        while chunk := f.read(part_size):
            digests.append(hashlib.md5(chunk).digest())
    return hashlib.md5(b"".join(digests)).hexdigest() + f"-{len(digests)}"


def test_cli_cp_100_mib_up_and_down(aws, tmp_path):
    b = bucket_for(aws, "cp100")
    aws.run("s3", "mb", f"s3://{b}")
    src = random_file(tmp_path / "big.bin", 100 * MiB)
    aws.run("s3", "cp", str(src), f"s3://{b}/big.bin")
    head = aws.api("head-object", "--bucket", b, "--key", "big.bin")
    assert head["ContentLength"] == 100 * MiB
    # The CLI's default part size is 8 MiB: 13 parts, the S3 multipart ETag.
    assert head["ETag"].strip('"') == multipart_etag(src, 8 * MiB)
    dst = tmp_path / "back.bin"
    aws.run("s3", "cp", f"s3://{b}/big.bin", str(dst))
    assert filecmp.cmp(src, dst, shallow=False)


def test_boto3_upload_file_and_download_file_with_small_parts(s3, bucket, tmp_path):
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    src = random_file(tmp_path / "src.bin", 23 * MiB + 17)
    s3.upload_file(str(src), bucket, "dir/obj.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="dir/obj.bin")
    assert head["ContentLength"] == 23 * MiB + 17
    assert head["ETag"].strip('"') == multipart_etag(src, 5 * MiB)
    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "dir/obj.bin", str(dst), Config=config)
    assert filecmp.cmp(src, dst, shallow=False)
    # GetObject with partNumber returns that part and the part count.
    part = s3.get_object(Bucket=bucket, Key="dir/obj.bin", PartNumber=2)
    assert part["PartsCount"] == 5
    assert part["ContentLength"] == 5 * MiB
    with open(src, "rb") as f:
        f.seek(5 * MiB)
        assert part["Body"].read() == f.read(5 * MiB)


def test_rclone_copies_a_large_file_in_parts(rclone, tmp_path):
    b = unique_bucket("rclone-mp")
    rclone("mkdir", f"s3:{b}")
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = random_file(src_dir / "large.bin", 40 * MiB)
    # rclone uploads in parts above its upload cutoff (default 200 MiB): lowered so the
    # test stays small; the part size is rclone's minimum-compatible 5 MiB.
    rclone("copy", "--s3-upload-cutoff", "10M", "--s3-chunk-size", "5M", str(src_dir), f"s3:{b}")
    out = rclone("lsl", f"s3:{b}").stdout.decode()
    assert "large.bin" in out and str(40 * MiB) in out
    dst_dir = tmp_path / "dst"
    rclone("copy", f"s3:{b}", str(dst_dir))
    assert filecmp.cmp(src, dst_dir / "large.bin", shallow=False)
    rclone("check", str(src_dir), f"s3:{b}")


@moto_skip("the last Complete of two concurrent uploads is not what moto keeps")
def test_two_concurrent_uploads_to_one_key_last_complete_wins(s3, bucket):
    key = "same-key"
    ups = [s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for _ in range(2)]
    bodies = [os.urandom(5 * MiB + 1), os.urandom(5 * MiB + 2)]
    etags = [None, None]

    def upload(i):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=ups[i], PartNumber=1, Body=bodies[i])
        etags[i] = r["ETag"]

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Each upload sees only its own parts.
    for i in range(2):
        parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=ups[i])["Parts"]
        assert [p["ETag"] for p in parts] == [etags[i]]
    for i in (1, 0):
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=ups[i],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etags[i]}]})
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == bodies[0]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
