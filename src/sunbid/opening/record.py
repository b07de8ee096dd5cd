"""The opening record 开标记录 (唱标, 电子招标投标办法 §32): canonical JSON, hashed, signed, verifiable offline.

A published record is ``{"record": body, "record_hash": hex, "signature": hex, "ledger_index": n}``:

* ``body`` (format ``sunbid-opening-record``, version 1) names the project, the platform's log key and, per
  section, one row per sealed bid (bidder, price, duration, quality, the other items the bid declares to be read
  out — the manifest's ``extra`` —, deposit status, decryption status) and the coefficient draw record
  (``sunbid-draw``) when the tender has one;
* ``record_hash`` is the suite hash of ``canonical_json(body)``; the transparency-log entry ``opening:record``
  (at ``ledger_index``) carries it;
* ``signature`` is the platform's log key over ``RECORD_LABEL ‖ canonical_json(body)`` (as receipts are signed).

:func:`verify_record` checks all of it offline: hash, signature (with the log public key you trust, or the one
the record names), and every draw record recomputed by :mod:`sunbid.draws.verify`. Pure.

A row's ``extra`` (the declared items read out, 唱标: ``{name: value}`` strings, ``{}`` when the bid declares none,
null for a bid that was not decrypted, like its price) came with the read-out of the declared items; records
published before it have rows without the key and still verify. Where the key is present it is signed and hashed
like every other field, and it must be null or an object of strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sunbid.core.errors import DomainError
from sunbid.crypto.suite import get_suite
from sunbid.draws.verify import verify_record as verify_draw
from sunbid.ledger.canonical import canonical_json

RECORD_FORMAT = "sunbid-opening-record"
RECORD_VERSION = 1
RECORD_LABEL = b"sunbid-opening-record/1\x00"

_BODY_FIELDS = frozenset(
    {
        "format",
        "version",
        "suite",
        "log_id",
        "log_public_key",
        "project_code",
        "project_name",
        "started_at",
        "decryption_closed_at",
        "published_at",
        "sections",
    }
)
ROW_FIELDS = (
    "bidder_name",
    "bidder_uscc",
    "price",
    "duration_days",
    "quality",
    "extra",
    "deposit_status",
    "deposit_status_code",
    "decryption_status",
    "decryption_status_zh",
    "opened_by",
    "container_hash",
)


def signing_input(body: Mapping[str, Any]) -> bytes:
    """The bytes the log key signs: a label, then the body's canonical JSON."""
    return RECORD_LABEL + canonical_json(dict(body))


def record_hash(body: Mapping[str, Any]) -> str:
    """Hex suite hash of the body's canonical JSON."""
    return get_suite(str(body["suite"])).digest(canonical_json(dict(body))).hex()


def sign_record(body: dict[str, Any], sign: Callable[[bytes], bytes]) -> dict[str, Any]:
    """``{"record": body, "record_hash": hex, "signature": hex}`` (the caller adds ``ledger_index``)."""
    return {"record": body, "record_hash": record_hash(body), "signature": sign(signing_input(body)).hex()}


def hall_sections(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``record.published`` event's ``sections``: rows with the hall's fields only."""
    keep = (
        "bidder_name",
        "price",
        "duration_days",
        "quality",
        "extra",
        "deposit_status",
        "decryption_status",
        "decryption_status_zh",
    )
    return [
        {"section": s["section"], "rows": [{k: row.get(k) for k in keep} for row in s["rows"]]}
        for s in body["sections"]
    ]


def declared_items(row: Mapping[str, Any]) -> dict[str, str] | None:
    """The row's ``extra`` (the items read out besides price, duration and quality); None when absent or null.

    Raises ``ValueError`` when the row carries an ``extra`` that is not an object of strings.
    """
    value = row.get("extra")
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError("extra must be null or an object of strings")
    return dict(value)


def _row_problems(n: int, rows: Any) -> list[str]:
    if not isinstance(rows, list):
        return [f"opening.record_malformed: sections[{n}].rows"]
    problems: list[str] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            problems.append(f"opening.record_malformed: sections[{n}].rows[{i}]")
            continue
        try:
            declared_items(row)
        except ValueError as exc:
            problems.append(f"opening.record_malformed: sections[{n}].rows[{i}].extra: {exc}")
    return problems


def _load(doc: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(doc, Mapping):
        return doc
    loaded = json.loads(doc)
    if not isinstance(loaded, dict):
        raise ValueError("an opening record is a JSON object")
    return loaded


def verify_record(doc: str | bytes | Mapping[str, Any], log_public_key: bytes | None = None) -> list[str]:
    """Check a published opening record offline; returns the problems found (empty: genuine).

    ``log_public_key`` is the platform log key you trust (``/api/v1/log/info``); without it the key the record
    names is used, which proves integrity but not origin.
    """
    try:
        outer = _load(doc)
    except ValueError:
        return ["opening.record_malformed: not a JSON object"]
    body = outer.get("record")
    if not isinstance(body, Mapping) or set(body) != _BODY_FIELDS:
        return ["opening.record_malformed: fields missing or unknown"]
    if body["format"] != RECORD_FORMAT or body["version"] != RECORD_VERSION:
        return ["opening.record_unsupported: unknown format or version"]
    try:
        suite = get_suite(str(body["suite"]))
        signature = bytes.fromhex(str(outer.get("signature")))
        named_key = bytes.fromhex(str(body["log_public_key"]))
    except (ValueError, DomainError) as exc:
        return [f"opening.record_malformed: {exc}"]
    problems: list[str] = []
    key = log_public_key if log_public_key is not None else named_key
    if log_public_key is not None and named_key != log_public_key:
        problems.append("opening.record_other_key: the record names another log key than the trusted one")
    if outer.get("record_hash") != suite.digest(canonical_json(dict(body))).hex():
        problems.append("opening.record_hash_mismatch: the record hash does not match its content")
    if not suite.verify(key, signing_input(body), signature):
        problems.append("opening.record_bad_signature: the record is not signed by this log key")
    sections = body["sections"]
    if not isinstance(sections, list):
        return [*problems, "opening.record_malformed: sections"]
    for n, section in enumerate(sections):
        if not isinstance(section, Mapping):
            problems.append(f"opening.record_malformed: sections[{n}]")
            continue
        problems.extend(_row_problems(n, section.get("rows")))
        draw = section.get("draw_record")
        if draw is None:
            if section.get("coefficient") is not None:
                problems.append(f"opening.record_coefficient_unproven: sections[{n}] has a coefficient but no draw")
            continue
        result = verify_draw(draw)
        for p in result.problems:
            problems.append(f"{p.code}: sections[{n}].draw_record: {p.message_en}")
        subject = draw.get("subject") if isinstance(draw, Mapping) else None
        if subject != {"project": body["project_code"], "section": section.get("section")}:
            problems.append(f"opening.record_draw_other_subject: sections[{n}] draw is for another project/section")
        claimed = draw.get("result") if isinstance(draw, Mapping) else None
        if claimed != [section.get("coefficient")]:
            problems.append(f"opening.record_coefficient_mismatch: sections[{n}] coefficient is not the draw result")
    return problems
