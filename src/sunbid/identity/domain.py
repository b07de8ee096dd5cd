"""Identity, pure: unified social credit codes, roles, organisation kinds, sectors and the permission check.

Nothing here touches a database or the web. Routes and services declare what they need as
:class:`Permission` data and call :func:`decide` (or :func:`authorize`, which raises) with the caller's
:class:`Principal` and a :class:`ResourceScope` describing what is being touched. Anything not explicitly
allowed is denied.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sunbid.core.errors import Forbidden, Unauthenticated, ValidationFailed
from sunbid.identity.regions import code_contains

__all__ = [
    "ORG_KIND_ROLES",
    "REGISTRATION_AUTHORITIES",
    "USCC_ALPHABET",
    "Decision",
    "Membership",
    "OrgKind",
    "Permission",
    "Principal",
    "Reason",
    "RegistrationAuthority",
    "ResourceScope",
    "Role",
    "Scope",
    "Sector",
    "Uscc",
    "authorize",
    "decide",
    "make_uscc",
    "org_code_check_char",
    "parse_uscc",
    "uscc_check_char",
    "validate_uscc",
]

# ----------------------------------------------------------------------------------------------------------
# Unified social credit code (统一社会信用代码), GB 32100-2015
# ----------------------------------------------------------------------------------------------------------

USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
_USCC_VALUE: Final = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_CODE_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714-1997


@dataclass(frozen=True, slots=True)
class RegistrationAuthority:
    """A registration authority (登记管理部门, 1st character) and the organisation types it issues (2nd)."""

    code: str
    name_zh: str
    name_en: str
    org_types: Mapping[str, tuple[str, str]]  # type code → (Chinese, English)


# (authority, its Chinese and English names, organisation type, its Chinese and English names)
_AUTHORITY_ROWS: Final = (
    ("1", "机构编制", "institutional establishment", "1", "机关", "government body"),
    ("1", "", "", "2", "事业单位", "public institution"),
    ("1", "", "", "3", "中央编办直接管理机构编制的群众团体", "mass organisation"),
    ("1", "", "", "9", "其他", "other"),
    ("2", "外交", "foreign affairs", "1", "外国常驻新闻机构", "resident foreign news agency"),
    ("2", "", "", "9", "其他", "other"),
    ("3", "司法行政", "justice administration", "1", "律师执业机构", "law firm"),
    ("3", "", "", "2", "公证处", "notary office"),
    ("3", "", "", "3", "基层法律服务所", "grassroots legal service office"),
    ("3", "", "", "4", "司法鉴定机构", "forensic expertise institution"),
    ("3", "", "", "5", "仲裁委员会", "arbitration commission"),
    ("3", "", "", "9", "其他", "other"),
    ("4", "文化", "culture", "1", "外国在华文化中心", "foreign cultural centre in China"),
    ("4", "", "", "9", "其他", "other"),
    ("5", "民政", "civil affairs", "1", "社会团体", "social organisation"),
    ("5", "", "", "2", "民办非企业单位", "private non-enterprise unit"),
    ("5", "", "", "3", "基金会", "foundation"),
    ("5", "", "", "9", "其他", "other"),
    ("6", "旅游", "tourism", "1", "外国旅游部门常驻代表机构", "foreign tourism office"),
    ("6", "", "", "2", "港澳台地区旅游部门常驻内地（大陆）代表机构", "HK/Macao/Taiwan tourism office"),
    ("6", "", "", "9", "其他", "other"),
    ("7", "宗教", "religious affairs", "1", "宗教活动场所", "place of religious activity"),
    ("7", "", "", "2", "宗教院校", "religious school"),
    ("7", "", "", "9", "其他", "other"),
    ("8", "工会", "trade unions", "1", "基层工会", "grassroots trade union"),
    ("8", "", "", "9", "其他", "other"),
    ("9", "工商", "market regulation (industry and commerce)", "1", "企业", "enterprise"),
    ("9", "", "", "2", "个体工商户", "individual business"),
    ("9", "", "", "3", "农民专业合作社", "farmers' cooperative"),
    ("A", "中央军委改革和编制办公室", "CMC reform office", "1", "军队事业单位", "military institution"),
    ("A", "", "", "9", "其他", "other"),
    ("N", "农业", "agriculture", "1", "组级集体经济组织", "group-level collective economic organisation"),
    ("N", "", "", "2", "村级集体经济组织", "village-level collective economic organisation"),
    ("N", "", "", "3", "乡镇级集体经济组织", "township-level collective economic organisation"),
    ("N", "", "", "9", "其他", "other"),
    ("Y", "其他", "other", "1", "其他", "other"),
)


def _authorities() -> dict[str, RegistrationAuthority]:
    names: dict[str, tuple[str, str]] = {}
    types: dict[str, dict[str, tuple[str, str]]] = {}
    for code, name_zh, name_en, org_type, type_zh, type_en in _AUTHORITY_ROWS:
        if name_zh:
            names[code] = (name_zh, name_en)
        types.setdefault(code, {})[org_type] = (type_zh, type_en)
    return {code: RegistrationAuthority(code, *names[code], types[code]) for code in names}


#: GB 32100-2015 tables 1 and 2, as extended since 2015 (authorities 2, 3, 4, 6, 7, 8, A and N).
REGISTRATION_AUTHORITIES: Final[Mapping[str, RegistrationAuthority]] = _authorities()


@dataclass(frozen=True, slots=True)
class Uscc:
    """A checked unified social credit code and what its parts say."""

    code: str

    @property
    def authority(self) -> RegistrationAuthority:
        """The registration authority (1st character)."""
        return REGISTRATION_AUTHORITIES[self.code[0]]

    @property
    def org_type_zh(self) -> str:
        """The organisation type (2nd character), in Chinese."""
        return self.authority.org_types[self.code[1]][0]

    @property
    def org_type_en(self) -> str:
        """The organisation type (2nd character), in English."""
        return self.authority.org_types[self.code[1]][1]

    @property
    def region_code(self) -> str:
        """The division code of the registering office (3rd–8th), as it was when the code was issued."""
        return self.code[2:8]

    @property
    def org_code(self) -> str:
        """The organisation code (主体标识码, 9th–17th) in its usual printed form ``XXXXXXXX-X``."""
        return f"{self.code[8:16]}-{self.code[16]}"


def _uscc_error(reason: str, zh: str, en: str, **details: object) -> ValidationFailed:
    return ValidationFailed(
        "identity.uscc_invalid",
        f"统一社会信用代码无效：{zh}",
        f"Invalid unified social credit code: {en}",
        details={"reason": reason, **details},
    )


def _check_characters(text: str) -> None:
    for position, char in enumerate(text, start=1):
        if char not in _USCC_VALUE:
            raise _uscc_error(
                "character",
                f"第 {position} 位字符“{char}”不允许（只能使用数字和除 I、O、Z、S、V 以外的大写字母）",
                f"character {position} ({char!r}) is not allowed (digits and capitals except I, O, Z, S, V)",
                position=position,
                character=char,
            )


def _gb11714_value(char: str) -> int:
    return int(char) if char.isdigit() else ord(char) - ord("A") + 10


def org_code_check_char(body: str) -> str:
    """The GB 11714 check character for an 8-character organisation code body (weights 3,7,9,10,5,8,4,2)."""
    if len(body) != 8 or not all(c in _USCC_VALUE for c in body):
        raise _uscc_error(
            "org_code_body",
            "组织机构代码本体应为 8 位数字或大写字母",
            "an organisation code body is 8 digits or capital letters",
            body=body,
        )
    remainder = 11 - sum(_gb11714_value(c) * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def uscc_check_char(first17: str) -> str:
    """The 18th (check) character for the first 17 characters of a code (GB 32100-2015, mod 31)."""
    if len(first17) != 17:
        raise _uscc_error(
            "length",
            f"校验位计算需要 17 位，实为 {len(first17)} 位",
            f"computing the check character needs 17 characters, got {len(first17)}",
            length=len(first17),
            expected=17,
        )
    _check_characters(first17)
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def parse_uscc(code: str) -> Uscc:
    """Normalise (NFKC, strip, upper-case) and check a code; raise ``identity.uscc_invalid`` naming the fault.

    Checks, in order: length 18; alphabet; registration authority and organisation type from the standard's
    tables; the division code is 6 digits (not checked against today's table: a code keeps the division of
    its first registration for life, and central bodies use ``100000``); the organisation code's own
    GB 11714 check character (17th); the GB 32100 check character (18th).
    """
    if not isinstance(code, str):
        raise _uscc_error("not_text", "应为文本", "expected text", value=repr(code))
    text = unicodedata.normalize("NFKC", code).strip().upper()
    if len(text) != 18:
        raise _uscc_error(
            "length",
            f"应为 18 位，实为 {len(text)} 位",
            f"it must be 18 characters long, got {len(text)}",
            length=len(text),
            expected=18,
        )
    _check_characters(text)
    authority = REGISTRATION_AUTHORITIES.get(text[0])
    if authority is None:
        raise _uscc_error(
            "authority",
            f"第 1 位登记管理部门代码“{text[0]}”不存在",
            f"registration authority code {text[0]!r} (character 1) does not exist",
            character=text[0],
        )
    if text[1] not in authority.org_types:
        raise _uscc_error(
            "org_type",
            f"第 2 位机构类别代码“{text[1]}”不属于登记管理部门“{authority.name_zh}”",
            f"organisation type {text[1]!r} (character 2) does not exist for authority {authority.name_en}",
            character=text[1],
            authority=authority.code,
        )
    if not text[2:8].isdigit():
        raise _uscc_error(
            "region_code",
            f"第 3–8 位行政区划码“{text[2:8]}”应为 6 位数字",
            f"characters 3-8 ({text[2:8]!r}) must be a 6-digit division code",
            value=text[2:8],
        )
    if org_code_check_char(text[8:16]) != text[16]:
        raise _uscc_error(
            "org_code_check",
            "第 9–17 位组织机构代码的校验位（第 17 位）不正确",
            "the organisation code's check character (character 17) is wrong",
        )
    if uscc_check_char(text[:17]) != text[17]:
        raise _uscc_error(
            "check_char",
            "校验位（第 18 位）不正确，请核对是否有输错的字符",
            "the check character (character 18) is wrong; look for a mistyped character",
        )
    return Uscc(text)


def validate_uscc(code: str) -> str:
    """The normalised code if it is a valid unified social credit code; else ``identity.uscc_invalid``."""
    return parse_uscc(code).code


def make_uscc(serial: int, *, region_code: str = "110000", authority: str = "9", org_type: str = "1") -> str:
    """A valid code built deterministically from ``serial`` (0 ≤ serial < 10⁸), for tests, seeds and demos.

    The organisation code body is ``serial`` zero-padded to 8 digits; both check characters are computed.
    """
    if not 0 <= serial < 10**8:
        raise ValueError("serial must be in 0..99,999,999")
    body = f"{serial:08d}"
    first17 = f"{authority}{org_type}{region_code}{body}{org_code_check_char(body)}"
    return validate_uscc(first17 + uscc_check_char(first17))


# ----------------------------------------------------------------------------------------------------------
# Roles, organisation kinds and sectors
# ----------------------------------------------------------------------------------------------------------


class Role(StrEnum):
    """What a person does for an organisation (SPEC §0)."""

    TENDERER = "tenderer"
    AGENCY = "agency"
    BIDDER = "bidder"
    EXPERT = "expert"
    OPERATOR = "operator"
    REGULATOR = "regulator"
    CUSTODIAN = "custodian"
    ADMIN = "admin"
    PUBLIC = "public"

    @property
    def label_zh(self) -> str:
        """Chinese name shown on pages."""
        return _ROLE_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English name."""
        return _ROLE_LABELS[self][1]

    @classmethod
    def parse(cls, value: str) -> Role:
        """The role named ``value``; an unknown name → ``identity.role_unknown``."""
        try:
            return cls(value.strip().lower())
        except (ValueError, AttributeError):
            raise ValidationFailed(
                "identity.role_unknown",
                f"未知的角色：{value}",
                f"Unknown role: {value}",
                details={"role": str(value)},
            ) from None


_ROLE_LABELS: Final[Mapping[Role, tuple[str, str]]] = {
    Role.TENDERER: ("招标人/采购人", "tenderer / purchaser"),
    Role.AGENCY: ("招标代理机构", "tendering agency"),
    Role.BIDDER: ("投标人/供应商", "bidder / supplier"),
    Role.EXPERT: ("评标专家", "evaluation expert"),
    Role.OPERATOR: ("交易中心工作人员", "centre operator"),
    Role.REGULATOR: ("行政监督部门", "regulator"),
    Role.CUSTODIAN: ("开标密钥保管人", "opening key custodian"),
    Role.ADMIN: ("系统管理员", "administrator"),
    Role.PUBLIC: ("社会公众", "public"),
}


class OrgKind(StrEnum):
    """What an organisation is on the platform. An organisation may be of more than one kind."""

    CENTRE = "centre"
    TENDERER = "tenderer"
    AGENCY = "agency"
    BIDDER = "bidder"
    REGULATOR = "regulator"
    NOTARY = "notary"

    @property
    def label_zh(self) -> str:
        """Chinese name shown on pages."""
        return _ORG_KIND_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English name."""
        return _ORG_KIND_LABELS[self][1]


_ORG_KIND_LABELS: Final[Mapping[OrgKind, tuple[str, str]]] = {
    OrgKind.CENTRE: ("公共资源交易中心", "trading centre"),
    OrgKind.TENDERER: ("招标人/采购人", "tenderer / purchaser"),
    OrgKind.AGENCY: ("招标代理机构", "tendering agency"),
    OrgKind.BIDDER: ("投标人/供应商", "bidder / supplier"),
    OrgKind.REGULATOR: ("行政监督部门", "regulator"),
    OrgKind.NOTARY: ("公证机构", "notary office"),
}

#: Which roles a member of each kind of organisation may hold. Experts are members of the centre whose pool
#: drew them; custodians sit at the centre, a regulator or a notary (SPEC §0). Every kind has its own admins.
ORG_KIND_ROLES: Final[Mapping[OrgKind, frozenset[Role]]] = {
    OrgKind.CENTRE: frozenset({Role.OPERATOR, Role.EXPERT, Role.CUSTODIAN, Role.ADMIN}),
    OrgKind.TENDERER: frozenset({Role.TENDERER, Role.ADMIN}),
    OrgKind.AGENCY: frozenset({Role.AGENCY, Role.ADMIN}),
    OrgKind.BIDDER: frozenset({Role.BIDDER, Role.ADMIN}),
    OrgKind.REGULATOR: frozenset({Role.REGULATOR, Role.CUSTODIAN, Role.ADMIN}),
    OrgKind.NOTARY: frozenset({Role.CUSTODIAN, Role.ADMIN}),
}


class Sector(StrEnum):
    """Trading sectors (what a project is) and the regulators' sectors (who supervises it)."""

    ENGINEERING = "engineering"
    PROCUREMENT = "procurement"
    LAND = "land"
    PROPERTY = "property"
    HOUSING = "housing"
    TRANSPORT = "transport"
    WATER = "water"
    FINANCE = "finance"
    DEVELOPMENT = "development"

    @property
    def label_zh(self) -> str:
        """Chinese name shown on pages."""
        return _SECTOR_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English name."""
        return _SECTOR_LABELS[self][1]

    @property
    def is_trading(self) -> bool:
        """Whether this is a trading sector (工程建设/政府采购/土地矿业权/产权交易), not a regulator's."""
        return self in _TRADING_SECTORS


_SECTOR_LABELS: Final[Mapping[Sector, tuple[str, str]]] = {
    Sector.ENGINEERING: ("工程建设", "engineering construction"),
    Sector.PROCUREMENT: ("政府采购", "government procurement"),
    Sector.LAND: ("土地矿业权", "land and mining rights"),
    Sector.PROPERTY: ("产权交易", "property rights"),
    Sector.HOUSING: ("住房和城乡建设", "housing and urban-rural development"),
    Sector.TRANSPORT: ("交通运输", "transport"),
    Sector.WATER: ("水利", "water resources"),
    Sector.FINANCE: ("财政", "finance"),
    Sector.DEVELOPMENT: ("发展改革", "development and reform"),
}
_TRADING_SECTORS: Final = frozenset({Sector.ENGINEERING, Sector.PROCUREMENT, Sector.LAND, Sector.PROPERTY})


# ----------------------------------------------------------------------------------------------------------
# Permissions
# ----------------------------------------------------------------------------------------------------------


class Scope(StrEnum):
    """Which resources a permitted role reaches.

    - ``public``: anyone, signed in or not; roles are not consulted.
    - ``any_authenticated``: any signed-in person holding one of the roles.
    - ``own_user``: the person's own things (``resource.user_id``).
    - ``own_org``: things of the member's organisation (``resource.org_id``).
    - ``project_party``: things of a project the member's organisation takes part in (``resource.org_id`` or
      ``resource.party_org_ids``: tenderer, agency, hosting centre, ... as the caller lists them).
    - ``region_sector``: for regulators: the resource's region is the member's region or inside it, and the
      two share a sector.

    Except for ``public``, ``any_authenticated`` and ``own_user``, a membership limited to some projects
    (``project_ids``) reaches only resources of those projects, and an expert's membership must name its
    projects to reach any project's resources.
    """

    PUBLIC = "public"
    ANY_AUTHENTICATED = "any_authenticated"
    OWN_USER = "own_user"
    OWN_ORG = "own_org"
    PROJECT_PARTY = "project_party"
    REGION_SECTOR = "region_sector"


@dataclass(frozen=True, slots=True)
class Permission:
    """An action, declared as data: its name, the roles that may do it and the scope rule that limits them."""

    name: str
    roles: frozenset[Role]
    scope: Scope
    description_zh: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a permission needs a name")
        if not isinstance(self.roles, frozenset):
            raise TypeError(f"permission {self.name}: roles must be a frozenset")
        if self.scope is not Scope.PUBLIC and not self.roles:
            raise ValueError(f"permission {self.name}: no role may use it (declare roles or make it public)")


@dataclass(frozen=True, slots=True)
class Membership:
    """One role a person holds for one organisation, optionally limited to projects and to a time window.

    ``project_ids=None`` means all of the organisation's projects (except for experts, see :class:`Scope`).
    ``region_code`` and ``sectors`` matter for regulators. ``valid_from``/``valid_until`` (aware datetimes,
    half-open) bound the membership in time, e.g. an expert during one evaluation.
    """

    role: Role
    org_id: str
    region_code: str | None = None
    sectors: frozenset[Sector] = frozenset()
    project_ids: frozenset[str] | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def is_active(self, now: datetime | None) -> bool:
        """Whether the membership holds at ``now``; with a window, never if ``now`` is unknown."""
        if self.valid_from is None and self.valid_until is None:
            return True
        if now is None:
            return False
        if self.valid_from is not None and now < self.valid_from:
            return False
        return self.valid_until is None or now < self.valid_until


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in person: user, the organisation the session acts for, and the memberships it carries."""

    user_id: str
    org_id: str | None
    memberships: frozenset[Membership] = frozenset()


@dataclass(frozen=True, slots=True)
class ResourceScope:
    """What is being touched, as far as permissions care. Leave unknown fields empty: empty never matches."""

    org_id: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    party_org_ids: frozenset[str] = frozenset()
    region_code: str | None = None
    sectors: frozenset[Sector] = frozenset()


class Reason(StrEnum):
    """Why a decision went the way it did (``Decision.reason_code``)."""

    PUBLIC = "identity.allowed_public"
    GRANTED = "identity.allowed"
    UNAUTHENTICATED = "identity.unauthenticated"
    ROLE_NOT_PERMITTED = "identity.role_not_permitted"
    MEMBERSHIP_INACTIVE = "identity.membership_inactive"
    OUT_OF_SCOPE = "identity.out_of_scope"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer of :func:`decide`; truthy when allowed. ``membership`` is the one that granted it."""

    allowed: bool
    reason_code: str
    membership: Membership | None = None

    def __bool__(self) -> bool:
        return self.allowed


def _project_allowed(m: Membership, r: ResourceScope) -> bool:
    if m.project_ids is None:
        return r.project_id is None or m.role is not Role.EXPERT
    return r.project_id is not None and r.project_id in m.project_ids


def _in_scope(principal: Principal, m: Membership, scope: Scope, r: ResourceScope) -> bool:
    if scope is Scope.ANY_AUTHENTICATED:
        return True
    if scope is Scope.OWN_USER:
        return r.user_id is not None and r.user_id == principal.user_id
    if scope is Scope.OWN_ORG:
        return r.org_id is not None and r.org_id == m.org_id and _project_allowed(m, r)
    if scope is Scope.PROJECT_PARTY:
        is_party = m.org_id == r.org_id or m.org_id in r.party_org_ids
        return r.project_id is not None and is_party and _project_allowed(m, r)
    if scope is Scope.REGION_SECTOR:
        return (
            m.region_code is not None
            and r.region_code is not None
            and code_contains(m.region_code, r.region_code)
            and not m.sectors.isdisjoint(r.sectors)
            and _project_allowed(m, r)
        )
    return False  # a scope added without a rule here grants nothing


def decide(
    principal: Principal | None,
    permission: Permission,
    resource: ResourceScope | None = None,
    *,
    now: datetime | None = None,
) -> Decision:
    """Whether ``principal`` may do ``permission`` on ``resource``. Deny unless one membership allows it.

    A membership allows it when its role is among the permission's roles, it is active at ``now`` and the
    resource is inside the permission's scope for that membership. ``principal=None`` is an anonymous visitor.
    """
    if permission.scope is Scope.PUBLIC:
        return Decision(True, Reason.PUBLIC)
    if principal is None:
        return Decision(False, Reason.UNAUTHENTICATED)
    target = resource if resource is not None else ResourceScope()
    role_matched = False
    active_matched = False
    for membership in sorted(principal.memberships, key=_membership_order):
        if membership.role not in permission.roles:
            continue
        role_matched = True
        if not membership.is_active(now):
            continue
        active_matched = True
        if _in_scope(principal, membership, permission.scope, target):
            return Decision(True, Reason.GRANTED, membership)
    if active_matched:
        return Decision(False, Reason.OUT_OF_SCOPE)
    if role_matched:
        return Decision(False, Reason.MEMBERSHIP_INACTIVE)
    return Decision(False, Reason.ROLE_NOT_PERMITTED)


def _membership_order(m: Membership) -> tuple[str, str, str]:
    # Deterministic choice of the granting membership, whatever the set's iteration order.
    return (str(m.role), m.org_id, m.region_code or "")


def authorize(
    principal: Principal | None,
    permission: Permission,
    resource: ResourceScope | None = None,
    *,
    now: datetime | None = None,
) -> Decision:
    """Like :func:`decide`, but raise ``identity.unauthenticated`` (401) or ``identity.forbidden`` (403)."""
    decision = decide(principal, permission, resource, now=now)
    if decision.allowed:
        return decision
    details = {"permission": permission.name, "reason": decision.reason_code}
    if decision.reason_code == Reason.UNAUTHENTICATED:
        raise Unauthenticated("identity.unauthenticated", "请先登录", "Please sign in first", details=details)
    raise Forbidden(
        "identity.forbidden",
        f"无权执行此操作（{permission.description_zh or permission.name}）",
        f"You are not allowed to do this ({permission.name})",
        details=details,
    )
