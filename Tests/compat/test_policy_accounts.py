"""AWS accounts with real clients: a users file naming accounts (and users without one,
whose account is derived from the canonical id), bucket policies whose principal is an
account (`arn:aws:iam::ACCOUNT:root` or the bare 12-digit id), and boto3's
ExpectedBucketOwner carrying the owner's account id."""

import hashlib
import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, SKIP_UNDER_MOTO, start_server, stop_server, unique_bucket

pytestmark = SKIP_UNDER_MOTO

SHARED_ACCOUNT = "111122223333"
# access key, secret, canonical id, account (None: derived), display name
USERS = {
    "alice": ("AKIAALICE00000000011", "alice/secret/accounts/0123456789", "alice-0011", SHARED_ACCOUNT, "Alice"),
    "carol": ("AKIACAROL00000000012", "carol/secret/accounts/0123456789", "carol-0012", SHARED_ACCOUNT, "Carol Jones"),
    "bob": ("AKIABOB0000000000013", "bob/secret/accounts/0123456789ab", "bob-0013", None, "Bob"),
}


def derived_account(canonical_id):
    """The account of a user the users file gives none (README, "Users and access")."""
    digest = hashlib.sha256(b"strata-account:" + canonical_id.encode()).digest()
    return "%012d" % (int.from_bytes(digest[:8], "big") % 10**12)


def account_of(who):
    return USERS[who][3] or derived_account(USERS[who][2])


@pytest.fixture(scope="module")
def accounts_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("accounts")
    users = root / "users.txt"
    users.write_text("# access key, secret, canonical id, [account id,] display name\n"
                     + "".join(f"{k} {s} {i} {a + ' ' if a else ''}{n}\n" for k, s, i, a, n in USERS.values()))
    srv = start_server(root, ["--users", str(users)])
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def clients(accounts_server):
    import boto3

    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=30)
    return {who: boto3.session.Session().client("s3", endpoint_url=accounts_server.endpoint, region_name=REGION,
                                                aws_access_key_id=u[0], aws_secret_access_key=u[1], config=cfg)
            for who, u in USERS.items()}


def status_of(call):
    try:
        call()
        return 200
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize("principal", [f"arn:aws:iam::{SHARED_ACCOUNT}:root", SHARED_ACCOUNT])
def test_policy_account_principal_grants_every_user_of_the_account(clients, principal):
    """AWS: an account principal (root ARN or bare account id) means every identity of it."""
    bob = clients["bob"]
    name = unique_bucket("acct")
    bob.create_bucket(Bucket=name)
    bob.put_object(Bucket=name, Key="k", Body=b"shared")
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*"}]}
    bob.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    for member in ("alice", "carol"):
        assert clients[member].get_object(Bucket=name, Key="k")["Body"].read() == b"shared"
    other = unique_bucket("acct-other")
    clients["alice"].create_bucket(Bucket=other)
    clients["alice"].put_object(Bucket=other, Key="k", Body=b"x")
    assert status_of(lambda: bob.get_object(Bucket=other, Key="k")) == 403


def test_policy_derived_account_and_unknown_account(clients):
    """A user without an account in the users file has the documented derived one; a
    policy naming an account nobody has is MalformedPolicy, as AWS answers."""
    alice = clients["alice"]
    name = unique_bucket("derived")
    alice.create_bucket(Bucket=name)
    alice.put_object(Bucket=name, Key="k", Body=b"data")
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [account_of("bob")]}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*"}]}
    alice.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    assert clients["bob"].get_object(Bucket=name, Key="k")["Body"].read() == b"data"
    policy["Statement"][0]["Principal"] = {"AWS": "arn:aws:iam::999999999999:root"}
    with pytest.raises(ClientError) as info:
        alice.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    assert info.value.response["Error"]["Code"] == "MalformedPolicy"


def test_expected_bucket_owner_is_the_owners_account_id(clients):
    """AWS compares ExpectedBucketOwner with the bucket owner's account id."""
    bob = clients["bob"]
    name = unique_bucket("expected")
    bob.create_bucket(Bucket=name)
    bob.put_object(Bucket=name, Key="k", Body=b"x", ExpectedBucketOwner=account_of("bob"))
    bob.head_bucket(Bucket=name, ExpectedBucketOwner=account_of("bob"))
    assert status_of(lambda: bob.head_object(Bucket=name, Key="k", ExpectedBucketOwner=SHARED_ACCOUNT)) == 403
    bob.copy_object(Bucket=name, Key="copy", CopySource={"Bucket": name, "Key": "k"},
                    ExpectedBucketOwner=account_of("bob"), ExpectedSourceBucketOwner=account_of("bob"))
    assert sorted(o["Key"] for o in bob.list_objects_v2(Bucket=name)["Contents"]) == ["copy", "k"]
    assert bob.list_buckets()["Owner"] == {"ID": USERS["bob"][2], "DisplayName": "Bob"}
    assert clients["carol"].list_buckets()["Owner"] == {"ID": USERS["carol"][2], "DisplayName": "Carol Jones"}
