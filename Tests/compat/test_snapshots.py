"""Named snapshots (`/_strata/snapshots`, `strata snapshot save|list|restore|delete`): the
whole store saved under a name and brought back exactly (buckets, objects, versions and
delete markers, bucket settings, open multipart uploads), read back with boto3 and the AWS
CLI; durable across a restart, a SIGKILL and `strata recover --rebuild-index` (`strata
verify` passes); compaction keeps the bytes a snapshot needs; a reset keeps snapshots;
the CLI online (--server) and offline (--data). Each test has a server of its own:
snapshots and restores are server-wide."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

import compat_helpers as h
from conftest import ACCESS_KEY, SECRET_KEY, TARGET, make_client, start_server, stop_server, strata_binary
from test_awscli import AWS_V2

pytestmark = pytest.mark.skipif(TARGET != "strata", reason="Strata's snapshots")

SMALL_SEGMENTS = ["--segment-size", "64K", "--compact-interval", "0"]


def strata(*args):
    p = subprocess.run([str(strata_binary()), *map(str, args)], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def online(srv, *args):
    """`strata snapshot ARGS --server URL` with the root credentials."""
    return strata("snapshot", *args, "--server", srv.endpoint, "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY)


def admin(srv, method, path, signed=True):
    """One request to an operator endpoint (`path` as sent: percent-encoded); returns
    (status, JSON answer or the raw body)."""
    # The signer encodes the canonical URI itself: it gets the decoded path.
    headers = h.sign_v4(srv, method, urllib.parse.unquote(path))[1] if signed else {}
    status, _, body = h.send(srv, method, path, headers=headers)
    if status == 200 and body.strip():
        return status, json.loads(body)
    return status, body


def save(srv, name):
    status, answer = admin(srv, "POST", f"/_strata/snapshots/{name}")
    assert status == 200, answer
    return answer


def restore(srv, name):
    status, answer = admin(srv, "POST", f"/_strata/snapshots/{name}/restore")
    assert status == 200, answer
    assert answer["restored"] == name and isinstance(answer["sequence"], int), answer
    return answer


def listed(srv):
    status, answer = admin(srv, "GET", "/_strata/snapshots")
    assert status == 200, answer
    return answer["snapshots"]


def error_of(status_and_body):
    status, body = status_and_body
    return status, h.error_code(body)


def created_at(snapshot):
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", snapshot["created"]), snapshot
    return datetime.strptime(snapshot["created"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def body(i, size=3000):
    return bytes([(i * 13 + j) % 251 for j in range(size)])


# ---------------------------------------------------------------- the store's state


def config_of(s3, bucket):
    def optional(call, missing):
        try:
            return call(Bucket=bucket)
        except ClientError as error:
            assert error.response["Error"]["Code"] == missing, error.response
            return None

    tags = optional(s3.get_bucket_tagging, "NoSuchTagSet")
    cors = optional(s3.get_bucket_cors, "NoSuchCORSConfiguration")
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "tags": tags and tags["TagSet"],
        "cors": cors and cors["CORSRules"],
    }


def state(s3):
    """Everything a client can see: buckets, every version and delete marker with its
    bytes, bucket settings, open uploads and their parts."""
    result = {}
    for b in s3.list_buckets()["Buckets"]:
        name = b["Name"]
        versions = s3.list_object_versions(Bucket=name)
        entries = [(v["Key"], v["VersionId"], v["IsLatest"], v["ETag"], v["Size"], v["LastModified"])
                   for v in versions.get("Versions", [])]
        markers = [(m["Key"], m["VersionId"], m["IsLatest"], m["LastModified"]) for m in versions.get("DeleteMarkers", [])]
        data = {(key, vid): s3.get_object(Bucket=name, Key=key, VersionId=vid)["Body"].read()
                for key, vid, *_ in entries}
        uploads = []
        for u in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            parts = s3.list_parts(Bucket=name, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", [])
            uploads.append((u["Key"], u["UploadId"], [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts]))
        result[name] = {"created": b["CreationDate"], "versions": entries, "markers": markers, "data": data,
                        "config": config_of(s3, name), "uploads": uploads}
    return result


CORS = {"CORSRules": [{"ID": "app", "AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["GET", "PUT"],
                       "AllowedHeaders": ["*"], "MaxAgeSeconds": 600}]}
PART = os.urandom(1 << 20)


def fill(s3):
    """Two buckets: `plain` (3 objects) and `versioned` (versions, a delete marker, tags,
    CORS, an open multipart upload with one part). 7 objects as a snapshot counts them."""
    s3.create_bucket(Bucket="plain")
    for i, key in enumerate(["a", "b", "dir/c"]):
        s3.put_object(Bucket="plain", Key=key, Body=body(i))
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="versioned", Key="k", Body=b"first")
    s3.put_object(Bucket="versioned", Key="k", Body=b"second")
    s3.delete_object(Bucket="versioned", Key="k")  # a delete marker on top
    s3.put_object(Bucket="versioned", Key="other", Body=b"other")
    s3.put_bucket_tagging(Bucket="versioned", Tagging={"TagSet": [{"Key": "team", "Value": "qa"}]})
    s3.put_bucket_cors(Bucket="versioned", CORSConfiguration=CORS)
    upload = s3.create_multipart_upload(Bucket="versioned", Key="big")
    s3.upload_part(Bucket="versioned", Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=PART)
    return upload["UploadId"]


def change_everything(s3):
    s3.put_object(Bucket="plain", Key="a", Body=b"overwritten")
    s3.delete_object(Bucket="plain", Key="b")
    s3.put_object(Bucket="plain", Key="new", Body=b"new")
    for v in s3.list_object_versions(Bucket="versioned").get("Versions", []):
        s3.delete_object(Bucket="versioned", Key=v["Key"], VersionId=v["VersionId"])
    for m in s3.list_object_versions(Bucket="versioned").get("DeleteMarkers", []):
        s3.delete_object(Bucket="versioned", Key=m["Key"], VersionId=m["VersionId"])
    s3.put_object(Bucket="versioned", Key="k", Body=b"third")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_tagging(Bucket="versioned")
    s3.put_bucket_cors(Bucket="versioned", CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]})
    for u in s3.list_multipart_uploads(Bucket="versioned").get("Uploads", []):
        s3.abort_multipart_upload(Bucket="versioned", Key=u["Key"], UploadId=u["UploadId"])
    s3.create_bucket(Bucket="later")
    s3.put_object(Bucket="later", Key="x", Body=b"x")


def complete(s3, upload_id):
    """Completes the open upload of fill() and reads it back."""
    etag = s3.list_parts(Bucket="versioned", Key="big", UploadId=upload_id)["Parts"][0]["ETag"]
    s3.complete_multipart_upload(Bucket="versioned", Key="big", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket="versioned", Key="big")["Body"].read() == PART


@pytest.fixture
def srv(tmp_path):
    server = start_server(tmp_path)
    yield server
    stop_server(server)


# ---------------------------------------------------------------- the endpoints with boto3


def test_restore_brings_back_exactly_the_saved_state(srv):
    s3 = make_client(srv)
    upload_id = fill(s3)
    before = state(s3)
    started = datetime.now(timezone.utc)
    saved = save(srv, "before")
    assert saved["name"] == "before" and isinstance(saved["sequence"], int), saved
    assert (saved["buckets"], saved["objects"]) == (2, 7), saved
    stored = sum(len(d) for bucket in before.values() for d in bucket["data"].values())
    assert saved["bytes"] >= stored, saved
    assert abs((created_at(saved) - started).total_seconds()) < 60, saved

    change_everything(s3)
    assert state(s3) != before
    restore(srv, "before")
    assert state(s3) == before
    assert s3.get_object(Bucket="plain", Key="a")["Body"].read() == body(0)
    with pytest.raises(ClientError) as gone:
        s3.head_bucket(Bucket="later")
    assert gone.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
    # The upload is open again, and completes.
    complete(s3, upload_id)

    # The snapshot stays: the completed upload goes again with a second restore.
    restore(srv, "before")
    assert state(s3) == before


def test_list_delete_and_the_errors(srv):
    s3 = make_client(srv)
    s3.create_bucket(Bucket="one")
    s3.put_object(Bucket="one", Key="k", Body=b"x" * 1000)
    first = save(srv, "zeta")
    s3.put_object(Bucket="one", Key="k2", Body=b"y" * 1000)
    second = save(srv, "Alpha-1.0_b")
    snapshots = listed(srv)
    assert [s["name"] for s in snapshots] == ["Alpha-1.0_b", "zeta"]  # sorted by name
    for entry, saved in zip(snapshots, [second, first]):
        assert {k: entry.get(k) for k in saved} == saved, (entry, saved)
    assert (first["objects"], second["objects"]) == (1, 2)
    assert second["sequence"] > first["sequence"] and second["bytes"] > first["bytes"]
    created_at(first)

    # Saving a name again replaces that snapshot.
    s3.delete_object(Bucket="one", Key="k")
    again = save(srv, "zeta")
    assert again["objects"] == 1 and again["sequence"] > second["sequence"]
    assert [s["name"] for s in listed(srv)] == ["Alpha-1.0_b", "zeta"]
    restore(srv, "zeta")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="one")["Contents"]] == ["k2"]

    status, answer = admin(srv, "DELETE", "/_strata/snapshots/zeta")
    assert status == 204 and answer == b"", answer
    assert [s["name"] for s in listed(srv)] == ["Alpha-1.0_b"]
    assert error_of(admin(srv, "POST", "/_strata/snapshots/zeta/restore")) == (404, "NoSuchSnapshot")
    assert error_of(admin(srv, "DELETE", "/_strata/snapshots/zeta")) == (404, "NoSuchSnapshot")
    # The store is as the deleted snapshot's restore left it.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="one")["Contents"]] == ["k2"]

    for bad in ["x" * 65, "bad~name", "~", "bad%20name", "%C3%BCber"]:
        assert error_of(admin(srv, "POST", f"/_strata/snapshots/{bad}")) == (400, "InvalidArgument"), bad
    assert save(srv, "x" * 64)["name"] == "x" * 64
    # Only the root credentials: an anonymous request is refused and changes nothing.
    assert error_of(admin(srv, "POST", "/_strata/snapshots/anon", signed=False)) == (403, "AccessDenied")
    assert error_of(admin(srv, "GET", "/_strata/snapshots", signed=False)) == (403, "AccessDenied")
    assert [s["name"] for s in listed(srv)] == ["Alpha-1.0_b", "x" * 64]


def test_at_most_16_snapshots(srv):
    for i in range(16):
        save(srv, f"s{i:02}")
    assert error_of(admin(srv, "POST", "/_strata/snapshots/s16")) == (400, "TooManySnapshots")
    assert save(srv, "s07")["name"] == "s07"  # replacing one is not a 17th
    assert [s["name"] for s in listed(srv)] == [f"s{i:02}" for i in range(16)]
    assert admin(srv, "DELETE", "/_strata/snapshots/s00")[0] == 204
    assert save(srv, "s16")["name"] == "s16"


def test_a_reset_keeps_snapshots_and_a_restore_undoes_it(srv):
    s3 = make_client(srv)
    upload_id = fill(s3)
    before = state(s3)
    save(srv, "base")
    code, out, err = strata("reset", "--server", srv.endpoint, "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY)
    assert code == 0, (out, err)
    assert s3.list_buckets()["Buckets"] == []
    assert [s["name"] for s in listed(srv)] == ["base"]
    restore(srv, "base")
    assert state(s3) == before
    complete(s3, upload_id)


def test_requests_during_saves_and_restores_are_retried_and_never_see_other_bytes(srv):
    """Readers run while the store is saved and restored again and again: a 503 SlowDown
    is retried by the SDK; every read answers the bytes the snapshot and the store share."""
    s3 = make_client(srv)
    s3.create_bucket(Bucket="busy")
    for i in range(20):
        s3.put_object(Bucket="busy", Key=f"k{i}", Body=body(i, 20_000))
    save(srv, "busy")
    readers = make_client(srv, retries={"mode": "standard", "total_max_attempts": 10})
    stop, failures, reads = threading.Event(), [], [0]

    def read(worker):
        i = worker
        while not stop.is_set():
            try:
                got = readers.get_object(Bucket="busy", Key=f"k{i % 20}")["Body"].read()
                if got != body(i % 20, 20_000):
                    failures.append(f"k{i % 20}: other bytes")
                keys = [o["Key"] for o in readers.list_objects_v2(Bucket="busy").get("Contents", [])]
                if len(keys) not in (20, 21):
                    failures.append(f"listed {len(keys)} keys")
                reads[0] += 1
            except Exception as error:  # noqa: BLE001 - every failure is reported
                failures.append(repr(error))
            i += 3

    threads = [threading.Thread(target=read, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    try:
        for round_ in range(8):
            s3.put_object(Bucket="busy", Key="extra", Body=b"e")
            admin_retrying(srv, "POST", "/_strata/snapshots/busy/restore")
            admin_retrying(srv, "POST", f"/_strata/snapshots/r{round_ % 2}")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not failures, failures[:5]
    assert reads[0] > 0
    # The last restore removed the last `extra`.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="busy")["Contents"]] == sorted(f"k{i}" for i in range(20))


def admin_retrying(srv, method, path, attempts=20):
    """An operator request, retried while it is answered 503 SlowDown (another snapshot
    operation is under way)."""
    for _ in range(attempts):
        status, answer = admin(srv, method, path)
        if status != 503:
            assert status == 200, answer
            return answer
        time.sleep(0.05)
    raise AssertionError(f"{method} {path}: still 503 after {attempts} attempts")


# ---------------------------------------------------------------- durability


def test_snapshots_survive_a_crash_a_restart_and_an_index_rebuild(tmp_path):
    srv = start_server(tmp_path)
    try:
        s3 = make_client(srv)
        upload_id = fill(s3)
        before = state(s3)
        saved = save(srv, "durable")
        change_everything(s3)
    finally:
        # Acknowledged means durable: no clean stop.
        os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(timeout=10)
    srv = start_server(tmp_path, data_dir=srv.data_dir)
    try:
        [entry] = listed(srv)
        assert {k: entry.get(k) for k in saved} == saved, (entry, saved)
    finally:
        stop_server(srv)

    code, out, err = strata("verify", "--data", srv.data_dir)
    assert code == 0 and out.strip().endswith("OK"), (out, err)
    code, out, err = strata("recover", "--rebuild-index", "--data", srv.data_dir)
    assert code == 0, (out, err)
    code, out, err = strata("verify", "--data", srv.data_dir)
    assert code == 0 and out.strip().endswith("OK"), (out, err)

    srv = start_server(tmp_path, data_dir=srv.data_dir)
    try:
        s3 = make_client(srv)
        [entry] = listed(srv)
        assert {k: entry.get(k) for k in saved} == saved, (entry, saved)
        assert state(s3) != before  # the changes after the save are there too
        restore(srv, "durable")
        assert state(s3) == before
        complete(s3, upload_id)
    finally:
        stop_server(srv)
    code, out, err = strata("verify", "--data", srv.data_dir)
    assert code == 0 and out.strip().endswith("OK"), (out, err)


def test_compaction_keeps_the_bytes_a_snapshot_needs(tmp_path):
    srv = start_server(tmp_path, SMALL_SEGMENTS)
    try:
        s3 = make_client(srv)
        s3.create_bucket(Bucket="churn")
        for i in range(24):
            s3.put_object(Bucket="churn", Key=f"k{i:02}", Body=body(i, 30_000))
        save(srv, "old")
        # Overwrite and delete everything a few times: the snapshot's bytes are all the
        # store still has of them.
        for round_ in range(4):
            for i in range(24):
                s3.put_object(Bucket="churn", Key=f"k{i:02}", Body=body(100 + round_ * 24 + i, 30_000))
        for i in range(0, 24, 2):
            s3.delete_object(Bucket="churn", Key=f"k{i:02}")
        code, out, err = strata("compact", "--server", srv.endpoint, "--access-key", ACCESS_KEY,
                                "--secret-key", SECRET_KEY, "--threshold", "0", "--json")
        assert code == 0, (out, err)
        assert json.loads(out)["removed"], out  # it did compact: the overwritten bytes went
        restore(srv, "old")
        for i in range(24):
            assert s3.get_object(Bucket="churn", Key=f"k{i:02}")["Body"].read() == body(i, 30_000), i
        # Without the snapshot, those bytes are dead once overwritten again.
        assert admin(srv, "DELETE", "/_strata/snapshots/old")[0] == 204
        for i in range(24):
            s3.put_object(Bucket="churn", Key=f"k{i:02}", Body=b"small")
    finally:
        stop_server(srv)
    # Offline too, then the rebuild check.
    code, out, err = strata("compact", "--data", srv.data_dir, "--threshold", "0", "--json")
    assert code == 0, (out, err)
    # (Most of the restored bytes lie in sealed segments; the last copies may be in the active one.)
    assert json.loads(out)["bytesReclaimed"] >= 24 * 30_000 // 2, out
    code, out, err = strata("verify", "--data", srv.data_dir)
    assert code == 0 and out.strip().endswith("OK"), (out, err)


def test_compaction_offline_keeps_a_snapshot_restorable_after_a_restart(tmp_path):
    srv = start_server(tmp_path, SMALL_SEGMENTS)
    try:
        s3 = make_client(srv)
        upload_id = fill(s3)
        for i in range(12):
            s3.put_object(Bucket="plain", Key=f"big{i}", Body=body(i, 40_000))
        before = state(s3)
        save(srv, "keep")
        change_everything(s3)
        for i in range(12):
            s3.put_object(Bucket="plain", Key=f"big{i}", Body=b"replaced")
    finally:
        stop_server(srv)
    code, out, err = strata("compact", "--data", srv.data_dir, "--threshold", "0", "--json")
    assert code == 0, (out, err)
    code, out, err = strata("verify", "--data", srv.data_dir)
    assert code == 0 and out.strip().endswith("OK"), (out, err)
    srv = start_server(tmp_path, SMALL_SEGMENTS, data_dir=srv.data_dir)
    try:
        s3 = make_client(srv)
        restore(srv, "keep")
        assert state(s3) == before
        complete(s3, upload_id)
    finally:
        stop_server(srv)


# ---------------------------------------------------------------- AWS CLI and `strata snapshot`


def test_the_aws_cli_reads_what_a_restore_brought_back(srv, client_env, tmp_path):
    if not os.path.exists(AWS_V2):
        pytest.skip("AWS CLI v2 is not installed; run `make client-deps`")
    aws = [AWS_V2, "--endpoint-url", srv.endpoint]
    source = tmp_path / "report.csv"
    source.write_bytes(b"day,total\n" * 5000)
    client_env.run(aws + ["s3", "mb", "s3://cli"])
    client_env.run(aws + ["s3", "cp", str(source), "s3://cli/report.csv"])
    save(srv, "cli")
    client_env.run(aws + ["s3", "rm", "s3://cli", "--recursive"])
    client_env.run(aws + ["s3", "rb", "s3://cli"])
    restore(srv, "cli")
    back = tmp_path / "back.csv"
    client_env.run(aws + ["s3", "cp", "s3://cli/report.csv", str(back)])
    assert back.read_bytes() == source.read_bytes()
    listing = client_env.run(aws + ["s3", "ls", "s3://cli/"]).stdout.decode()
    assert "report.csv" in listing, listing


def snapshot_names(listing):
    """The names in `strata snapshot list --json` (the endpoint's document, or its list)."""
    document = json.loads(listing)
    entries = document["snapshots"] if isinstance(document, dict) else document
    return [entry["name"] for entry in entries], entries


def test_strata_snapshot_cli_online(srv):
    s3 = make_client(srv)
    s3.create_bucket(Bucket="cli")
    s3.put_object(Bucket="cli", Key="k", Body=b"saved")
    code, out, err = online(srv, "save", "nightly")
    assert code == 0 and "nightly" in out, (out, err)
    s3.put_object(Bucket="cli", Key="k", Body=b"changed")
    code, out, err = online(srv, "list")
    assert code == 0 and "nightly" in out, (out, err)
    code, out, err = online(srv, "list", "--json")
    assert code == 0, (out, err)
    names, entries = snapshot_names(out)
    assert names == ["nightly"] and entries[0]["objects"] == 1 and entries[0]["bytes"] >= 5, entries
    code, out, err = online(srv, "restore", "nightly")
    assert code == 0 and "nightly" in out, (out, err)
    assert s3.get_object(Bucket="cli", Key="k")["Body"].read() == b"saved"
    code, out, err = online(srv, "delete", "nightly")
    assert code == 0, (out, err)
    code, out, err = online(srv, "list", "--json")
    assert code == 0 and snapshot_names(out)[0] == [], (out, err)

    code, out, err = online(srv, "restore", "nightly")
    assert code == 1 and "nightly" in err and "Traceback" not in err, (out, err)
    code, out, err = online(srv, "save", "bad~name")
    assert code != 0, (out, err)
    code, _, err = strata("snapshot", "list", "--server", srv.endpoint, "--access-key", ACCESS_KEY,
                          "--secret-key", "wrong")
    assert code == 1 and "secret key does not match" in err, err


def test_strata_snapshot_cli_offline_on_a_stopped_data_directory(tmp_path):
    srv = start_server(tmp_path)
    try:
        s3 = make_client(srv)
        upload_id = fill(s3)
        before = state(s3)
    finally:
        stop_server(srv)
    data = srv.data_dir
    code, out, err = strata("snapshot", "save", "offline", "--data", data)
    assert code == 0 and "offline" in out, (out, err)
    code, out, err = strata("snapshot", "list", "--json", "--data", data)
    assert code == 0, (out, err)
    names, entries = snapshot_names(out)
    assert names == ["offline"] and (entries[0]["buckets"], entries[0]["objects"]) == (2, 7), entries

    srv = start_server(tmp_path, data_dir=data)
    try:
        # The server sees the snapshot saved offline; offline commands are refused meanwhile.
        assert [s["name"] for s in listed(srv)] == ["offline"]
        code, _, err = strata("snapshot", "restore", "offline", "--data", data)
        assert code != 0 and "in use by another process" in err, err
        change_everything(make_client(srv))
    finally:
        stop_server(srv)

    code, out, err = strata("snapshot", "restore", "offline", "--data", data)
    assert code == 0, (out, err)
    code, out, err = strata("verify", "--data", data)
    assert code == 0 and out.strip().endswith("OK"), (out, err)
    srv = start_server(tmp_path, data_dir=data)
    try:
        s3 = make_client(srv)
        assert state(s3) == before
        complete(s3, upload_id)
    finally:
        stop_server(srv)

    code, out, err = strata("snapshot", "delete", "offline", "--data", data)
    assert code == 0, (out, err)
    code, out, err = strata("snapshot", "list", "--json", "--data", data)
    assert code == 0 and snapshot_names(out)[0] == [], (out, err)
    code, out, err = strata("snapshot", "restore", "offline", "--data", data)
    assert code != 0 and "offline" in err, (out, err)
    code, _, err = strata("snapshot", "list", "--data", tmp_path / "nowhere")
    assert code != 0, err
