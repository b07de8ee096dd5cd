"""Sealing real bids for submission tests: a CA, each bidder's two certificates and a section opening key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sunbid.bidding.container import BidManifest, seal_bid
from sunbid.crypto.certificates import CertificateAuthority, Subject
from sunbid.crypto.suite import CryptoSuite, KeyPair, get_suite
from sunbid.identity.models import Organisation
from sunbid.opening.keys import new_opening_key

NOW = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
MARKER = "独特标记-SUNBID-MARKER-7f3a"


@dataclass
class Sealer:
    """Seals containers the way the bidder tool does, for any organisation of the test world."""

    suite: CryptoSuite
    ca: CertificateAuthority
    opening: KeyPair
    _keys: dict[int, tuple[KeyPair, KeyPair, str]] = field(default_factory=dict)

    def _bidder(self, org: Organisation) -> tuple[KeyPair, KeyPair, str]:
        if org.id not in self._keys:
            signing = self.suite.generate_signing_keypair()
            encryption = self.suite.generate_encryption_keypair()
            subject = Subject(common_name=org.name, organisation_name=org.name, uscc=org.uscc)
            cert = self.ca.issue(subject, signing.public, "signing", 100 + 2 * org.id, NOW, 3650)
            self._keys[org.id] = (signing, encryption, cert)
        return self._keys[org.id]

    def seal(self, org: Organisation, project_code: str, section_code: str = "01", size: int = 150_000) -> bytes:
        """A sealed container of about ``size`` bytes (several 64 KiB frames) naming ``org``."""
        signing, encryption, cert = self._bidder(org)
        manifest = BidManifest(
            project_code=project_code,
            section_code=section_code,
            bidder_uscc=org.uscc,
            bidder_name=org.name,
            price="11800000.00",
            duration_days=365,
            quality="合格",
            machine_fingerprint="cd" * 32,
            tool_version="sunbid-bidder 0.1.0",
            created_at=NOW,
            key_commitments=(MARKER,),
        )
        body = (MARKER + "商务标").encode() * (size // 30)
        return seal_bid(
            self.suite,
            manifest,
            {"商务标.pdf": body},
            signing_private=signing.private,
            signing_cert_pem=cert,
            bidder_encryption_public=encryption.public,
            opening_public=self.opening.public,
            context="sunbid:section:test",
        )


def make_sealer(suite_name: str) -> Sealer:
    suite = get_suite(suite_name)
    ca = CertificateAuthority.create(suite, "测试 CA", now=NOW, validity_days=3650)
    return Sealer(suite, ca, new_opening_key(suite))


def chunks(data: bytes, size: int = 40_000) -> list[tuple[int, bytes]]:
    """``(offset, bytes)`` pieces of ``data``."""
    return [(i, data[i : i + size]) for i in range(0, len(data), size)]
