"""A project in ``bidding`` with three bidders and three custodians (2 of 3), sealing real bids, in fake time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from sunbid.bidding.container import unwrap_content_key
from sunbid.bidding.models import Bid
from sunbid.core.clock import FakeClock
from sunbid.crypto.bundle import export_pkcs12
from sunbid.crypto.suite import KeyPair
from sunbid.identity import certs
from sunbid.identity import service as identity
from sunbid.identity.domain import make_uscc
from sunbid.identity.models import Organisation
from sunbid.opening import keys, session
from sunbid.opening.events import events_after
from sunbid.opening.models import OpeningKey, OpeningKeyShare, OpeningSession
from sunbid.platform.container import Platform
from sunbid.projects.models import Project
from tests.integration.bidding.bidtools import Sealer, chunks, make_sealer
from tests.integration.bidding.conftest import T0, to_bidding
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture
from tests.support.world import PASSWORD, World

BIDDERS = ("bidder_a", "bidder_b", "bidder_c")
CUSTODIANS = ("custodian_centre", "custodian_regulator", "custodian_notary")


@dataclass
class Ow:
    """The world, one project in bidding, three custodians with their encryption keys, and helpers."""

    tw: Tw
    clock: FakeClock
    sealer: Sealer
    pid: int
    code: str
    deadline: datetime
    custodian_keys: dict[str, KeyPair] = field(default_factory=dict)
    bids: dict[str, int] = field(default_factory=dict)
    data: dict[str, bytes] = field(default_factory=dict)

    @property
    def platform(self) -> Platform:
        return self.tw.platform

    def org(self, who: str) -> Organisation:
        return self.tw.world.orgs[who]

    def act(self, who: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self.platform.uow() as uow:
            result = fn(uow, self.tw.actor(who), *args, **kwargs)
            uow.commit()
            return result

    def submit(self, who: str, **seal: Any) -> int:
        from sunbid.bidding import service as bids

        data = self.sealer.seal(self.org(who), self.code, **seal)
        digest = self.platform.suite.digest(data).hex()
        upload = self.act(who, bids.create_upload, self.pid, "01", length=len(data), container_hash=digest)
        for at, piece in chunks(data):
            self.act(who, bids.append_chunk, upload.id, at, piece)
        bid: Bid = self.act(who, bids.complete_upload, upload.id)
        self.bids[who], self.data[who] = bid.id, data
        return bid.id

    def submit_all(self) -> None:
        for who in BIDDERS:
            self.submit(who)

    def settings(self, who: str = "agency", **kw: Any) -> OpeningSession:
        from sunbid.opening.domain import OpeningSettings

        result: OpeningSession = self.act(who, session.configure, self.pid, OpeningSettings(**kw))
        return result

    def to_deadline(self) -> None:
        self.clock.set(self.deadline)
        self.platform.worker.run_once()

    def context(self) -> str:
        with self.platform.db.read() as s:
            key = s.scalars(select(OpeningKey).where(OpeningKey.project_id == self.pid)).one()
            return key.context

    def content_key(self, who: str) -> str:
        import base64

        raw = unwrap_content_key(
            self.platform.suite,
            self.data[who],
            context=self.context(),
            encryption_private=self.sealer.encryption_private(self.org(who)),
        )
        return base64.b64encode(raw).decode()

    def decrypt(self, who: str) -> Any:
        return self.act(who, session.decrypt, self.pid, self.bids[who], self.content_key(who))

    def share_text(self, custodian: str) -> str:
        """The custodian decrypts its share offline with its encryption private key."""
        org = self.org(custodian)
        with self.platform.db.read() as s:
            row = s.scalars(
                select(OpeningKeyShare)
                .join(OpeningKey, OpeningKey.id == OpeningKeyShare.key_id)
                .where(OpeningKey.project_id == self.pid, OpeningKeyShare.custodian_org_id == org.id)
            ).one()
            text = row.encrypted_share
        return keys.decrypt_share(self.platform.suite, text, self.custodian_keys[custodian].private).to_text()

    def project(self) -> Project:
        with self.platform.db.read() as s:
            p = s.get(Project, self.pid)
            assert p is not None
            return p

    def session_row(self) -> OpeningSession:
        with self.platform.db.read() as s:
            row = s.scalars(
                select(OpeningSession)
                .where(OpeningSession.project_id == self.pid)
                .order_by(OpeningSession.round.desc())
            ).first()
            assert row is not None
            return row

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        with self.platform.db.read() as s:
            return [(e.kind, e.data) for e in events_after(s, self.pid)]

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events()]


BUNDLE_PASSWORD = "custodian-bundle-pw"


def add_custodians(
    platform: Platform, world: World, names: tuple[str, ...] = CUSTODIANS, bundles: dict[str, bytes] | None = None
) -> dict[str, KeyPair]:
    """Custodian organisations (centre, regulator, notary), one custodian user each, with encryption certificates.

    Returns each custodian's encryption key pair; ``bundles`` (if given) receives each one's PKCS#12 bundle.
    """
    out: dict[str, KeyPair] = {}
    with platform.uow() as uow:
        for n, name in enumerate(names):
            org = identity.create_organisation(
                uow,
                name=f"保管机构{n + 1}",
                uscc=make_uscc(70 + n, region_code="341700"),
                kind="regulator",
                region_code="341702",
                sectors=["engineering"],
            )
            world.orgs[name] = org
            user = identity.create_user(uow, username=name, display_name=f"保管人{n + 1}", password=PASSWORD)
            identity.add_membership(uow, user=user, org=org, role="custodian")
            enc = platform.suite.generate_encryption_keypair()
            sig = platform.suite.generate_signing_keypair()
            signing_cert, encryption_cert = certs.issue_certificates(uow, org.id, sig.public, enc.public)
            out[name] = enc
            if bundles is not None:
                bundles[name] = export_pkcs12(
                    platform.suite,
                    password=BUNDLE_PASSWORD,
                    signing_private=sig.private,
                    signing_cert_pem=signing_cert.pem,
                    encryption_private=enc.private,
                    encryption_cert_pem=encryption_cert.pem,
                    ca_cert_pem=platform.ca().certificate_pem,
                    iterations=1000,
                )
        uow.commit()
    return out


def make_ow(tw: Tw, clock: FakeClock, suite_name: str, *, custodians: tuple[str, ...] = CUSTODIANS) -> Ow:
    clock.set(T0)
    with tw.platform.uow() as uow:
        user = identity.create_user(uow, username="bidder_c", display_name="丙", password=PASSWORD)
        identity.add_membership(uow, user=user, org=tw.world.orgs["bidder_c"], role="bidder")
        uow.commit()
    custodian_keys = add_custodians(tw.platform, tw.world, custodians) if custodians else {}
    pid, code, deadline = to_bidding(tw, clock)
    sealer = make_sealer(suite_name, tw.platform, tw.platform.ca())
    return Ow(tw, clock, sealer, pid, code, deadline, custodian_keys)


@pytest.fixture
def ow(tw: Tw, clock: FakeClock, suite_name: str) -> Ow:
    return make_ow(tw, clock, suite_name)


def after(ow: Ow, minutes: int) -> None:
    """Advance the fake clock and run the due jobs."""
    ow.clock.advance(timedelta(minutes=minutes))
    ow.platform.worker.run_once()


def open_with_prices(ow: Ow, prices: dict[str, str]) -> None:
    """Seal a bid per bidder at ``prices``, reach the deadline and decrypt them all: the record is published."""
    for who in BIDDERS:
        ow.submit(who, price=prices[who])
    ow.to_deadline()
    for who in BIDDERS:
        ow.decrypt(who)
    assert ow.session_row().state == "recorded"
