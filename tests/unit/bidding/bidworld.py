"""A small world for sealed-bid tests: a CA, two bidders with both certificates, a section opening key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sunbid.bidding.container import BidManifest, FileSource, seal_bid
from sunbid.crypto.certificates import CertificateAuthority, Subject
from sunbid.crypto.suite import CryptoSuite, KeyPair, get_suite

NOW = datetime(2026, 11, 23, 1, 0, 30, 123456, tzinfo=UTC)
CONTEXT = "sunbid:section:0b9f3c"
SUITES = ["intl", "gm"]
FINGERPRINT = "ab" * 32

SUBJECT_A = Subject(
    common_name="福州某某建设",
    organisation_name="福州某某建设工程有限公司",
    uscc="91350100M000100Y43",
)
SUBJECT_B = Subject(
    common_name="厦门另一建设",
    organisation_name="厦门另一建设工程有限公司",
    uscc="91350200MA2XXXXX1Q",
)


@dataclass(frozen=True)
class Bidder:
    subject: Subject
    signing: KeyPair
    encryption: KeyPair
    signing_pem: str
    encryption_pem: str


@dataclass(frozen=True)
class World:
    suite: CryptoSuite
    ca: CertificateAuthority
    a: Bidder
    b: Bidder
    opening: KeyPair

    def manifest(self, bidder: Bidder | None = None, **changes: Any) -> BidManifest:
        who = bidder or self.a
        base = BidManifest(
            project_code="FJ-2026-0042",
            section_code="FJ-2026-0042-01",
            bidder_uscc=who.subject.uscc,
            bidder_name=who.subject.organisation_name,
            price="12345678.90",
            duration_days=365,
            quality="合格",
            machine_fingerprint=FINGERPRINT,
            tool_version="sunbid-bidder 0.1.0",
            created_at=NOW,
            key_commitments=("项目经理：张三（一级建造师）", "安全文明施工"),
            extra={"下浮率": "3.50%"},
        )
        return replace(base, **changes)

    def seal(
        self,
        files: Mapping[str, FileSource],
        manifest: BidManifest | None = None,
        bidder: Bidder | None = None,
        **kw: Any,
    ) -> bytes:
        who = bidder or self.a
        args: dict[str, Any] = {
            "signing_private": who.signing.private,
            "signing_cert_pem": who.signing_pem,
            "bidder_encryption_public": who.encryption.public,
            "opening_public": self.opening.public,
            "context": CONTEXT,
        }
        args.update(kw)
        return seal_bid(self.suite, manifest or self.manifest(who), files, **args)


def make_bidder(suite: CryptoSuite, ca: CertificateAuthority, subject: Subject, serial: int) -> Bidder:
    signing = suite.generate_signing_keypair()
    encryption = suite.generate_encryption_keypair()
    return Bidder(
        subject,
        signing,
        encryption,
        ca.issue(subject, signing.public, "signing", serial, NOW, 365),
        ca.issue(subject, encryption.public, "encryption", serial + 1, NOW, 365),
    )


def make_world(name: str) -> World:
    suite = get_suite(name)
    ca = CertificateAuthority.create(suite, "某市公共资源交易中心 CA", now=NOW, validity_days=3650)
    return World(
        suite,
        ca,
        make_bidder(suite, ca, SUBJECT_A, 100),
        make_bidder(suite, ca, SUBJECT_B, 200),
        suite.generate_encryption_keypair(),
    )
