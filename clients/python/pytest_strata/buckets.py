"""Bucket helpers: unique names, and emptying and deleting a bucket after a test."""

from __future__ import annotations

import re
import uuid
from typing import Any, Dict, List, Optional


def unique_bucket_name(hint: str = "", prefix: str = "pytest") -> str:
    """A valid, unique bucket name: `prefix-HINT-xxxxxxxxxxxx` in lower case, at most 63
    characters (HINT, e.g. the test's name, shortened and cleaned to letters, digits and
    dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")
    prefix = re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-") or "pytest"
    suffix = uuid.uuid4().hex[:12]
    room = 63 - len(prefix) - len(suffix) - 2
    slug = slug[:max(room, 0)].strip("-")
    return "-".join(part for part in (prefix, slug, suffix) if part)


def create_bucket(client: Any, name: str, region: Optional[str] = None) -> None:
    """CreateBucket, with the LocationConstraint S3 wants outside us-east-1."""
    region = region or client.meta.region_name
    if region and region != "us-east-1":
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    else:
        client.create_bucket(Bucket=name)


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def empty_bucket(client: Any, name: str) -> None:
    """Aborts the bucket's open multipart uploads and deletes every object version and
    delete marker (also in an unversioned bucket, where each object is the `null`
    version). Versions under GOVERNANCE retention are deleted with the bypass; anything
    else that cannot be deleted (COMPLIANCE retention, a legal hold) raises."""
    from botocore.exceptions import ClientError

    try:
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for upload in page.get("Uploads", []):
                try:
                    client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
                except ClientError as error:
                    if _code(error) not in ("NoSuchUpload", "404"):
                        raise
        for _ in range(5):  # listing again catches what was written while deleting
            targets: List[Dict[str, str]] = []
            for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
                for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    targets.append({"Key": entry["Key"], "VersionId": entry.get("VersionId") or "null"})
            if not targets:
                return
            failed = []
            for start in range(0, len(targets), 1000):
                batch = targets[start:start + 1000]
                answer = client.delete_objects(Bucket=name, Delete={"Objects": batch, "Quiet": True})
                errors = answer.get("Errors", [])
                if errors:
                    retry = [{"Key": e["Key"], "VersionId": e.get("VersionId") or "null"} for e in errors]
                    answer = client.delete_objects(Bucket=name, Delete={"Objects": retry, "Quiet": True},
                                                   BypassGovernanceRetention=True)
                    failed += answer.get("Errors", [])
            if failed:
                shown = ", ".join(f"{e.get('Key')} ({e.get('VersionId')}): {e.get('Code')}" for e in failed[:5])
                raise RuntimeError(f"cannot empty bucket {name}: {len(failed)} versions not deleted: {shown}")
    except ClientError as error:
        if _code(error) in ("NoSuchBucket", "404"):
            return
        raise


def delete_bucket(client: Any, name: str) -> None:
    """Empties the bucket (empty_bucket) and deletes it; a bucket already gone is fine."""
    from botocore.exceptions import ClientError

    empty_bucket(client, name)
    try:
        client.delete_bucket(Bucket=name)
    except ClientError as error:
        if _code(error) not in ("NoSuchBucket", "404"):
            raise
