"""HTTPS (issue 8): `strata serve --tls-self-signed` makes a certificate for localhost and
127.0.0.1 and writes its CA to DATA/tls-ca.pem; AWS CLI v1 and v2 and boto3 then work
over HTTPS with AWS_CA_BUNDLE pointing at it (objects above the sendfile threshold go
out through buffered reads), and a client without the CA refuses the certificate."""

import os
import re
import subprocess

import pytest

from conftest import ACCESS_KEY, IN_CI, SECRET_KEY, TARGET, free_port, start_server, stop_server
from test_awscli import AWS_V2, find_aws_v1

pytestmark = pytest.mark.skipif(TARGET == "moto", reason="strata's own TLS")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("tls"), ["--tls-self-signed"])
    ca = re.search(r"^  CA file +(\S+)", srv.output(), re.M).group(1)
    yield srv, ca
    stop_server(srv)


def aws(path, ca, port, *args, host="127.0.0.1"):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
           "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": ""}
    if "PYENV_ROOT" in os.environ:
        env["PYENV_ROOT"] = os.environ["PYENV_ROOT"]
    if ca:
        env["AWS_CA_BUNDLE"] = ca
    return subprocess.run([path, "--endpoint-url", f"https://{host}:{port}", *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("major", ["v1", "v2"])
def test_aws_cli_round_trip_over_https_with_the_self_signed_ca(tls_server, tmp_path, major):
    srv, ca = tls_server
    path = find_aws_v1() if major == "v1" else (AWS_V2 if os.path.exists(AWS_V2) else None)
    if path is None:
        if IN_CI:
            pytest.fail(f"AWS CLI {major} is missing")
        pytest.skip(f"AWS CLI {major} is not installed")
    bucket = f"tls-{major}"
    small, big = tmp_path / "small.txt", tmp_path / "big.bin"
    small.write_bytes(b"over https\n")
    big.write_bytes(os.urandom(3 << 20))
    for args in (["s3", "mb", f"s3://{bucket}"], ["s3", "cp", small, f"s3://{bucket}/small.txt"],
                 ["s3", "cp", big, f"s3://{bucket}/big.bin"], ["s3", "cp", f"s3://{bucket}/big.bin", tmp_path / "back.bin"]):
        result = aws(path, ca, srv.port, *args, host="localhost" if major == "v1" else "127.0.0.1")
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
    listing = aws(path, ca, srv.port, "s3", "ls", f"s3://{bucket}")
    assert "small.txt" in listing.stdout and "big.bin" in listing.stdout

    refused = aws(path, None, srv.port, "s3", "ls")
    assert refused.returncode != 0
    assert "certificate" in (refused.stderr + refused.stdout).lower()


def test_boto3_over_https(tls_server):
    import boto3
    from botocore.config import Config

    srv, ca = tls_server
    s3 = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{srv.port}", aws_access_key_id=ACCESS_KEY,
                      aws_secret_access_key=SECRET_KEY, region_name="us-east-1", verify=ca,
                      config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="tls-boto3")
    body = os.urandom(700_000)
    s3.put_object(Bucket="tls-boto3", Key="k", Body=body)
    assert s3.get_object(Bucket="tls-boto3", Key="k")["Body"].read() == body
    assert s3.get_object(Bucket="tls-boto3", Key="k", Range="bytes=100-199")["Body"].read() == body[100:200]
