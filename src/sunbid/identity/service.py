"""Identity use cases: organisations, users, memberships, passwords, tokens, sessions, certificates.

Every change goes through a unit of work and leaves an audit event in the transparency log. Tokens and session
ids are random 256-bit values of which only the SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sunbid.core.clock import ensure_utc
from sunbid.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    ValidationFailed,
)
from sunbid.identity import domain
from sunbid.identity.models import (
    ApiToken,
    Centre,
    Certificate,
    LoginSession,
    Membership,
    Organisation,
    RegionRow,
    User,
)
from sunbid.identity.passwords import hash_password, needs_rehash, verify_password
from sunbid.identity.regions import RegionBook
from sunbid.platform.uow import UnitOfWork

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
CHALLENGE_MINUTES = 5
TOKEN_PREFIX = "sbt_"  # noqa: S105 - a prefix, not a secret
SESSION_PREFIX = "sbs_"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _bad_login() -> Unauthenticated:
    return Unauthenticated("auth.bad_credentials", "用户名或密码错误。", "Wrong username or password.")


# --- regions ---------------------------------------------------------------------------------------------


def ensure_regions(session: Session, book: RegionBook | None = None) -> int:
    """Load the national administrative divisions into the database (idempotent); returns rows added."""
    book = book or RegionBook.load_default()
    have = set(session.scalars(select(RegionRow.code)))
    rows = [
        {"code": r.code, "name": r.name, "level": r.level.value, "parent_code": r.parent_code}
        for r in book
        if r.code not in have
    ]
    if rows:
        session.execute(insert(RegionRow), rows)
    return len(rows)


def _region(session: Session, code: str) -> RegionRow:
    row = session.get(RegionRow, code)
    if row is None:
        raise ValidationFailed(
            "identity.region_unknown", f"行政区划代码 {code} 不存在。", f"Unknown region code {code}."
        )
    return row


# --- organisations, users, memberships -------------------------------------------------------------------


def create_organisation(
    uow: UnitOfWork,
    *,
    name: str,
    uscc: str,
    kind: str,
    region_code: str,
    sectors: list[str] | None = None,
) -> Organisation:
    """Register an organisation; the credit code is checked by its GB 32100 check character."""
    code = domain.validate_uscc(uscc)
    try:
        kind_v = domain.OrgKind(kind).value
    except ValueError:
        raise ValidationFailed(
            "identity.bad_org_kind", f"未知的机构类型：{kind}", f"Unknown organisation kind: {kind}"
        ) from None
    try:
        sectors_v = sorted({domain.Sector(x).value for x in (sectors or [])})
    except ValueError:
        raise ValidationFailed("identity.bad_sector", f"未知的行业：{sectors}", f"Unknown sector: {sectors}") from None
    name = name.strip()
    if not name:
        raise ValidationFailed("identity.name_required", "机构名称不能为空。", "The name is required.")
    _region(uow.session, region_code)
    if uow.session.scalar(select(Organisation.id).where(Organisation.uscc == code)) is not None:
        raise Conflict(
            "identity.org_exists",
            f"统一社会信用代码 {code} 已登记。",
            f"An organisation with credit code {code} already exists.",
        )
    org = Organisation(
        name=name,
        uscc=code,
        kind=kind_v,
        region_code=region_code,
        sectors=sectors_v,
        status="active",
        created_at=uow.now,
    )
    uow.session.add(org)
    uow.session.flush()
    uow.audit(
        "organisation:create",
        subject_type="organisation",
        subject_id=org.id,
        data={"name": name, "uscc": code, "kind": kind_v, "region_code": region_code, "sectors": sectors_v},
    )
    return org


def get_org_by_uscc(session: Session, uscc: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.uscc == uscc.strip().upper()))
    if org is None:
        raise NotFound("identity.org_not_found", f"机构 {uscc} 不存在。", f"Organisation {uscc} not found.")
    return org


def create_user(
    uow: UnitOfWork,
    *,
    username: str,
    display_name: str,
    password: str | None,
    phone: str | None = None,
    email: str | None = None,
) -> User:
    """Create a person who can sign in (by password when one is given, or by certificate)."""
    username = username.strip()
    if not (3 <= len(username) <= 64) or not all(c.isalnum() or c in "._-@" for c in username):
        raise ValidationFailed(
            "identity.bad_username",
            "用户名须为 3–64 位字母、数字或 . _ - @。",
            "A username has 3–64 letters, digits or . _ - @.",
        )
    if uow.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("identity.user_exists", f"用户名 {username} 已存在。", f"User {username} already exists.")
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        password_hash=hash_password(password) if password else None,
        status="active",
        phone=phone,
        email=email,
        created_at=uow.now,
        failed_logins=0,
    )
    uow.session.add(user)
    uow.session.flush()
    uow.audit(
        "user:create",
        subject_type="user",
        subject_id=user.id,
        data={"username": username, "display_name": user.display_name, "has_password": bool(password)},
    )
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("identity.user_not_found", f"用户 {username} 不存在。", f"User {username} not found.")
    return user


def add_membership(
    uow: UnitOfWork,
    *,
    user: User,
    org: Organisation,
    role: str,
    sectors: list[str] | None = None,
    project_ids: list[int] | None = None,
) -> Membership:
    """Give ``user`` a role in ``org`` (the role must suit the organisation's kind)."""
    role_v = domain.Role.parse(role)
    if role_v not in domain.ORG_KIND_ROLES[domain.OrgKind(org.kind)]:
        kind = domain.OrgKind(org.kind)
        raise ValidationFailed(
            "identity.role_not_for_org",
            f"{kind.label_zh}的成员不能担任“{role_v.label_zh}”角色。",
            f"A member of a {kind.label_en} cannot hold the role {role_v.label_en}.",
        )
    exists = uow.session.scalar(
        select(Membership.id).where(
            Membership.user_id == user.id, Membership.org_id == org.id, Membership.role == role_v.value
        )
    )
    if exists is not None:
        raise Conflict("identity.membership_exists", "该用户已拥有此角色。", "The user already has this role.")
    m = Membership(
        user_id=user.id,
        org_id=org.id,
        role=role_v.value,
        sectors=list(sectors or org.sectors or []),
        project_ids=project_ids,
        created_at=uow.now,
    )
    uow.session.add(m)
    uow.session.flush()
    uow.audit(
        "membership:grant",
        subject_type="user",
        subject_id=user.id,
        data={"org_id": org.id, "role": role_v.value, "sectors": m.sectors, "project_ids": project_ids},
    )
    return m


def create_centre(uow: UnitOfWork, *, name: str, uscc: str, region_code: str) -> Centre:
    """Create the trading centre (its organisation and its centre row)."""
    org = create_organisation(uow, name=name, uscc=uscc, kind="centre", region_code=region_code)
    centre = Centre(org_id=org.id, name=org.name, region_code=region_code, settings={}, created_at=uow.now)
    uow.session.add(centre)
    uow.session.flush()
    uow.audit("centre:create", subject_type="centre", subject_id=centre.id, data={"org_id": org.id})
    return centre


# --- principals ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """A signed-in person: database ids for the record, the domain principal for permission decisions."""

    user_id: int
    username: str
    display_name: str
    org_id: int | None
    auth_method: str  # password | certificate | token
    principal: domain.Principal

    @property
    def roles(self) -> frozenset[domain.Role]:
        return frozenset(m.role for m in self.principal.memberships)


def load_actor(session: Session, user: User, *, method: str) -> Actor:
    """The user with every role he holds in active organisations."""
    rows = session.execute(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.user_id == user.id, Organisation.status == "active")
        .order_by(Membership.id)
    ).all()
    memberships = frozenset(
        domain.Membership(
            role=domain.Role(m.role),
            org_id=str(org.id),
            region_code=org.region_code,
            sectors=frozenset(domain.Sector(x) for x in (m.sectors or [])),
            project_ids=None if m.project_ids is None else frozenset(str(p) for p in m.project_ids),
        )
        for m, org in rows
    )
    primary = rows[0][1].id if rows else None
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        org_id=primary,
        auth_method=method,
        principal=domain.Principal(
            user_id=str(user.id), org_id=None if primary is None else str(primary), memberships=memberships
        ),
    )


@dataclass(frozen=True)
class IssuedSecret:
    """A freshly created token or session: the raw value is shown once and never stored."""

    raw: str
    id: int
    expires_at: str | None


def _check_active(uow: UnitOfWork, user: User) -> None:
    if user.status != "active":
        raise Forbidden("auth.user_disabled", "该账户已停用。", "This account is disabled.")
    if user.locked_until is not None and ensure_utc(user.locked_until) > uow.now:
        raise TooManyRequests(
            "auth.locked",
            "登录失败次数过多，账户已临时锁定，请稍后再试。",
            "Too many failed logins; the account is locked for a while.",
        )


def _new_session(uow: UnitOfWork, user: User, method: str, cert_serial: str | None) -> tuple[LoginSession, str]:
    raw = SESSION_PREFIX + secrets.token_urlsafe(32)
    sess = LoginSession(
        user_id=user.id,
        token_hash=token_hash(raw),
        csrf_token=secrets.token_urlsafe(24),
        method=method,
        certificate_serial=cert_serial,
        created_at=uow.now,
        expires_at=uow.now + timedelta(hours=uow.platform.settings.session_hours),
        ip=uow.ctx.ip,
        user_agent=uow.ctx.user_agent,
    )
    uow.session.add(sess)
    uow.session.flush()
    return sess, raw


def login_password(uow: UnitOfWork, username: str, password: str) -> tuple[LoginSession, str]:
    """Password login; failures are audited and lock the account after five in a row."""
    user = uow.session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(None, password)
        uow.audit("auth:login_failed", subject_type="user", subject_id=None, data={"username": username[:64]})
        uow.commit()
        raise _bad_login()
    _check_active(uow, user)
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        locked = user.failed_logins >= MAX_FAILED_LOGINS
        if locked:
            user.locked_until = uow.now + timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
        uow.audit(
            "auth:login_failed",
            subject_type="user",
            subject_id=user.id,
            data={"username": username, "locked": locked},
        )
        uow.commit()
        raise _bad_login()
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    sess, raw = _new_session(uow, user, "password", None)
    uow.audit(
        "auth:login",
        subject_type="user",
        subject_id=user.id,
        data={"method": "password", "session_id": sess.id},
    )
    return sess, raw


def change_password(uow: UnitOfWork, user: User, old: str, new: str) -> None:
    if not verify_password(user.password_hash, old):
        raise _bad_login()
    user.password_hash = hash_password(new)
    uow.audit("user:password_change", subject_type="user", subject_id=user.id, data={})


def create_api_token(uow: UnitOfWork, user: User, name: str, ttl_days: int | None = 90) -> IssuedSecret:
    """A bearer token for scripts and the bidder tool; shown once."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = uow.now + timedelta(days=ttl_days) if ttl_days else None
    tok = ApiToken(
        user_id=user.id,
        name=name[:100] or "token",
        prefix=raw[:10],
        token_hash=token_hash(raw),
        created_at=uow.now,
        expires_at=expires,
    )
    uow.session.add(tok)
    uow.session.flush()
    uow.audit("token:create", subject_type="user", subject_id=user.id, data={"token_id": tok.id, "name": tok.name})
    return IssuedSecret(raw=raw, id=tok.id, expires_at=None if expires is None else expires.isoformat())


def revoke_api_token(uow: UnitOfWork, user: User, token_id: int) -> None:
    tok = uow.session.get(ApiToken, token_id)
    if tok is None or tok.user_id != user.id:
        raise NotFound("identity.token_not_found", "令牌不存在。", "Token not found.")
    tok.revoked_at = uow.now
    uow.audit("token:revoke", subject_type="user", subject_id=user.id, data={"token_id": token_id})


def resolve_bearer(session: Session, raw: str, now_utc: datetime) -> Actor | None:
    """The principal of a valid, unexpired, unrevoked API token."""
    tok = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(raw)))
    if tok is None or tok.revoked_at is not None:
        return None
    if tok.expires_at is not None and ensure_utc(tok.expires_at) <= now_utc:
        return None
    user = session.get(User, tok.user_id)
    if user is None or user.status != "active":
        return None
    return load_actor(session, user, method="token")


def resolve_session(session: Session, raw: str, now_utc: datetime) -> tuple[Actor, LoginSession] | None:
    """The principal and session of a valid cookie session."""
    sess = session.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(raw)))
    if sess is None or sess.revoked_at is not None or ensure_utc(sess.expires_at) <= now_utc:
        return None
    user = session.get(User, sess.user_id)
    if user is None or user.status != "active":
        return None
    if sess.certificate_serial is not None:
        cert = session.scalar(select(Certificate).where(Certificate.serial == sess.certificate_serial))
        if cert is None or cert.status != "valid":
            return None
    return load_actor(session, user, method=sess.method), sess


def logout(uow: UnitOfWork, raw: str) -> None:
    sess = uow.session.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(raw)))
    if sess is not None and sess.revoked_at is None:
        sess.revoked_at = uow.now
        uow.audit("auth:logout", subject_type="user", subject_id=sess.user_id, data={"session_id": sess.id})


def centre_org_id(session: Session) -> int:
    """The organisation id of the centre this deployment runs."""
    org_id = session.scalar(select(Centre.org_id).order_by(Centre.id).limit(1))
    if org_id is None:
        raise NotFound(
            "identity.no_centre",
            "尚未创建交易中心，请先运行 sunbid admin create-centre。",
            "No centre exists yet; run `sunbid admin create-centre` first.",
        )
    return org_id


def is_allowed(actor: Actor | None, permission: domain.Permission, resource: domain.ResourceScope) -> bool:
    """Whether ``actor`` holds ``permission`` on ``resource`` (no exception)."""
    return domain.decide(None if actor is None else actor.principal, permission, resource).allowed
