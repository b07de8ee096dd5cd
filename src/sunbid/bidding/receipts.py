"""Bid receipts (投标回执): what the platform signs when it accepts a sealed bid, and how to check one offline.

A receipt is a JSON object ``{"receipt": body, "signature": hex}``. ``body`` holds the project code, section
code, bidder USCC, container hash, size, the server time of receipt (UTC ISO 8601 with microseconds), the
transparency-log index of the ``bid:submit`` entry, that entry's bytes, the signed tree head at the time of the
receipt and the RFC 9162 inclusion proof of the entry in that head. The signature is the platform's log key over
``RECEIPT_LABEL ‖ canonical_json(body)``.

The public log entry does not name the bidder before opening: it carries a salted commitment
``H("sunbid-bidder/1\\0" ‖ salt ‖ uscc)`` whose salt only the receipt holds, so the bidder can prove the
entry is its own while nobody else can tell who bid.

Pure part: :func:`receipt_body`, :func:`sign_receipt`, :func:`verify_receipt`, :func:`bidder_commitment`.
Service part: :func:`ensure_receipt` builds and stores the receipt of a committed bid.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sunbid.crypto.suite import CryptoSuite, get_suite
from sunbid.ledger import merkle
from sunbid.ledger.canonical import canonical_json
from sunbid.ledger.heads import SignedTreeHead, verify_tree_head

if TYPE_CHECKING:
    from sunbid.platform.container import Platform

RECEIPT_FORMAT = "sunbid-bid-receipt"
RECEIPT_VERSION = 1
RECEIPT_LABEL = b"sunbid-bid-receipt/1\x00"
COMMITMENT_LABEL = b"sunbid-bidder/1\x00"
SUBMIT_TAG_SUFFIX = ":bid:submit"

_BODY_FIELDS = frozenset(
    {
        "format",
        "version",
        "suite",
        "project_code",
        "section_code",
        "bidder_uscc",
        "bidder_salt",
        "container_hash",
        "size",
        "received_at",
        "ledger_index",
        "log_entry",
        "tree_head",
        "inclusion_proof",
    }
)


def iso_utc(moment: datetime) -> str:
    """Server time as stored in receipts: UTC, ISO 8601, always with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def bidder_commitment(suite: CryptoSuite, salt_hex: str, uscc: str) -> str:
    """The salted commitment to the bidder's USCC that the public log entry carries instead of the USCC."""
    return suite.digest(COMMITMENT_LABEL + bytes.fromhex(salt_hex) + uscc.encode("utf-8")).hex()


def receipt_body(
    *,
    suite: str,
    project_code: str,
    section_code: str,
    bidder_uscc: str,
    bidder_salt: str,
    container_hash: str,
    size: int,
    received_at: datetime,
    ledger_index: int,
    log_entry: bytes,
    tree_head: dict[str, Any],
    inclusion_proof: list[bytes],
) -> dict[str, Any]:
    """The receipt's signed content (all JSON-able, no floats)."""
    return {
        "format": RECEIPT_FORMAT,
        "version": RECEIPT_VERSION,
        "suite": suite,
        "project_code": project_code,
        "section_code": section_code,
        "bidder_uscc": bidder_uscc,
        "bidder_salt": bidder_salt,
        "container_hash": container_hash,
        "size": size,
        "received_at": iso_utc(received_at),
        "ledger_index": ledger_index,
        "log_entry": base64.b64encode(log_entry).decode("ascii"),
        "tree_head": tree_head,
        "inclusion_proof": [p.hex() for p in inclusion_proof],
    }


def signing_input(body: dict[str, Any]) -> bytes:
    """The bytes the log key signs: a label, then the body's canonical JSON."""
    return RECEIPT_LABEL + canonical_json(body)


def sign_receipt(body: dict[str, Any], sign: Callable[[bytes], bytes]) -> dict[str, Any]:
    """``{"receipt": body, "signature": hex}`` signed with ``sign`` (the platform's log key)."""
    return {"receipt": body, "signature": sign(signing_input(body)).hex()}


def _load(receipt: str | bytes | dict[str, Any]) -> dict[str, Any]:
    if isinstance(receipt, dict):
        return receipt
    loaded = json.loads(receipt)
    if not isinstance(loaded, dict):
        raise ValueError("a receipt is a JSON object")
    return loaded


def _check_entry(body: dict[str, Any], suite: CryptoSuite, entry_bytes: bytes, problems: list[str]) -> None:
    try:
        entry = json.loads(entry_bytes)
    except ValueError:
        problems.append("receipt.entry_malformed: the log entry is not JSON")
        return
    data = entry.get("data") if isinstance(entry, dict) else None
    if not isinstance(data, dict) or not str(entry.get("tag", "")).endswith(SUBMIT_TAG_SUFFIX):
        problems.append("receipt.entry_not_a_bid: the log entry is not a bid:submit event")
        return
    if data.get("container_hash") != body["container_hash"]:
        problems.append("receipt.entry_hash_mismatch: the log entry records another container hash")
    if data.get("section") != body["section_code"] or data.get("project_code") != body["project_code"]:
        problems.append("receipt.entry_section_mismatch: the log entry names another project or section")
    if data.get("size") != body["size"]:
        problems.append("receipt.entry_size_mismatch: the log entry records another size")
    try:
        commitment = bidder_commitment(suite, str(body["bidder_salt"]), str(body["bidder_uscc"]))
    except ValueError:
        problems.append("receipt.bad_salt: the bidder salt is not hex")
        return
    if data.get("bidder_commitment") != commitment:
        problems.append("receipt.entry_bidder_mismatch: the log entry commits to another bidder")


def verify_receipt(receipt: str | bytes | dict[str, Any], log_public_key: bytes) -> list[str]:
    """Check a receipt offline; returns the problems found (empty: the receipt is genuine).

    Checks the receipt signature with ``log_public_key``, the signed tree head's signature, the inclusion
    proof of the log entry to the head's root, and that the entry records this container for this bidder.
    """
    try:
        outer = _load(receipt)
    except ValueError:
        return ["receipt.malformed: not a JSON object"]
    body = outer.get("receipt")
    signature_hex = outer.get("signature")
    if not isinstance(body, dict) or set(body) != _BODY_FIELDS or not isinstance(signature_hex, str):
        return ["receipt.malformed: fields missing or unknown"]
    if body["format"] != RECEIPT_FORMAT or body["version"] != RECEIPT_VERSION:
        return ["receipt.unsupported: unknown receipt format or version"]
    try:
        suite = get_suite(str(body["suite"]))
        signature = bytes.fromhex(signature_hex)
        entry_bytes = base64.b64decode(str(body["log_entry"]), validate=True)
        proof = [bytes.fromhex(p) for p in body["inclusion_proof"]]
        sth = SignedTreeHead.from_dict(body["tree_head"])
        index = body["ledger_index"]
        if not isinstance(index, int) or isinstance(index, bool):
            raise ValueError("ledger_index")
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        return [f"receipt.malformed: {exc}"]
    problems: list[str] = []
    if not suite.verify(log_public_key, signing_input(body), signature):
        problems.append("receipt.bad_signature: the receipt is not signed by this log key")
    if sth.suite != suite.name or sth.key_fingerprint != suite.public_key_fingerprint(log_public_key):
        problems.append("receipt.head_key_mismatch: the tree head names another key or suite")
    if not verify_tree_head(sth, lambda message, sig: suite.verify(log_public_key, message, sig)):
        problems.append("receipt.bad_head_signature: the tree head's signature does not verify")
    leaf = merkle.leaf_hash(suite.digest, entry_bytes)
    if not merkle.verify_inclusion(leaf, index, sth.head.tree_size, proof, sth.head.root_hash, h=suite.digest):
        problems.append("receipt.bad_inclusion_proof: the entry is not in the signed tree head")
    _check_entry(body, suite, entry_bytes, problems)
    return problems


# --- service part ------------------------------------------------------------------------------------------


def ensure_receipt(platform: Platform, bid_id: int) -> dict[str, Any]:
    """The stored receipt of a committed bid, built and stored on first use (so it never changes).

    Built after the bid's transaction committed, so that a signed tree head containing its entry exists.
    """
    from sunbid.bidding.models import Bid
    from sunbid.identity.models import Organisation
    from sunbid.projects.models import Project, Section

    with platform.uow() as uow:
        session = uow.session
        bid = session.get(Bid, bid_id)
        if bid is None:
            raise LookupError(bid_id)
        if bid.receipt is not None:
            return dict(bid.receipt)
        project = session.get(Project, bid.project_id)
        section = session.get(Section, bid.section_id)
        org = session.get(Organisation, bid.org_id)
        assert project is not None
        assert section is not None
        assert org is not None
        ledger = platform.ledger
        head = ledger.latest_head(session)
        assert head is not None
        assert head.tree_size > bid.ledger_index
        from sunbid.ledger.service import head_to_dict

        body = receipt_body(
            suite=platform.suite.name,
            project_code=project.code,
            section_code=section.code,
            bidder_uscc=org.uscc,
            bidder_salt=bid.bidder_salt,
            container_hash=bid.container_hash,
            size=bid.size,
            received_at=bid.received_at,
            ledger_index=bid.ledger_index,
            log_entry=ledger.entry(session, bid.ledger_index).body,
            tree_head=head_to_dict(head),
            inclusion_proof=ledger.inclusion_proof(session, bid.ledger_index, head.tree_size),
        )
        keypair = platform.log_keypair
        receipt = sign_receipt(body, lambda data: platform.suite.sign(keypair.private, data))
        bid.receipt = receipt
        uow.commit()
    return receipt
