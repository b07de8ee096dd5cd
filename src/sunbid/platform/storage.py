"""File storage behind one interface: a local directory (default) or an S3-compatible object store.

Objects are content-addressed by the caller's choice of key; writes are atomic (local: temp file + fsync +
rename; S3: a single PUT, or a multipart upload for ``put_file``) and every ``put`` returns the SHA-256 of what
was stored so that callers can record it in the transparency log.

Large objects (a sealed bid may be 100 MB) never need to be held in memory: :meth:`Storage.put_file` streams a
local file in, :meth:`Storage.open` streams an object out as a binary file object.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from pathlib import Path
from typing import IO, Any, Protocol

from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.platform.secrets import atomic_write


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValidationFailed("storage.bad_key", f"非法的文件存储键：{key!r}", f"invalid storage key: {key!r}")
    return key


def _missing(key: str) -> NotFound:
    return NotFound("storage.not_found", f"文件不存在：{key}", f"file not found: {key}")


#: Piece size for streaming copies and the S3 multipart part size.
STREAM_CHUNK = 8 * 1024 * 1024


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while piece := f.read(STREAM_CHUNK):
            h.update(piece)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a file just created, renamed or removed in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Storage(Protocol):
    """Where documents, bids and archives are kept."""

    def put(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key`` atomically; return its SHA-256 hex digest."""
        ...

    def put_file(self, key: str, path: Path) -> str:
        """Store the file at ``path`` under ``key`` atomically, streaming it (never whole in memory); SHA-256 hex."""
        ...

    def get(self, key: str) -> bytes: ...

    def open(self, key: str) -> IO[bytes]:
        """A binary file object reading the object as a stream (close it; ``storage.not_found`` if absent)."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> list[str]: ...


class LocalStorage:
    """Files in a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes) -> str:
        atomic_write(self._path(key), data, 0o640)
        return hashlib.sha256(data).hexdigest()

    def put_file(self, key: str, path: Path) -> str:
        """Copy in pieces to a temporary file beside the target, fsync, rename over it, fsync the directory."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        h = hashlib.sha256()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                while piece := src.read(STREAM_CHUNK):
                    h.update(piece)
                    out.write(piece)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)
        return h.hexdigest()

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise _missing(key) from None

    def open(self, key: str) -> IO[bytes]:
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise _missing(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        out = []
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/")
                if rel.startswith(prefix):
                    out.append(rel)
        return sorted(out)


class S3Storage:
    """Objects in an S3-compatible bucket through boto3."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        client: Any = None,
    ) -> None:
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )

    def _k(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def put(self, key: str, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data, Metadata={"sha256": digest})
        return digest

    def put_file(self, key: str, path: Path) -> str:
        """A multipart upload (parts of :data:`STREAM_CHUNK`) carrying the file's SHA-256 as metadata."""
        from boto3.s3.transfer import TransferConfig

        digest = _file_sha256(path)
        config = TransferConfig(
            multipart_threshold=STREAM_CHUNK, multipart_chunksize=STREAM_CHUNK, max_concurrency=4, use_threads=True
        )
        with path.open("rb") as f:
            self.client.upload_fileobj(
                f, self.bucket, self._k(key), ExtraArgs={"Metadata": {"sha256": digest}}, Config=config
            )
        return digest

    def _get_object(self, key: str) -> Any:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._k(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise _missing(key) from None
            raise

    def get(self, key: str) -> bytes:
        body: bytes = self._get_object(key)["Body"].read()
        return body

    def open(self, key: str) -> IO[bytes]:
        """The object's body streamed over HTTP behind a buffered reader (pieces are fetched as they are read)."""
        return io.BufferedReader(_BodyReader(self._get_object(key)["Body"]), buffer_size=1024 * 1024)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._k(key))
            return True
        except ClientError as exc:
            # Only "not there" is False; a refused signature or an unreachable bucket must not pass for it.
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))

    def list(self, prefix: str = "") -> list[str]:
        out: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                out.append(item["Key"][len(self.prefix) :])
        return sorted(out)


class _BodyReader(io.RawIOBase):
    """A botocore ``StreamingBody`` as a raw binary stream."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data: bytes = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def new_key(prefix: str, suffix: str = "") -> str:
    """A fresh random object key under ``prefix``."""
    return f"{_check_key(prefix)}/{secrets.token_hex(16)}{suffix}"
