"""``sunbid demo``: a demo trading centre on SQLite and local files, seeded once, then served.

Later features extend the seed so that the demo runs whole tenders. Demo passwords are for the demo only and
are printed so that a visitor can sign in; a real deployment creates its users with ``sunbid admin``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sunbid.crypto.certificates import export_bundle
from sunbid.identity import certs, service
from sunbid.identity.domain import make_uscc
from sunbid.identity.models import Centre, Organisation
from sunbid.platform.cli import upgrade_and_seed
from sunbid.platform.container import Platform
from sunbid.platform.context import RequestContext

DEMO_PASSWORD = "Sunbid2026"  # noqa: S105 - demo only, printed for visitors
BUNDLE_PASSWORD = "bundle2026"  # noqa: S105 - demo only, printed for visitors


@dataclass(frozen=True)
class DemoOrg:
    key: str
    name: str
    kind: str
    sectors: tuple[str, ...]
    users: tuple[tuple[str, str, tuple[str, ...]], ...]  # username, display name, roles


def demo_orgs(region: str) -> list[DemoOrg]:
    return [
        DemoOrg(
            "tenderer",
            "池州市城市建设投资有限公司",
            "tenderer",
            ("engineering",),
            (("tenderer", "张招标", ("tenderer",)),),
        ),
        DemoOrg(
            "agency",
            "安徽示范招标代理有限公司",
            "agency",
            ("engineering", "procurement"),
            (("agency", "李代理", ("agency",)),),
        ),
        DemoOrg(
            "bidder1",
            "池州第一建筑工程有限公司",
            "bidder",
            ("engineering",),
            (("bidder1", "王投标", ("bidder",)),),
        ),
        DemoOrg(
            "bidder2",
            "安徽长江路桥建设有限公司",
            "bidder",
            ("engineering",),
            (("bidder2", "赵投标", ("bidder",)),),
        ),
        DemoOrg(
            "bidder3",
            "九华山建设集团有限公司",
            "bidder",
            ("engineering",),
            (("bidder3", "钱投标", ("bidder",)),),
        ),
        DemoOrg(
            "regulator",
            "池州市住房和城乡建设局",
            "regulator",
            ("housing", "engineering"),
            (("regulator", "孙监督", ("regulator",)),),
        ),
    ]


def seed(platform: Platform, *, cert_dir: Path) -> dict[str, Any]:
    """Create the demo centre, organisations, users and bidders' certificate bundles (idempotent)."""
    upgrade_and_seed(platform)
    region = platform.settings.centre_region_code
    ctx = RequestContext(source="system", actor_name="sunbid demo")
    with platform.db.read() as s:
        if s.scalar(select(Centre.id)) is not None:
            return {"created": False, "cert_dir": str(cert_dir)}
    with platform.uow(ctx) as uow:
        centre = service.create_centre(
            uow,
            name=platform.settings.centre_name,
            uscc=make_uscc(1, region_code=region, org_type="2", authority="1"),
            region_code=region,
        )
        centre_org = uow.session.get(Organisation, centre.org_id)
        assert centre_org is not None
        for username, display, centre_roles in (
            ("admin", "系统管理员", ("admin", "operator")),
            ("operator", "中心工作人员", ("operator",)),
        ):
            u = service.create_user(uow, username=username, display_name=display, password=DEMO_PASSWORD)
            for r in centre_roles:
                service.add_membership(uow, user=u, org=centre_org, role=r)
        bundles = []
        for i, d in enumerate(demo_orgs(region), start=10):
            org = service.create_organisation(
                uow,
                name=d.name,
                uscc=make_uscc(i, region_code=region),
                kind=d.kind,
                region_code=region,
                sectors=list(d.sectors),
            )
            for username, display, roles in d.users:
                u = service.create_user(uow, username=username, display_name=display, password=DEMO_PASSWORD)
                for r in roles:
                    service.add_membership(uow, user=u, org=org, role=r)
            if d.kind == "bidder":
                sign_kp = platform.suite.generate_signing_keypair()
                enc_kp = platform.suite.generate_encryption_keypair()
                sc, ec = certs.issue_certificates(uow, org.id, sign_kp.public, enc_kp.public)
                data = export_bundle(
                    platform.suite,
                    password=BUNDLE_PASSWORD,
                    signing_private=sign_kp.private,
                    signing_cert_pem=sc.pem,
                    encryption_private=enc_kp.private,
                    encryption_cert_pem=ec.pem,
                    ca_cert_pem=platform.ca().certificate_pem,
                )
                cert_dir.mkdir(parents=True, exist_ok=True)
                path = cert_dir / f"{d.key}.p12"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                bundles.append(str(path))
        uow.commit()
    return {"created": True, "cert_dir": str(cert_dir), "bundles": bundles}
