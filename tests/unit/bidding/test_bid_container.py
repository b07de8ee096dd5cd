"""Sealed bid container: sealing and opening, keys, contexts, signatures, limits (both suites)."""

from __future__ import annotations

import io
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from bidworld import CONTEXT, NOW, World, make_bidder, make_world

from sunbid.bidding import container_seal
from sunbid.bidding.container import (
    DiscardSink,
    MemorySink,
    check_container,
    container_hash,
    open_bid,
    open_bid_from,
    read_header,
    seal_bid_to,
)
from sunbid.bidding.container_format import PREFIX_SIZE
from sunbid.core.errors import DomainError
from sunbid.crypto.certificates import CertificateAuthority

FILES = {
    "商务标.pdf": b"%PDF-1.7 commercial part " + bytes(range(256)) * 40,
    "技术标（施工组织设计）.docx": os.urandom(70_000),
    "资格审查资料.zip": b"",
    "README.txt": b"plain text",
}


def _code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


def test_opens_with_the_bidders_key_and_with_the_opening_key(world: World) -> None:
    manifest = world.manifest()
    data = world.seal(FILES, manifest, chunk_size=16 * 1024)

    by_bidder = open_bid(world.suite, data, encryption_private=world.a.encryption.private, context=CONTEXT)
    by_opening = open_bid(world.suite, data, opening_private=world.opening.private, context=CONTEXT)

    for opened, role in ((by_bidder, "bidder"), (by_opening, "opening")):
        assert opened.opened_as == role
        assert opened.manifest == manifest
        assert dict(opened.files) == FILES
        assert list(opened.files) == list(FILES)  # manifest order
        assert opened.signature_valid, opened.signature_problem
        assert opened.signature_problem is None
        assert opened.signer_uscc == world.a.subject.uscc
        assert opened.signer_cert_pem == world.a.signing_pem
        assert world.suite.verify(world.a.signing.public, opened.manifest_json, opened.signature)
        assert [e.name for e in opened.file_entries] == list(FILES)
        assert [e.size for e in opened.file_entries] == [len(v) for v in FILES.values()]
        assert opened.file_entries[0].digest == world.suite.digest(FILES["商务标.pdf"]).hex()
        assert opened.container_hash == container_hash(data) == world.suite.digest(data).hex()
    assert by_bidder.manifest.price == "12345678.90"
    assert by_bidder.manifest.key_commitments == ("项目经理：张三（一级建造师）", "安全文明施工")


def test_signed_manifest_is_canonical_json_listing_each_file(world: World) -> None:
    data = world.seal(FILES)
    opened = open_bid(world.suite, data, encryption_private=world.a.encryption.private, context=CONTEXT)
    obj = json.loads(opened.manifest_json)
    assert obj["files"] == [
        {"name": n, "size": len(b), "digest": world.suite.digest(b).hex()} for n, b in FILES.items()
    ]
    assert obj["suite"] == world.suite.name
    assert obj["price"] == "12345678.90"
    assert obj["created_at"] == "2026-11-23T01:00:30.123456Z"
    assert obj["machine_fingerprint"] == "ab" * 32


def test_the_same_bid_sealed_twice_differs_everywhere_after_the_header(world: World) -> None:
    first, second = world.seal(FILES), world.seal(FILES)
    h1, h2 = read_header(first), read_header(second)
    assert first != second
    assert h1.body_length == h2.body_length  # (SM2 wraps vary a few bytes in length: DER integers)
    assert h1.recipients["bidder"].wrapped_key != h2.recipients["bidder"].wrapped_key
    assert h1.recipients["opening"].wrapped_key != h2.recipients["opening"].wrapped_key
    body1, body2 = first[h1.header_length :], second[h2.header_length :]
    same = sum(a == b for a, b in zip(body1, body2, strict=True))
    assert same < len(body1) // 64  # random bytes agree about 1 time in 256
    for data in (first, second):
        assert open_bid(world.suite, data, opening_private=world.opening.private, context=CONTEXT).files == FILES


def test_header_holds_only_what_the_server_needs(world: World) -> None:
    data = world.seal(FILES, chunk_size=8192)
    header = read_header(data[:4096])  # the start of an upload is enough
    raw = data[PREFIX_SIZE : header.header_length]
    assert set(json.loads(raw)) == {
        "suite",
        "project_code",
        "section_code",
        "bidder_uscc",
        "context_digest",
        "chunk_size",
        "body_length",
        "recipients",
    }
    assert header.suite == world.suite.name
    assert (header.project_code, header.section_code) == ("FJ-2026-0042", "FJ-2026-0042-01")
    assert header.bidder_uscc == world.a.subject.uscc
    assert header.chunk_size == 8192
    assert header.total_length == len(data)
    assert header.recipients["bidder"].key_fingerprint == world.suite.public_key_fingerprint(world.a.encryption.public)
    assert header.recipients["opening"].key_fingerprint == world.suite.public_key_fingerprint(world.opening.public)
    check = check_container(data)
    assert check.container_hash == container_hash(data)
    assert check.header == read_header(data)


def test_a_bid_streams_from_files_to_a_sink(world: World, tmp_path: Path) -> None:
    big = os.urandom(300_000)
    (tmp_path / "big.bin").write_bytes(big)
    with (tmp_path / "big.bin").open("rb") as doc, (tmp_path / "bid.sbid").open("wb") as out:
        sealed = seal_bid_to(
            out,
            world.suite,
            world.manifest(),
            {"施工图.dwg": doc, "报价.xlsx": b"price table"},
            signing_private=world.a.signing.private,
            signing_cert_pem=world.a.signing_pem,
            bidder_encryption_public=world.a.encryption.public,
            opening_public=world.opening.public,
            context=CONTEXT,
        )
    assert sealed.length == (tmp_path / "bid.sbid").stat().st_size
    assert sealed.container_hash == container_hash((tmp_path / "bid.sbid").read_bytes())
    sink = MemorySink()
    with (tmp_path / "bid.sbid").open("rb") as src:
        opened = open_bid_from(
            world.suite,
            src,
            sink,
            encryption_private=world.a.encryption.private,
            context=CONTEXT,
            expected_hash=sealed.container_hash,
        )
    assert sink.files == {"施工图.dwg": big, "报价.xlsx": b"price table"}
    assert opened.files == {}
    assert opened.container_hash == sealed.container_hash


def test_a_document_changed_while_sealing_is_refused(world: World) -> None:
    class Shifty(io.BytesIO):
        reads = 0

        def seek(self, offset: int, whence: int = 0, /) -> int:
            self.reads += 1
            if self.reads == 1:  # after the hashing pass, the user saves the document again
                self.getbuffer()[0] ^= 1
            return super().seek(offset, whence)

    with pytest.raises(DomainError) as exc:
        world.seal({"a.pdf": Shifty(b"x" * 5000)})
    assert _code(exc) == "bid.file_changed"


def test_wrong_keys_are_refused(world: World) -> None:
    data = world.seal(FILES)
    attempts: list[dict[str, Any]] = [
        {"encryption_private": world.b.encryption.private},  # another bidder
        {"encryption_private": world.opening.private},  # the opening key offered as the bidder's
        {"opening_private": world.a.encryption.private},  # the bidder's key offered as the opening key
        {"opening_private": world.suite.generate_encryption_keypair().private},
    ]
    for keys in attempts:
        with pytest.raises(DomainError) as exc:
            open_bid(world.suite, data, context=CONTEXT, **keys)
        assert _code(exc) == "bid.wrong_key", keys


def test_exactly_one_key_must_be_given(world: World) -> None:
    data = world.seal(FILES)
    both = {"encryption_private": world.a.encryption.private, "opening_private": world.opening.private}
    none: dict[str, Any] = {}
    for keys in (none, both):
        with pytest.raises(DomainError) as exc:
            open_bid(world.suite, data, context=CONTEXT, **keys)
        assert _code(exc) == "bid.bad_request"


def test_another_context_is_refused(world: World) -> None:
    data = world.seal(FILES)
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, data, encryption_private=world.a.encryption.private, context=CONTEXT + "-round2")
    assert _code(exc) == "bid.context_mismatch"
    assert open_bid(world.suite, data, encryption_private=world.a.encryption.private, context=CONTEXT.encode())


def test_other_suite_and_unknown_versions_are_refused(world: World) -> None:
    data = world.seal(FILES)
    other = "gm" if world.suite.name == "intl" else "intl"
    with pytest.raises(DomainError) as exc:
        open_bid(other, data, encryption_private=world.a.encryption.private, context=CONTEXT)
    assert _code(exc) == "bid.suite_mismatch"
    future = data[:8] + (2).to_bytes(2, "big") + data[10:]
    with pytest.raises(DomainError) as exc:
        read_header(future)
    assert _code(exc) == "bid.unsupported_version"
    for junk in (b"PK\x03\x04" + data[4:], b"", b"\x89SBID\r"):
        with pytest.raises(DomainError) as exc:
            read_header(junk)
        assert _code(exc) in {"bid.malformed", "bid.truncated"}


def test_a_bid_signed_with_another_bidders_key_is_detected(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = world.manifest()  # bidder A's manifest
    # The tool refuses to seal A's manifest with B's key and certificate, or with B's key and A's certificate.
    for key, cert in ((world.b.signing.private, world.b.signing_pem), (world.b.signing.private, world.a.signing_pem)):
        with pytest.raises(DomainError) as exc:
            world.seal(FILES, manifest, signing_private=key, signing_cert_pem=cert)
        assert _code(exc) == "bid.signer_mismatch"

    # A forger's modified tool skips that check; the opener still finds out.
    monkeypatch.setattr(container_seal, "_check_signer", lambda suite, m, key, cert: cert.encode("ascii"))
    forged_cert = world.seal(
        FILES, manifest, signing_private=world.b.signing.private, signing_cert_pem=world.b.signing_pem
    )
    forged_sig = world.seal(
        FILES, manifest, signing_private=world.b.signing.private, signing_cert_pem=world.a.signing_pem
    )
    with_enc_cert = world.seal(FILES, manifest, signing_cert_pem=world.a.encryption_pem)
    expected = {
        forged_cert: ("bid.signer_other_org", world.b.subject.uscc),
        forged_sig: ("bid.signature_invalid", world.a.subject.uscc),
        with_enc_cert: ("bid.signer_not_signing_cert", world.a.subject.uscc),
    }
    for data, (problem, signer) in expected.items():
        opened = open_bid(world.suite, data, opening_private=world.opening.private, context=CONTEXT)
        assert not opened.signature_valid
        assert opened.signature_problem == problem
        assert opened.signer_uscc == signer
        assert opened.files == FILES  # the bid still opens: rejecting it is the evaluation's call


def test_the_signing_certificate_can_be_checked_against_the_ca(world: World) -> None:
    data = world.seal(FILES)
    key = world.a.encryption.private
    good = open_bid(world.suite, data, encryption_private=key, context=CONTEXT, ca_cert_pem=world.ca.certificate_pem)
    assert good.signature_valid
    other_ca = CertificateAuthority.create(world.suite, "另一 CA", now=NOW, validity_days=3650)
    bad = open_bid(world.suite, data, encryption_private=key, context=CONTEXT, ca_cert_pem=other_ca.certificate_pem)
    assert (bad.signature_valid, bad.signature_problem) == (False, "cert.wrong_issuer")
    late = NOW.replace(year=2028)
    expired = open_bid(
        world.suite, data, encryption_private=key, context=CONTEXT, ca_cert_pem=world.ca.certificate_pem, now=late
    )
    assert expired.signature_problem == "cert.expired"


def test_expected_container_hash_is_enforced(world: World) -> None:
    data = world.seal(FILES)
    other = world.seal(FILES)  # the same bidder's other version of the bid
    key = world.a.encryption.private
    assert open_bid(world.suite, data, encryption_private=key, context=CONTEXT, expected_hash=container_hash(data))
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, data, encryption_private=key, context=CONTEXT, expected_hash=container_hash(other))
    assert _code(exc) == "bid.tampered"


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../商务标.pdf",
        "a/b.pdf",
        "a\\b.pdf",
        "C:x.pdf",
        "CON",
        "nul.txt",
        "a\x00b",
        "tab\there",
        " leading.pdf",
        "trailing.pdf ",
        "trailing.",
        "a" * 252 + ".pdf",
        "e\u0301.pdf",  # NFD
        "zero\u200bwidth.pdf",
        "what?.pdf",
    ],
)
def test_unsafe_file_names_are_refused(world: World, name: str) -> None:
    with pytest.raises(DomainError) as exc:
        world.seal({name: b"x"})
    assert _code(exc) == "bid.bad_file_name"


def test_names_differing_only_in_case_are_refused_and_chinese_names_allowed(world: World) -> None:
    with pytest.raises(DomainError) as exc:
        world.seal({"Bid.pdf": b"1", "bid.PDF": b"2"})
    assert _code(exc) == "bid.bad_file_name"
    names = {"投标函及投标函附录.pdf": b"1", "已标价工程量清单（电子版）.xlsx": b"2", "é.pdf": b"3"}
    data = world.seal(names)
    assert open_bid(world.suite, data, opening_private=world.opening.private, context=CONTEXT).files == names


def test_size_limits(world: World) -> None:
    with pytest.raises(DomainError) as exc:
        world.seal({"a.bin": b"x" * 50_000}, max_size=40_000)
    assert _code(exc) == "bid.too_large"
    with pytest.raises(DomainError) as exc:
        world.seal({"a.bin": b"x"}, chunk_size=1000)
    assert _code(exc) == "bid.bad_request"
    data = world.seal({"a.bin": b"x" * 50_000})
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, data, encryption_private=world.a.encryption.private, context=CONTEXT, max_size=40_000)
    assert _code(exc) == "bid.too_large"
    with pytest.raises(DomainError) as exc:
        world.seal({f"f{i}.txt": b"" for i in range(1001)})
    assert _code(exc) == "bid.too_large"


def test_an_empty_bid_and_a_bid_of_exact_chunks_round_trip(world: World) -> None:
    for files in ({}, {"a.bin": b"\x01" * 8192 * 3}):
        data = world.seal(files, chunk_size=8192)
        opened = open_bid(world.suite, data, encryption_private=world.a.encryption.private, context=CONTEXT)
        assert opened.files == files
        assert open_bid_from(
            world.suite, io.BytesIO(data), DiscardSink(), opening_private=world.opening.private, context=CONTEXT
        ).file_entries == tuple(opened.file_entries)


def test_sealing_is_bound_to_the_bidder_in_the_header() -> None:
    world = make_world("intl")
    # Bidder B seals with its own certificate a manifest naming B: fine, and the header names B.
    b_manifest = world.manifest(world.b)
    data = world.seal(FILES, b_manifest, bidder=world.b)
    assert read_header(data).bidder_uscc == world.b.subject.uscc
    # A certificate from another CA seals (the tool cannot know the centre's CA) but fails the CA check.
    other_ca = CertificateAuthority.create(world.suite, "另一 CA", now=NOW, validity_days=3650)
    stranger = make_bidder(world.suite, other_ca, world.a.subject, 300)
    data = world.seal(FILES, world.manifest(), bidder=replace(stranger, encryption=world.a.encryption))
    opened = open_bid(
        world.suite, data, opening_private=world.opening.private, context=CONTEXT, ca_cert_pem=world.ca.certificate_pem
    )
    assert opened.signature_problem == "cert.wrong_issuer"


def test_a_released_content_key_opens_the_bid_and_a_wrong_one_is_refused(world: World) -> None:
    from sunbid.bidding.container import unwrap_content_key

    data = world.seal(FILES, chunk_size=16 * 1024)
    key = unwrap_content_key(world.suite, data, context=CONTEXT, encryption_private=world.a.encryption.private)
    assert key == unwrap_content_key(world.suite, data, context=CONTEXT, opening_private=world.opening.private)

    opened = open_bid(world.suite, data, content_key=key, context=CONTEXT)
    assert opened.opened_as == "content_key"
    assert dict(opened.files) == FILES
    assert opened.signature_valid

    wrong = bytes(b ^ 1 for b in key)
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, data, content_key=wrong, context=CONTEXT)
    assert _code(exc) == "bid.wrong_key"
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, data, content_key=key[:-1], context=CONTEXT)
    assert _code(exc) == "bid.wrong_key"
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, data, content_key=key, context=CONTEXT + "-other")
    assert _code(exc) == "bid.context_mismatch"
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, data, content_key=key, encryption_private=world.a.encryption.private, context=CONTEXT)
    assert _code(exc) == "bid.bad_request"
