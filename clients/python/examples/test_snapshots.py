import pytest


@pytest.fixture(scope="session")
def strata_seed(s3_client):
    # Runs once per session; the baseline snapshot is saved right after it.
    s3_client.create_bucket(Bucket="reports")
    for day in range(1, 8):
        s3_client.put_object(Bucket="reports", Key=f"2026/12/{day:02}.csv", Body=b"day,total\n")


def test_cleanup_deletes_old_reports(strata_baseline, s3_client):
    s3_client.delete_objects(Bucket="reports", Delete={"Objects": [{"Key": "2026/12/01.csv"}, {"Key": "2026/12/02.csv"}]})
    assert s3_client.list_objects_v2(Bucket="reports")["KeyCount"] == 5


def test_every_test_starts_from_the_baseline(strata_baseline, s3_client):
    # strata_baseline restored the snapshot before this test: whatever ran before, all 7 are there.
    assert s3_client.list_objects_v2(Bucket="reports")["KeyCount"] == 7
