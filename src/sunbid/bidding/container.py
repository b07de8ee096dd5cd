"""Sealed bid containers (投标文件加密封装), format version 1, for both crypto suites.

A bid is sealed on the bidder's machine: the manifest (price, duration, quality, key commitments, machine
fingerprint...) with the name, size and digest of each document is signed with the bidder's signing key; the
signed manifest, the signature, the signing certificate and the documents are encrypted in fixed-size chunks
under a fresh random content key (AES-256-GCM or SM4-GCM through ``CryptoSuite.seal``); the content key is
wrapped to the bidder's own encryption key and to the section's opening key. The plaintext header holds only
what the server needs before opening. Layout, AAD and contexts: ``docs/bid-container.md``.

Public API: :func:`seal_bid` / :func:`seal_bid_to`, :func:`open_bid` / :func:`open_bid_from`,
:func:`read_header`, :func:`check_container`, :func:`container_hash`, and the types re-exported below.
Everything is pure (no database, no clock, no network) and streams: sealing or opening a 100 MB bid holds a few
chunks in memory, not the bid.
"""

from __future__ import annotations

from sunbid.bidding.container_format import (
    DEFAULT_CHUNK_SIZE,
    FORMAT_VERSION,
    MAX_BID_SIZE,
    BidHeader,
    Recipient,
)
from sunbid.bidding.container_manifest import BidManifest, FileEntry, format_price, machine_fingerprint
from sunbid.bidding.container_open import (
    ContainerCheck,
    OpenedBid,
    check_container,
    container_hash,
    open_bid,
    open_bid_from,
    read_header,
    unwrap_content_key,
)
from sunbid.bidding.container_payload import DiscardSink, FileSink, MemorySink
from sunbid.bidding.container_seal import Context, FileSource, SealedBid, SeekableReader, Writer, seal_bid, seal_bid_to

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FORMAT_VERSION",
    "MAX_BID_SIZE",
    "BidHeader",
    "BidManifest",
    "ContainerCheck",
    "Context",
    "DiscardSink",
    "FileEntry",
    "FileSink",
    "FileSource",
    "MemorySink",
    "OpenedBid",
    "Recipient",
    "SealedBid",
    "SeekableReader",
    "Writer",
    "check_container",
    "container_hash",
    "format_price",
    "machine_fingerprint",
    "open_bid",
    "open_bid_from",
    "read_header",
    "seal_bid",
    "seal_bid_to",
    "unwrap_content_key",
]
