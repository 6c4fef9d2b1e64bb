"""minio-py, s3fs with pandas, and pyarrow against the real gateway."""

from __future__ import annotations

import io

import pytest
from tusk_stack import ACCESS_KEY, SECRET_KEY, GatewayThread, unique

pytestmark = pytest.mark.xdist_group("s3-gateway-data-tools")


def test_minio_put_stat_get_list_and_remove(tusk_gateway: GatewayThread) -> None:
    from minio import Minio
    from minio.deleteobjects import DeleteObject

    host = tusk_gateway.url.removeprefix("http://")
    mc = Minio(host, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False, region="us-east-1")
    repo = unique()
    mc.make_bucket(repo)
    assert mc.bucket_exists(repo)
    data = b"minio " * 3_000_000  # 18 MB: the SDK sends it as a multipart upload of 5 MiB parts
    mc.put_object(repo, "m/big.bin", io.BytesIO(data), len(data), part_size=5 * 1024 * 1024,
                  metadata={"x-amz-meta-source": "minio"})
    mc.put_object(repo, "m/small.txt", io.BytesIO(b"hi"), 2, content_type="text/plain")
    stat = mc.stat_object(repo, "m/big.bin")
    assert stat.size == len(data) and stat.etag.endswith("-4")
    assert stat.metadata["x-amz-meta-source"] == "minio"
    response = mc.get_object(repo, "m/big.bin", offset=5, length=10)
    try:
        assert response.read() == data[5:15]
    finally:
        response.close()
        response.release_conn()
    assert [o.object_name for o in mc.list_objects(repo, prefix="m/", recursive=True)] == ["m/big.bin", "m/small.txt"]
    errors = list(mc.remove_objects(repo, [DeleteObject("m/big.bin"), DeleteObject("m/small.txt")]))
    assert errors == []
    assert list(mc.list_objects(repo, recursive=True)) == []


def test_pandas_reads_and_writes_a_csv_through_s3fs(tusk_gateway: GatewayThread) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("s3fs")
    s3 = tusk_gateway.boto3()
    repo = unique()
    s3.create_bucket(Bucket=repo)
    s3.put_object(Bucket=repo, Key="tables/people.csv", Body=b"name,age\nana,31\nbo,42\n")
    options = {"key": ACCESS_KEY, "secret": SECRET_KEY, "client_kwargs": {"endpoint_url": tusk_gateway.url,
                                                                          "region_name": "us-east-1"}}
    frame = pd.read_csv(f"s3://{repo}/tables/people.csv", storage_options=options)
    assert frame.to_dict("records") == [{"name": "ana", "age": 31}, {"name": "bo", "age": 42}]
    frame.assign(age=frame.age + 1).to_csv(f"s3://{repo}/tables/older.csv", index=False, storage_options=options)
    assert s3.get_object(Bucket=repo, Key="tables/older.csv")["Body"].read() == b"name,age\nana,32\nbo,43\n"


def test_pyarrow_reads_a_parquet_file_over_plain_http(tusk_gateway: GatewayThread) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    repo = unique()
    tusk_gateway.boto3().create_bucket(Bucket=repo)
    fs = pafs.S3FileSystem(access_key=ACCESS_KEY, secret_key=SECRET_KEY, endpoint_override=tusk_gateway.url,
                           scheme="http", region="us-east-1")
    table = pa.table({"id": list(range(50_000)), "name": [f"row-{i}" for i in range(50_000)]})
    pq.write_table(table, f"{repo}/data/rows.parquet", filesystem=fs)  # pyarrow's own upload path
    info = fs.get_file_info(f"{repo}/data/rows.parquet")
    assert info.size > 0
    back = pq.read_table(f"{repo}/data/rows.parquet", filesystem=fs)
    assert back.equals(table)
    listed = fs.get_file_info(pafs.FileSelector(f"{repo}/data", recursive=True))
    assert [i.path for i in listed] == [f"{repo}/data/rows.parquet"]
    subset = pq.read_table(f"{repo}/data/rows.parquet", filesystem=fs, columns=["name"])  # ranged reads
    assert subset.column("name")[49_999].as_py() == "row-49999"
