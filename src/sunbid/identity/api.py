"""Identity over HTTP: login (password or certificate), sessions, tokens, organisations, users, certs."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.identity import certs, service
from sunbid.identity.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentActor,
    enforce,
)
from sunbid.identity.domain import ResourceScope
from sunbid.identity.models import Certificate, Organisation, RegionRow, User
from sunbid.identity.permissions import CERT_MANAGE, ORG_MANAGE, ORG_READ_OWN, TOKEN_MANAGE, USER_MANAGE
from sunbid.identity.schemas import (
    CertificateIssue,
    CertificateLogin,
    CertificateOut,
    ChallengeOut,
    LoginOut,
    MembershipOut,
    MeOut,
    OrganisationCreate,
    OrganisationOut,
    PasswordLogin,
    RegionOut,
    RevokeIn,
    TokenCreate,
    TokenOut,
    UserCreate,
    UserOut,
)
from sunbid.platform.container import Platform
from sunbid.platform.deps import client_ip, get_platform, read_session, request_context
from sunbid.platform.ratelimit import RateLimiter

router = APIRouter(prefix="/api/v1", tags=["identity 身份"])

Plat = Annotated[Platform, Depends(get_platform)]
Db = Annotated[Session, Depends(read_session)]


def login_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        limiter = RateLimiter(get_platform(request).settings.login_rate_per_minute, 60.0)
        request.app.state.login_limiter = limiter
    return limiter


def me_out(actor: service.Actor) -> MeOut:
    return MeOut(
        user_id=actor.user_id,
        username=actor.username,
        display_name=actor.display_name,
        org_id=actor.org_id,
        auth_method=actor.auth_method,
        memberships=[
            MembershipOut(role=m.role.value, role_zh=m.role.label_zh, org_id=m.org_id, region_code=m.region_code)
            for m in sorted(actor.principal.memberships, key=lambda m: (m.org_id, m.role.value))
        ],
    )


def set_session_cookies(response: Response, platform: Platform, raw: str, csrf: str) -> None:
    secure = platform.settings.cookie_secure
    max_age = platform.settings.session_hours * 3600
    response.set_cookie(SESSION_COOKIE, raw, max_age=max_age, httponly=True, samesite="strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure)


def _session_login_out(platform: Platform, actor: service.Actor, csrf: str, expires_at: Any) -> LoginOut:
    return LoginOut(user=me_out(actor), csrf_token=csrf, expires_at=expires_at)


@router.post("/auth/login", response_model=LoginOut, summary="密码登录 Password login")
def login(body: PasswordLogin, request: Request, response: Response, platform: Plat) -> LoginOut:
    login_limiter(request).hit(f"ip:{client_ip(request)}")
    with platform.uow(request_context(request)) as uow:
        sess, raw = service.login_password(uow, body.username, body.password)
        user = uow.session.get(User, sess.user_id)
        assert user is not None
        actor = service.load_actor(uow.session, user, method="password")
        uow.commit()
    set_session_cookies(response, platform, raw, sess.csrf_token)
    return _session_login_out(platform, actor, sess.csrf_token, sess.expires_at)


@router.post("/auth/challenge", response_model=ChallengeOut, summary="证书登录挑战 Certificate login challenge")
def challenge(request: Request, platform: Plat) -> ChallengeOut:
    login_limiter(request).hit(f"challenge:{client_ip(request)}")
    with platform.uow(request_context(request)) as uow:
        ch = certs.new_challenge(uow)
        uow.commit()
    return ChallengeOut(nonce=ch.nonce, message=certs.login_message(platform, ch.nonce), expires_at=ch.expires_at)


@router.post("/auth/certificate-login", response_model=LoginOut, summary="证书登录 Certificate login")
def certificate_login(body: CertificateLogin, request: Request, response: Response, platform: Plat) -> LoginOut:
    login_limiter(request).hit(f"ip:{client_ip(request)}")
    try:
        signature = base64.b64decode(body.signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(
            "auth.bad_signature_encoding", "签名不是合法的 Base64。", "The signature is not valid base64."
        ) from None
    with platform.uow(request_context(request)) as uow:
        sess, raw, actor = certs.login_certificate(
            uow, body.certificate_pem, body.nonce, signature, username=body.username
        )
        uow.commit()
    set_session_cookies(response, platform, raw, sess.csrf_token)
    return _session_login_out(platform, actor, sess.csrf_token, sess.expires_at)


@router.post("/auth/logout", status_code=204, summary="退出登录 Logout")
def logout(request: Request, response: Response, actor: CurrentActor, platform: Plat) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        with platform.uow(request_context(request)) as uow:
            service.logout(uow, raw)
            uow.commit()
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.get("/me", response_model=MeOut, summary="当前用户 Who am I")
def me(actor: CurrentActor) -> MeOut:
    return me_out(actor)


@router.post("/tokens", response_model=TokenOut, status_code=201, summary="创建访问令牌 Create API token")
def create_token(body: TokenCreate, request: Request, actor: CurrentActor, platform: Plat) -> TokenOut:
    enforce(request, actor, TOKEN_MANAGE)
    with platform.uow(request_context(request)) as uow:
        user = uow.session.get(User, actor.user_id)
        assert user is not None
        issued = service.create_api_token(uow, user, body.name, body.ttl_days)
        uow.commit()
    return TokenOut(id=issued.id, token=issued.raw, expires_at=issued.expires_at)


@router.delete("/tokens/{token_id}", status_code=204, summary="吊销访问令牌 Revoke API token")
def revoke_token(token_id: int, request: Request, actor: CurrentActor, platform: Plat) -> Response:
    enforce(request, actor, TOKEN_MANAGE)
    with platform.uow(request_context(request)) as uow:
        user = uow.session.get(User, actor.user_id)
        assert user is not None
        service.revoke_api_token(uow, user, token_id)
        uow.commit()
    return Response(status_code=204)


def _centre_scope(session: Session) -> ResourceScope:
    return ResourceScope(org_id=str(service.centre_org_id(session)))


@router.post(
    "/organisations",
    response_model=OrganisationOut,
    status_code=201,
    summary="登记机构 Register organisation",
)
def create_org(body: OrganisationCreate, request: Request, actor: CurrentActor, platform: Plat) -> Organisation:
    with platform.uow(request_context(request)) as uow:
        enforce(request, actor, ORG_MANAGE, _centre_scope(uow.session))
        org = service.create_organisation(
            uow,
            name=body.name,
            uscc=body.uscc,
            kind=body.kind,
            region_code=body.region_code,
            sectors=body.sectors,
        )
        uow.commit()
    return org


@router.get("/organisations/{org_id}", response_model=OrganisationOut, summary="机构信息 Organisation")
def get_org(org_id: int, request: Request, actor: CurrentActor, db: Db) -> Organisation:
    org = db.get(Organisation, org_id)
    if org is None:
        raise NotFound("identity.org_not_found", "机构不存在。", "Organisation not found.")
    centre = service.centre_org_id(db)
    staff = service.is_allowed(actor, ORG_MANAGE, ResourceScope(org_id=str(centre)))
    if not staff:
        enforce(request, actor, ORG_READ_OWN, ResourceScope(org_id=str(org.id)))
    return org


@router.post("/users", response_model=UserOut, status_code=201, summary="创建用户 Create user")
def create_user(body: UserCreate, request: Request, actor: CurrentActor, platform: Plat) -> User:
    with platform.uow(request_context(request)) as uow:
        enforce(request, actor, USER_MANAGE, _centre_scope(uow.session))
        user = service.create_user(
            uow,
            username=body.username,
            display_name=body.display_name,
            password=body.password,
            phone=body.phone,
            email=body.email,
        )
        for m in body.memberships:
            org = uow.session.get(Organisation, m.org_id)
            if org is None:
                raise NotFound(
                    "identity.org_not_found",
                    f"机构 {m.org_id} 不存在。",
                    f"Organisation {m.org_id} not found.",
                )
            service.add_membership(uow, user=user, org=org, role=m.role, sectors=m.sectors)
        uow.commit()
    return user


@router.get("/regions/{code}", response_model=RegionOut, summary="行政区划 Region")
def region(code: str, db: Db) -> RegionRow:
    row = db.get(RegionRow, code)
    if row is None:
        raise NotFound("identity.region_unknown", f"行政区划代码 {code} 不存在。", f"Unknown region code {code}.")
    return row


@router.get("/ca", summary="CA 根证书 The centre CA certificate")
def ca_certificate(platform: Plat) -> dict[str, str]:
    return {"suite": platform.suite.name, "certificate_pem": platform.ca().certificate_pem}


@router.post(
    "/certificates",
    response_model=list[CertificateOut],
    status_code=201,
    summary="签发证书 Issue certificates",
)
def issue_certificates(
    body: CertificateIssue, request: Request, actor: CurrentActor, platform: Plat
) -> list[Certificate]:
    with platform.uow(request_context(request)) as uow:
        enforce(request, actor, CERT_MANAGE, _centre_scope(uow.session))
        try:
            sign_pub = bytes.fromhex(body.signing_public_key_hex)
            enc_pub = bytes.fromhex(body.encryption_public_key_hex)
        except ValueError:
            raise ValidationFailed("cert.bad_public_key", "公钥格式错误。", "Malformed public key.") from None
        issued = certs.issue_certificates(uow, body.org_id, sign_pub, enc_pub, validity_days=body.validity_days)
        uow.commit()
    return list(issued)


@router.post("/certificates/{serial}/revoke", response_model=CertificateOut, summary="吊销证书 Revoke certificate")
def revoke_certificate(
    serial: str, body: RevokeIn, request: Request, actor: CurrentActor, platform: Plat
) -> Certificate:
    with platform.uow(request_context(request)) as uow:
        enforce(request, actor, CERT_MANAGE, _centre_scope(uow.session))
        cert = certs.revoke_certificate(uow, serial, body.reason)
        uow.commit()
    return cert
