"""The bid manifest: field rules, prices as decimal strings, the machine fingerprint, and what a bad sealer yields."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from bidworld import CONTEXT, FINGERPRINT, NOW, World

from sunbid.bidding import container_seal
from sunbid.bidding.container import BidManifest, format_price, machine_fingerprint, open_bid
from sunbid.bidding.container_manifest import decode_manifest, encode_manifest, machine_identifiers
from sunbid.core.errors import DomainError
from sunbid.crypto.suite import get_suite
from sunbid.ledger.canonical import canonical_json

BASE: dict[str, Any] = {
    "project_code": "FJ-2026-0042",
    "section_code": "FJ-2026-0042-01",
    "bidder_uscc": "91350100M000100Y43",
    "bidder_name": "福州某某建设工程有限公司",
    "price": "1000.00",
    "duration_days": 180,
    "quality": "合格",
    "machine_fingerprint": FINGERPRINT,
    "tool_version": "sunbid-bidder 0.1.0",
    "created_at": NOW,
}


def _code(**changes: Any) -> str:
    with pytest.raises(DomainError) as exc:
        BidManifest(**{**BASE, **changes})
    return exc.value.code


def test_a_valid_manifest_is_accepted_and_normalised() -> None:
    m = BidManifest(**{**BASE, "key_commitments": ["工期承诺"], "extra": {"下浮率": "3.5%"}})
    assert m.key_commitments == ("工期承诺",)
    assert m.price_decimal == Decimal("1000.00")
    assert m.created_at.tzinfo is UTC
    shanghai = BidManifest(**{**BASE, "created_at": NOW.astimezone(timezone(timedelta(hours=8)))})
    assert shanghai.created_at == NOW
    assert shanghai.created_at.tzinfo is UTC


@pytest.mark.parametrize("price", [1000.0, 1000, Decimal("1000.00"), "1000", "1000.0", "1000.000", "-1.00", "1e3", ""])
def test_prices_must_be_decimal_strings_with_two_places(price: object) -> None:
    assert _code(price=price) == "bid.bad_price"


def test_format_price_turns_exact_decimals_into_the_manifest_form() -> None:
    assert format_price(Decimal("12345678.9")) == "12345678.90"
    assert format_price(Decimal("0")) == "0.00"
    for bad in (Decimal("1.005"), Decimal("NaN"), 1.5):
        with pytest.raises(DomainError) as exc:
            format_price(bad)  # type: ignore[arg-type]
        assert exc.value.code == "bid.bad_price"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bidder_uscc", "91350100M000100Y44"),  # wrong check character
        ("project_code", ""),
        ("section_code", "S 1\n"),
        ("bidder_name", "a\x07b"),
        ("duration_days", True),
        ("duration_days", -1),
        ("duration_days", 12.0),
        ("machine_fingerprint", "AB" * 32),
        ("machine_fingerprint", "ab" * 31),
        ("created_at", datetime(2026, 11, 23, 9, 0)),  # naive
        ("key_commitments", "一条字符串"),
        ("extra", {"k": 1}),
        ("tool_version", ""),
    ],
)
def test_bad_fields_are_refused(field: str, value: object) -> None:
    assert _code(**{field: value}) == "bid.bad_manifest"


def test_the_signed_manifest_decodes_back_strictly() -> None:
    suite = get_suite("intl")
    m = BidManifest(**BASE)
    data = encode_manifest(m, "intl", [])
    assert decode_manifest(data, 32) == (m, "intl", ())
    obj = json.loads(data)
    for bad in (
        json.dumps(obj).encode(),  # not canonical (spaces)
        canonical_json({**obj, "surprise": "x"}),
        canonical_json({**obj, "price": "1000"}),
        canonical_json({**obj, "files": [{"name": "../x", "size": 1, "digest": suite.digest(b"x").hex()}]}),
        data.replace(b'"price"', b'"price","price"', 1),
    ):
        with pytest.raises(DomainError) as exc:
            decode_manifest(bad, 32)
        assert exc.value.code == "bid.bad_payload"


def test_machine_fingerprint_hashes_the_identifiers() -> None:
    ids: dict[str, Any] = {"cpu": "Hygon C86 7285", "machine_id": "0f1e", "disks": ["sda=WD-1"], "mac": "00163e000001"}
    one = machine_fingerprint(identifiers=ids)
    assert one == machine_fingerprint(identifiers=dict(ids))
    assert one != machine_fingerprint(identifiers={**ids, "mac": "00163e000002"})
    assert one != machine_fingerprint(get_suite("gm"), identifiers=ids)  # SM3 for the 国密 suite
    here = machine_fingerprint()
    assert len(here) == 64
    assert here == machine_fingerprint()  # stable on one machine
    assert set(machine_identifiers()) == {"cpu", "machine_id", "disks", "mac"}
    assert BidManifest(**{**BASE, "machine_fingerprint": here}).machine_fingerprint == here


# --- an authentic container with inconsistent content (a buggy or dishonest sealing tool) ---------------------


def test_a_manifest_naming_another_section_than_the_header_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = encode_manifest
    other = world.manifest(section_code="FJ-2026-0042-02")
    monkeypatch.setattr(container_seal, "encode_manifest", lambda m, suite, files: real(other, suite, files))
    data = world.seal({"a.pdf": b"x"})
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, data, encryption_private=world.a.encryption.private, context=CONTEXT)
    assert exc.value.code == "bid.manifest_mismatch"
    assert exc.value.details["field"] == "section_code"


def test_a_document_that_does_not_match_its_signed_digest_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = encode_manifest

    def lying(m: BidManifest, suite: str, files: list[Any]) -> bytes:
        return real(m, suite, [replace(f, digest=world.suite.digest(b"other").hex()) for f in files])

    monkeypatch.setattr(container_seal, "encode_manifest", lying)
    data = world.seal({"a.pdf": b"x" * 100, "b.pdf": b"y"})
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, data, opening_private=world.opening.private, context=CONTEXT)
    assert exc.value.code == "bid.bad_payload"
    assert exc.value.details["name"] == "a.pdf"


def test_a_manifest_whose_sizes_do_not_add_up_is_refused(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    real = encode_manifest

    def lying(m: BidManifest, suite: str, files: list[Any]) -> bytes:
        return real(m, suite, [replace(f, size=f.size + 1) for f in files])

    monkeypatch.setattr(container_seal, "encode_manifest", lying)
    data = world.seal({"a.pdf": b"x" * 100})
    with pytest.raises(DomainError) as exc:
        open_bid(world.suite, data, opening_private=world.opening.private, context=CONTEXT)
    assert exc.value.code == "bid.bad_payload"
