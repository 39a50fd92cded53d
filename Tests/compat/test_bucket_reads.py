"""Every bucket read the AWS CLI v2 knows, against a fresh bucket: none answers 501.

Terraform's aws_s3_bucket and the SDKs read a dozen bucket sub-resources on every plan;
S3 answers a bucket without a configuration with an empty document or a 404 of its own
(NoSuchWebsiteConfiguration, ReplicationConfigurationNotFoundError, ...), never 501. The
operations come from the CLI's own service model (its botocore data), so a CLI that knows
a new GetBucket* call tests it too.
"""
import glob
import json
import os
import re

import pytest

from conftest import IN_CI, unique_bucket
from test_awscli import AWS_V2, Aws

MODEL_GLOB = "/usr/lib/python3/dist-packages/awscli/botocore/data/s3/*/service-2.json"


@pytest.fixture(scope="module")
def aws2(client_env):
    if not os.path.exists(AWS_V2):
        if IN_CI:
            pytest.fail(f"AWS CLI v2 ({AWS_V2}) is missing (CI=true: run `make client-deps`)")
        pytest.skip(f"AWS CLI v2 ({AWS_V2}) is not installed; run `make client-deps`")
    return Aws("v2", AWS_V2, client_env)


def bucket_reads():
    """(operation, needs an Id) for every GetBucket*/ListBucket* call of the CLI's model."""
    models = sorted(glob.glob(MODEL_GLOB))
    if not models:
        return []
    model = json.load(open(models[-1]))
    out = []
    for name, op in sorted(model["operations"].items()):
        if not (name.startswith("GetBucket") or (name.startswith("ListBucket") and name != "ListBuckets")
                or name == "GetObjectLockConfiguration"):
            continue
        shape = model["shapes"].get(op.get("input", {}).get("shape", ""), {})
        out.append((name, "Id" in shape.get("required", [])))
    return out


def kebab(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def test_every_bucket_read_of_the_aws_cli_answers_without_501(aws2, s3):
    reads = bucket_reads()
    if not reads:
        pytest.skip(f"no S3 service model under {MODEL_GLOB}")
    assert len(reads) >= 20, reads  # the CLI knows at least these many bucket reads
    bucket = unique_bucket("reads")
    s3.create_bucket(Bucket=bucket)
    answers = {}
    for name, needs_id in reads:
        args = ["s3api", kebab(name), "--bucket", bucket] + (["--id", "none"] if needs_id else [])
        result = aws2.run(*args, check=False)
        text = (result.stdout + result.stderr).decode(errors="replace")
        code = re.search(r"\(([A-Za-z.]+)\) when calling", text)
        answers[name] = "ok" if result.returncode == 0 else (code.group(1) if code else text.strip()[-200:])
    not_implemented = {n: a for n, a in answers.items() if "NotImplemented" in a or "501" in a}
    assert not not_implemented, not_implemented
    # Spot checks of what an unconfigured AWS bucket answers.
    assert answers["GetBucketWebsite"] == "NoSuchWebsiteConfiguration", answers
    assert answers["GetBucketReplication"] == "ReplicationConfigurationNotFoundError", answers
    assert answers["GetBucketAccelerateConfiguration"] == "ok", answers
    assert answers["GetBucketRequestPayment"] == "ok", answers
    assert answers["GetObjectLockConfiguration"] == "ObjectLockConfigurationNotFoundError", answers
    assert answers["GetBucketEncryption"] == "ServerSideEncryptionConfigurationNotFoundError", answers
    assert answers["ListBucketMetricsConfigurations"] == "ok", answers
    assert answers["GetBucketAnalyticsConfiguration"] == "NoSuchConfiguration", answers
