"""The fixtures, in inner pytest sessions against the real server ($STRATA_BIN)."""

import json
import os
import socket
import textwrap
from pathlib import Path

import pytest

TIMEOUT = 180  # seconds for one inner session


def run(inner, *args):
    # hypothesis, when installed, adds seconds to every inner start: not needed there.
    return inner.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args, timeout=TIMEOUT)


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie would still answer kill(0): look at its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def refuses(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


def test_put_and_get_an_object_in_s3_bucket(inner):
    inner.makepyfile(textwrap.dedent("""
        def test_put_get(s3_client, s3_bucket, strata_server):
            s3_client.put_object(Bucket=s3_bucket, Key="dir/hello.txt", Body=b"hello, strata")
            got = s3_client.get_object(Bucket=s3_bucket, Key="dir/hello.txt")
            assert got["Body"].read() == b"hello, strata"
            listed = s3_client.list_objects_v2(Bucket=s3_bucket)
            assert [o["Key"] for o in listed["Contents"]] == ["dir/hello.txt"]

        def test_server_facts(s3_client, s3_bucket, strata_server):
            s = strata_server
            assert s.endpoint_url == f"http://127.0.0.1:{s.port}"
            assert (s.access_key, s.secret_key, s.region) == ("strata-access-key", "strata-secret-key", "us-east-1")
            assert s.boto3_kwargs()["endpoint_url"] == s.endpoint_url
            # path style (an IP endpoint would fall back to it anyway), SigV4, the server's region
            assert s3_client.meta.config.s3["addressing_style"] == "path"
            assert s3_client.meta.config.signature_version == "s3v4"
            url = s3_client.generate_presigned_url("get_object", Params={"Bucket": s3_bucket, "Key": "k"})
            assert url.startswith(f"{s.endpoint_url}/{s3_bucket}/k?")
            assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
            assert s3_client.meta.region_name == "us-east-1"
            # a valid bucket name, unique, naming the test
            assert 3 <= len(s3_bucket) <= 63 and s3_bucket.startswith("pytest-test-server-facts-")
            assert s3_client.head_bucket(Bucket=s3_bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    """))
    result = run(inner)
    result.assert_outcomes(passed=2)


def test_each_test_gets_a_new_bucket_and_it_is_removed_afterwards(inner):
    inner.makepyfile(textwrap.dedent("""
        import pytest
        from botocore.exceptions import ClientError

        seen = []

        def test_versioned_with_markers_and_an_open_upload(s3_client, s3_bucket):
            seen.append(s3_bucket)
            s3_client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
            s3_client.put_object(Bucket=s3_bucket, Key="a", Body=b"1")
            s3_client.put_object(Bucket=s3_bucket, Key="a", Body=b"2")
            s3_client.delete_object(Bucket=s3_bucket, Key="a")  # a delete marker
            s3_client.delete_object(Bucket=s3_bucket, Key="never-there")  # a marker alone
            s3_client.put_object(Bucket=s3_bucket, Key="b", Body=b"3")
            upload = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="big")
            s3_client.upload_part(Bucket=s3_bucket, Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024)
            versions = s3_client.list_object_versions(Bucket=s3_bucket)
            assert len(versions["Versions"]) == 3 and len(versions["DeleteMarkers"]) == 2

        def test_plain_objects(s3_client, s3_bucket):
            assert s3_bucket not in seen
            seen.append(s3_bucket)
            for i in range(30):
                s3_client.put_object(Bucket=s3_bucket, Key=f"k/{i}", Body=b"v")

        def test_deletes_its_own_bucket(s3_client, s3_bucket):
            seen.append(s3_bucket)
            s3_client.delete_bucket(Bucket=s3_bucket)

        def test_earlier_buckets_are_gone(s3_client, s3_bucket):
            assert len(seen) == 3 and s3_bucket not in seen
            for name in seen:
                with pytest.raises(ClientError) as error:
                    s3_client.head_bucket(Bucket=name)
                assert error.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
            assert [b["Name"] for b in s3_client.list_buckets()["Buckets"]] == [s3_bucket]
            assert s3_client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    """))
    result = run(inner)
    result.assert_outcomes(passed=4)


@pytest.mark.parametrize("how", ["pass", "fail", "error", "exit"])
def test_server_is_stopped_after_the_session(inner, tmp_path, monkeypatch, how):
    facts = tmp_path / "facts.json"
    monkeypatch.setenv("FACTS", str(facts))
    # Checked in the inner process when the session is over (pytest_unconfigure): after the
    # inner process exits, the server would get SIGTERM anyway (PR_SET_PDEATHSIG).
    inner.makeconftest(textwrap.dedent("""
        import json, os, socket

        def pytest_unconfigure(config):
            with open(os.environ["FACTS"]) as f:
                facts = json.load(f)
            try:
                os.kill(facts["pid"], 0)
                facts["running_after_session"] = True
            except ProcessLookupError:
                facts["running_after_session"] = False
            try:
                socket.create_connection(("127.0.0.1", facts["port"]), timeout=2).close()
                facts["listening_after_session"] = True
            except OSError:
                facts["listening_after_session"] = False
            with open(os.environ["FACTS"], "w") as f:
                json.dump(facts, f)
    """))
    inner.makepyfile(textwrap.dedent("""
        import json, os, socket
        import pytest

        def test_records(strata_server, s3_client):
            s3_client.list_buckets()
            with open(os.environ["FACTS"], "w") as f:
                json.dump({"pid": strata_server.pid, "port": strata_server.port,
                           "data_dir": strata_server.data_dir}, f)
            assert os.path.isdir(strata_server.data_dir)
            socket.create_connection(("127.0.0.1", strata_server.port), timeout=2).close()

        def test_ends(strata_server):
            how = %r
            if how == "fail":
                assert False, "a failing test"
            if how == "error":
                raise RuntimeError("an error")
            if how == "exit":
                pytest.exit("stopping the session")
    """ % how))
    result = run(inner)
    if how == "pass":
        result.assert_outcomes(passed=2)
    elif how in ("fail", "error"):
        result.assert_outcomes(passed=1, failed=1)
    else:
        assert result.ret != 0 and "stopping the session" in result.stdout.str()
    recorded = json.loads(facts.read_text())
    assert recorded["running_after_session"] is False, "the server process outlived the session"
    assert recorded["listening_after_session"] is False, "the server's port accepted connections after the session"
    assert gone(recorded["pid"]), "the server process outlived the session"
    assert refuses(recorded["port"]), "the server's port still accepts connections"
    assert not os.path.exists(recorded["data_dir"]), "the ephemeral data directory is left"


def test_a_missing_binary_is_a_clear_error(inner, monkeypatch, tmp_path):
    inner.makepyfile(textwrap.dedent("""
        def test_needs_server(s3_bucket):
            pass

        def test_without_server():
            pass
    """))
    monkeypatch.setenv("STRATA_BIN", str(tmp_path / "no-such-strata"))
    result = run(inner)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*pytest-strata: strata binary not found: STRATA_BIN is *no-such-strata*"])
    result.stdout.no_fnmatch_line("*Traceback*")

    monkeypatch.delenv("STRATA_BIN")
    monkeypatch.setenv("PATH", str(tmp_path))  # no strata there
    result = run(inner)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*STRATA_BIN is not set and there is no `strata` on PATH*"])


def test_strata_arg_command_line_option(inner):
    inner.makepyfile(textwrap.dedent("""
        def test_region(strata_server, s3_client, s3_bucket):
            assert strata_server.region == "eu-west-1"
            assert s3_client.meta.region_name == "eu-west-1"
            assert s3_client.get_bucket_location(Bucket=s3_bucket)["LocationConstraint"] == "eu-west-1"
            assert "--region=eu-west-1" in strata_server.command
    """))
    result = run(inner, "--strata-arg=--region=eu-west-1")
    result.assert_outcomes(passed=1)


def test_strata_args_ini_option_with_own_credentials(inner):
    # The banner masks a secret key that is not the default one: it comes from the args.
    inner.makeini(textwrap.dedent("""
        [pytest]
        strata_args = --region eu-central-1 --access-key AKIAPYTESTSTRATA0001 --secret-key "pytest strata secret/0123"
    """))
    inner.makepyfile(textwrap.dedent("""
        def test_credentials(strata_server, s3_client, s3_bucket):
            assert strata_server.access_key == "AKIAPYTESTSTRATA0001"
            assert strata_server.secret_key == "pytest strata secret/0123"
            assert strata_server.region == "eu-central-1"
            s3_client.put_object(Bucket=s3_bucket, Key="k", Body=b"signed with the custom secret")
            assert s3_client.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"signed with the custom secret"
    """))
    result = run(inner)
    result.assert_outcomes(passed=1)


def test_strata_server_factory(inner, tmp_path, monkeypatch):
    monkeypatch.setenv("FACTS", str(tmp_path / "pid"))
    inner.makepyfile(textwrap.dedent("""
        import os

        def test_own_server(strata_server, strata_server_factory):
            own = strata_server_factory("--region", "ap-south-1")
            assert own.port != strata_server.port and own.region == "ap-south-1"
            client = own.client()
            client.create_bucket(Bucket="own", CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
            assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["own"]
            assert "own" not in [b["Name"] for b in strata_server.client().list_buckets()["Buckets"]]
            with open(os.environ["FACTS"], "w") as f:
                f.write(f"{own.pid} {own.port}")

        def test_it_was_stopped():
            pid, port = map(int, open(os.environ["FACTS"]).read().split())
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                pass
            else:
                raise AssertionError("the factory's server still runs")
    """))
    result = run(inner)
    result.assert_outcomes(passed=2)
    pid, port = map(int, (tmp_path / "pid").read_text().split())
    assert gone(pid) and refuses(port)


def test_tls_self_signed_and_startup_buckets(inner):
    inner.makepyfile(textwrap.dedent("""
        def test_https(strata_server, s3_client):
            assert strata_server.endpoint_url.startswith("https://127.0.0.1:")
            assert strata_server.ca_bundle and strata_server.ca_bundle.endswith("tls-ca.pem")
            assert [b["Name"] for b in s3_client.list_buckets()["Buckets"]] == ["made-at-start"]
    """))
    result = run(inner, "--strata-arg=--tls-self-signed", "--strata-arg=--bucket=made-at-start")
    result.assert_outcomes(passed=1)


def test_the_readme_example(inner):
    # README.md shows this file (Tools/check_readme_examples.py keeps them equal).
    example = Path(__file__).resolve().parents[1] / "examples" / "test_upload.py"
    inner.makepyfile(test_upload=example.read_text())
    result = run(inner)
    result.assert_outcomes(passed=1)


def test_the_readme_fault_example_and_rules_are_cleared_after_each_test(inner):
    # README.md shows examples/test_retries.py (Tools/check_readme_examples.py).
    example = Path(__file__).resolve().parents[1] / "examples" / "test_retries.py"
    inner.makepyfile(test_retries=example.read_text(), test_zzz_after=textwrap.dedent("""
        def test_zz_no_rules_left(strata_server):
            assert strata_server.faults() == []

        def test_zz_admin_errors_are_clear(strata_server):
            import pytest
            from pytest_strata.server import StrataError
            with pytest.raises(StrataError, match="InvalidArgument"):
                strata_server.add_faults({"operation": "PutObject"})
    """))
    result = run(inner)
    result.assert_outcomes(passed=4)


def test_reset_empties_the_session_server(inner):
    inner.makepyfile(textwrap.dedent("""
        def test_reset(strata_server, s3_client):
            s3_client.create_bucket(Bucket="left-over")
            s3_client.put_object(Bucket="left-over", Key="k", Body=b"v")
            strata_server.reset()
            assert s3_client.list_buckets()["Buckets"] == []
    """))
    result = run(inner)
    result.assert_outcomes(passed=1)


def test_snapshots_save_list_restore_delete_and_survive_a_reset(inner):
    inner.makepyfile(textwrap.dedent("""
        import re
        import pytest
        from pytest_strata import StrataError

        def names(server):
            return [s["name"] for s in server.snapshots()]

        def test_snapshots(strata_server, s3_client):
            s3_client.create_bucket(Bucket="snap")
            s3_client.put_bucket_versioning(Bucket="snap", VersioningConfiguration={"Status": "Enabled"})
            s3_client.put_object(Bucket="snap", Key="k", Body=b"one")
            s3_client.put_object(Bucket="snap", Key="k", Body=b"two")
            versions = [v["VersionId"] for v in s3_client.list_object_versions(Bucket="snap")["Versions"]]
            saved = strata_server.save_snapshot("before")
            assert (saved["name"], saved["buckets"], saved["objects"]) == ("before", 1, 2), saved
            assert saved["bytes"] >= 6 and isinstance(saved["sequence"], int), saved
            assert re.match(r"^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z$", saved["created"]), saved
            [listed] = strata_server.snapshots()
            assert {field: listed.get(field) for field in saved} == saved, (listed, saved)

            # Everything changes: an overwrite, a delete marker, a new bucket.
            s3_client.put_object(Bucket="snap", Key="k", Body=b"three")
            s3_client.delete_object(Bucket="snap", Key="k")
            s3_client.create_bucket(Bucket="later")
            restored = strata_server.restore_snapshot("before")
            assert restored["restored"] == "before" and isinstance(restored["sequence"], int), restored
            assert [b["Name"] for b in s3_client.list_buckets()["Buckets"]] == ["snap"]
            assert s3_client.get_object(Bucket="snap", Key="k")["Body"].read() == b"two"
            listed = s3_client.list_object_versions(Bucket="snap")
            assert [v["VersionId"] for v in listed["Versions"]] == versions and "DeleteMarkers" not in listed

            # Sorted by name; saving a name again replaces it.
            s3_client.put_object(Bucket="snap", Key="k2", Body=b"x")
            strata_server.save_snapshot("a-second.one_2")
            assert names(strata_server) == ["a-second.one_2", "before"]
            again = strata_server.save_snapshot("a-second.one_2")
            assert again["objects"] == 3 and names(strata_server) == ["a-second.one_2", "before"]

            # A reset empties the store and keeps the snapshots.
            strata_server.reset()
            assert s3_client.list_buckets()["Buckets"] == []
            assert names(strata_server) == ["a-second.one_2", "before"]
            strata_server.restore_snapshot("a-second.one_2")
            assert s3_client.get_object(Bucket="snap", Key="k2")["Body"].read() == b"x"

            assert strata_server.delete_snapshot("before") is None
            assert names(strata_server) == ["a-second.one_2"]
            with pytest.raises(StrataError, match="404 NoSuchSnapshot"):
                strata_server.restore_snapshot("before")
            with pytest.raises(StrataError, match="404 NoSuchSnapshot"):
                strata_server.delete_snapshot("before")
            for bad in ["x" * 65, "bad~name", "bad name", "über"]:
                with pytest.raises(StrataError, match="400 InvalidArgument"):
                    strata_server.save_snapshot(bad)
            strata_server.delete_snapshot("a-second.one_2")
            assert strata_server.snapshots() == []

        def test_at_most_16(strata_server):
            for i in range(16):
                strata_server.save_snapshot(f"s{i:02}")
            with pytest.raises(StrataError, match="400 TooManySnapshots"):
                strata_server.save_snapshot("s16")
            strata_server.save_snapshot("s15")  # replacing one is not a 17th
            assert names(strata_server) == [f"s{i:02}" for i in range(16)]
            for i in range(16):
                strata_server.delete_snapshot(f"s{i:02}")
    """))
    result = run(inner)
    result.assert_outcomes(passed=2)


def test_strata_baseline_restores_what_strata_seed_made_before_each_test(inner):
    inner.makeconftest(textwrap.dedent("""
        import pytest

        SEEDED = []

        @pytest.fixture(scope="session")
        def strata_seed(s3_client):
            SEEDED.append(1)
            s3_client.create_bucket(Bucket="seeded")
            s3_client.put_bucket_versioning(Bucket="seeded", VersioningConfiguration={"Status": "Enabled"})
            s3_client.put_object(Bucket="seeded", Key="k", Body=b"v1")
            s3_client.put_object(Bucket="seeded", Key="k", Body=b"v2")
            s3_client.put_bucket_tagging(Bucket="seeded", Tagging={"TagSet": [{"Key": "team", "Value": "qa"}]})
            s3_client.create_multipart_upload(Bucket="seeded", Key="open")
    """))
    inner.makepyfile(textwrap.dedent("""
        import conftest

        def state(s3):
            versions = s3.list_object_versions(Bucket="seeded")
            return {
                "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
                "versions": [(v["Key"], v["Size"]) for v in versions.get("Versions", [])],
                "markers": len(versions.get("DeleteMarkers", [])),
                "tags": s3.get_bucket_tagging(Bucket="seeded")["TagSet"],
                "uploads": [u["Key"] for u in s3.list_multipart_uploads(Bucket="seeded").get("Uploads", [])],
            }

        BASELINE = {"buckets": ["seeded"], "versions": [("k", 2), ("k", 2)], "markers": 0,
                    "tags": [{"Key": "team", "Value": "qa"}], "uploads": ["open"]}

        def test_1_changes_everything(strata_baseline, s3_client):
            assert state(s3_client) == BASELINE
            s3_client.put_object(Bucket="seeded", Key="k", Body=b"changed")
            s3_client.delete_object(Bucket="seeded", Key="k")
            s3_client.delete_bucket_tagging(Bucket="seeded")
            upload = s3_client.list_multipart_uploads(Bucket="seeded")["Uploads"][0]
            s3_client.abort_multipart_upload(Bucket="seeded", Key="open", UploadId=upload["UploadId"])
            s3_client.create_bucket(Bucket="extra")

        def test_2_starts_from_the_baseline(strata_baseline, s3_client):
            assert state(s3_client) == BASELINE
            assert s3_client.get_object(Bucket="seeded", Key="k")["Body"].read() == b"v2"

        def test_3_s3_bucket_comes_after_the_restore(s3_bucket, strata_baseline, s3_client):
            names = [b["Name"] for b in s3_client.list_buckets()["Buckets"]]
            assert sorted(names) == sorted(["seeded", s3_bucket])
            s3_client.put_object(Bucket=s3_bucket, Key="mine", Body=b"m")

        def test_4_without_the_fixture_the_store_is_as_the_last_test_left_it(s3_client):
            assert s3_client.list_objects_v2(Bucket="seeded")["KeyCount"] == 1
            assert s3_client.list_buckets()["Buckets"][0]["Name"] == "seeded"

        def test_5_seeded_once_and_one_snapshot(strata_baseline, strata_baseline_snapshot):
            assert conftest.SEEDED == [1]
            assert [s["name"] for s in strata_baseline.snapshots()] == [strata_baseline_snapshot] == ["pytest-baseline"]
    """))
    result = run(inner)
    result.assert_outcomes(passed=5)


def test_the_readme_snapshot_example(inner):
    # README.md shows examples/test_snapshots.py (Tools/check_readme_examples.py), and so
    # does this package's README.
    example = Path(__file__).resolve().parents[1] / "examples" / "test_snapshots.py"
    readme = Path(__file__).resolve().parents[1] / "README.md"
    assert "```python\n" + example.read_text() + "```" in readme.read_text(), "copy the example into README.md"
    inner.makepyfile(test_snapshots=example.read_text())
    result = run(inner)
    result.assert_outcomes(passed=2)
