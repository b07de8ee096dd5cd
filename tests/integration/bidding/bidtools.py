"""Sealing real bids for submission tests: a CA, each bidder's two certificates and the section's opening key.

Bound to a platform (``make_sealer(suite, platform)``), the Sealer seals to the section's real published opening
key and context, as the bidder tool does; unbound, or with ``stray_key=True``, it seals to a key of its own (a bid
the server must refuse with ``bid.wrong_opening_key``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from sunbid.bidding.container import BidManifest, seal_bid
from sunbid.crypto.certificates import CertificateAuthority, Subject
from sunbid.crypto.suite import CryptoSuite, KeyPair, get_suite
from sunbid.identity.models import Organisation
from sunbid.opening.keys import new_opening_key
from sunbid.opening.service import public_key_info
from sunbid.projects.models import Project

if TYPE_CHECKING:
    from sunbid.platform.container import Platform

NOW = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
MARKER = "独特标记-SUNBID-MARKER-7f3a"


@dataclass
class Sealer:
    """Seals containers the way the bidder tool does, for any organisation of the test world."""

    suite: CryptoSuite
    ca: CertificateAuthority
    opening: KeyPair
    platform: Platform | None = None
    _keys: dict[int, tuple[KeyPair, KeyPair, str]] = field(default_factory=dict)

    def opening_key(self, project_code: str, section_code: str) -> tuple[bytes, str]:
        """The section's published opening public key and bid context (what ``GET .../opening-key`` returns)."""
        assert self.platform is not None
        with self.platform.uow() as uow:
            pid = uow.session.scalar(select(Project.id).where(Project.code == project_code))
            assert pid is not None
            info = public_key_info(uow, pid, section_code)
        return base64.b64decode(str(info["public_key"])), str(info["context"])

    def encryption_private(self, org: Organisation) -> bytes:
        """The bidder's encryption private key (what the bidder tool unwraps the content key with)."""
        return self._bidder(org)[1].private

    def _bidder(self, org: Organisation) -> tuple[KeyPair, KeyPair, str]:
        if org.id not in self._keys:
            signing = self.suite.generate_signing_keypair()
            encryption = self.suite.generate_encryption_keypair()
            subject = Subject(common_name=org.name, organisation_name=org.name, uscc=org.uscc)
            issued = max(NOW, self.ca._parsed.not_before)  # a platform CA may be younger than NOW
            cert = self.ca.issue(subject, signing.public, "signing", 100 + 2 * org.id, issued, 365)
            self._keys[org.id] = (signing, encryption, cert)
        return self._keys[org.id]

    def seal(
        self,
        org: Organisation,
        project_code: str,
        section_code: str = "01",
        size: int = 150_000,
        *,
        price: str = "11800000.00",
        stray_key: bool = False,
        extra: Mapping[str, str] | None = None,
    ) -> bytes:
        """A sealed container of about ``size`` bytes (several 64 KiB frames) naming ``org``; ``extra`` is the
        manifest's ``extra`` (the facts objective items are computed from)."""
        signing, encryption, cert = self._bidder(org)
        if self.platform is None or stray_key:
            opening_public, context = self.opening.public, "sunbid:section:test"
        else:
            opening_public, context = self.opening_key(project_code, section_code)
        manifest = BidManifest(
            project_code=project_code,
            section_code=section_code,
            bidder_uscc=org.uscc,
            bidder_name=org.name,
            price=price,
            duration_days=365,
            quality="合格",
            machine_fingerprint="cd" * 32,
            tool_version="sunbid-bidder 0.1.0",
            created_at=NOW,
            key_commitments=(MARKER,),
            extra=dict(extra or {}),
        )
        body = (MARKER + "商务标").encode() * (size // 30)
        return seal_bid(
            self.suite,
            manifest,
            {"商务标.pdf": body},
            signing_private=signing.private,
            signing_cert_pem=cert,
            bidder_encryption_public=encryption.public,
            opening_public=opening_public,
            context=context,
        )


def make_sealer(suite_name: str, platform: Platform | None = None, ca: CertificateAuthority | None = None) -> Sealer:
    """A Sealer; bound to ``platform`` it seals to the sections' real opening keys (give ``platform.ca()`` as ``ca``
    for bids whose signature must verify against the centre's CA at opening)."""
    suite = get_suite(suite_name)
    if ca is None:
        ca = CertificateAuthority.create(suite, "测试 CA", now=NOW, validity_days=3650)
    return Sealer(suite, ca, new_opening_key(suite), platform)


def chunks(data: bytes, size: int = 40_000) -> list[tuple[int, bytes]]:
    """``(offset, bytes)`` pieces of ``data``."""
    return [(i, data[i : i + size]) for i in range(0, len(data), size)]
