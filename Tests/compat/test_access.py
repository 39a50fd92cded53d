"""Users, ACLs, bucket policies, Block Public Access and Object Ownership with real clients.

A server of its own with a users file (Alice and Bob besides root); boto3 signs as each
of them or sends unsigned (anonymous) requests, and the AWS CLI v1 s3api manages the
settings. Every grant is checked from the side it lets in and the side it keeps out.
"""

import json
import os
import subprocess

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import IN_CI, REGION, SKIP_UNDER_MOTO, start_server, stop_server, unique_bucket
from test_awscli import find_aws_v1

pytestmark = SKIP_UNDER_MOTO

USERS = {
    "alice": ("AKIAALICE00000000001", "alice/secret/0123456789abcdefABCDEFGH", "a1ice0000000000000000000000000000000000000000000000000000000001", "Alice"),
    "bob": ("AKIABOB0000000000002", "bob/secret/0123456789abcdefABCDEFGHIJ", "b0b00000000000000000000000000000000000000000000000000000000000002", "Bob"),
}
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture(scope="module")
def access_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("access")
    users = root / "users.txt"
    users.write_text("# access key, secret, canonical id, display name\n"
                     + "".join(f"{k} {s} {i} {n}\n" for k, s, i, n in USERS.values()))
    srv = start_server(root, ["--users", str(users)])
    srv.users_file = users
    srv.root = root
    yield srv
    stop_server(srv)


def client(server, who):
    import boto3

    cfg = dict(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=30)
    if who == "anonymous":
        return boto3.session.Session().client("s3", endpoint_url=server.endpoint, region_name=REGION,
                                              config=Config(signature_version=UNSIGNED, **cfg))
    if who == "root":
        key, secret = server.access_key, server.secret_key
    else:
        key, secret = USERS[who][:2]
    return boto3.session.Session().client("s3", endpoint_url=server.endpoint, region_name=REGION,
                                          aws_access_key_id=key, aws_secret_access_key=secret, config=Config(**cfg))


@pytest.fixture(scope="module")
def alice(access_server):
    return client(access_server, "alice")


@pytest.fixture(scope="module")
def bob(access_server):
    return client(access_server, "bob")


@pytest.fixture(scope="module")
def anonymous(access_server):
    return client(access_server, "anonymous")


def code_of(call):
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def denied(call):
    assert code_of(call) == ("AccessDenied", 403)


def test_private_by_default_for_other_users_and_anonymous(alice, bob, anonymous):
    name = unique_bucket("private")
    alice.create_bucket(Bucket=name)
    alice.put_object(Bucket=name, Key="k", Body=b"secret")
    for other in (bob, anonymous):
        denied(lambda: other.get_object(Bucket=name, Key="k"))
        denied(lambda: other.list_objects_v2(Bucket=name))
        denied(lambda: other.put_object(Bucket=name, Key="new", Body=b"x"))
        denied(lambda: other.delete_object(Bucket=name, Key="k"))
        denied(lambda: other.get_bucket_acl(Bucket=name))
    denied(lambda: anonymous.list_buckets())
    assert alice.get_object(Bucket=name, Key="k")["Body"].read() == b"secret"
    # Only the caller's own buckets are listed, with the caller as owner.
    listed = bob.list_buckets()
    assert name not in [b["Name"] for b in listed["Buckets"]]
    assert listed["Owner"] == {"ID": USERS["bob"][2], "DisplayName": "Bob"}
    assert code_of(lambda: bob.create_bucket(Bucket=name)) == ("BucketAlreadyExists", 409)


def test_canned_acls_public_read_and_write(alice, bob, anonymous):
    name = unique_bucket("canned")
    alice.create_bucket(Bucket=name, ACL="public-read")
    alice.put_object(Bucket=name, Key="open", Body=b"hello", ACL="public-read")
    alice.put_object(Bucket=name, Key="closed", Body=b"no")
    assert anonymous.get_object(Bucket=name, Key="open")["Body"].read() == b"hello"
    denied(lambda: anonymous.get_object(Bucket=name, Key="closed"))
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket=name)["Contents"]] == ["closed", "open"]
    # The bucket can be listed, so a missing key is 404 rather than 403.
    assert code_of(lambda: anonymous.get_object(Bucket=name, Key="missing")) == ("NoSuchKey", 404)
    denied(lambda: bob.put_object(Bucket=name, Key="by-bob", Body=b"x"))

    grants = alice.get_object_acl(Bucket=name, Key="open")["Grants"]
    assert {(g["Grantee"].get("URI") or g["Grantee"]["ID"], g["Permission"]) for g in grants} == {
        (USERS["alice"][2], "FULL_CONTROL"), (ALL_USERS, "READ")}
    alice.put_object_acl(Bucket=name, Key="open", ACL="private")
    denied(lambda: anonymous.get_object(Bucket=name, Key="open"))

    alice.put_bucket_acl(Bucket=name, ACL="public-read-write")
    anonymous.put_object(Bucket=name, Key="anon", Body=b"from nobody")
    assert alice.get_object(Bucket=name, Key="anon")["Body"].read() == b"from nobody"


def test_grants_between_users_and_object_ownership(alice, bob):
    name = unique_bucket("grants")
    alice.create_bucket(Bucket=name)
    alice_id, bob_id = USERS["alice"][2], USERS["bob"][2]
    alice.put_bucket_acl(Bucket=name, GrantWrite=f'id="{bob_id}"', GrantFullControl=f'id="{alice_id}"')
    bob.put_object(Bucket=name, Key="bobs", Body=b"mine")
    bob.put_object(Bucket=name, Key="shared", Body=b"ours", ACL="bucket-owner-full-control")
    denied(lambda: bob.list_objects_v2(Bucket=name))  # WRITE is not READ
    denied(lambda: alice.get_object(Bucket=name, Key="bobs"))  # ObjectWriter: Bob owns it
    assert alice.get_object(Bucket=name, Key="shared")["Body"].read() == b"ours"
    assert bob.get_object_acl(Bucket=name, Key="bobs")["Owner"]["ID"] == bob_id
    owners = {o["Key"]: o["Owner"]["DisplayName"]
              for o in alice.list_objects_v2(Bucket=name, FetchOwner=True)["Contents"]}
    assert owners == {"bobs": "Bob", "shared": "Bob"}
    # Bob lets Alice read with a grant through PutObjectAcl.
    bob.put_object_acl(Bucket=name, Key="bobs", GrantRead=f'id="{alice_id}"', GrantFullControl=f'id="{bob_id}"')
    assert alice.get_object(Bucket=name, Key="bobs")["Body"].read() == b"mine"
    alice.delete_object(Bucket=name, Key="bobs")  # bucket WRITE decides deletes


def test_bucket_policy_allow_deny_and_owner_lockout_protection(alice, bob, anonymous):
    name = unique_bucket("policy")
    alice.create_bucket(Bucket=name)
    alice.put_object(Bucket=name, Key="public/a", Body=b"A")
    alice.put_object(Bucket=name, Key="private/b", Body=b"B")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{name}/public/*"},
        {"Sid": "BobWrites", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/Bob"},
         "Action": ["s3:PutObject", "s3:ListBucket"], "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]},
        {"Sid": "BobListsOnlyPublic", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::000000000000:user/Bob"},
         "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{name}",
         "Condition": {"StringNotLike": {"s3:prefix": "public/*"}}},
        {"Sid": "NoDeletes", "Effect": "Deny", "Principal": "*", "Action": ["s3:DeleteObject", "s3:DeleteBucket"],
         "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]},
    ]}
    alice.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    assert json.loads(alice.get_bucket_policy(Bucket=name)["Policy"]) == policy
    assert alice.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"] is True

    assert anonymous.get_object(Bucket=name, Key="public/a")["Body"].read() == b"A"
    denied(lambda: anonymous.get_object(Bucket=name, Key="private/b"))
    bob.put_object(Bucket=name, Key="public/c", Body=b"C")
    assert [o["Key"] for o in bob.list_objects_v2(Bucket=name, Prefix="public/")["Contents"]] == ["public/a", "public/c"]
    denied(lambda: bob.list_objects_v2(Bucket=name))  # no prefix: the Deny's StringNotLike holds
    denied(lambda: bob.delete_object(Bucket=name, Key="public/c"))
    denied(lambda: alice.delete_object(Bucket=name, Key="public/a"))  # an explicit Deny binds the owner too
    denied(lambda: alice.delete_bucket(Bucket=name))
    # ... but the owner can always manage the policy.
    denied(lambda: bob.put_bucket_policy(Bucket=name, Policy=json.dumps(policy)))
    alice.delete_bucket_policy(Bucket=name)
    assert code_of(lambda: alice.get_bucket_policy(Bucket=name)) == ("NoSuchBucketPolicy", 404)
    denied(lambda: anonymous.get_object(Bucket=name, Key="public/a"))
    alice.delete_object(Bucket=name, Key="public/a")


@pytest.mark.parametrize("document", [
    "{not json",
    '{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::B/*"}]}',
    '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Teleport","Resource":"arn:aws:s3:::B/*"}]}',
    '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::elsewhere/*"}]}',
    '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::B"}]}',
])
def test_malformed_policies_are_refused(alice, document):
    name = unique_bucket("badpolicy")
    alice.create_bucket(Bucket=name)
    assert code_of(lambda: alice.put_bucket_policy(Bucket=name, Policy=document.replace("B", name))) == ("MalformedPolicy", 400)
    assert code_of(lambda: alice.get_bucket_policy(Bucket=name)) == ("NoSuchBucketPolicy", 404)


def test_bucket_owner_enforced_disables_acls(alice, bob):
    name = unique_bucket("enforced")
    alice.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")
    rules = alice.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert code_of(lambda: alice.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read")) == (
        "AccessControlListNotSupported", 400)
    assert code_of(lambda: alice.put_bucket_acl(Bucket=name, ACL="public-read")) == ("AccessControlListNotSupported", 400)
    alice.put_bucket_policy(Bucket=name, Policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"CanonicalUser": USERS["bob"][2]}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{name}/*"}]}))
    bob.put_object(Bucket=name, Key="from-bob", Body=b"b", ACL="bucket-owner-full-control")
    assert alice.get_object_acl(Bucket=name, Key="from-bob")["Owner"]["ID"] == USERS["alice"][2]
    denied(lambda: bob.get_object(Bucket=name, Key="from-bob"))
    alice.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    alice.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read")
    alice.delete_bucket_ownership_controls(Bucket=name)
    assert code_of(lambda: alice.get_bucket_ownership_controls(Bucket=name)) == ("OwnershipControlsNotFoundError", 404)


def test_public_access_block(alice, anonymous):
    name = unique_bucket("pab")
    alice.create_bucket(Bucket=name)
    alice.put_object(Bucket=name, Key="open", Body=b"o", ACL="public-read")
    assert anonymous.get_object(Bucket=name, Key="open")["Body"].read() == b"o"
    assert code_of(lambda: alice.get_public_access_block(Bucket=name)) == ("NoSuchPublicAccessBlockConfiguration", 404)
    block = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
    alice.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
    assert alice.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"] == block
    denied(lambda: anonymous.get_object(Bucket=name, Key="open"))
    denied(lambda: alice.put_object(Bucket=name, Key="more", Body=b"m", ACL="public-read"))
    denied(lambda: alice.put_bucket_policy(Bucket=name, Policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]})))
    alice.delete_public_access_block(Bucket=name)
    assert anonymous.get_object(Bucket=name, Key="open")["Body"].read() == b"o"


def test_bad_acl_requests_change_nothing(alice, anonymous):
    name = unique_bucket("badacl")
    alice.create_bucket(Bucket=name)
    alice.put_object(Bucket=name, Key="k", Body=b"k")
    assert code_of(lambda: alice.put_object_acl(Bucket=name, Key="k", ACL="everyone-please"))[1] == 400
    assert code_of(lambda: alice.put_object_acl(Bucket=name, Key="k", GrantRead='emailAddress="x@example.com"')) == (
        "UnresolvableGrantByEmailAddress", 400)
    assert code_of(lambda: alice.put_object_acl(Bucket=name, Key="k", GrantRead='id="nobody"')) == ("InvalidArgument", 400)
    denied(lambda: anonymous.get_object(Bucket=name, Key="k"))
    grants = alice.get_object_acl(Bucket=name, Key="k")["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]


def test_presigned_url_carries_the_signers_rights(access_server, alice, bob):
    import urllib.request

    name = unique_bucket("presign")
    alice.create_bucket(Bucket=name)
    alice.put_object(Bucket=name, Key="k", Body=b"via url")
    for signer, expected in ((alice, 200), (bob, 403)):
        url = signer.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"}, ExpiresIn=60)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        assert status == expected, body
        if expected == 200:
            assert body == b"via url"


def test_browser_post_uploads_are_authorized(alice, bob, anonymous):
    import requests

    name = unique_bucket("post-access")
    alice.create_bucket(Bucket=name)
    # Bob may sign a form, but the bucket is Alice's and private.
    form = bob.generate_presigned_post(name, "by-bob.txt", ExpiresIn=300)
    r = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"bob")}, timeout=30)
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content, r.text
    # An anonymous form (no policy, no signature) is allowed once anonymous callers may write.
    r = requests.post(form["url"], data={"key": "anon.txt"}, files={"file": ("f", b"anon")}, timeout=30)
    assert r.status_code == 403, r.text
    alice.put_bucket_acl(Bucket=name, ACL="public-read-write")
    r = requests.post(form["url"], data={"key": "anon.txt"}, files={"file": ("f", b"anon")}, timeout=30)
    assert r.status_code == 204, r.text
    r = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"bob")}, timeout=30)
    assert r.status_code == 204, r.text
    assert alice.get_object(Bucket=name, Key="anon.txt")["Body"].read() == b"anon"
    assert bob.get_object_acl(Bucket=name, Key="by-bob.txt")["Owner"]["ID"] == USERS["bob"][2]


def test_other_users_cannot_manage_versioning_tags_lifecycle_or_cors(alice, bob, anonymous):
    name = unique_bucket("settings-denied")
    alice.create_bucket(Bucket=name, ACL="public-read-write")
    alice.put_object(Bucket=name, Key="k", Body=b"k", Tagging="owner=alice")
    for other in (bob, anonymous):
        denied(lambda: other.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"}))
        denied(lambda: other.get_bucket_versioning(Bucket=name))
        denied(lambda: other.put_object_tagging(Bucket=name, Key="k", Tagging={"TagSet": [{"Key": "x", "Value": "y"}]}))
        denied(lambda: other.delete_object_tagging(Bucket=name, Key="k"))
        denied(lambda: other.get_object_tagging(Bucket=name, Key="k"))
        denied(lambda: other.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "x", "Value": "y"}]}))
        denied(lambda: other.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
            {"ID": "all", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}}]}))
        denied(lambda: other.get_bucket_lifecycle_configuration(Bucket=name))
        denied(lambda: other.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]}))
        denied(lambda: other.get_bucket_policy(Bucket=name))
    # Object READ (here: public-read on the object) lets others read its tags, as S3's
    # GetObjectTagging permission follows the object's READ grant.
    alice.put_object_acl(Bucket=name, Key="k", ACL="public-read")
    assert anonymous.get_object_tagging(Bucket=name, Key="k")["TagSet"] == [{"Key": "owner", "Value": "alice"}]
    # The bucket is public-read-write: listing versions is a bucket READ.
    assert [v["Key"] for v in bob.list_object_versions(Bucket=name)["Versions"]] == ["k"]
    assert alice.get_object_tagging(Bucket=name, Key="k")["TagSet"] == [{"Key": "owner", "Value": "alice"}]


def test_settings_survive_a_restart(access_server, alice, anonymous):
    name = unique_bucket("durable")
    alice.create_bucket(Bucket=name, ACL="public-read")
    alice.put_object(Bucket=name, Key="k", Body=b"v", ACL="public-read")
    alice.put_bucket_policy(Bucket=name, Policy=json.dumps({"Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
    stop_server(access_server)
    restarted = start_server(access_server.root, ["--users", str(access_server.users_file)],
                             data_dir=access_server.data_dir)
    try:
        a, anon = client(restarted, "alice"), client(restarted, "anonymous")
        assert anon.get_object(Bucket=name, Key="k")["Body"].read() == b"v"
        assert [o["Key"] for o in anon.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
        denied(lambda: a.delete_object(Bucket=name, Key="k"))
        assert "Deny" in a.get_bucket_policy(Bucket=name)["Policy"]
    finally:
        stop_server(restarted)
        # Later tests in this module use the module's server: start it again in place.
        again = start_server(access_server.root, ["--users", str(access_server.users_file)], data_dir=access_server.data_dir)
        access_server.proc, access_server.port = again.proc, again.port


def test_awscli_s3api_manages_acls_and_policies(access_server, tmp_path):
    aws = find_aws_v1()
    if aws is None:
        if IN_CI:
            pytest.fail("AWS CLI v1 is missing (CI=true); run `make client-deps`")
        pytest.skip("AWS CLI v1 is not installed")
    key, secret = USERS["alice"][:2]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": key,
           "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_PAGER": "", "NO_PROXY": "127.0.0.1"}
    for keep in ("PYENV_ROOT", "PYENV_VERSION"):
        if keep in os.environ:
            env[keep] = os.environ[keep]

    def s3api(*args, check=True):
        p = subprocess.run([aws, "--endpoint-url", access_server.endpoint, "--output", "json", "s3api", *args],
                           env=env, capture_output=True, timeout=120)
        if check:
            assert p.returncode == 0, p.stderr.decode()
        return json.loads(p.stdout or b"{}") if p.returncode == 0 else p

    name = unique_bucket("cli-access")
    s3api("create-bucket", "--bucket", name, "--acl", "authenticated-read")
    grants = s3api("get-bucket-acl", "--bucket", name)["Grants"]
    assert {"http://acs.amazonaws.com/groups/global/AuthenticatedUsers"} == {
        g["Grantee"].get("URI") for g in grants if "URI" in g["Grantee"]}
    s3api("put-bucket-acl", "--bucket", name, "--acl", "private")
    assert len(s3api("get-bucket-acl", "--bucket", name)["Grants"]) == 1
    body = tmp_path / "body.txt"
    body.write_bytes(b"cli")
    s3api("put-object", "--bucket", name, "--key", "k", "--body", str(body), "--acl", "public-read")
    assert any(g["Permission"] == "READ" for g in s3api("get-object-acl", "--bucket", name, "--key", "k")["Grants"])
    policy = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                        "Resource": f"arn:aws:s3:::{name}/*"}]})
    s3api("put-bucket-policy", "--bucket", name, "--policy", policy)
    assert s3api("get-bucket-policy-status", "--bucket", name)["PolicyStatus"]["IsPublic"] is True
    s3api("put-public-access-block", "--bucket", name, "--public-access-block-configuration",
          "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true")
    assert s3api("get-public-access-block", "--bucket", name)["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    refused = s3api("put-object-acl", "--bucket", name, "--key", "k", "--acl", "public-read", check=False)
    assert refused.returncode != 0 and b"AccessDenied" in refused.stderr
    s3api("put-bucket-ownership-controls", "--bucket", name, "--ownership-controls",
          "Rules=[{ObjectOwnership=BucketOwnerPreferred}]")
    assert s3api("get-bucket-ownership-controls", "--bucket", name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    missing = s3api("get-bucket-policy", "--bucket", unique_bucket("nope"), check=False)
    assert missing.returncode != 0 and b"NoSuchBucket" in missing.stderr
