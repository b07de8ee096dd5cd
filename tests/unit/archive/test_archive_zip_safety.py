"""The container: every changed byte is caught, and hostile zips (zip-slip, duplicates, bombs) are refused."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.archive.archive_world import files_of, make_world, members

from sunbid.archive.package import Limits, verify_archive
from sunbid.archive.zipio import canonical_order, unsafe_path_reason, write_zip

WORLD = make_world(n=6, chosen=(3, 5))  # small, so that every byte can be changed in turn
ARCHIVE = WORLD.build()
KEY = WORLD.keypair.public


def _flipped(position: int, value: int) -> bytes:
    data = bytearray(ARCHIVE)
    data[position] = value
    return bytes(data)


def _member_spans() -> dict[str, tuple[int, int]]:
    """Where each member's data lies in the archive: ``name -> (start, end)``."""
    spans = {}
    with zipfile.ZipFile(io.BytesIO(ARCHIVE)) as zf:
        for info in zf.infolist():
            name_len, extra_len = struct.unpack("<HH", ARCHIVE[info.header_offset + 26 : info.header_offset + 30])
            start = info.header_offset + 30 + name_len + extra_len
            spans[info.filename] = (start, start + info.file_size)
    return spans


def test_every_single_byte_change_fails_verification() -> None:
    readable = 0
    for position in range(len(ARCHIVE)):
        for value in (ARCHIVE[position] ^ 0x01, ARCHIVE[position] ^ 0x80):
            report = verify_archive(_flipped(position, value), trusted_key=KEY)
            assert not report.ok, f"a change at byte {position} went unnoticed"
            assert report.problems and all(p.code.startswith("archive.") for p in report.problems)
            readable += "archive.not_a_zip" not in report.codes()
    assert readable > len(ARCHIVE)  # most changed archives still open as zips: the checks, not zipfile, catch them


@pytest.mark.parametrize("name", ["manifest.json", "招标文件/招标文件.pdf", "签名/合同签名.sig"])
def test_a_changed_byte_in_a_member_is_named(name: str) -> None:
    start, end = _member_spans()[name]
    assert end - start > 10
    for position in range(start, end, max(1, (end - start) // 40)):
        report = verify_archive(_flipped(position, ARCHIVE[position] ^ 0x20))
        assert report.codes() == ["archive.unreadable_member"], position
        assert report.problems[0].path_or_index == name


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(0, len(ARCHIVE) - 1), value=st.integers(0, 255))
def test_any_replaced_byte_fails(position: int, value: int) -> None:
    if value != ARCHIVE[position]:
        assert not verify_archive(_flipped(position, value), trusted_key=KEY).ok


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, len(ARCHIVE) - 1), tail=st.binary(min_size=1, max_size=64))
def test_truncated_or_extended_archives_fail(cut: int, tail: bytes) -> None:
    assert not verify_archive(ARCHIVE[:cut]).ok
    assert not verify_archive(ARCHIVE + tail).ok
    assert not verify_archive(tail + ARCHIVE).ok


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    report = verify_archive(data)
    assert not report.ok and report.problems


def test_the_same_content_repacked_by_another_tool_is_not_canonical() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name, content in members(ARCHIVE).items():
            zf.writestr(name, content)
    report = verify_archive(buffer.getvalue(), trusted_key=KEY)
    assert report.codes() == ["archive.not_canonical"]
    assert (report.files_checked, report.entries_checked) == (3, 2)  # the content itself is intact


def test_reordered_members_are_not_canonical() -> None:
    reordered = write_zip(sorted(members(ARCHIVE).items(), reverse=True))
    assert verify_archive(reordered).codes() == ["archive.not_canonical"]


def test_a_compressed_member_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in canonical_order(members(ARCHIVE)):
            zf.writestr(name, content, compress_type=zipfile.ZIP_DEFLATED if name != "manifest.json" else 0)
    report = verify_archive(buffer.getvalue())
    assert set(report.codes()) == {"archive.unsupported_member"}
    assert len(report.problems) == 3


@pytest.mark.parametrize(
    "name",
    [
        "../evil.sh",
        "/etc/passwd",
        "a/../../b",
        "..",
        "./a",
        "a//b",
        "dir/",
        "C:\\evil",
        "a\\..\\b",
        "D:evil",
        "a\x01b",
    ],
)
def test_zip_slip_names_are_refused_and_named(name: str) -> None:
    hostile = write_zip(canonical_order({**members(ARCHIVE), name: b"#!/bin/sh\nrm -rf ~\n"}))
    report = verify_archive(hostile)
    assert "archive.unsafe_path" in report.codes()
    assert any(p.path_or_index == name for p in report.problems if p.code == "archive.unsafe_path")
    assert "archive.not_canonical" not in report.codes()


def test_a_name_truncated_by_nul_is_refused() -> None:
    assert unsafe_path_reason("a.pdf\x00.exe") is not None
    assert unsafe_path_reason("招标文件/第1章.pdf") is None
    assert unsafe_path_reason("e\u0301.txt") is not None  # not NFC


@pytest.mark.parametrize("twin", ["签名/合同签名.sig", "签名/合同签名.SIG"])
def test_duplicate_names_are_refused(twin: str) -> None:
    items = [*canonical_order(members(ARCHIVE)), (twin, b"second copy")]
    report = verify_archive(write_zip(items))
    assert report.codes()[0] == "archive.duplicate_name"
    assert report.problems[0].path_or_index == twin
    assert "archive.missing_file" not in report.codes()  # the refused original is not reported twice


def test_an_oversized_member_is_refused_before_it_is_read() -> None:
    report = verify_archive(ARCHIVE, limits=Limits(max_member_bytes=1000))
    assert "archive.member_too_large" in report.codes()
    names = {p.path_or_index for p in report.problems if p.code == "archive.member_too_large"}
    assert names == {n for n, c in members(ARCHIVE).items() if len(c) > 1000}


def test_size_and_count_limits() -> None:
    assert verify_archive(ARCHIVE, limits=Limits(max_archive_bytes=len(ARCHIVE) - 1)).codes() == ["archive.too_large"]
    assert verify_archive(ARCHIVE, limits=Limits(max_members=3)).codes() == ["archive.too_many_members"]
    assert verify_archive(ARCHIVE, limits=Limits(max_manifest_bytes=100)).codes() == ["archive.manifest_too_large"]
    assert verify_archive(ARCHIVE, limits=Limits(max_entries=1)).codes() == ["archive.manifest_invalid"]
    assert verify_archive(ARCHIVE, limits=Limits(max_archive_bytes=len(ARCHIVE))).ok


def _overlapping_zip(copies: int, size: int) -> bytes:
    """A non-recursive zip bomb: many central-directory entries all pointing at one member's data."""
    content = b"A" * size
    crc = zlib.crc32(content)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, 0, 0, 33, crc, size, size, 1, 0) + b"a" + content
    central = b"".join(
        struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x314, 20, 0x800, 0, 0, 33, crc, size, size, 1, 0, 0, 0, 0, 0, 0)
        + b"a"
        for _ in range(copies)
    )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, copies, copies, len(central), len(local), 0)
    return local + central + end


def test_overlapping_members_are_refused_as_a_zip_bomb() -> None:
    report = verify_archive(_overlapping_zip(copies=50, size=10_000))
    assert report.codes() == ["archive.overlapping_members"]


def test_an_encrypted_member_is_refused() -> None:
    data = bytearray(ARCHIVE)
    # set bit 0 (encrypted) of the general-purpose flags in the first central directory entry
    cd = data.index(b"PK\x01\x02")
    data[cd + 8] |= 0x01
    report = verify_archive(bytes(data))
    assert report.codes() == ["archive.unsupported_member"]
    assert report.problems[0].path_or_index == "manifest.json"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "archive.not_a_zip"),
        (b"%PDF-1.7\n" * 10, "archive.not_a_zip"),
        (b"PK\x05\x06" + b"\x00" * 18, "archive.manifest_missing"),  # a valid, empty zip
    ],
)
def test_not_an_archive_is_a_problem_not_an_exception(data: bytes, code: str) -> None:
    assert verify_archive(data).codes() == [code]


def test_write_zip_is_read_back_by_the_standard_library() -> None:
    items = [("manifest.json", b"{}"), ("a/一.txt", b"one"), ("b.bin", bytes(range(256)))]
    with zipfile.ZipFile(io.BytesIO(write_zip(items))) as zf:
        assert zf.testzip() is None
        assert [(i.filename, zf.read(i)) for i in zf.infolist()] == items
        assert all(i.external_attr >> 16 == 0o100644 for i in zf.infolist())


def test_files_of_the_world_are_what_was_built() -> None:
    assert files_of(ARCHIVE) == {f.path: f.content for f in WORLD.files}
