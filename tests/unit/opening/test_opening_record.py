"""The opening record's signature, hash and embedded draw checks, offline and without a database."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from sunbid.crypto.suite import get_suite
from sunbid.draws.domain import DecimalRange, SeedInput, commit, new_secret
from sunbid.draws.verify import coefficient_record
from sunbid.opening.record import RECORD_FORMAT, declared_items, hall_sections, sign_record, verify_record


def _body(suite_name: str, public: bytes, draw: dict[str, Any] | None, coefficient: str | None) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "version": 1,
        "suite": suite_name,
        "log_id": "sunbid:341700:test",
        "log_public_key": public.hex(),
        "project_code": "P-1",
        "project_name": "示范工程",
        "started_at": "2026-03-23T01:00:00.000+00:00",
        "decryption_closed_at": "2026-03-23T01:30:00.000+00:00",
        "published_at": "2026-03-23T01:30:00.000+00:00",
        "sections": [
            {
                "section": "01",
                "section_name": "一标段",
                "rows": [{"bidder_name": "甲", "price": "100.00", "decryption_status": "decrypted"}],
                "coefficient": coefficient,
                "draw_record": draw,
            }
        ],
    }


def _draw(suite_name: str) -> dict[str, Any]:
    subject = {"project": "P-1", "section": "01"}
    secret = new_secret()
    c = commit("coefficient", subject, "operator", secret, suite=suite_name, committed_at="2026-03-01T00:00:00+00:00")
    rec = coefficient_record(
        subject,
        suite=suite_name,
        rule=DecimalRange("0.95", "0.98", "0.005"),
        commitments=[c],
        seed_inputs=[SeedInput("sealed_bids", b"\1" * 32), SeedInput("operator", secret)],
        closes_at="2026-03-23T01:00:00+00:00",
    )
    return rec.to_dict()


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_a_signed_record_verifies_and_any_change_is_caught(suite_name: str) -> None:
    suite = get_suite(suite_name)
    kp = suite.generate_signing_keypair()
    draw = _draw(suite_name)
    doc = sign_record(_body(suite_name, kp.public, draw, str(draw["result"][0])), lambda m: suite.sign(kp.private, m))
    assert verify_record(doc, kp.public) == []
    assert verify_record(doc) == []
    other = suite.generate_signing_keypair()
    assert any("record_other_key" in p for p in verify_record(doc, other.public))
    changed = copy.deepcopy(doc)
    changed["record"]["sections"][0]["rows"][0]["price"] = "99.00"
    assert {p.split(":")[0] for p in verify_record(changed, kp.public)} == {
        "opening.record_hash_mismatch",
        "opening.record_bad_signature",
    }


def test_a_coefficient_without_its_draw_or_another_draws_subject_is_reported() -> None:
    suite = get_suite("intl")
    kp = suite.generate_signing_keypair()
    sign = lambda m: suite.sign(kp.private, m)  # noqa: E731
    bare = sign_record(_body("intl", kp.public, None, "0.950"), sign)
    assert any("coefficient_unproven" in p for p in verify_record(bare))
    draw = _draw("intl")
    draw["subject"] = {"project": "P-2", "section": "01"}
    moved = sign_record(_body("intl", kp.public, draw, str(draw["result"][0])), sign)
    problems = verify_record(moved)
    assert any("draw_other_subject" in p for p in problems)


def test_malformed_records_are_problems_not_exceptions() -> None:
    assert verify_record(b"[]") == ["opening.record_malformed: not a JSON object"]
    assert verify_record({"record": {"format": RECORD_FORMAT}})[0].startswith("opening.record_malformed")


def test_the_hall_gets_rows_without_the_uscc_or_hashes() -> None:
    body = _body("intl", b"\0" * 32, None, None)
    body["sections"][0]["rows"][0]["bidder_uscc"] = "9134"
    assert hall_sections(body)[0]["rows"][0].get("bidder_uscc") is None


DECLARED = {"信用等级": "AAA", "类似工程业绩": "3", "项目经理": "<script>张三</script>"}


def _with_extra(body: dict[str, Any]) -> dict[str, Any]:
    rows = body["sections"][0]["rows"]
    rows[0]["extra"] = dict(DECLARED)
    rows.append({"bidder_name": "乙", "price": "101.00", "decryption_status": "decrypted", "extra": {}})
    rows.append({"bidder_name": "丙", "price": None, "decryption_status": "revoked", "extra": None})
    return body


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_declared_items_are_signed_with_the_record_and_a_changed_value_is_caught(suite_name: str) -> None:
    suite = get_suite(suite_name)
    kp = suite.generate_signing_keypair()
    doc = sign_record(_with_extra(_body(suite_name, kp.public, None, None)), lambda m: suite.sign(kp.private, m))
    assert verify_record(doc, kp.public) == []
    for change in (
        lambda row: row["extra"].update({"类似工程业绩": "4"}),  # a value read out differently
        lambda row: row["extra"].pop("信用等级"),  # an item dropped
        lambda row: row["extra"].update({"下浮率": "3.50%"}),  # an item added
        lambda row: row.pop("extra"),  # the items left out (an old-shape row is not a way around the signature)
    ):
        changed = copy.deepcopy(doc)
        change(changed["record"]["sections"][0]["rows"][0])
        assert {p.split(":")[0] for p in verify_record(changed, kp.public)} == {
            "opening.record_hash_mismatch",
            "opening.record_bad_signature",
        }


def test_a_record_signed_before_rows_had_declared_items_still_verifies() -> None:
    suite = get_suite("intl")
    kp = suite.generate_signing_keypair()
    body = _body("intl", kp.public, None, None)
    body["sections"][0]["rows"][0] = {
        "bidder_name": "甲",
        "bidder_uscc": "91341700MA2N000001",
        "price": "100.00",
        "duration_days": 365,
        "quality": "合格",
        "deposit_status": "已缴纳",
        "deposit_status_code": "paid",
        "decryption_status": "decrypted",
        "decryption_status_zh": "解密成功",
        "opened_by": "bidder",
        "container_hash": "ab" * 32,
    }
    old = sign_record(body, lambda m: suite.sign(kp.private, m))
    assert "extra" not in old["record"]["sections"][0]["rows"][0]
    assert verify_record(json.dumps(old, ensure_ascii=False), kp.public) == []


def test_declared_items_that_are_not_an_object_of_strings_are_malformed_even_when_signed() -> None:
    suite = get_suite("intl")
    kp = suite.generate_signing_keypair()
    for bad in (["信用等级", "AAA"], {"类似工程业绩": 3}, {"信用等级": None}, "AAA"):
        body = _body("intl", kp.public, None, None)
        body["sections"][0]["rows"][0]["extra"] = bad
        problems = verify_record(sign_record(body, lambda m: suite.sign(kp.private, m)), kp.public)
        assert problems == [
            "opening.record_malformed: sections[0].rows[0].extra: extra must be null or an object of strings"
        ]
    body = _body("intl", kp.public, None, None)
    body["sections"][0]["rows"].append("甲")
    problems = verify_record(sign_record(body, lambda m: suite.sign(kp.private, m)), kp.public)
    assert problems == ["opening.record_malformed: sections[0].rows[1]"]


def test_the_hall_gets_the_declared_items_of_each_row() -> None:
    body = _with_extra(_body("intl", b"\0" * 32, None, None))
    rows = hall_sections(body)[0]["rows"]
    assert [r["extra"] for r in rows] == [DECLARED, {}, None]
    assert declared_items({"extra": {"a": "1"}}) == {"a": "1"} and declared_items({}) is None
