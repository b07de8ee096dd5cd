"""The bidder tool's local part: folder → documents, inputs, opening key, sealing to a file, resume state."""

from __future__ import annotations

import base64
import json
import os
import tracemalloc
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bidworld import CONTEXT, FINGERPRINT, World

from sunbid.bidding.container import open_bid, read_header
from sunbid.bidding.tool import (
    BidInput,
    OpeningKey,
    UploadState,
    build_manifest,
    bundle_bidder,
    collect_documents,
    load_state,
    parse_opening_key,
    parse_price,
    parse_project_ref,
    read_chunks,
    save_state,
    seal_folder,
    state_path,
    tool_version,
)
from sunbid.core.errors import DomainError
from sunbid.crypto.bundle import KeyBundle, export_bundle, import_bundle

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def make_bundle(world: World) -> KeyBundle:
    data = export_bundle(
        world.suite,
        password="bundle-pass",
        signing_private=world.a.signing.private,
        signing_cert_pem=world.a.signing_pem,
        encryption_private=world.a.encryption.private,
        encryption_cert_pem=world.a.encryption_pem,
        ca_cert_pem=world.ca.certificate_pem,
        iterations=1000,
    )
    return import_bundle(data, "bundle-pass")


def make_opening_key(world: World) -> OpeningKey:
    public = world.opening.public
    return parse_opening_key(
        {
            "suite": world.suite.name,
            "public_key": base64.b64encode(public).decode(),
            "key_fingerprint": world.suite.public_key_fingerprint(public),
            "context": CONTEXT,
            "threshold": 2,
            "total": 3,
        }
    )


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "投标文件"
    folder.mkdir()
    (folder / "商务标.pdf").write_bytes(b"%PDF business " * 20_000)
    (folder / "技术标.pdf").write_bytes(b"%PDF technical " * 3)
    return folder


def _code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


# --- documents ---------------------------------------------------------------------------------------------


def test_collects_every_regular_file_sorted_by_name(tmp_path: Path) -> None:
    docs = collect_documents(_folder(tmp_path))
    assert [d.name for d in docs] == ["商务标.pdf", "技术标.pdf"]
    assert docs[0].size == len(b"%PDF business ") * 20_000


def test_refuses_a_subfolder_instead_of_skipping_it(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "附件").mkdir()
    with pytest.raises(DomainError) as exc:
        collect_documents(folder)
    assert _code(exc) == "bidder.subfolder" and "附件" in exc.value.message_zh


def test_refuses_a_symbolic_link(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    outside = tmp_path / "secret.txt"
    outside.write_text("not part of the bid")
    os.symlink(outside, folder / "link.txt")
    with pytest.raises(DomainError) as exc:
        collect_documents(folder)
    assert _code(exc) == "bidder.special_file"


def test_refuses_an_empty_or_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DomainError) as exc:
        collect_documents(tmp_path / "empty")
    assert _code(exc) == "bidder.empty_folder"
    with pytest.raises(DomainError) as exc:
        collect_documents(tmp_path / "nowhere")
    assert _code(exc) == "bidder.no_folder"


def test_normalises_names_to_nfc(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    decomposed = unicodedata.normalize("NFD", "报价单é.xlsx")
    (folder / decomposed).write_bytes(b"x")
    [doc] = collect_documents(folder)
    assert doc.name == unicodedata.normalize("NFC", "报价单é.xlsx") != decomposed


# --- inputs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12345678.9", "12345678.90"), ("0", "0.00"), ("1,234.56", "1234.56"), (" 7.05 ", "7.05")],
)
def test_parses_prices_in_yuan(text: str, expected: str) -> None:
    assert parse_price(text) == expected


@pytest.mark.parametrize("text", ["-1", "1.234", "1e6", "abc", "", "01.00", "NaN", "1.2.3"])
def test_refuses_bad_prices_in_chinese(text: str) -> None:
    with pytest.raises(DomainError) as exc:
        parse_price(text)
    assert _code(exc) == "bidder.bad_price" and "投标报价" in exc.value.message_zh


def test_project_reference_is_an_id_a_code_or_both() -> None:
    assert parse_project_ref("12") == parse_project_ref(" 12 ")
    assert parse_project_ref("12").project_id == 12 and parse_project_ref("12").code is None
    ref = parse_project_ref("341700-2026-0001")
    assert ref.project_id is None and ref.code == "341700-2026-0001"
    both = parse_project_ref("7:341700-2026-0001")
    assert (both.project_id, both.code) == (7, "341700-2026-0001")
    for bad in ("", "a b", "0", "7:", "1:2:3"):
        with pytest.raises(DomainError):
            parse_project_ref(bad)


def test_opening_key_fingerprint_must_match_the_key(world: World) -> None:
    key = make_opening_key(world)
    assert key.public_key == world.opening.public and key.threshold == 2
    assert parse_opening_key(json.loads(json.dumps(key.to_json()))) == key
    wrong = {**key.to_json(), "key_fingerprint": "00" * 32}
    with pytest.raises(DomainError) as exc:
        parse_opening_key(wrong)
    assert _code(exc) == "bidder.bad_opening_key"
    for broken in (
        {**key.to_json(), "public_key": "not base64!"},
        {**key.to_json(), "suite": "rot13"},
        {**key.to_json(), "context": ""},
        [],
    ):
        with pytest.raises(DomainError):
            parse_opening_key(broken)


# --- sealing -----------------------------------------------------------------------------------------------


def test_seals_a_folder_that_the_bidder_can_open_with_its_own_key(world: World, tmp_path: Path) -> None:
    bundle = make_bundle(world)
    bidder = bundle_bidder(bundle)
    assert bidder.uscc == world.a.subject.uscc and bidder.name == world.a.subject.organisation_name
    bid = BidInput("FJ-2026-0042", "01", "12345678.90", 365, "合格", ("项目经理：张三",))
    manifest = build_manifest(bid, bidder, fingerprint=FINGERPRINT, now=NOW)
    assert manifest.tool_version == tool_version()
    out = tmp_path / "bid.sbid"
    sealed = seal_folder(out, collect_documents(_folder(tmp_path)), manifest, bundle, make_opening_key(world))
    data = out.read_bytes()
    assert sealed.length == len(data) and world.suite.digest(data).hex() == sealed.container_hash
    assert not (tmp_path / "bid.sbid.partial").exists()
    header = read_header(data)
    assert (header.project_code, header.section_code, header.bidder_uscc) == ("FJ-2026-0042", "01", bidder.uscc)
    opened = open_bid(world.suite, data, encryption_private=bundle.encryption_private, context=CONTEXT)
    assert opened.files["商务标.pdf"] == b"%PDF business " * 20_000
    assert opened.manifest.price == "12345678.90" and opened.manifest.key_commitments == ("项目经理：张三",)
    assert opened.signature_valid


def test_a_failed_seal_leaves_no_file(world: World, tmp_path: Path) -> None:
    bundle = make_bundle(world)
    other = BidInput("FJ-2026-0042", "01", "1.00", 1, "合格")
    manifest = build_manifest(other, bundle_bidder(bundle), fingerprint=FINGERPRINT, now=NOW)
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "CON.txt").write_bytes(b"a Windows device name")  # refused by the container's name rules
    out = tmp_path / "bid.sbid"
    with pytest.raises(DomainError) as exc:
        seal_folder(out, collect_documents(folder), manifest, bundle, make_opening_key(world))
    assert _code(exc) == "bid.bad_file_name"
    assert not out.exists() and not (tmp_path / "bid.sbid.partial").exists()


def test_refuses_an_opening_key_of_the_other_suite(world: World, tmp_path: Path) -> None:
    bundle = make_bundle(world)
    manifest = build_manifest(
        BidInput("P-1", "01", "1.00", 1, "合格"), bundle_bidder(bundle), fingerprint=FINGERPRINT, now=NOW
    )
    other = "gm" if world.suite.name == "intl" else "intl"
    key = OpeningKey(other, b"k" * 32, "00" * 32, CONTEXT)
    with pytest.raises(DomainError) as exc:
        seal_folder(tmp_path / "x.sbid", collect_documents(_folder(tmp_path)), manifest, bundle, key)
    assert _code(exc) == "bidder.suite_mismatch"


# --- resume state ------------------------------------------------------------------------------------------


def test_upload_state_round_trips_and_a_damaged_state_is_ignored(tmp_path: Path) -> None:
    container = tmp_path / "bid.sbid"
    path = state_path(container)
    assert path.name == "bid.sbid.upload.json"
    state = UploadState("http://h", 3, "01", "ab" * 32, 1000, 17, offset=400)
    save_state(path, state)
    loaded = load_state(path)
    assert loaded == state
    assert loaded.matches("http://h", 3, "01", "ab" * 32, 1000)
    assert not loaded.matches("http://h", 3, "02", "ab" * 32, 1000)
    path.write_text("{not json", encoding="utf-8")
    assert load_state(path) is None
    path.write_text(json.dumps({"format": "other"}), encoding="utf-8")
    assert load_state(path) is None
    assert load_state(tmp_path / "missing.json") is None


def test_reads_chunks_from_an_offset(tmp_path: Path) -> None:
    f = tmp_path / "c"
    f.write_bytes(bytes(range(250)))
    with f.open("rb") as fh:
        pieces = list(read_chunks(fh, 100, 64, 250))
    assert [at for at, _ in pieces] == [100, 164, 228]
    assert b"".join(p for _, p in pieces) == bytes(range(100, 250))
    with f.open("rb") as fh, pytest.raises(DomainError) as exc:
        list(read_chunks(fh, 0, 64, 300))  # the file is shorter than the upload's length
    assert _code(exc) == "bidder.container_changed"


def test_sealing_streams_a_large_folder_in_a_few_chunks_of_memory(world: World, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    piece = os.urandom(1024 * 1024)
    with (folder / "图纸.dwg").open("wb") as fh:
        for _ in range(12):
            fh.write(piece)
    bundle = make_bundle(world)
    manifest = build_manifest(
        BidInput("P-1", "01", "1.00", 1, "合格"), bundle_bidder(bundle), fingerprint=FINGERPRINT, now=NOW
    )
    docs = collect_documents(folder)
    tracemalloc.start()
    try:
        sealed = seal_folder(tmp_path / "big.sbid", docs, manifest, bundle, make_opening_key(world))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sealed.length > 12 * 1024 * 1024
    assert peak < 2 * 1024 * 1024  # 12 MiB sealed with well under 2 MiB of Python memory (64 KiB chunks)
