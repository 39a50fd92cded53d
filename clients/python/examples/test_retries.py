def test_upload_is_retried_when_s3_throttles(strata_faults, s3_client, s3_bucket):
    # The next two PUTs answer 503 SlowDown; boto3 retries and the third one lands.
    strata_faults.add_faults({"operation": "PutObject", "error": {"code": "SlowDown"}, "count": 2})
    s3_client.put_object(Bucket=s3_bucket, Key="report.csv", Body=b"a,b\n1,2\n")
    assert strata_faults.faults()[0]["hits"] == 2
    assert s3_client.get_object(Bucket=s3_bucket, Key="report.csv")["Body"].read() == b"a,b\n1,2\n"


def test_download_survives_a_dropped_connection(strata_faults, s3_client, s3_bucket, tmp_path):
    s3_client.put_object(Bucket=s3_bucket, Key="big.bin", Body=b"x" * 1_000_000)
    # The first GET's connection is reset after 100 kB; the download retries.
    strata_faults.add_faults({"operation": "GetObject", "resetAfterBytes": 100_000, "count": 1})
    s3_client.download_file(s3_bucket, "big.bin", str(tmp_path / "big.bin"))
    assert (tmp_path / "big.bin").read_bytes() == b"x" * 1_000_000
