"""Opening keys 开标密钥 (SPEC B-2): made when a project enters bidding, split among custodians, then forgotten.

For each section without one, :func:`ensure_opening_keys` makes an opening key pair, publishes the public half
with its fingerprint and the bid context string, splits the private half k-of-n among the custodians (users with
a ``custodian`` membership whose organisation holds a valid encryption certificate; one share per custodian
organisation, each stored encrypted to that certificate's key) and drops the private key. With fewer than two
custodians no share is made and the custodian fallback is impossible for that section; this is recorded. The
creation is audited (transparency log) with the fingerprint; the same entry carries the commitment to the
operator secret of the section's coefficient draw (B-5), so the commitment is public before the deadline.

Sealed at rest under the platform's opening secret (a 32-byte key in the secret store, never in the database):
the operator's draw secret until it is revealed, content keys released by bidders (kept so that evaluation can
re-open a bid) and custodian shares posted during a fallback (wiped once the key is rebuilt). See
:func:`platform_seal`.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from sunbid.bidding.container_format import BidHeader, context_digest
from sunbid.core.errors import IntegrityFailure, NotFound, ValidationFailed
from sunbid.draws.domain import commitment_hash, new_secret
from sunbid.identity.domain import Role
from sunbid.identity.models import Centre, Certificate, Membership, Organisation, User
from sunbid.opening import keys
from sunbid.opening.domain import DEFAULT_THRESHOLD, bid_context, share_plan
from sunbid.opening.models import OpeningKey, OpeningKeyShare
from sunbid.platform.container import Platform
from sunbid.platform.uow import UnitOfWork
from sunbid.projects.models import Project, Section

SEAL_SECRET = "opening_seal.key"  # noqa: S105 - the secret store file name, not a secret
_SEAL_LABEL = b"sunbid-opening-seal/1\x00"
DRAW_PURPOSE = "coefficient"
DRAW_INPUT = "operator"


# --- sealing at rest ------------------------------------------------------------------------------------------


def _seal_key(platform: Platform) -> bytes:
    secret = platform.secrets.get_or_create(SEAL_SECRET, lambda: secrets.token_bytes(32))
    return platform.suite.digest(_SEAL_LABEL + secret)[: platform.suite.key_size]


def platform_seal(platform: Platform, data: bytes, what: str) -> bytes:
    """Encrypt ``data`` under the platform's opening secret; ``what`` binds it to one use (e.g. a bid id)."""
    return platform.suite.seal(_seal_key(platform), data, _SEAL_LABEL + what.encode("utf-8"))


def platform_open(platform: Platform, sealed: bytes, what: str) -> bytes:
    """Decrypt what :func:`platform_seal` sealed for ``what`` (``crypto`` errors if tampered or misbound)."""
    return platform.suite.open(_seal_key(platform), sealed, _SEAL_LABEL + what.encode("utf-8"))


# --- custodians -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Custodian:
    """A custodian organisation and the encryption certificate its share is encrypted to."""

    org_id: int
    org_name: str
    certificate: Certificate


def custodians(uow: UnitOfWork, project: Project) -> list[Custodian]:
    """Organisations with an active custodian (for this project or all) holding a valid encryption certificate."""
    now = uow.now
    rows = uow.session.execute(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.org_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.role == Role.CUSTODIAN.value, Organisation.status == "active", User.status == "active")
        .order_by(Organisation.id)
    ).all()
    out: list[Custodian] = []
    seen: set[int] = set()
    for membership, org in rows:
        if org.id in seen:
            continue
        if membership.project_ids is not None and project.id not in membership.project_ids:
            continue
        cert = uow.session.scalar(
            select(Certificate)
            .where(
                Certificate.org_id == org.id,
                Certificate.usage == "encryption",
                Certificate.status == "valid",
                Certificate.suite == uow.platform.suite.name,
                Certificate.not_before <= now,
                Certificate.not_after > now,
            )
            .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
            .limit(1)
        )
        if cert is None:
            continue
        seen.add(org.id)
        out.append(Custodian(org.id, org.name, cert))
    return out


def _threshold(uow: UnitOfWork) -> int:
    """k of the split: the centre's setting ``opening_key_threshold`` or 2."""
    centre = uow.session.scalar(select(Centre).order_by(Centre.id).limit(1))
    value = (centre.settings or {}).get("opening_key_threshold") if centre is not None else None
    return value if type(value) is int and value >= 2 else DEFAULT_THRESHOLD


# --- keys -------------------------------------------------------------------------------------------------------


def section_key(uow: UnitOfWork, section_id: int) -> OpeningKey | None:
    """The section's opening key row, if made."""
    return uow.session.scalar(select(OpeningKey).where(OpeningKey.section_id == section_id))


def _sections(uow: UnitOfWork, project: Project) -> list[Section]:
    return list(uow.session.scalars(select(Section).where(Section.project_id == project.id).order_by(Section.code)))


def ensure_opening_keys(uow: UnitOfWork, project: Project) -> list[OpeningKey]:
    """Make the opening key of every section of ``project`` that has none (idempotent); returns the new ones."""
    platform = uow.platform
    suite = platform.suite
    made: list[OpeningKey] = []
    holders: list[Custodian] | None = None
    for section in _sections(uow, project):
        if section_key(uow, section.id) is not None:
            continue
        if holders is None:
            holders = custodians(uow, project)
        pair = keys.new_opening_key(suite)
        fingerprint = keys.opening_key_fingerprint(suite, pair.public)
        context = bid_context(platform.settings.centre_region_code, project.code, section.code, fingerprint)
        plan = share_plan(len(holders), _threshold(uow))
        encrypted: list[tuple[Custodian, keys.EncryptedShare]] = []
        if plan is not None:
            k, n = plan
            shares = keys.split_key(pair.private, k, n, suite=suite, section=f"{project.code}/{section.code}")
            for holder, share in zip(holders[:n], shares, strict=True):
                encrypted.append((holder, keys.encrypt_share_for_custodian(suite, share, holder.certificate.pem)))
            del shares
        public = pair.public
        del pair  # the private key is forgotten: only the shares can bring it back
        secret = new_secret()
        subject = {"project": project.code, "section": section.code}
        value_hash = commitment_hash(DRAW_PURPOSE, subject, DRAW_INPUT, secret, suite=suite)
        committed_at = uow.now.isoformat(timespec="microseconds")
        row = OpeningKey(
            project_id=project.id,
            section_id=section.id,
            suite=suite.name,
            public_key=public,
            fingerprint=fingerprint,
            context=context,
            threshold=0 if plan is None else plan[0],
            total=0 if plan is None else plan[1],
            fallback_possible=plan is not None,
            created_at=uow.now,
            ledger_index=-1,
        )
        event = uow.audit(
            "opening:key_create",
            subject_type="section",
            subject_id=section.id,
            data={
                "project_code": project.code,
                "section": section.code,
                "suite": suite.name,
                "key_fingerprint": fingerprint,
                "context": context,
                "threshold": row.threshold,
                "total": row.total,
                "fallback_possible": row.fallback_possible,
                "custodians": [h.org_name for h, _ in encrypted],
                "draw_commitment": {
                    "purpose": DRAW_PURPOSE,
                    "subject": subject,
                    "name": DRAW_INPUT,
                    "value_hash": value_hash.hex(),
                    "committed_at": committed_at,
                },
            },
        )
        row.ledger_index = event.ledger_index
        row.draw_commitment = {
            "purpose": DRAW_PURPOSE,
            "subject": subject,
            "name": DRAW_INPUT,
            "value_hash": value_hash.hex(),
            "committed_at": committed_at,
            "log_index": event.ledger_index,
        }
        uow.session.add(row)
        uow.session.flush()
        row.draw_secret_sealed = platform_seal(platform, secret, f"draw-secret:{row.id}")
        for holder, enc in encrypted:
            uow.session.add(
                OpeningKeyShare(
                    key_id=row.id,
                    share_index=enc.index,
                    custodian_org_id=holder.org_id,
                    certificate_serial=holder.certificate.serial,
                    encrypted_share=enc.to_text(),
                    created_at=uow.now,
                )
            )
        made.append(row)
    uow.session.flush()
    return made


def renew_draw_commitments(uow: UnitOfWork, project: Project) -> None:
    """A new round (re-tender 重新招标): every section key gets a fresh committed draw secret, logged now.

    The previous secret was revealed in the previous round's draw record, so it can no longer be used.
    """
    suite = uow.platform.suite
    for key in uow.session.scalars(select(OpeningKey).where(OpeningKey.project_id == project.id)):
        section = uow.session.get(Section, key.section_id)
        assert section is not None
        secret = new_secret()
        subject = {"project": project.code, "section": section.code}
        commitment: dict[str, Any] = {
            "purpose": DRAW_PURPOSE,
            "subject": subject,
            "name": DRAW_INPUT,
            "value_hash": commitment_hash(DRAW_PURPOSE, subject, DRAW_INPUT, secret, suite=suite).hex(),
            "committed_at": uow.now.isoformat(timespec="microseconds"),
        }
        event = uow.audit(
            "opening:draw_commit",
            subject_type="section",
            subject_id=section.id,
            data={"project_code": project.code, "section": section.code, "draw_commitment": commitment},
        )
        key.draw_commitment = {**commitment, "log_index": event.ledger_index}
        key.draw_secret_sealed = platform_seal(uow.platform, secret, f"draw-secret:{key.id}")


def section_by_code(uow: UnitOfWork, project_id: int, code: str) -> Section:
    """A section of the project by code (``opening.section_not_found`` 404)."""
    section = uow.session.scalar(select(Section).where(Section.project_id == project_id, Section.code == code))
    if section is None:
        raise NotFound("opening.section_not_found", f"标段 {code} 不存在。", f"Section {code} not found.")
    return section


def _no_key(code: str) -> NotFound:
    return NotFound(
        "opening.no_key",
        f"标段 {code} 尚未生成开标密钥（项目进入投标阶段时生成）。",
        f"Section {code} has no opening key yet (it is made when the project enters bidding).",
    )


def public_key_info(uow: UnitOfWork, project_id: int, code: str) -> dict[str, object]:
    """What a bidder seals to: ``{suite, public_key (base64), key_fingerprint, context, threshold, total}``."""
    section = section_by_code(uow, project_id, code)
    key = section_key(uow, section.id)
    if key is None:
        raise _no_key(code)
    return {
        "suite": key.suite,
        "public_key": base64.b64encode(key.public_key).decode("ascii"),
        "key_fingerprint": key.fingerprint,
        "context": key.context,
        "threshold": key.threshold,
        "total": key.total,
    }


def check_container_key(uow: UnitOfWork, section: Section, header: BidHeader) -> None:
    """Refuse a container not sealed to the section's opening key and context (``bid.wrong_opening_key``)."""
    key = section_key(uow, section.id)
    recipient = header.recipients.get("opening")
    if (
        key is None
        or recipient is None
        or recipient.key_fingerprint != key.fingerprint
        or header.context_digest != context_digest(uow.platform.suite, key.context)
    ):
        raise ValidationFailed(
            "bid.wrong_opening_key",
            "投标文件未按本标段公布的开标公钥和上下文加密，请重新获取开标公钥后重新加密。",
            "The bid is not sealed to this section's published opening key and context; fetch the opening key "
            "and seal again.",
            details={"section": section.code},
        )


def reveal_draw_secret(uow: UnitOfWork, key: OpeningKey) -> bytes:
    """The operator's committed draw secret (only called after the deadline, when it is revealed)."""
    if key.draw_secret_sealed is None or key.draw_commitment is None:
        raise IntegrityFailure("opening.no_draw_commitment", "缺少系数抽取承诺。", "No draw commitment was made.")
    secret = platform_open(uow.platform, key.draw_secret_sealed, f"draw-secret:{key.id}")
    expected = bytes.fromhex(str(key.draw_commitment["value_hash"]))
    subject = dict(key.draw_commitment["subject"])
    if commitment_hash(DRAW_PURPOSE, subject, DRAW_INPUT, secret, suite=uow.platform.suite) != expected:
        raise IntegrityFailure(
            "opening.draw_secret_mismatch",
            "系数抽取秘密值与承诺不符。",
            "The draw secret does not match its commitment.",
        )
    return secret


def custodian_org_ids(actor_memberships: object, project_id: int) -> set[int]:
    """Organisations for which the actor is a custodian (for all projects or this one)."""
    out: set[int] = set()
    for m in getattr(actor_memberships, "memberships", ()):
        if m.role is not Role.CUSTODIAN:
            continue
        if m.project_ids is not None and str(project_id) not in m.project_ids:
            continue
        out.add(int(m.org_id))
    return out


def my_encrypted_shares(
    uow: UnitOfWork, custodian_orgs: set[int], project_id: int, *, section: str | None = None
) -> list[dict[str, object]]:
    """The encrypted shares of a project's sections (or of one ``section``) held by these custodian organisations.

    Every fetch that returns a share is audited here (``opening:share_fetch``: the sections and share indexes, never
    the share), so no caller — API, page, CLI or demo — can read a share off the record.
    """
    if not custodian_orgs:
        return []
    stmt = (
        select(OpeningKeyShare, OpeningKey, Section)
        .join(OpeningKey, OpeningKey.id == OpeningKeyShare.key_id)
        .join(Section, Section.id == OpeningKey.section_id)
        .where(OpeningKey.project_id == project_id, OpeningKeyShare.custodian_org_id.in_(custodian_orgs))
        .order_by(Section.code, OpeningKeyShare.share_index)
    )
    if section is not None:
        stmt = stmt.where(Section.code == section)
    rows = uow.session.execute(stmt).all()
    shares: list[dict[str, object]] = [
        {
            "section": sec.code,
            "index": share.share_index,
            "threshold": key.threshold,
            "total": key.total,
            "key_fingerprint": key.fingerprint,
            "certificate_serial": share.certificate_serial,
            "encrypted_share": share.encrypted_share,
        }
        for share, key, sec in rows
    ]
    if shares:
        data: dict[str, object] = {"indexes": [s["index"] for s in shares]}
        if section is not None:
            data = {"section": section, **data}
        else:
            data = {"sections": sorted({str(s["section"]) for s in shares}), **data}
        uow.audit("opening:share_fetch", subject_type="project", subject_id=project_id, data=data)
    return shares


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with milliseconds, or None."""
    return None if moment is None else moment.isoformat(timespec="milliseconds")
