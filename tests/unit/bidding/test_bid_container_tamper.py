"""Sealed bid container under attack: flipped bytes, truncation, reordering, splicing, leaks, memory."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tracemalloc
from pathlib import Path

import pytest
from bidworld import CONTEXT, World, make_world

from sunbid.bidding.container import (
    DiscardSink,
    check_container,
    open_bid,
    open_bid_from,
    read_header,
    seal_bid_to,
)
from sunbid.bidding.container_format import FRAME_OVERHEAD, NONCE_SIZE, TRAILER_SIZE, BidHeader, encode_header
from sunbid.core.errors import DomainError

CHUNK = 4096
SMALL = {"标书.pdf": bytes(range(256)) * 30, "附件.txt": os.urandom(3000)}  # 3-4 frames of 4 KiB
HEADER_CODES = {
    "bid.malformed",
    "bid.unsupported_version",
    "bid.truncated",
    "bid.tampered",
    "bid.context_mismatch",
    "bid.wrong_key",
    "bid.suite_mismatch",
    "bid.too_large",
}


def _attempt(world: World, data: bytes, how: str) -> str | None:
    """The error code opening (or checking) ``data`` raises, or None if it was accepted."""
    try:
        if how == "bidder":
            open_bid(world.suite, data, encryption_private=world.a.encryption.private, context=CONTEXT)
        elif how == "opening":
            open_bid(world.suite, data, opening_private=world.opening.private, context=CONTEXT)
        elif how == "stream":
            sink = DiscardSink()
            open_bid_from(world.suite, io.BytesIO(data), sink, opening_private=world.opening.private, context=CONTEXT)
        else:
            check_container(data, world.suite)
    except DomainError as exc:
        return exc.code
    return None


def _flip(data: bytes, pos: int, mask: int = 0x01) -> bytes:
    return data[:pos] + bytes([data[pos] ^ mask]) + data[pos + 1 :]


def _frame_spans(header: BidHeader) -> list[tuple[int, int]]:
    spans, at = [], header.header_length
    for i in range(header.frame_count):
        spans.append((at, at + header.frame_length(i)))
        at += header.frame_length(i)
    return spans


def _with_trailer(world: World, without_trailer: bytes) -> bytes:
    """Recompute the trailer: what an attacker without keys can do to pass the keyless check."""
    return without_trailer + world.suite.digest(without_trailer)


@pytest.fixture(scope="module")
def sealed(world: World) -> bytes:
    return world.seal(SMALL, chunk_size=CHUNK)


def test_the_small_container_has_the_shape_the_tests_assume(world: World, sealed: bytes) -> None:
    header = read_header(sealed)
    assert header.frame_count in {3, 4}  # (SM2 certificates are larger)
    assert header.frame_length(0) == CHUNK + FRAME_OVERHEAD
    assert _attempt(world, sealed, "bidder") is None
    assert _attempt(world, sealed, "opening") is None
    assert _attempt(world, sealed, "check") is None


def test_every_byte_of_the_header_is_protected(world: World, sealed: bytes) -> None:
    """Flip each header byte (magic, version, lengths, JSON, both wrapped keys): every opening refuses."""
    header = read_header(sealed)
    missed = []
    for pos in range(header.header_length):
        bad = _flip(sealed, pos)
        for how in ("bidder", "opening", "check"):
            code = _attempt(world, bad, how)
            if code not in HEADER_CODES:
                missed.append((pos, how, code))
    assert missed == []


def test_a_changed_wrapped_key_is_caught_even_by_the_other_recipient(world: World, sealed: bytes) -> None:
    """The bidder's wrap is not used when opening with the opening key, yet changing it is detected (AAD)."""
    header = read_header(sealed)
    raw = sealed[: header.header_length]
    for role in ("bidder", "opening"):
        text = base64.b64encode(header.recipients[role].wrapped_key)
        at = raw.index(text) + len(text) // 2
        swapped = b"A" if raw[at : at + 1] != b"A" else b"B"
        bad = sealed[:at] + swapped + sealed[at + 1 :]
        other = "opening" if role == "bidder" else "bidder"
        assert _attempt(world, bad, other) == "bid.tampered"
        assert _attempt(world, bad, role) == "bid.tampered"
        # and a server that recomputed the trailer does not hide it
        assert _attempt(world, _with_trailer(world, bad[:-TRAILER_SIZE]), other) == "bid.tampered"


def test_every_frame_and_the_trailer_are_protected(world: World, sealed: bytes) -> None:
    header = read_header(sealed)
    positions = []
    for start, end in _frame_spans(header):
        nonce, body, tag = start, start + NONCE_SIZE, end - 16
        positions += [nonce, nonce + NONCE_SIZE - 1, body, (body + tag) // 2, tag - 1, tag, end - 1]
    positions += [len(sealed) - TRAILER_SIZE, len(sealed) - 17, len(sealed) - 1]
    missed = []
    for pos in positions:
        for mask in (0x01, 0x80):
            bad = _flip(sealed, pos, mask)
            for how in ("bidder", "opening", "stream", "check"):
                code = _attempt(world, bad, how)
                if code != "bid.tampered":
                    missed.append((pos, mask, how, code))
    assert missed == []


def test_a_frame_changed_behind_a_recomputed_trailer_is_caught_by_its_tag(world: World, sealed: bytes) -> None:
    header = read_header(sealed)
    start, end = _frame_spans(header)[1]
    bad = _with_trailer(world, _flip(sealed, (start + end) // 2)[:-TRAILER_SIZE])
    assert _attempt(world, bad, "check") is None  # keyless: looks fine
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, bad, opening_private=world.opening.private, context=CONTEXT)
    assert exc.value.code == "bid.tampered"
    assert exc.value.details["frame"] == 1


def test_truncation_is_detected_anywhere(world: World, sealed: bytes) -> None:
    header = read_header(sealed)
    spans = _frame_spans(header)
    cuts = {0, 1, 8, 13, 14, header.header_length - 1, header.header_length, header.header_length + 5}
    cuts |= {end for _start, end in spans}  # exactly at frame boundaries (the last one: trailer gone)
    cuts |= {(start + end) // 2 for start, end in spans}
    cuts |= {len(sealed) - 1, len(sealed) - TRAILER_SIZE + 1}
    for cut in sorted(cuts):
        for how in ("bidder", "stream", "check"):
            assert _attempt(world, sealed[:cut], how) == "bid.truncated", (cut, how)


def test_dropping_the_last_frame_and_fixing_header_and_trailer_is_detected(world: World, sealed: bytes) -> None:
    header = read_header(sealed)
    spans = _frame_spans(header)
    obj = header.to_json()
    obj["body_length"] = header.body_length - header.frame_length(header.frame_count - 1)
    shorter = _with_trailer(world, encode_header(obj) + sealed[spans[0][0] : spans[-1][0]])
    assert read_header(shorter).frame_count == header.frame_count - 1
    assert _attempt(world, shorter, "check") is None  # well formed, complete, trailer right
    assert _attempt(world, shorter, "bidder") == "bid.tampered"
    assert _attempt(world, shorter, "opening") == "bid.tampered"


def test_reordered_duplicated_or_spliced_frames_are_detected(world: World, sealed: bytes) -> None:
    header = read_header(sealed)
    spans = _frame_spans(header)
    (a0, a1), (b0, b1), c0 = spans[0], spans[1], spans[2][0]
    f0, f1 = sealed[a0:a1], sealed[b0:b1]
    twin = world.seal(SMALL, chunk_size=CHUNK)  # the same bid sealed again (another content key)
    t_header = read_header(twin)
    t1 = twin[t_header.header_length + len(f0) : t_header.header_length + 2 * len(f0)]
    variants = {
        "swapped": sealed[:a0] + f1 + f0 + sealed[c0:-TRAILER_SIZE],
        "duplicated": sealed[:a0] + f0 + f0 + sealed[c0:-TRAILER_SIZE],
        "spliced": sealed[:a0] + f0 + t1 + sealed[c0:-TRAILER_SIZE],
    }
    for name, body in variants.items():
        bad = _with_trailer(world, body)
        assert _attempt(world, bad, "check") is None, name
        assert _attempt(world, bad, "bidder") == "bid.tampered", name
        assert _attempt(world, bad, "opening") == "bid.tampered", name


def test_bytes_after_the_end_are_refused(world: World, sealed: bytes) -> None:
    for how in ("bidder", "stream", "check"):
        assert _attempt(world, sealed + b"\0", how) == "bid.tampered"


# --- nothing of the manifest or documents in clear ------------------------------------------------------------

MARKER = "ZQX-SUNBID-MARKER-41f7c2d9"
CN_MARKER = "绝密标记甲乙丙丁投标报价"
PRICE = "98765432.10"


def _forms(text: str) -> list[bytes]:
    """``text`` in the encodings a careless implementation might write it in."""
    out: list[bytes] = []
    for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "gb18030"):
        raw = text.encode(encoding)
        out += [raw, raw.hex().encode(), raw.hex().upper().encode()]
        for shift in range(3):
            for b64 in (base64.b64encode, base64.urlsafe_b64encode):
                enc = b64(b"\0" * shift + raw)
                out.append(enc[4:-4])  # the characters fixed by the text alone, whatever the alignment
    out.append(json.dumps(text).encode("ascii")[1:-1])  # \\uXXXX escapes
    return out


def _leaks(container: bytes, text: str) -> list[bytes]:
    return [form for form in _forms(text) if len(form) >= 4 and form in container]


def test_the_leak_search_finds_what_it_looks_for() -> None:
    assert _leaks(b"..." + base64.b64encode(b"xy" + MARKER.encode()) + b"...", MARKER)
    assert _leaks(b"..." + CN_MARKER.encode("utf-16-be").hex().encode() + b"...", CN_MARKER)
    assert _leaks(b"..." + json.dumps(CN_MARKER).encode() + b"...", CN_MARKER)
    assert _leaks(b"..." + PRICE.encode("utf-16-le") + b"...", PRICE)
    assert not _leaks(b"nothing to see here" * 100, MARKER)


def test_no_byte_of_manifest_or_documents_appears_in_the_container(world: World) -> None:
    manifest = world.manifest(
        bidder_name=f"{CN_MARKER}建设有限公司",
        price=PRICE,
        quality=MARKER,
        key_commitments=(CN_MARKER, f"承诺 {MARKER}"),
        extra={"备注": MARKER},
    )
    files = {
        f"{MARKER}.pdf": MARKER.encode() * 50 + CN_MARKER.encode("utf-8") * 10,
        f"{CN_MARKER}.docx": CN_MARKER.encode("gb18030") * 20 + CN_MARKER.encode("utf-16-le") * 20,
        "报价.txt": PRICE.encode() * 10,
    }
    for chunk in (CHUNK, 64 * 1024):
        data = world.seal(files, manifest, chunk_size=chunk)
        for text in (MARKER, CN_MARKER, PRICE, manifest.bidder_name, "key_commitments", ".pdf", "%PDF"):
            assert _leaks(data, text) == [], text
        opened = open_bid(world.suite, data, opening_private=world.opening.private, context=CONTEXT)
        assert opened.manifest.quality == MARKER  # the marker really was sealed
        assert opened.files == files


# --- memory -----------------------------------------------------------------------------------------------------

BID_MB = 20
MEMORY_CHUNK = 1024 * 1024
OVERHEAD = 256 * 1024
COPIES = {("intl", "seal"): 3, ("intl", "open"): 3, ("gm", "seal"): 4, ("gm", "open"): 3}
"""Chunk-sized buffers alive at once. GmSuite.seal builds ``nonce + body + tag`` (one more transient copy)."""


class _HashingWriter:
    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.size += len(data)
        return len(data)


def _peak(fn: object) -> int:
    assert callable(fn)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_a_large_bid_streams_in_a_few_chunks_of_memory(suite_name: str, tmp_path: Path) -> None:
    world = make_world(suite_name)
    doc, bid = tmp_path / "施工组织设计.pdf", tmp_path / "bid.sbid"
    doc.write_bytes(os.urandom(BID_MB * 1024 * 1024))
    bid_bytes = doc.stat().st_size

    def seal() -> None:
        with doc.open("rb") as src, bid.open("wb") as out:
            seal_bid_to(
                out,
                world.suite,
                world.manifest(),
                {doc.name: src},
                signing_private=world.a.signing.private,
                signing_cert_pem=world.a.signing_pem,
                bidder_encryption_public=world.a.encryption.public,
                opening_public=world.opening.public,
                context=CONTEXT,
                chunk_size=MEMORY_CHUNK,
            )

    sink = DiscardSink()

    def open_() -> None:
        with bid.open("rb") as src:
            open_bid_from(world.suite, src, sink, encryption_private=world.a.encryption.private, context=CONTEXT)

    seal_peak = _peak(seal)
    open_peak = _peak(open_)
    assert sink.bytes == bid_bytes
    assert seal_peak < COPIES[(suite_name, "seal")] * MEMORY_CHUNK + OVERHEAD, seal_peak
    assert open_peak < COPIES[(suite_name, "open")] * MEMORY_CHUNK + OVERHEAD, open_peak
    # what a non-streaming implementation would need: at least the bid itself
    assert max(seal_peak, open_peak) < bid_bytes // 4
