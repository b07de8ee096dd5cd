"""Request and response bodies of the identity API."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sunbid.platform.schemas import Out, StrictModel


class PasswordLogin(StrictModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class CertificateLogin(StrictModel):
    certificate_pem: str = Field(min_length=1, max_length=20000)
    nonce: str = Field(min_length=16, max_length=64)
    signature_b64: str = Field(min_length=1, max_length=2000)
    username: str | None = Field(default=None, max_length=64)


class ChallengeOut(Out):
    nonce: str
    message: str
    expires_at: datetime


class MembershipOut(Out):
    role: str
    role_zh: str
    org_id: str
    region_code: str | None


class MeOut(Out):
    user_id: int
    username: str
    display_name: str
    org_id: int | None
    auth_method: str
    memberships: list[MembershipOut]


class LoginOut(Out):
    user: MeOut
    csrf_token: str
    expires_at: datetime


class TokenCreate(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    ttl_days: int | None = Field(default=90, ge=1, le=3650)


class TokenOut(Out):
    id: int
    token: str
    expires_at: str | None


class OrganisationCreate(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    uscc: str = Field(min_length=18, max_length=18)
    kind: str
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    sectors: list[str] = Field(default_factory=list)


class OrganisationOut(Out):
    id: int
    name: str
    uscc: str
    kind: str
    region_code: str
    sectors: list[str]
    status: str
    created_at: datetime


class MembershipIn(StrictModel):
    org_id: int
    role: str
    sectors: list[str] | None = None


class UserCreate(StrictModel):
    username: str = Field(min_length=3, max_length=64)
    display_name: str = Field(min_length=1, max_length=100)
    password: str | None = Field(default=None, min_length=8, max_length=256)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)
    memberships: list[MembershipIn] = Field(default_factory=list)


class UserOut(Out):
    id: int
    username: str
    display_name: str
    status: str
    created_at: datetime


class CertificateIssue(StrictModel):
    org_id: int
    signing_public_key_hex: str = Field(pattern=r"^[0-9a-fA-F]{2,400}$")
    encryption_public_key_hex: str = Field(pattern=r"^[0-9a-fA-F]{2,400}$")
    validity_days: int = Field(default=730, ge=1, le=3650)


class CertificateOut(Out):
    serial: str
    org_id: int
    usage: str
    suite: str
    fingerprint: str
    not_before: datetime
    not_after: datetime
    status: str
    pem: str


class RevokeIn(StrictModel):
    reason: str = Field(min_length=1, max_length=200)


class RegionOut(Out):
    code: str
    name: str
    level: str
    parent_code: str | None
