"""Certificates of organisations and login by certificate signature (the software "CA lock", CA锁).

The centre's CA certifies public keys only: key pairs are made on the holder's side (``sunbid cert issue``
writes them straight into a password-protected bundle), so the platform never holds a bidder's private key and
can never open a sealed bid with it. A login signs a one-time server challenge bound to this deployment.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from sunbid.core.clock import ensure_utc
from sunbid.core.errors import NotFound, Unauthenticated, ValidationFailed
from sunbid.crypto.certificates import Subject, Usage, verify_certificate
from sunbid.identity.models import Certificate, LoginChallenge, LoginSession, Membership, Organisation, User
from sunbid.identity.service import CHALLENGE_MINUTES, Actor, _check_active, _new_session, load_actor
from sunbid.platform.container import Platform
from sunbid.platform.uow import UnitOfWork

LOGIN_CONTEXT = "sunbid-login-v1"


def login_message(platform: Platform, nonce: str) -> str:
    """The exact text a certificate holder signs to log in: bound to this log/deployment and the nonce."""
    return f"{LOGIN_CONTEXT}|{platform.ledger.log_id}|{nonce}"


def new_challenge(uow: UnitOfWork) -> LoginChallenge:
    ch = LoginChallenge(
        nonce=secrets.token_hex(16),
        created_at=uow.now,
        expires_at=uow.now + timedelta(minutes=CHALLENGE_MINUTES),
    )
    uow.session.add(ch)
    uow.session.flush()
    return ch


def _new_serial(uow: UnitOfWork) -> int:
    while True:
        serial = secrets.randbits(63) | (1 << 62)  # positive, 8 octets, random (RFC 5280 §4.1.2.2)
        if uow.session.scalar(select(Certificate.id).where(Certificate.serial == format(serial, "x"))) is None:
            return serial


def issue_certificates(
    uow: UnitOfWork,
    org_id: int,
    signing_public: bytes,
    encryption_public: bytes,
    *,
    validity_days: int = 730,
) -> tuple[Certificate, Certificate]:
    """Certify an organisation's signing key and encryption key (two certificates)."""
    org = uow.session.get(Organisation, org_id)
    if org is None:
        raise NotFound("identity.org_not_found", f"机构 {org_id} 不存在。", f"Organisation {org_id} not found.")
    if org.status != "active":
        raise ValidationFailed("identity.org_inactive", "该机构已停用。", "This organisation is inactive.")
    platform = uow.platform
    suite = platform.suite
    ca = platform.ca()
    subject = Subject(common_name=org.name, organisation_name=org.name, uscc=org.uscc)
    out = []
    pairs: tuple[tuple[Usage, bytes], ...] = (("signing", signing_public), ("encryption", encryption_public))
    for usage, public in pairs:
        serial = _new_serial(uow)
        pem = ca.issue(subject, public, usage=usage, serial=serial, now=uow.now, validity_days=validity_days)
        info = verify_certificate(suite, ca.certificate_pem, pem, now=uow.now)
        row = Certificate(
            org_id=org.id,
            serial=format(serial, "x"),
            usage=usage,
            suite=suite.name,
            pem=pem,
            public_key=info.public_key,
            fingerprint=info.fingerprint,
            not_before=info.not_before,
            not_after=info.not_after,
            status="valid",
            issued_at=uow.now,
        )
        uow.session.add(row)
        uow.session.flush()
        uow.audit(
            "certificate:issue",
            subject_type="organisation",
            subject_id=org.id,
            data={
                "serial": row.serial,
                "usage": usage,
                "fingerprint": row.fingerprint,
                "suite": suite.name,
                "not_after": info.not_after.isoformat(),
            },
        )
        out.append(row)
    return out[0], out[1]


def get_certificate(uow: UnitOfWork, serial: str) -> Certificate:
    cert = uow.session.scalar(select(Certificate).where(Certificate.serial == serial.lower()))
    if cert is None:
        raise NotFound("cert.not_found", f"证书 {serial} 不存在。", f"Certificate {serial} not found.")
    return cert


def revoke_certificate(uow: UnitOfWork, serial: str, reason: str) -> Certificate:
    """Revoke a certificate: it can no longer log in, and sessions opened with it end."""
    cert = get_certificate(uow, serial)
    if cert.status == "revoked":
        return cert
    cert.status = "revoked"
    cert.revoked_at = uow.now
    cert.revoked_reason = reason[:200]
    for sess in uow.session.scalars(
        select(LoginSession).where(LoginSession.certificate_serial == cert.serial, LoginSession.revoked_at.is_(None))
    ):
        sess.revoked_at = uow.now
    uow.audit(
        "certificate:revoke",
        subject_type="organisation",
        subject_id=cert.org_id,
        data={"serial": cert.serial, "reason": cert.revoked_reason},
    )
    return cert


def _refuse(uow: UnitOfWork, code: str, zh: str, en: str, **data: object) -> Unauthenticated:
    """Audit a refused certificate login (committed) and return the error to raise."""
    uow.audit("auth:cert_login_failed", subject_type="certificate", subject_id=None, data={"code": code, **data})
    uow.commit()
    return Unauthenticated(code, zh, en)


def login_certificate(
    uow: UnitOfWork, cert_pem: str, nonce: str, signature: bytes, *, username: str | None = None
) -> tuple[LoginSession, str, Actor]:
    """Log in by signing the challenge ``nonce`` with the key of a valid, unrevoked signing certificate."""
    platform = uow.platform
    ch = uow.session.scalar(select(LoginChallenge).where(LoginChallenge.nonce == nonce))
    if ch is None or ch.used_at is not None or ensure_utc(ch.expires_at) <= uow.now:
        raise _refuse(
            uow,
            "auth.challenge_invalid",
            "登录挑战无效、已使用或已过期，请重新获取。",
            "The login challenge is unknown, used or expired; ask for a new one.",
        )
    ch.used_at = uow.now
    try:
        info = verify_certificate(platform.suite, platform.ca().certificate_pem, cert_pem, now=uow.now)
    except Unauthenticated as exc:
        raise _refuse(uow, exc.code, exc.message_zh, exc.message_en) from None
    except ValidationFailed as exc:
        raise _refuse(uow, exc.code, exc.message_zh, exc.message_en) from None
    serial = format(info.serial, "x")
    row = uow.session.scalar(select(Certificate).where(Certificate.serial == serial))
    if row is None or row.fingerprint != info.fingerprint:
        raise _refuse(
            uow,
            "cert.unknown",
            "该证书不是本中心签发的有效证书。",
            "This certificate was not issued by this centre.",
            serial=serial,
        )
    if row.status != "valid":
        raise _refuse(
            uow,
            "cert.revoked",
            "该证书已被吊销，不能登录。",
            "This certificate has been revoked.",
            serial=serial,
        )
    if row.usage != "signing":
        raise _refuse(
            uow,
            "cert.wrong_usage",
            "请使用签名证书登录（不是加密证书）。",
            "Log in with the signing certificate, not the encryption one.",
            serial=serial,
        )
    if not platform.suite.verify(info.public_key, login_message(platform, nonce).encode(), signature):
        raise _refuse(
            uow,
            "auth.bad_signature",
            "签名验证失败：签名与证书不匹配。",
            "The signature does not verify with this certificate.",
            serial=serial,
        )
    q = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == row.org_id, User.status == "active")
        .order_by(User.id)
    )
    if username:
        q = q.where(User.username == username)
    users = list(dict.fromkeys(uow.session.scalars(q)))
    if len(users) != 1:
        raise _refuse(
            uow,
            "auth.cert_user_ambiguous" if users else "auth.cert_no_user",
            "请指定本机构的登录用户名。" if users else "该证书所属机构没有可登录的用户。",
            "Give the username of a member of this organisation."
            if users
            else "No active user belongs to this certificate's organisation.",
            serial=serial,
        )
    user = users[0]
    _check_active(uow, user)
    sess, raw = _new_session(uow, user, "certificate", serial)
    uow.audit(
        "auth:login",
        subject_type="user",
        subject_id=user.id,
        data={"method": "certificate", "serial": serial, "session_id": sess.id},
    )
    return sess, raw, load_actor(uow.session, user, method="certificate")
