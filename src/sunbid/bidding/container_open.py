"""Reading, checking and opening bid containers (see :mod:`sunbid.bidding.container`).

Opening reads the container once, frame by frame: each frame is authenticated (AEAD with the header digest, its
index and a final flag in the associated data) before its plaintext reaches the payload parser, and the running
digest is compared with the trailer at the end. Documents stream to a :class:`FileSink`.
"""

from __future__ import annotations

import hmac
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sunbid.bidding import container_errors as errors
from sunbid.bidding.container_format import (
    MAX_BID_SIZE,
    TRAILER_SIZE,
    BidHeader,
    Reader,
    context_digest,
    frame_aad,
    parse_header,
    read_exact,
    read_header_bytes,
    wrap_context,
)
from sunbid.bidding.container_manifest import BidManifest, FileEntry, decode_manifest
from sunbid.bidding.container_payload import FileSink, MemorySink, PayloadReader
from sunbid.bidding.container_seal import Context
from sunbid.core.errors import DomainError
from sunbid.crypto import errors as crypto_errors
from sunbid.crypto.certificates import read_certificate_key, verify_certificate
from sunbid.crypto.suite import CryptoSuite, get_suite, resolve_suite
from sunbid.crypto.x509util import parse_pem

_GCM_NONCE, _GCM_TAG = 12, 16  # the international suite's AEAD framing (see sunbid.crypto.intl)


@dataclass(frozen=True, slots=True)
class ContainerCheck:
    """A container checked without keys: well formed, complete, trailer digest right."""

    header: BidHeader
    container_hash: str


@dataclass(frozen=True, slots=True)
class OpenedBid:
    """An opened bid. ``files`` is empty when the documents went to a sink (:func:`open_bid_from`).

    ``signature_valid`` is True only if the signature over ``manifest_json`` verifies with the key of
    ``signer_cert_pem``, that certificate is a signing certificate of the manifest's bidder (USCC), and — when a
    CA was given — the certificate verifies against it. Otherwise ``signature_problem`` says why (a code).
    Revocation is the caller's check (the database knows revoked serials).
    """

    header: BidHeader
    manifest: BidManifest
    file_entries: tuple[FileEntry, ...]
    files: Mapping[str, bytes] = field(repr=False)
    manifest_json: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    signature_valid: bool
    signature_problem: str | None
    signer_cert_pem: str = field(repr=False)
    signer_uscc: str | None
    opened_as: str
    container_hash: str


# --- reading without keys -------------------------------------------------------------------------------------


def _as_reader(data: bytes | bytearray | memoryview | Reader) -> Reader:
    if isinstance(data, bytes | bytearray | memoryview):
        return io.BytesIO(data)
    return data


def read_header(data: bytes | bytearray | memoryview | Reader) -> BidHeader:
    """The plaintext header (no keys needed; the first bytes of a container suffice).

    Only its form is checked here: it is authenticated when a frame decrypts, and the trailer digest is checked
    by :func:`check_container`.
    """
    return parse_header(read_header_bytes(_as_reader(data)))


class _Walker:
    """Reads the frames of a container in order, keeping the running digest; checks the trailer at the end."""

    def __init__(self, suite: CryptoSuite, src: Reader, raw_header: bytes, header: BidHeader) -> None:
        self._suite = suite
        self._src = src
        self._header = header
        self._hasher = suite.hasher()
        self._hasher.update(raw_header)
        self._read = len(raw_header)
        self.container_hash = ""

    def frames(self) -> Iterator[tuple[int, bytes]]:
        header = self._header
        for index in range(header.frame_count):
            size = header.frame_length(index)
            frame = read_exact(self._src, size)
            self._read += len(frame)
            if len(frame) < size:
                raise errors.truncated(header.total_length, self._read)
            self._hasher.update(frame)
            yield index, frame
            del frame  # hold one frame at a time
        trailer = read_exact(self._src, TRAILER_SIZE)
        self._read += len(trailer)
        if len(trailer) < TRAILER_SIZE:
            raise errors.truncated(header.total_length, self._read)
        if self._src.read(1):
            raise errors.tampered("bytes after the end of the container")
        if not hmac.compare_digest(trailer, self._hasher.digest()):
            raise errors.tampered("trailer digest does not match")
        self._hasher.update(trailer)
        self.container_hash = self._hasher.digest().hex()


def _start(
    suite: CryptoSuite | str | None, data: bytes | bytearray | memoryview | Reader, max_size: int
) -> tuple[CryptoSuite, Reader, bytes, BidHeader]:
    src = _as_reader(data)
    raw = read_header_bytes(src)
    header = parse_header(raw)
    if suite is None:
        chosen = get_suite(header.suite)
    else:
        chosen = resolve_suite(suite)
        if header.suite != chosen.name:
            raise errors.suite_mismatch(header.suite, chosen.name)
    if header.plaintext_length > max_size:
        raise errors.too_large("投标文件 / bid", max_size, header.plaintext_length)
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data) < header.total_length:
            raise errors.truncated(header.total_length, len(data))
        if len(data) > header.total_length:
            raise errors.tampered("bytes after the end of the container")
    return chosen, src, raw, header


def check_container(
    data: bytes | bytearray | memoryview | Reader,
    suite: CryptoSuite | str | None = None,
    *,
    max_size: int = MAX_BID_SIZE,
) -> ContainerCheck:
    """Check a container without keys (what the server does when an upload completes).

    Verifies the header's form, that the length is exactly what the header announces (``bid.truncated``,
    ``bid.tampered``) and the trailer digest over every preceding byte; returns the header and the container
    hash. Whether the frames decrypt is known only at opening.
    """
    chosen, src, raw, header = _start(suite, data, max_size)
    walker = _Walker(chosen, src, raw, header)
    for _ in walker.frames():
        pass
    return ContainerCheck(header, walker.container_hash)


def container_hash(data: bytes | bytearray | memoryview | Reader, suite: CryptoSuite | str | None = None) -> str:
    """Hex suite digest of the whole container — what receipts and the transparency log record.

    The suite is read from the header unless given. Nothing is verified (use :func:`check_container`).
    """
    src = _as_reader(data)
    raw = read_header_bytes(src)
    chosen = resolve_suite(suite) if suite is not None else get_suite(parse_header(raw).suite)
    hasher = chosen.hasher()
    hasher.update(raw)
    while piece := src.read(1024 * 1024):
        hasher.update(piece)
    return hasher.digest().hex()


# --- opening ----------------------------------------------------------------------------------------------------


def _content_key(
    suite: CryptoSuite,
    header: BidHeader,
    context: Context,
    encryption_private: bytes | None,
    opening_private: bytes | None,
    content_key: bytes | None = None,
) -> tuple[str, bytes]:
    if sum(k is not None for k in (encryption_private, opening_private, content_key)) != 1:
        raise errors.bad_request(
            "须且只须提供投标人加密私钥、开标私钥或内容密钥之一",
            "give exactly one of encryption_private, opening_private and content_key",
        )
    if context_digest(suite, context) != header.context_digest:
        raise errors.context_mismatch()
    if content_key is not None:
        if len(content_key) != suite.key_size:
            raise errors.wrong_key("bidder")
        return "content_key", bytes(content_key)
    role, private = ("bidder", encryption_private) if encryption_private is not None else ("opening", opening_private)
    assert private is not None
    try:
        public = suite.encryption_public_key(private)
    except DomainError as exc:
        raise errors.wrong_key(role) from exc
    recipient = header.recipients[role]
    fingerprint_ok = hmac.compare_digest(suite.public_key_fingerprint(public), recipient.key_fingerprint)
    ids = (header.suite, header.project_code, header.section_code, header.bidder_uscc, header.context_digest)
    try:
        key = suite.unwrap_key(private, recipient.wrapped_key, wrap_context(*ids, role))
    except DomainError as exc:
        raise (errors.tampered("wrapped key", role=role) if fingerprint_ok else errors.wrong_key(role)) from exc
    if not fingerprint_ok:
        raise errors.tampered("recipient key fingerprint", role=role)
    if len(key) != suite.key_size:
        raise errors.bad_payload("content key has the wrong size")
    return role, key


def unwrap_content_key(
    suite: CryptoSuite | str,
    data: bytes | bytearray | memoryview | Reader,
    *,
    context: Context,
    encryption_private: bytes | None = None,
    opening_private: bytes | None = None,
) -> bytes:
    """The content key of a container, unwrapped with the bidder's or the section's opening private key.

    Only the header is read. This is what the bidder tool does on the bidder's machine during the decryption
    window: the private key never leaves it, only the content key of this one bid is released to the platform,
    which then opens the bid with ``open_bid_from(..., content_key=...)``. Raises like :func:`open_bid_from`.
    """
    chosen = resolve_suite(suite)
    header = read_header(data)
    if header.suite != chosen.name:
        raise errors.suite_mismatch(header.suite, chosen.name)
    return _content_key(chosen, header, context, encryption_private, opening_private)[1]


@dataclass
class _Head:
    manifest: BidManifest | None = None
    manifest_json: bytes = b""
    signature: bytes = b""
    certificate: str = ""
    files: tuple[FileEntry, ...] = ()


def _signature_problem(
    suite: CryptoSuite, head: _Head, ca_cert_pem: str | bytes | None, now: datetime | None
) -> tuple[str | None, str | None]:
    """``(problem code or None, signer USCC)`` for the signed manifest."""
    assert head.manifest is not None
    if ca_cert_pem is not None:
        # The usual case at an opening, and per bid the costliest step after the frames: one verification parses
        # the certificate once (a parse takes milliseconds). Only if it fails are the checks below run, to report
        # the first problem in their order.
        try:
            info = verify_certificate(
                suite, ca_cert_pem, head.certificate, now=now or head.manifest.created_at, usage="signing"
            )
        except DomainError:
            pass
        else:
            if not suite.verify(info.public_key, head.manifest_json, head.signature):
                return "bid.signature_invalid", info.subject.uscc
            if info.subject.uscc != head.manifest.bidder_uscc:
                return "bid.signer_other_org", info.subject.uscc
            return None, info.subject.uscc
    try:
        usage, public = read_certificate_key(suite, head.certificate)
        signer = parse_pem(head.certificate, "subject").subject.get("uscc")
    except DomainError as exc:
        return exc.code, None
    if usage != "signing":
        return "bid.signer_not_signing_cert", signer
    if not suite.verify(public, head.manifest_json, head.signature):
        return "bid.signature_invalid", signer
    if signer != head.manifest.bidder_uscc:
        return "bid.signer_other_org", signer
    if ca_cert_pem is not None:
        try:
            verify_certificate(
                suite, ca_cert_pem, head.certificate, now=now or head.manifest.created_at, usage="signing"
            )
        except DomainError as exc:
            return exc.code, signer
    return None, signer


def open_bid_from(
    suite: CryptoSuite | str,
    src: Reader,
    sink: FileSink,
    *,
    encryption_private: bytes | None = None,
    opening_private: bytes | None = None,
    content_key: bytes | None = None,
    context: Context,
    expected_hash: str | None = None,
    ca_cert_pem: str | bytes | None = None,
    now: datetime | None = None,
    max_size: int = MAX_BID_SIZE,
) -> OpenedBid:
    """Open a container read from ``src``, streaming the documents to ``sink``; returns the manifest and checks.

    Give exactly one key: the bidder's encryption private key, the section's opening private key, or the content
    key itself (released by the bidder, see :func:`unwrap_content_key`; a wrong one raises ``bid.wrong_key``). Raises
    ``bid.wrong_key``, ``bid.context_mismatch``, ``bid.suite_mismatch``, ``bid.unsupported_version``,
    ``bid.malformed``, ``bid.truncated``, ``bid.tampered`` (any changed byte, frames out of order, or a container
    hash other than ``expected_hash``), ``bid.bad_payload`` / ``bid.manifest_mismatch`` (authentic but
    inconsistent content). On any error discard what the sink received.

    ``expected_hash`` is the container hash the receipt and the transparency log recorded. ``ca_cert_pem`` makes
    the signing certificate be verified against the centre's CA at ``now`` — pass the submission time from the
    receipt; without it the manifest's own ``created_at`` (the bidder's clock) is used.
    """
    return _open(
        suite,
        src,
        sink,
        (encryption_private, opening_private, content_key),
        context,
        expected_hash,
        ca_cert_pem,
        now,
        max_size,
    )


def open_bid(
    suite: CryptoSuite | str,
    data: bytes | bytearray | memoryview,
    *,
    encryption_private: bytes | None = None,
    opening_private: bytes | None = None,
    content_key: bytes | None = None,
    context: Context,
    expected_hash: str | None = None,
    ca_cert_pem: str | bytes | None = None,
    now: datetime | None = None,
    max_size: int = MAX_BID_SIZE,
) -> OpenedBid:
    """Open a container held in memory; the documents come back in ``OpenedBid.files`` (see :func:`open_bid_from`)."""
    sink = MemorySink()
    opened = _open(
        suite,
        data,
        sink,
        (encryption_private, opening_private, content_key),
        context,
        expected_hash,
        ca_cert_pem,
        now,
        max_size,
    )
    return _with_files(opened, sink.files)


def _with_files(opened: OpenedBid, files: Mapping[str, bytes]) -> OpenedBid:
    return replace(opened, files=dict(files))


def _frame_opener(suite: CryptoSuite, key: bytes) -> Callable[[bytes, bytes], bytes]:
    """``suite.open`` bound to one content key, for the frame loop.

    For the international suite the AES-256-GCM context is made once per bid and the ciphertext is not copied:
    ``IntlSuite.open`` builds a context and slices the frame for every 64 KiB frame, which costs about a quarter
    of what decrypting the frame does. Same framing (``nonce (12) ‖ ciphertext ‖ tag (16)``), same error.
    """
    if suite.name != "intl":
        return lambda frame, aad: suite.open(key, frame, aad)
    aead = AESGCM(key)

    def open_frame(frame: bytes, aad: bytes) -> bytes:
        if len(frame) < _GCM_NONCE + _GCM_TAG:
            raise crypto_errors.decrypt_failed()
        try:
            return aead.decrypt(frame[:_GCM_NONCE], memoryview(frame)[_GCM_NONCE:], aad)
        except InvalidTag as exc:
            raise crypto_errors.decrypt_failed() from exc

    return open_frame


def _open(
    suite: CryptoSuite | str,
    data: bytes | bytearray | memoryview | Reader,
    sink: FileSink,
    keys: tuple[bytes | None, bytes | None, bytes | None],
    context: Context,
    expected_hash: str | None,
    ca_cert_pem: str | bytes | None,
    now: datetime | None,
    max_size: int,
) -> OpenedBid:
    chosen, src, raw, header = _start(suite, data, max_size)
    role, key = _content_key(chosen, header, context, *keys)
    head = _Head()

    def on_head(manifest_json: bytes, signature: bytes, certificate: bytes, head_length: int) -> tuple[FileEntry, ...]:
        manifest, suite_name, files = decode_manifest(manifest_json, len(chosen.digest(b"")))
        for name, inner, outer in (
            ("suite", suite_name, header.suite),
            ("project_code", manifest.project_code, header.project_code),
            ("section_code", manifest.section_code, header.section_code),
            ("bidder_uscc", manifest.bidder_uscc, header.bidder_uscc),
        ):
            if inner != outer:
                raise errors.manifest_mismatch(name)
        if head_length + sum(f.size for f in files) != header.plaintext_length:
            raise errors.bad_payload("document sizes do not add up to the payload length")
        try:
            head.certificate = certificate.decode("ascii")
        except UnicodeDecodeError as exc:
            raise errors.bad_payload("certificate is not PEM") from exc
        head.manifest, head.manifest_json, head.signature, head.files = manifest, manifest_json, signature, files
        return files

    reader = PayloadReader(chosen, sink, on_head)
    header_digest = chosen.digest(raw)
    last = header.frame_count - 1
    walker = _Walker(chosen, src, raw, header)
    open_frame = _frame_opener(chosen, key)
    for index, frame in walker.frames():
        try:
            plain = open_frame(frame, frame_aad(header_digest, index, index == last))
        except DomainError as exc:
            if index == 0 and role == "content_key":
                raise errors.wrong_key("bidder") from exc
            raise errors.tampered("frame does not authenticate", frame=index) from exc
        del frame
        reader.feed(plain)
        del plain
    reader.finish()
    if expected_hash is not None and walker.container_hash != expected_hash.lower():
        raise errors.tampered("container hash differs from the expected one")
    problem, signer = _signature_problem(chosen, head, ca_cert_pem, now)
    assert head.manifest is not None
    return OpenedBid(
        header=header,
        manifest=head.manifest,
        file_entries=head.files,
        files={},
        manifest_json=head.manifest_json,
        signature=head.signature,
        signature_valid=problem is None,
        signature_problem=problem,
        signer_cert_pem=head.certificate,
        signer_uscc=signer,
        opened_as=role,
        container_hash=walker.container_hash,
    )
