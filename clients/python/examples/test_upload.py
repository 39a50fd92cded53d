def test_upload(s3_client, s3_bucket):
    s3_client.put_object(Bucket=s3_bucket, Key="report.csv", Body=b"a,b\n1,2\n")
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == ["report.csv"]
    body = s3_client.get_object(Bucket=s3_bucket, Key="report.csv")["Body"].read()
    assert body == b"a,b\n1,2\n"
