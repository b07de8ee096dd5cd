"""``sunbid demo``: a demo trading centre on SQLite and local files, seeded once, then served.

The seed creates the centre, its organisations and users, certificate bundles for the bidders, the tenderers and
the three opening-key custodians (centre, regulator, notary: any 2 of 3 can rebuild a section's opening key), then
runs five whole tenders in fake time (:mod:`sunbid.platform.demo_tenders`) so that the served site shows every
stage of a tender, from registration to the archive, with real sealed bids opened remotely
(:mod:`sunbid.platform.demo_bids`). A second run changes nothing and reports what the
database holds. Demo passwords are for the demo only and are printed so that a visitor can sign in; a real
deployment creates its users with ``sunbid admin``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sunbid.core.clock import SHANGHAI, FakeClock
from sunbid.core.errors import Conflict
from sunbid.crypto.bundle import KeyBundle
from sunbid.crypto.certificates import export_bundle
from sunbid.crypto.x509util import parse_pem
from sunbid.identity import certs, service
from sunbid.identity.domain import make_uscc
from sunbid.identity.models import Centre, Organisation
from sunbid.platform import demo_deposits, demo_tenders
from sunbid.platform.cli import upgrade_and_seed
from sunbid.platform.container import CA_KEY, Platform
from sunbid.platform.context import RequestContext
from sunbid.platform.uow import UnitOfWork

DEMO_PASSWORD = "Sunbid2026"  # noqa: S105 - demo only, printed for visitors
BUNDLE_PASSWORD = "bundle2026"  # noqa: S105 - demo only, printed for visitors

#: How far back the fake-time tenders start: far enough that every step is in the past, near enough that the
#: certificates issued at the start (valid two years) stay valid for a long while.
WEEKS_BACK = 15

#: Organisation kinds whose members get a certificate bundle (bidders seal bids, both parties sign contracts,
#: custodians at the regulator and the notary decrypt their opening-key shares). The centre gets one too.
BUNDLE_KINDS = ("bidder", "tenderer", "regulator", "notary")

#: Organisations holding an opening-key custodian (their bundles decrypt the shares), by bundle key.
CUSTODIAN_ORGS = ("centre", "regulator", "notary")


@dataclass(frozen=True)
class DemoOrg:
    """One demo organisation and its users (username, display name, roles)."""

    key: str
    name: str
    kind: str
    sectors: tuple[str, ...]
    users: tuple[tuple[str, str, tuple[str, ...]], ...]


#: Users of the centre itself (username, display name, roles). The expert's role is granted once the demo
#: projects exist, limited to them (memberships of experts name their projects).
CENTRE_USERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("admin", "系统管理员", ("admin", "operator")),
    ("operator", "中心工作人员", ("operator",)),
    ("expert", "吴专家", ()),
    ("custodian_centre", "陈保管", ("custodian",)),
)


def demo_orgs(region: str) -> list[DemoOrg]:
    """The demo organisations of the centre in ``region`` (keys name the bundle files)."""
    both = ("engineering", "procurement")
    return [
        DemoOrg(
            "tenderer",
            "池州市城市建设投资有限公司",
            "tenderer",
            ("engineering",),
            (("tenderer", "张招标", ("tenderer",)),),
        ),
        DemoOrg("purchaser", "池州市人民医院", "tenderer", ("procurement",), (("purchaser", "周采购", ("tenderer",)),)),
        DemoOrg("agency", "安徽示范招标代理有限公司", "agency", both, (("agency", "李代理", ("agency",)),)),
        DemoOrg("bidder1", "池州第一建筑工程有限公司", "bidder", both, (("bidder1", "王投标", ("bidder",)),)),
        DemoOrg("bidder2", "安徽长江路桥建设有限公司", "bidder", both, (("bidder2", "赵投标", ("bidder",)),)),
        DemoOrg("bidder3", "九华山建设集团有限公司", "bidder", both, (("bidder3", "钱投标", ("bidder",)),)),
        DemoOrg("bidder4", "安徽皖江建工集团有限公司", "bidder", both, (("bidder4", "周投标", ("bidder",)),)),
        DemoOrg("bidder5", "池州市贵池区路桥工程有限公司", "bidder", both, (("bidder5", "吴投标", ("bidder",)),)),
        DemoOrg(
            "regulator",
            "池州市住房和城乡建设局",
            "regulator",
            ("housing", "engineering"),
            (("regulator", "孙监督", ("regulator",)), ("custodian_regulator", "刘保管", ("custodian",))),
        ),
        DemoOrg("notary", "安徽省池州市公证处", "notary", (), (("custodian_notary", "郑公证", ("custodian",)),)),
    ]


def demo_usernames(region: str) -> list[str]:
    """Every demo user, centre first, in the order they are created."""
    return [u[0] for u in CENTRE_USERS] + [u[0] for d in demo_orgs(region) for u in d.users]


def demo_start(now: datetime) -> datetime:
    """09:00 Asia/Shanghai on the Monday ``WEEKS_BACK`` weeks before the week of ``now``: the fake-time start."""
    today = now.astimezone(SHANGHAI).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=WEEKS_BACK)
    return datetime.combine(monday, time(9, 0), tzinfo=SHANGHAI)


def _bundle_paths(cert_dir: Path, region: str, kind: str) -> list[str]:
    return [str(cert_dir / f"{d.key}.p12") for d in demo_orgs(region) if d.kind == kind]


def _custodian_bundle_paths(cert_dir: Path) -> list[str]:
    return [str(cert_dir / f"{key}.p12") for key in CUSTODIAN_ORGS]


def _check_ca_predates(platform: Platform, start: datetime) -> None:
    """The fake-time certificates must fall within the CA's validity: refuse a CA made after ``start``."""
    if not platform.secrets.exists(CA_KEY):
        return
    not_before = parse_pem(platform.ca().certificate_pem, "ca").not_before
    if not_before > start:
        raise Conflict(
            "demo.ca_too_new",
            f"示范数据从 {start.date().isoformat()} 开始，但本数据目录的 CA 证书更晚才生效；请使用新的数据目录。",
            f"The demo starts on {start.date().isoformat()} but this data directory's CA certificate is newer;"
            " use a fresh data directory.",
        )


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _issue_bundle(platform: Platform, uow: UnitOfWork, org_id: int, path: Path) -> KeyBundle:
    """Certify a new signing and encryption key pair of the organisation, write them as a bundle file (PKCS#12)
    and return the bundle's contents (the demo's scripts use them without importing the file again)."""
    sign_kp = platform.suite.generate_signing_keypair()
    enc_kp = platform.suite.generate_encryption_keypair()
    sc, ec = certs.issue_certificates(uow, org_id, sign_kp.public, enc_kp.public)
    data = export_bundle(
        platform.suite,
        password=BUNDLE_PASSWORD,
        signing_private=sign_kp.private,
        signing_cert_pem=sc.pem,
        encryption_private=enc_kp.private,
        encryption_cert_pem=ec.pem,
        ca_cert_pem=platform.ca().certificate_pem,
    )
    _write_private(path, data)
    return KeyBundle(
        suite=platform.suite.name,
        signing_private=sign_kp.private,
        signing_public=sign_kp.public,
        signing_cert_pem=sc.pem,
        encryption_private=enc_kp.private,
        encryption_public=enc_kp.public,
        encryption_cert_pem=ec.pem,
        ca_cert_pem=platform.ca().certificate_pem,
    )


def seed_identities(
    platform: Platform, *, cert_dir: Path
) -> tuple[dict[str, int], dict[str, Path], dict[str, KeyBundle]]:
    """Create the centre, organisations, users and certificate bundles in one transaction.

    Returns the organisation ids by key (``centre`` included), the bundle files and their keys by organisation
    key. The
    custodians' encryption certificates are issued here, before any tender enters bidding, so that every
    section's opening key is split among them.
    """
    region = platform.settings.centre_region_code
    ctx = RequestContext(source="system", actor_name="sunbid demo")
    orgs: dict[str, int] = {}
    bundles: dict[str, Path] = {}
    keys: dict[str, KeyBundle] = {}
    with platform.uow(ctx) as uow:
        centre = service.create_centre(
            uow,
            name=platform.settings.centre_name,
            uscc=make_uscc(1, region_code=region, org_type="2", authority="1"),
            region_code=region,
        )
        centre_org = uow.session.get(Organisation, centre.org_id)
        assert centre_org is not None
        orgs["centre"] = centre_org.id
        for username, display, centre_roles in CENTRE_USERS:
            u = service.create_user(uow, username=username, display_name=display, password=DEMO_PASSWORD)
            for r in centre_roles:
                service.add_membership(uow, user=u, org=centre_org, role=r)
        bundles["centre"] = cert_dir / "centre.p12"
        keys["centre"] = _issue_bundle(platform, uow, centre_org.id, bundles["centre"])
        for i, d in enumerate(demo_orgs(region), start=10):
            org = service.create_organisation(
                uow,
                name=d.name,
                uscc=make_uscc(i, region_code=region),
                kind=d.kind,
                region_code=region,
                sectors=list(d.sectors),
            )
            orgs[d.key] = org.id
            for username, display, roles in d.users:
                u = service.create_user(uow, username=username, display_name=display, password=DEMO_PASSWORD)
                for r in roles:
                    service.add_membership(uow, user=u, org=org, role=r)
            if d.kind in BUNDLE_KINDS:
                bundles[d.key] = cert_dir / f"{d.key}.p12"
                keys[d.key] = _issue_bundle(platform, uow, org.id, bundles[d.key])
        uow.commit()
    return orgs, bundles, keys


def seed(platform: Platform, *, cert_dir: Path, start: datetime | None = None) -> dict[str, Any]:
    """Seed the demo centre and run its tenders (once); report what the database holds.

    ``platform`` runs on the real clock. The identities and four tenders are made on a second platform over
    the same database with a :class:`FakeClock` from ``start`` (default :func:`demo_start`), the fifth tender
    on the days just before now, so its bid deadline is still ahead. Idempotent: when the centre exists
    nothing is written and ``created`` is false.
    """
    upgrade_and_seed(platform)
    region = platform.settings.centre_region_code
    with platform.db.read() as s:
        exists = s.scalar(select(Centre.id)) is not None
    created = False
    if not exists:
        real_now = platform.clock.now()
        begin = start or demo_start(real_now)
        _check_ca_predates(platform, begin)
        clock = FakeClock(begin)
        fake = Platform(platform.settings, clock=clock, db=platform.db)
        orgs, bundles, keys = seed_identities(fake, cert_dir=cert_dir)
        demo_tenders.run_tenders(
            fake,
            clock,
            orgs=orgs,
            bundles=bundles,
            bundle_password=BUNDLE_PASSWORD,
            real_now=real_now,
            keys=keys,
        )
        created = True
    return {
        "created": created,
        "cert_dir": str(cert_dir),
        "bundles": _bundle_paths(cert_dir, region, "bidder"),
        "tenderer_bundles": _bundle_paths(cert_dir, region, "tenderer"),
        "custodian_bundles": _custodian_bundle_paths(cert_dir),
        "projects": demo_tenders.project_summaries(platform),
        "deposit_reconciliations": _reconciliations(platform),
    }


def _reconciliations(platform: Platform) -> dict[str, Any]:
    with platform.db.read() as s:
        return demo_deposits.reconciliation_summary(s)
