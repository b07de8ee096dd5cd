"""One storage contract, two backends: ``LocalStorage`` and ``S3Storage`` against a real S3 server.

The S3 side talks to SeaweedFS on 127.0.0.1 (``tests.support.s3server``); without a ``weed`` binary those
cases are skipped and the local ones still run.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.platform.storage import LocalStorage, S3Storage, Storage
from tests.support.s3server import S3Server, s3_server_or_skip

BAD_KEYS = ["../etc/passwd", "a/../../b", "/abs", "a//b", "a/./b", "", "a\\b", "a/", "."]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server_or_skip(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


def s3_storage(server: S3Server, *, bucket: str | None = None, prefix: str = "", **kw: str) -> S3Storage:
    """An ``S3Storage`` built the way the platform builds it: endpoint URL and keys, no client of ours."""
    with pytest.MonkeyPatch.context() as mp:  # a proxy from the environment must not carry loopback traffic
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.setenv("no_proxy", "127.0.0.1,localhost")
        args: dict[str, str] = {
            "endpoint_url": server.endpoint_url,
            "region": server.region,
            "access_key_id": server.access_key_id,
            "secret_access_key": server.secret_access_key,
        }
        args.update(kw)
        return S3Storage(bucket or server.bucket, prefix=prefix, **args)


def fresh_bucket(server: S3Server) -> str:
    name = f"t-{secrets.token_hex(6)}"
    server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """An empty store of each kind: a fresh directory, or a fresh bucket on the S3 server."""
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    server: S3Server = request.getfixturevalue("s3_server")
    return s3_storage(server, bucket=fresh_bucket(server))


# --- the contract both backends honour ------------------------------------------------------------------


def test_round_trip_with_chinese_key_and_binary_data(storage: Storage) -> None:
    key = "项目/2024-001/招标文件（第1册）.pdf"
    data = bytes(range(256)) * 8 + b"\x00\r\n\x1a\xff%PDF"
    digest = storage.put(key, data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert storage.get(key) == data
    assert storage.exists(key)
    assert storage.list() == [key]


def test_keys_with_spaces_and_url_characters_survive(storage: Storage) -> None:
    keys = ["a b+c%20&=?#;@,.txt", "(括号)[x]{y}~!$'/文 件.bin"]
    for i, key in enumerate(keys):
        storage.put(key, f"body-{i}".encode())
    assert storage.list() == sorted(keys)
    assert [storage.get(k) for k in keys] == [b"body-0", b"body-1"]


def test_empty_object(storage: Storage) -> None:
    assert storage.put("empty/零.bin", b"") == hashlib.sha256(b"").hexdigest()
    assert storage.exists("empty/零.bin")
    assert storage.get("empty/零.bin") == b""


def test_overwrite_replaces_the_object(storage: Storage) -> None:
    storage.put("bids/1/报价.json", b'{"price": 100}')
    second = storage.put("bids/1/报价.json", b'{"price": 99}')
    assert second == hashlib.sha256(b'{"price": 99}').hexdigest()
    assert storage.get("bids/1/报价.json") == b'{"price": 99}'
    assert storage.list() == ["bids/1/报价.json"]


def test_exists_and_delete(storage: Storage) -> None:
    assert not storage.exists("docs/合同.pdf")
    storage.put("docs/合同.pdf", b"contract")
    storage.put("docs/附件.pdf", b"annex")
    assert storage.exists("docs/合同.pdf")
    storage.delete("docs/合同.pdf")
    assert not storage.exists("docs/合同.pdf")
    assert storage.list() == ["docs/附件.pdf"]
    assert storage.get("docs/附件.pdf") == b"annex"
    storage.delete("docs/合同.pdf")  # deleting what is gone is not an error
    storage.delete("never/was.txt")
    with pytest.raises(NotFound):
        storage.get("docs/合同.pdf")


def test_get_of_a_missing_key_is_not_found(storage: Storage) -> None:
    storage.put("present/a.txt", b"a")
    with pytest.raises(NotFound) as caught:
        storage.get("present/b.txt")
    assert caught.value.code == "storage.not_found"
    assert "present/b.txt" in caught.value.message_en
    with pytest.raises(NotFound):
        storage.get("absent/dir/a.txt")


def test_list_by_prefix(storage: Storage) -> None:
    keys = [
        "projects/1/a.pdf",
        "projects/1/sub/c.pdf",
        "projects/10/x.pdf",
        "archive/1/z.zip",
        "项目/一/文件.txt",
        "项目二/文件.txt",
    ]
    for k in keys:
        storage.put(k, k.encode())
    assert storage.list() == sorted(keys)
    assert storage.list("projects/1/") == ["projects/1/a.pdf", "projects/1/sub/c.pdf"]
    assert storage.list("projects/1") == ["projects/1/a.pdf", "projects/1/sub/c.pdf", "projects/10/x.pdf"]
    assert storage.list("项目/") == ["项目/一/文件.txt"]
    assert storage.list("项目") == ["项目/一/文件.txt", "项目二/文件.txt"]
    assert storage.list("archive/1/z.zip") == ["archive/1/z.zip"]
    assert storage.list("nothing/") == []


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_by_every_operation(storage: Storage, key: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        storage.put(key, b"x")
    assert caught.value.code == "storage.bad_key"
    with pytest.raises(ValidationFailed):
        storage.get(key)
    with pytest.raises(ValidationFailed):
        storage.exists(key)
    with pytest.raises(ValidationFailed):
        storage.delete(key)
    assert storage.list() == []


def test_five_megabyte_round_trip(storage: Storage) -> None:
    data = random.Random(20240601).randbytes(5 * 1024 * 1024 + 17)  # spans SeaweedFS's 4 MB chunks
    digest = storage.put("archives/2024/归档.zip", data)
    assert digest == hashlib.sha256(data).hexdigest()
    got = storage.get("archives/2024/归档.zip")
    assert len(got) == len(data)
    assert hashlib.sha256(got).hexdigest() == digest  # not `got == data`: a 5 MB diff helps nobody


# --- what only S3 has -------------------------------------------------------------------------------------


def test_s3_object_carries_its_sha256_and_size(s3_server: S3Server) -> None:
    bucket = fresh_bucket(s3_server)
    st = s3_storage(s3_server, bucket=bucket)
    data = b"\x89PNG\r\n\x1a\n" + bytes(1000)
    digest = st.put("图片/标志.png", data)
    head = s3_server.client().head_object(Bucket=bucket, Key="图片/标志.png")
    assert head["Metadata"]["sha256"] == digest == hashlib.sha256(data).hexdigest()
    assert head["ContentLength"] == len(data)


def test_s3_storage_prefix_is_applied_and_isolates(s3_server: S3Server) -> None:
    bucket = fresh_bucket(s3_server)
    root = s3_storage(s3_server, bucket=bucket)
    a = s3_storage(s3_server, bucket=bucket, prefix="tenant-a")
    b = s3_storage(s3_server, bucket=bucket, prefix="/tenant-b/")
    a.put("docs/1.pdf", b"from a")
    b.put("docs/1.pdf", b"from b")
    b.put("docs/2.pdf", b"second b")
    assert root.list() == ["tenant-a/docs/1.pdf", "tenant-b/docs/1.pdf", "tenant-b/docs/2.pdf"]
    raw = s3_server.client().list_objects_v2(Bucket=bucket, Prefix="tenant-a/")
    assert [o["Key"] for o in raw["Contents"]] == ["tenant-a/docs/1.pdf"]
    assert a.list() == ["docs/1.pdf"]
    assert b.list("docs/") == ["docs/1.pdf", "docs/2.pdf"]
    assert b.list("docs/2") == ["docs/2.pdf"]
    assert a.get("docs/1.pdf") == b"from a"
    assert b.get("docs/1.pdf") == b"from b"
    assert root.get("tenant-b/docs/2.pdf") == b"second b"
    assert not a.exists("docs/2.pdf")
    with pytest.raises(NotFound):
        a.get("docs/2.pdf")
    # the prefix is a whole path segment: "tenant" does not see "tenant-a/..."
    assert s3_storage(s3_server, bucket=bucket, prefix="tenant").list() == []
    a.delete("docs/1.pdf")
    assert root.list() == ["tenant-b/docs/1.pdf", "tenant-b/docs/2.pdf"]


def test_s3_wrong_secret_is_refused_not_taken_for_missing(s3_server: S3Server) -> None:
    bucket = fresh_bucket(s3_server)
    s3_storage(s3_server, bucket=bucket).put("signed/ok.txt", b"ok")
    bad = s3_storage(s3_server, bucket=bucket, secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as on_put:
        bad.put("signed/evil.txt", b"x")
    assert on_put.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "AccessDenied")
    with pytest.raises(ClientError):
        bad.get("signed/ok.txt")
    with pytest.raises(ClientError):
        bad.exists("signed/ok.txt")
    assert s3_storage(s3_server, bucket=bucket).list() == ["signed/ok.txt"]


# --- streaming: put_file and open (a 100 MB bid is never held in memory) ------------------------------------


def _big_file(path: Path, size: int, seed: int) -> str:
    """Write ``size`` pseudo-random bytes to ``path`` in pieces; return their SHA-256."""
    rng = random.Random(seed)
    h = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            piece = rng.randbytes(min(left, 1024 * 1024))
            h.update(piece)
            f.write(piece)
            left -= len(piece)
    return h.hexdigest()


def _stream_digest(storage: Storage, key: str, piece: int) -> tuple[str, int]:
    h = hashlib.sha256()
    total = 0
    with storage.open(key) as f:
        while data := f.read(piece):
            assert len(data) <= piece
            h.update(data)
            total += len(data)
    return h.hexdigest(), total


def test_put_file_streams_a_multipart_sized_file_and_open_streams_it_back(storage: Storage, tmp_path: Path) -> None:
    size = 17 * 1024 * 1024 + 5  # three S3 parts of 8 MiB (the last one short), SeaweedFS's 4 MB chunks too
    src = tmp_path / "bid.sbid"
    digest = _big_file(src, size, 4)
    assert storage.put_file("bids/1/2/3-abcd.sbid", src) == digest
    assert storage.exists("bids/1/2/3-abcd.sbid")
    assert storage.list("bids/") == ["bids/1/2/3-abcd.sbid"]
    assert _stream_digest(storage, "bids/1/2/3-abcd.sbid", 65_536) == (digest, size)
    with storage.open("bids/1/2/3-abcd.sbid") as f:  # the header of a container: the first bytes only
        head = f.read(10)
    with src.open("rb") as original:
        assert head == original.read(10)


def test_put_file_of_small_and_empty_files_and_overwrite(storage: Storage, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert storage.put_file("零/空.bin", empty) == hashlib.sha256(b"").hexdigest()
    with storage.open("零/空.bin") as f:
        assert f.read() == b""
    small = tmp_path / "small"
    small.write_bytes(b"first")
    storage.put_file("docs/报价.bin", small)
    small.write_bytes(b"second, longer")
    assert storage.put_file("docs/报价.bin", small) == hashlib.sha256(b"second, longer").hexdigest()
    assert storage.get("docs/报价.bin") == b"second, longer"
    with storage.open("docs/报价.bin") as f:
        assert f.read(6) == b"second" and f.read() == b", longer"
    assert storage.list() == ["docs/报价.bin", "零/空.bin"]


def test_open_of_a_missing_key_is_not_found_and_bad_keys_are_refused(storage: Storage, tmp_path: Path) -> None:
    src = tmp_path / "x"
    src.write_bytes(b"x")
    with pytest.raises(NotFound):
        storage.open("nothing/here.bin")
    for key in BAD_KEYS:
        with pytest.raises(ValidationFailed):
            storage.put_file(key, src)
        with pytest.raises(ValidationFailed):
            storage.open(key)
    assert storage.list() == []


def test_local_put_file_is_atomic_and_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = LocalStorage(tmp_path / "store")
    src = tmp_path / "v1"
    src.write_bytes(b"version 1")
    st.put_file("bids/a.sbid", src)
    big = tmp_path / "v2"
    _big_file(big, 3 * 1024 * 1024, 9)
    import os

    def failing_replace(a: object, b: object) -> None:
        raise OSError("disk gone")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", failing_replace)
        with pytest.raises(OSError, match="disk gone"):
            st.put_file("bids/a.sbid", big)
    assert st.get("bids/a.sbid") == b"version 1"  # the old object is whole, the failed write left nothing
    assert sorted(p.name for p in (tmp_path / "store" / "bids").iterdir()) == ["a.sbid"]
    assert oct((tmp_path / "store" / "bids" / "a.sbid").stat().st_mode & 0o777) == "0o640"


def test_local_put_file_never_reads_the_whole_file_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sunbid.platform import storage as storage_module

    monkeypatch.setattr(storage_module, "STREAM_CHUNK", 64 * 1024)
    src = tmp_path / "bid"
    digest = _big_file(src, 1024 * 1024 + 3, 5)
    reads: list[int] = []
    real_open = Path.open

    def spying_open(self: Path, mode: str = "r", *args: object, **kwargs: object) -> object:
        f = real_open(self, mode, *args, **kwargs)  # type: ignore[call-overload]
        if self == src:
            real_read = f.read

            def read(n: int = -1) -> bytes:
                reads.append(n)
                return bytes(real_read(n))

            f.read = read
        return f

    monkeypatch.setattr(Path, "open", spying_open)
    assert LocalStorage(tmp_path / "store").put_file("k/bid", src) == digest
    assert reads and all(0 < n <= 64 * 1024 for n in reads)  # never read(-1): the file is streamed


def test_s3_put_file_is_a_multipart_upload_carrying_the_sha256(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = fresh_bucket(s3_server)
    st = s3_storage(s3_server, bucket=bucket)
    src = tmp_path / "bid"
    digest = _big_file(src, 9 * 1024 * 1024, 6)
    assert st.put_file("bids/大.sbid", src) == digest
    head = s3_server.client().head_object(Bucket=bucket, Key="bids/大.sbid")
    assert head["Metadata"]["sha256"] == digest
    assert head["ContentLength"] == 9 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-2")  # a multipart ETag: md5-of-parts "-" number of parts
