"""The expert pool 专家库 (SPEC E-1): registering experts, CSV import, status changes, penalties, listing.

Personal data is encrypted with the pool key (:mod:`sunbid.experts.sealing`) and never logged or put into an
audit event: audits name the pool code 专家编号 only.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.experts import domain
from sunbid.experts.domain import EXPERT_CODE_RE, Employment, ExpertProfile, ExpertStatus, Penalty, SpecialtyTree
from sunbid.experts.models import (
    Expert,
    ExpertDrawHistory,
    ExpertEmployment,
    ExpertPenalty,
    ExpertSpecialty,
    ExpertStatusEvent,
)
from sunbid.experts.sealing import open_pii, person_digest, seal_pii
from sunbid.identity.domain import Sector, validate_uscc
from sunbid.notifications.domain import normalise_cn_mobile, normalise_email

if TYPE_CHECKING:
    from sunbid.crypto.suite import CryptoSuite
    from sunbid.platform.container import Platform
    from sunbid.platform.uow import UnitOfWork

__all__ = [
    "CSV_COLUMNS",
    "ExpertInput",
    "ImportResult",
    "LineError",
    "PoolKeys",
    "add_penalty",
    "change_status",
    "expert_view",
    "id_check_char",
    "import_csv",
    "list_experts",
    "load_profiles",
    "parse_csv",
    "register_experts",
]

PII_KEY = "expert_pii.key"
CSV_COLUMNS = (
    "code",
    "name",
    "id_number",
    "phone",
    "email",
    "region_code",
    "specialties",
    "employer_uscc",
    "employed_since",
    "past_employments",
    "regulator_sectors",
    "conflict_orgs",
    "conflict_persons",
)
_REQUIRED = ("code", "name", "id_number", "phone", "region_code", "specialties")
_REGION_RE = re.compile(r"[1-9][0-9]{5}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
MAX_IMPORT_ROWS = 200_000


class PoolKeys:
    """The pool key (secret store, never in the database): encrypts personal data, keys the digests."""

    def __init__(self, suite: CryptoSuite, key: bytes) -> None:
        self.suite = suite
        self.key = key
        self.digest_key = suite.digest(b"sunbid/expert-digest/v1\x00" + key)

    @classmethod
    def of(cls, platform: Platform) -> PoolKeys:
        return cls(platform.suite, platform.secrets.get_or_create(PII_KEY, platform.suite.new_key))

    def digest(self, value: str) -> str:
        return person_digest(self.digest_key, value)


def id_check_char(first17: str) -> str:
    """The check character (GB 11643) of a resident identity number whose first 17 characters are digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def valid_id_number(value: str) -> bool:
    """A mainland resident identity number (GB 11643, 18 characters with its check character)."""
    v = value.strip().upper()
    return re.fullmatch(r"[1-9][0-9]{16}[0-9X]", v) is not None and id_check_char(v[:17]) == v[17]


@dataclass(frozen=True, slots=True)
class ExpertInput:
    """One expert to register, validated (personal data included, in memory only)."""

    code: str
    name: str
    id_number: str
    phone: str
    email: str | None
    region_code: str
    specialties: frozenset[str]
    employments: tuple[Employment, ...] = ()
    regulator_sectors: frozenset[str] = frozenset()
    conflict_orgs: frozenset[str] = frozenset()
    conflict_persons: tuple[str, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:  # never print personal data by accident
        return f"ExpertInput(code={self.code!r})"


@dataclass(frozen=True, slots=True)
class LineError:
    """A CSV error at ``line`` (1 = header) and ``column``, with a stable code and both messages."""

    line: int
    column: str
    code: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: experts created and updated, or the errors that stopped it (then nothing is stored)."""

    created: int = 0
    updated: int = 0
    errors: tuple[LineError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


def _split(value: str) -> list[str]:
    return [p.strip() for p in re.split(r"[;；]", value or "") if p.strip()]


def _date(text: str) -> date:
    return date.fromisoformat(text.strip())


def parse_csv(text: str, tree: SpecialtyTree) -> tuple[list[ExpertInput], list[LineError]]:
    """Validate a pool CSV (UTF-8, header :data:`CSV_COLUMNS`); every problem by line and column.

    Lists inside a cell are separated by ``;``: specialties ``A0101;B0102``, past employments
    ``USCC/2015-01-01/2020-12-31``, regulator sectors ``housing;water``, conflict organisations (USCCs) and
    persons (names or identity numbers, stored only as keyed digests).
    """
    errors: list[LineError] = []
    out: list[ExpertInput] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    missing = [c for c in _REQUIRED if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    for c in missing:
        errors.append(LineError(1, c, "expert.csv_missing_column", f"缺少列 {c}", f"column {c} is missing"))
    for c in unknown:
        errors.append(LineError(1, c, "expert.csv_unknown_column", f"未知列 {c}", f"unknown column {c}"))
    if errors:
        return out, errors
    seen_codes: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if len(out) + len(errors) > MAX_IMPORT_ROWS:
            errors.append(LineError(line, "", "expert.csv_too_large", "行数过多", "too many rows"))
            break
        row_errors: list[LineError] = []

        def err(
            column: str, code: str, zh: str, en: str, _line: int = line, _errs: list[LineError] = row_errors
        ) -> None:
            _errs.append(LineError(_line, column, code, zh, en))

        get = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS}
        for c in _REQUIRED:
            if not get[c]:
                err(c, "expert.csv_required", f"{c} 不能为空", f"{c} is required")
        code = get["code"].upper()
        if code and not EXPERT_CODE_RE.fullmatch(code):
            err("code", "expert.csv_bad_code", "专家编号须为 3–32 位大写字母、数字或连字符", "bad expert code")
        elif code in seen_codes:
            err("code", "expert.csv_duplicate", f"专家编号与第 {seen_codes[code]} 行重复", "code repeats a line")
        seen_codes.setdefault(code, line)
        if get["id_number"]:
            ident = get["id_number"].upper()
            if not valid_id_number(ident):
                err("id_number", "expert.csv_bad_id_number", "身份证号码格式或校验位不正确", "bad identity number")
            elif ident in seen_ids:
                err("id_number", "expert.csv_duplicate", f"身份证号码与第 {seen_ids[ident]} 行重复", "repeated")
            seen_ids.setdefault(ident, line)
        phone = normalise_cn_mobile(get["phone"]) if get["phone"] else None
        if get["phone"] and phone is None:
            err("phone", "expert.csv_bad_phone", "手机号码格式不正确", "bad mobile number")
        email = normalise_email(get["email"]) if get["email"] else None
        if get["email"] and email is None:
            err("email", "expert.csv_bad_email", "电子邮箱格式不正确", "bad e-mail address")
        if get["region_code"] and not _REGION_RE.fullmatch(get["region_code"]):
            err("region_code", "expert.csv_bad_region", "行政区划代码须为 6 位数字", "bad region code")
        specialties = _split(get["specialties"])
        for s in specialties:
            if s not in tree:
                err("specialties", "expert.csv_unknown_specialty", f"未知专业代码 {s}", f"unknown specialty {s}")
        employments: list[Employment] = []
        if get["employer_uscc"]:
            try:
                uscc = validate_uscc(get["employer_uscc"])
                since = _date(get["employed_since"]) if get["employed_since"] else date(1970, 1, 1)
                employments.append(Employment(uscc, since))
            except ValidationFailed as exc:
                err("employer_uscc", "expert.csv_bad_uscc", exc.message_zh, exc.message_en)
            except ValueError:
                err("employed_since", "expert.csv_bad_date", "日期须为 YYYY-MM-DD", "dates are YYYY-MM-DD")
        for item in _split(get["past_employments"]):
            parts = item.split("/")
            try:
                if len(parts) != 3:
                    raise ValueError(item)
                start, end = _date(parts[1]), _date(parts[2])
                if end < start:
                    raise ValueError(item)
                employments.append(Employment(validate_uscc(parts[0].strip()), start, end))
            except (ValueError, ValidationFailed):
                err(
                    "past_employments",
                    "expert.csv_bad_employment",
                    f"曾任职单位 {item} 须为 统一社会信用代码/起始日期/结束日期",
                    f"past employment {item} must be USCC/start/end",
                )
        sectors = _split(get["regulator_sectors"])
        for s in sectors:
            if s not in {x.value for x in Sector}:
                err("regulator_sectors", "expert.csv_bad_sector", f"未知行业 {s}", f"unknown sector {s}")
        orgs: list[str] = []
        for o in _split(get["conflict_orgs"]):
            try:
                orgs.append(validate_uscc(o))
            except ValidationFailed:
                err("conflict_orgs", "expert.csv_bad_uscc", f"统一社会信用代码 {o} 不正确", f"bad USCC {o}")
        if row_errors:
            errors.extend(row_errors)
            continue
        out.append(
            ExpertInput(
                code=code,
                name=get["name"],
                id_number=get["id_number"].upper(),
                phone=phone or "",
                email=email,
                region_code=get["region_code"],
                specialties=frozenset(specialties),
                employments=tuple(employments),
                regulator_sectors=frozenset(sectors),
                conflict_orgs=frozenset(orgs),
                conflict_persons=tuple(_split(get["conflict_persons"])),
            )
        )
    return out, errors


def register_experts(uow: UnitOfWork, keys: PoolKeys, experts: Sequence[ExpertInput]) -> ImportResult:
    """Create or update experts by code (an identity number may belong to one code only)."""
    now = uow.now
    s = uow.session
    created = updated = 0
    errors: list[LineError] = []
    for n, item in enumerate(experts, start=2):
        id_digest = keys.digest(item.id_number)
        row = s.scalar(select(Expert).where(Expert.code == item.code))
        other = s.scalar(select(Expert.code).where(Expert.id_digest == id_digest))
        if other is not None and other != item.code:
            errors.append(
                LineError(
                    n,
                    "id_number",
                    "expert.duplicate_person",
                    f"该身份证号码已登记为专家 {other}",
                    f"this identity number is already expert {other}",
                )
            )
            continue
        pii = seal_pii(
            keys.suite,
            keys.key,
            item.code,
            {"name": item.name, "id_number": item.id_number, "phone": item.phone, "email": item.email},
        )
        persons = sorted(keys.digest(p) for p in item.conflict_persons)
        if row is None:
            row = Expert(
                code=item.code,
                pii=pii,
                id_digest=id_digest,
                region_code=item.region_code,
                status=ExpertStatus.ACTIVE.value,
                regulator_sectors=sorted(item.regulator_sectors),
                conflict_orgs=sorted(item.conflict_orgs),
                conflict_persons=persons,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            s.add(
                ExpertStatusEvent(
                    expert_id=row.id, from_status=None, to_status="active", reason="入库", occurred_at=now
                )
            )
            created += 1
        else:
            row.pii, row.id_digest, row.region_code = pii, id_digest, item.region_code
            row.regulator_sectors = sorted(item.regulator_sectors)
            row.conflict_orgs, row.conflict_persons = sorted(item.conflict_orgs), persons
            row.updated_at = now
            for old in s.scalars(select(ExpertSpecialty).where(ExpertSpecialty.expert_id == row.id)):
                s.delete(old)
            for old_e in s.scalars(select(ExpertEmployment).where(ExpertEmployment.expert_id == row.id)):
                s.delete(old_e)
            s.flush()
            updated += 1
        for code in sorted(item.specialties):
            s.add(ExpertSpecialty(expert_id=row.id, code=code))
        for e in item.employments:
            s.add(ExpertEmployment(expert_id=row.id, employer_uscc=e.employer_uscc, start_on=e.start, end_on=e.end))
    if errors:
        return ImportResult(errors=tuple(errors))
    s.flush()
    uow.audit(
        "expert:pool:import",
        subject_type="expert_pool",
        data={"created": created, "updated": updated, "codes": [e.code for e in experts][:1000]},
    )
    return ImportResult(created, updated)


def import_csv(uow: UnitOfWork, keys: PoolKeys, text: str, tree: SpecialtyTree | None = None) -> ImportResult:
    """Import a pool CSV all-or-nothing: with any error every error is returned and the caller must not commit."""
    items, errors = parse_csv(text, tree or domain.load_specialty_tree())
    if errors:
        return ImportResult(errors=tuple(errors))
    return register_experts(uow, keys, items)


def _expert(session: Session, code: str, *, lock: bool = False) -> Expert:
    stmt = select(Expert).where(Expert.code == code.upper())
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound("expert.not_found", f"专家 {code} 不存在", f"expert {code} does not exist")
    return row


def change_status(uow: UnitOfWork, code: str, target: ExpertStatus, reason: str) -> Expert:
    """Suspend 暂停, reinstate 恢复 or remove 清退出库 an expert, following :data:`domain.STATUS_TRANSITIONS`."""
    if not reason.strip() or len(reason) > 2000:
        raise ValidationFailed("expert.reason_required", "须填写 1–2000 字的理由", "a reason of 1-2000 characters")
    row = _expert(uow.session, code, lock=True)
    action = domain.check_status_change(ExpertStatus(row.status), target)
    uow.session.add(
        ExpertStatusEvent(
            expert_id=row.id,
            from_status=row.status,
            to_status=target.value,
            reason=reason.strip(),
            occurred_at=uow.now,
            actor_user_id=uow.ctx.user_id,
        )
    )
    row.status, row.updated_at = target.value, uow.now
    uow.audit(f"expert:pool:{action}", subject_type="expert", subject_id=row.code, data={"to": target.value})
    return row


def add_penalty(uow: UnitOfWork, code: str, start: date, end: date | None, basis: str) -> ExpertPenalty:
    """Record a penalty 处罚 that bars the expert from draws while it lasts."""
    if end is not None and end < start:
        raise ValidationFailed("expert.bad_period", "结束日期早于开始日期", "the end is before the start")
    if not basis.strip():
        raise ValidationFailed("expert.reason_required", "须填写处罚依据", "the basis of the penalty is required")
    row = _expert(uow.session, code)
    pen = ExpertPenalty(expert_id=row.id, start_on=start, end_on=end, basis=basis.strip(), created_at=uow.now)
    uow.session.add(pen)
    uow.audit(
        "expert:pool:penalty",
        subject_type="expert",
        subject_id=row.code,
        data={"start": start.isoformat(), "end": None if end is None else end.isoformat()},
    )
    return pen


def expert_view(session: Session, code: str, keys: PoolKeys | None = None) -> dict[str, Any]:
    """An expert's record without personal data; with ``keys``, the name and a masked phone are included."""
    row = _expert(session, code)
    specs = sorted(session.scalars(select(ExpertSpecialty.code).where(ExpertSpecialty.expert_id == row.id)))
    emps = session.scalars(
        select(ExpertEmployment).where(ExpertEmployment.expert_id == row.id).order_by(ExpertEmployment.start_on)
    )
    events = session.scalars(
        select(ExpertStatusEvent).where(ExpertStatusEvent.expert_id == row.id).order_by(ExpertStatusEvent.id)
    )
    draws = session.scalar(select(ExpertDrawHistory.id).where(ExpertDrawHistory.expert_id == row.id).limit(1))
    out: dict[str, Any] = {
        "code": row.code,
        "status": row.status,
        "region_code": row.region_code,
        "specialties": specs,
        "employments": [
            {"employer_uscc": e.employer_uscc, "from": e.start_on.isoformat(), "to": e.end_on and e.end_on.isoformat()}
            for e in emps
        ],
        "regulator_sectors": row.regulator_sectors,
        "conflict_orgs": row.conflict_orgs,
        "declared_persons": len(row.conflict_persons),
        "status_history": [
            {"from": e.from_status, "to": e.to_status, "reason": e.reason, "at": e.occurred_at.isoformat()}
            for e in events
        ],
        "has_draw_history": draws is not None,
    }
    if keys is not None:
        pii = open_pii(keys.suite, keys.key, row.code, row.pii)
        phone = pii.get("phone") or ""
        out["name"] = pii.get("name")
        out["phone_masked"] = phone[:3] + "****" + phone[-4:] if len(phone) == 11 else None
    return out


def list_experts(
    session: Session, *, specialty: str | None = None, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Experts by code (no personal data), optionally those qualified for ``specialty`` or in ``status``."""
    stmt = select(Expert).order_by(Expert.code).limit(min(limit, 1000)).offset(offset)
    if status:
        stmt = stmt.where(Expert.status == status)
    if specialty:
        sub = select(ExpertSpecialty.expert_id).where(ExpertSpecialty.code.startswith(specialty))
        stmt = stmt.where(Expert.id.in_(sub))
    return [{"code": e.code, "status": e.status, "region_code": e.region_code} for e in session.scalars(stmt)]


def load_profiles(
    session: Session,
    specialties: Iterable[str],
    extra_draw_times: Mapping[str, Sequence[datetime]] | None = None,
    skip_history_of: Collection[int] = (),
) -> tuple[list[ExpertProfile], dict[str, int]]:
    """The draw profiles of every expert holding one of ``specialties`` or a code below it; and code → row id.

    ``draw_times`` come from the draw history (draws whose panel has been unsealed) plus ``extra_draw_times``
    (pool code → times), which the draw service reads in memory from panels that are still sealed. History rows
    of the draws in ``skip_history_of`` (those already counted from their sealed panel) are left out, so a draw
    unsealed meanwhile is not counted twice.
    """
    prefixes = sorted(set(specialties))
    cond = or_(*(ExpertSpecialty.code.startswith(p) for p in prefixes))
    ids = select(ExpertSpecialty.expert_id).where(cond).scalar_subquery()
    rows = {e.id: e for e in session.scalars(select(Expert).where(Expert.id.in_(ids)))}
    if not rows:
        return [], {}
    specs: dict[int, set[str]] = {}
    for eid, code in session.execute(
        select(ExpertSpecialty.expert_id, ExpertSpecialty.code).where(ExpertSpecialty.expert_id.in_(ids))
    ):
        specs.setdefault(eid, set()).add(code)
    emps: dict[int, list[Employment]] = {}
    for e in session.scalars(select(ExpertEmployment).where(ExpertEmployment.expert_id.in_(ids))):
        emps.setdefault(e.expert_id, []).append(Employment(e.employer_uscc, e.start_on, e.end_on))
    pens: dict[int, list[Penalty]] = {}
    for p in session.scalars(select(ExpertPenalty).where(ExpertPenalty.expert_id.in_(ids))):
        pens.setdefault(p.expert_id, []).append(Penalty(p.start_on, p.end_on))
    draws: dict[int, list[datetime]] = {}
    history = select(ExpertDrawHistory.expert_id, ExpertDrawHistory.drawn_at).where(
        ExpertDrawHistory.expert_id.in_(ids)
    )
    if skip_history_of:
        history = history.where(ExpertDrawHistory.draw_id.not_in(sorted(skip_history_of)))
    for eid, at in session.execute(history):
        draws.setdefault(eid, []).append(at)
    if extra_draw_times:
        by_code = {r.code: r.id for r in rows.values()}
        for code, times in extra_draw_times.items():
            if code in by_code:
                draws.setdefault(by_code[code], []).extend(times)
    profiles = [
        ExpertProfile(
            code=r.code,
            specialties=frozenset(specs.get(r.id, ())),
            region_code=r.region_code,
            status=ExpertStatus(r.status),
            employments=tuple(emps.get(r.id, ())),
            conflict_orgs=frozenset(r.conflict_orgs),
            conflict_persons=frozenset(r.conflict_persons),
            regulator_sectors=frozenset(r.regulator_sectors),
            penalties=tuple(pens.get(r.id, ())),
            draw_times=tuple(sorted(draws.get(r.id, ()))),
        )
        for r in rows.values()
    ]
    return profiles, {r.code: r.id for r in rows.values()}
