"""The sealed inner payload of a bid container and the sinks that receive its documents when it is opened.

Inner payload (what the frames encrypt), integers big-endian::

    u32 M ‖ manifest (canonical JSON, the signed bytes) ‖ u16 S ‖ signature ‖ u32 Z ‖ signer certificate (PEM)
    ‖ file_1 ‖ … ‖ file_n                                  (sizes and order as the manifest lists them)

:class:`PayloadReader` parses it incrementally, chunk by chunk, so that an opened bid streams to its sink
without ever being held whole in memory.
"""

from __future__ import annotations

import hmac
import io
import struct
from collections.abc import Callable
from typing import Protocol

from sunbid.bidding import container_errors as errors
from sunbid.bidding.container_manifest import FileEntry
from sunbid.crypto.suite import CryptoSuite, Hasher

MAX_MANIFEST_SIZE = 1024 * 1024
MAX_SIGNATURE_SIZE = 512
MAX_CERTIFICATE_SIZE = 64 * 1024

_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")


def encode_head(manifest_json: bytes, signature: bytes, certificate: bytes) -> bytes:
    """``u32 M ‖ manifest ‖ u16 S ‖ signature ‖ u32 Z ‖ certificate`` (sizes checked against the limits)."""
    for what, data, limit in (
        ("清单 / manifest", manifest_json, MAX_MANIFEST_SIZE),
        ("签名 / signature", signature, MAX_SIGNATURE_SIZE),
        ("证书 / certificate", certificate, MAX_CERTIFICATE_SIZE),
    ):
        if len(data) > limit:
            raise errors.too_large(what, limit, len(data))
    parts = (_U32.pack(len(manifest_json)), manifest_json, _U16.pack(len(signature)), signature)
    return b"".join((*parts, _U32.pack(len(certificate)), certificate))


class FileSink(Protocol):
    """Receives the documents of an opened bid, in manifest order.

    ``end`` is called only after the file's digest matched the signed manifest. If opening raises, discard
    everything received (a later chunk or document may have failed).
    """

    def begin(self, entry: FileEntry) -> None:
        """A new document starts."""
        ...

    def write(self, data: bytes) -> None:
        """The next bytes of the current document."""
        ...

    def end(self, entry: FileEntry) -> None:
        """The current document is complete and matches its digest."""
        ...


class MemorySink:
    """Keeps the documents in memory: ``files`` maps name to bytes (complete documents only)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self._current: io.BytesIO | None = None

    def begin(self, entry: FileEntry) -> None:
        """Start collecting a document."""
        self._current = io.BytesIO()

    def write(self, data: bytes) -> None:
        """Append bytes."""
        assert self._current is not None
        self._current.write(data)

    def end(self, entry: FileEntry) -> None:
        """Keep the complete document."""
        assert self._current is not None
        self.files[entry.name] = self._current.getvalue()
        self._current = None


class DiscardSink:
    """Checks every document against its digest and keeps nothing (benchmarks, pre-checks)."""

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0

    def begin(self, entry: FileEntry) -> None:
        """Nothing to do."""

    def write(self, data: bytes) -> None:
        """Count the bytes."""
        self.bytes += len(data)

    def end(self, entry: FileEntry) -> None:
        """Count the document."""
        self.count += 1


HeadCallback = Callable[[bytes, bytes, bytes, int], tuple[FileEntry, ...]]
"""Called once the head is read: ``(manifest_json, signature, certificate, head_length) -> files``."""


class PayloadReader:
    """Incremental parser of the inner payload; feed it decrypted chunks in order, then call :meth:`finish`.

    Errors are ``bid.bad_payload``: the chunks are authentic, so whatever is wrong was written by the sealer.
    """

    def __init__(self, suite: CryptoSuite, sink: FileSink, on_head: HeadCallback) -> None:
        self._suite = suite
        self._sink = sink
        self._on_head = on_head
        self._head: bytearray | None = bytearray()
        self._files: tuple[FileEntry, ...] = ()
        self._index = 0
        self._remaining = 0
        self._hasher: Hasher | None = None

    def feed(self, data: bytes) -> None:
        """Consume the next decrypted chunk."""
        pos, size = 0, len(data)
        while self._head is not None:
            target, final = self._head_target()
            missing = target - len(self._head)
            if final and not missing:
                self._end_head()
                break
            take = min(missing, size - pos)
            if not take:
                return
            self._head += memoryview(data)[pos : pos + take]
            pos += take
        while pos < size:
            if self._index >= len(self._files):
                raise errors.bad_payload("bytes after the last document")
            take = min(self._remaining, size - pos)
            piece = data if take == size else data[pos : pos + take]
            assert self._hasher is not None
            self._hasher.update(piece)
            self._sink.write(piece)
            pos += take
            self._remaining -= take
            if self._remaining == 0:
                self._advance()

    def finish(self) -> None:
        """The payload ended: every document must be complete."""
        if self._head is not None or self._index < len(self._files):
            raise errors.bad_payload("payload ends before the last document")

    def _head_target(self) -> tuple[int, bool]:
        """How long the head is, as far as its length fields read so far tell; True once all are read."""
        buf = self._head
        assert buf is not None
        if len(buf) < 4:
            return 4, False
        m = _U32.unpack_from(buf, 0)[0]
        if m > MAX_MANIFEST_SIZE:
            raise errors.bad_payload("manifest too large")
        if len(buf) < 4 + m + 2:
            return 4 + m + 2, False
        s = _U16.unpack_from(buf, 4 + m)[0]
        if s > MAX_SIGNATURE_SIZE:
            raise errors.bad_payload("signature too large")
        at = 4 + m + 2 + s
        if len(buf) < at + 4:
            return at + 4, False
        z = _U32.unpack_from(buf, at)[0]
        if z > MAX_CERTIFICATE_SIZE:
            raise errors.bad_payload("certificate too large")
        return at + 4 + z, True

    def _end_head(self) -> None:
        buf = self._head
        assert buf is not None
        m = _U32.unpack_from(buf, 0)[0]
        at = 4 + m + 2 + _U16.unpack_from(buf, 4 + m)[0]
        self._head = None
        self._files = self._on_head(bytes(buf[4 : 4 + m]), bytes(buf[4 + m + 2 : at]), bytes(buf[at + 4 :]), len(buf))
        self._advance()

    def _advance(self) -> None:
        """Close the current document if complete, and open the next ones (empty ones close at once)."""
        while self._index < len(self._files):
            entry = self._files[self._index]
            if self._hasher is None:
                self._sink.begin(entry)
                self._hasher = self._suite.hasher()
                self._remaining = entry.size
            if self._remaining:
                return
            if not hmac.compare_digest(self._hasher.digest().hex(), entry.digest):
                raise errors.bad_payload("document does not match its signed digest", name=entry.name)
            self._sink.end(entry)
            self._hasher = None
            self._index += 1
