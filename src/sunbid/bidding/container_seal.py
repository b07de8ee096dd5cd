"""Sealing a bid container (see :mod:`sunbid.bidding.container` and ``docs/bid-container.md``).

Documents are read twice — once to hash them for the signed manifest, once while encrypting — in pieces of one
chunk, so sealing holds about three chunks in memory whatever the size of the bid.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from sunbid.bidding import container_errors as errors
from sunbid.bidding.container_format import (
    DEFAULT_CHUNK_SIZE,
    FRAME_OVERHEAD,
    MAX_BID_SIZE,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    ROLES,
    BidHeader,
    Recipient,
    body_length_for,
    context_digest,
    encode_header,
    frame_aad,
    header_json,
    parse_header,
    read_exact,
    wrap_context,
)
from sunbid.bidding.container_manifest import BidManifest, FileEntry, check_file_names, encode_manifest
from sunbid.bidding.container_payload import encode_head
from sunbid.crypto.certificates import read_certificate_key
from sunbid.crypto.suite import CryptoSuite, Hasher, resolve_suite
from sunbid.crypto.x509util import parse_pem

Context = bytes | str
"""What a container is bound to besides project, section and bidder (a ``str`` is taken as UTF-8)."""


class SeekableReader(Protocol):
    """A document given as an open binary file (read twice: once to hash, once to encrypt)."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes."""
        ...

    def seek(self, offset: int, whence: int = 0, /) -> int:
        """Move to ``offset``."""
        ...

    def tell(self) -> int:
        """Current position."""
        ...


class Writer(Protocol):
    """Where a sealed container is written (a file, a socket, BytesIO)."""

    def write(self, data: bytes, /) -> object:
        """Write all of ``data``."""
        ...


FileSource = bytes | bytearray | memoryview | SeekableReader
"""A document: its bytes, or a seekable binary file positioned at its start."""


@dataclass(frozen=True, slots=True)
class SealedBid:
    """What sealing produced: the header, the container hash (what the receipt will show) and the documents."""

    header: BidHeader
    container_hash: str
    length: int
    files: tuple[FileEntry, ...]


class _Source:
    """One document, read twice: :meth:`measure` (size and digest), then :meth:`read` while encrypting.

    A mutable source (a file, a bytearray) is hashed again on the second reading, and a change between the two
    readings is refused (``bid.file_changed``): the signed digest must describe the bytes that were encrypted.
    """

    def __init__(self, name: str, src: FileSource) -> None:
        self.name = name
        self._view: memoryview | None = None
        self._stream: SeekableReader | None = None
        self._immutable: bytes | None = src if isinstance(src, bytes) else None
        if isinstance(src, bytes | bytearray | memoryview):
            self._view = memoryview(src).cast("B")
        else:
            self._stream = src
            self._start = src.tell()
        self._pos = 0
        self.entry = FileEntry(name, 0, "")
        self._hasher: Hasher | None = None

    def _pieces(self, size: int) -> Iterator[bytes]:
        if self._view is not None:
            for start in range(0, len(self._view), size):
                yield bytes(self._view[start : start + size])
        else:
            assert self._stream is not None
            while data := self._stream.read(size):
                yield data
            self._stream.seek(self._start)

    def measure(self, suite: CryptoSuite, piece: int, budget: int) -> FileEntry:
        """First reading: size and digest (``bid.too_large`` beyond ``budget`` bytes)."""
        hasher = suite.hasher()
        size = 0
        if self._view is not None and len(self._view) > budget:
            raise errors.too_large("投标文件 / bid", budget, len(self._view))
        if self._immutable is not None:
            hasher.update(self._immutable)
            size = len(self._immutable)
        else:
            for data in self._pieces(piece):
                size += len(data)
                if size > budget:
                    raise errors.too_large("投标文件 / bid", budget, size)
                hasher.update(data)
            self._hasher = suite.hasher()
        self.entry = FileEntry(self.name, size, hasher.digest().hex())
        return self.entry

    def read(self, size: int) -> bytes:
        """Next bytes (empty at the end, after checking the second reading matched the first)."""
        want = min(size, self.entry.size - self._pos)
        if self._view is not None:
            data = bytes(self._view[self._pos : self._pos + want])
        else:
            assert self._stream is not None
            data = read_exact(self._stream, want) if want else b""
            if not want and self._stream.read(1):
                raise errors.file_changed(self.name)
        if not data:
            changed = self._hasher is not None and self._hasher.digest().hex() != self.entry.digest
            if self._pos != self.entry.size or changed:
                raise errors.file_changed(self.name)
            return b""
        self._pos += len(data)
        if self._hasher is not None:
            self._hasher.update(data)
        return data


class _PlainStream:
    """The inner payload as a stream: the head, then each document."""

    def __init__(self, head: bytes, sources: list[_Source]) -> None:
        self._head = head
        self._head_pos = 0
        self._sources = iter(sources)
        self._current: _Source | None = None

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the payload; empty at the end."""
        if self._head_pos < len(self._head):
            data = self._head[self._head_pos : self._head_pos + size]
            self._head_pos += len(data)
            return data
        while True:
            if self._current is None:
                self._current = next(self._sources, None)
                if self._current is None:
                    return b""
            data = self._current.read(size)
            if data:
                return data
            self._current = None


def _next_chunk(stream: _PlainStream, size: int) -> bytes:
    first = stream.read(size)
    if len(first) == size or not first:
        return first
    parts = [first]
    got = len(first)
    while got < size and (more := stream.read(size - got)):
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _check_signer(suite: CryptoSuite, manifest: BidManifest, signing_private: bytes, cert_pem: str | bytes) -> bytes:
    usage, public = read_certificate_key(suite, cert_pem)
    if usage != "signing":
        raise errors.signer_mismatch("不是签名证书", "the certificate is not a signing certificate")
    if suite.signing_public_key(signing_private) != public:
        raise errors.signer_mismatch("签名私钥与签名证书不匹配", "the signing key does not match the certificate")
    if parse_pem(cert_pem, "subject").subject.get("uscc") != manifest.bidder_uscc:
        raise errors.signer_mismatch("证书不属于清单中的投标人", "the certificate names another organisation")
    text = cert_pem.encode("ascii") if isinstance(cert_pem, str) else bytes(cert_pem)
    return text


def seal_bid_to(
    out: Writer,
    suite: CryptoSuite | str,
    manifest: BidManifest,
    files: Mapping[str, FileSource],
    *,
    signing_private: bytes,
    signing_cert_pem: str | bytes,
    bidder_encryption_public: bytes,
    opening_public: bytes,
    context: Context,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_size: int = MAX_BID_SIZE,
) -> SealedBid:
    """Seal a bid into ``out`` chunk by chunk; returns the header and the container hash.

    ``files`` maps safe file names (Chinese allowed, no paths) to bytes or seekable binary files. ``context``
    binds the bid to where it is submitted (say ``"sunbid:section:<id>"``); the opener must give the same. Refused
    with ``bid.bad_file_name``, ``bid.too_large``, ``bid.signer_mismatch`` (key, certificate and manifest bidder
    do not belong together) or ``bid.file_changed``. If it raises, ``out`` holds garbage: delete it.
    """
    suite = resolve_suite(suite)
    if type(chunk_size) is not int or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise errors.bad_request(
            f"分块大小须在 {MIN_CHUNK_SIZE} 与 {MAX_CHUNK_SIZE} 字节之间",
            f"chunk_size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE} bytes",
        )
    if not isinstance(manifest, BidManifest):
        raise errors.bad_request("清单类型错误", "manifest must be a BidManifest")
    check_file_names(list(files))
    certificate = _check_signer(suite, manifest, signing_private, signing_cert_pem)
    sources = [_Source(name, src) for name, src in files.items()]
    budget = max_size
    entries: list[FileEntry] = []
    for source in sources:
        entry = source.measure(suite, chunk_size, budget)
        budget -= entry.size
        entries.append(entry)
    manifest_json = encode_manifest(manifest, suite.name, entries)
    head = encode_head(manifest_json, suite.sign(signing_private, manifest_json), certificate)
    plaintext_length = len(head) + sum(e.size for e in entries)
    if plaintext_length > max_size:
        raise errors.too_large("投标文件 / bid", max_size, plaintext_length)

    content_key = suite.new_key()
    ctx = context_digest(suite, context)
    ids = (suite.name, manifest.project_code, manifest.section_code, manifest.bidder_uscc, ctx)
    recipients = {
        role: Recipient(
            suite.public_key_fingerprint(public),
            suite.wrap_key(public, content_key, wrap_context(*ids, role)),
        )
        for role, public in zip(ROLES, (bidder_encryption_public, opening_public), strict=True)
    }
    raw_header = encode_header(
        header_json(
            suite=suite.name,
            project_code=manifest.project_code,
            section_code=manifest.section_code,
            bidder_uscc=manifest.bidder_uscc,
            context_digest=ctx,
            chunk_size=chunk_size,
            body_length=body_length_for(plaintext_length, chunk_size),
            recipients=recipients,
        )
    )
    header = parse_header(raw_header)
    header_digest = suite.digest(raw_header)
    hasher = suite.hasher()
    hasher.update(raw_header)
    out.write(raw_header)
    stream = _PlainStream(head, sources)
    last = header.frame_count - 1
    for index in range(header.frame_count):
        chunk = _next_chunk(stream, chunk_size)
        frame = suite.seal(content_key, chunk, frame_aad(header_digest, index, index == last))
        if len(frame) != len(chunk) + FRAME_OVERHEAD or (index < last and len(chunk) != chunk_size):
            raise RuntimeError("sealed frame has an unexpected length")  # pragma: no cover - suite contract
        del chunk
        out.write(frame)
        hasher.update(frame)
        del frame
    if stream.read(1):  # this read also ends the last document's second reading (``bid.file_changed``)
        raise RuntimeError("payload longer than announced")  # pragma: no cover - lengths computed above
    trailer = hasher.digest()
    out.write(trailer)
    hasher.update(trailer)
    return SealedBid(header, hasher.digest().hex(), header.total_length, tuple(entries))


def seal_bid(
    suite: CryptoSuite | str,
    manifest: BidManifest,
    files: Mapping[str, FileSource],
    *,
    signing_private: bytes,
    signing_cert_pem: str | bytes,
    bidder_encryption_public: bytes,
    opening_public: bytes,
    context: Context,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_size: int = MAX_BID_SIZE,
) -> bytes:
    """Seal a bid and return the container bytes (see :func:`seal_bid_to`; this one holds it in memory)."""
    out = io.BytesIO()
    seal_bid_to(
        out,
        suite,
        manifest,
        files,
        signing_private=signing_private,
        signing_cert_pem=signing_cert_pem,
        bidder_encryption_public=bidder_encryption_public,
        opening_public=opening_public,
        context=context,
        chunk_size=chunk_size,
        max_size=max_size,
    )
    return out.getvalue()
