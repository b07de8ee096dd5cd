"""The evaluation report's content 评标报告内容 (SPEC E-5) as checked data — pure.

:func:`build_report` checks and assembles the content: project and section, the method and its parameters, the
committee (group leader 组长 first), the opening record summary, every expert's item scores, the price evaluation
(benchmark B, drawn K), totals and ranking, at most 3 ranked candidates, the score-deviation interventions with the
experts' written reasons, the corrections of the facts objective items are computed from (客观评分数据核验: declared
→ verified, with the reason), the rejected bids with reasons, and the date. :mod:`sunbid.evaluation.report` sets it as
a PDF; :meth:`EvaluationReport.to_dict` is the canonical content that is hashed and attached to that PDF.

A project of several sections 标段 has one report: :func:`merge_sections` joins the sections' reports (each
built and checked by :func:`build_report`) into one whose chapters are the sections, signed once by the committee.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal

from sunbid.core.clock import ensure_utc
from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.jsonread import JsonObject, field_error
from sunbid.evaluation.methods import EvaluationMethod, dec_text
from sunbid.evaluation.price import PriceResult
from sunbid.evaluation.scoring import Evaluation, ExpertScore, Intervention

__all__ = [
    "ATTACHMENT_NAME",
    "FORMAT",
    "INFO_FORMAT",
    "KEYWORD_PREFIX",
    "MAX_CANDIDATES",
    "MAX_NAME",
    "MAX_REASON",
    "CommitteeMember",
    "DeviationNote",
    "EvaluationReport",
    "FactCorrection",
    "OpenedBid",
    "ReportInfo",
    "build_report",
    "canonical_json",
    "content_sha256",
    "fact_label",
    "merge_sections",
    "parse_report_info",
]

FORMAT: Final = "sunbid.evaluation-report/1"
ATTACHMENT_NAME: Final = "evaluation-report.json"
"""The name of the attached content in the PDF."""
KEYWORD_PREFIX: Final = "content-sha256="
MAX_CANDIDATES: Final = 3
MAX_REASON: Final = 1000
"""Characters of a written reason (a table cell must fit on one page)."""
MAX_NAME: Final = 200
MAX_FACT: Final = 2000
"""Characters of a fact (a manifest's ``extra`` value may have as many)."""


def _bad(code: str, zh: str, en: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(code, zh, en, details=details)


@dataclass(frozen=True, slots=True)
class CommitteeMember:
    """A committee member as the report names them; ``certificate_fingerprint`` (hex suite hash of the DER
    signing certificate) binds the member to the certificate that must sign."""

    id: str
    name: str
    role: Literal["expert", "representative"]
    leader: bool = False
    employer: str = ""
    certificate_fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "leader": self.leader,
            "employer": self.employer,
            "certificate_fingerprint": self.certificate_fingerprint,
        }


@dataclass(frozen=True, slots=True)
class OpenedBid:
    """One line of the opening record 开标记录: the bidder and the quoted price read out at the opening."""

    bidder: str
    price: Decimal
    remark: str = ""


@dataclass(frozen=True, slots=True)
class DeviationNote:
    """An E-4 intervention and the expert's written reason 书面说明."""

    intervention: Intervention
    reason: str


_FIXED_FACT_LABELS: Final = {
    "duration_days": ("工期（日历天）", "duration (calendar days)"),
    "quality": ("质量标准", "quality"),
}


def fact_label(field: str) -> tuple[str, str]:
    """How a fact field is named to a person (Chinese, English): ``extra.<key>`` by its key."""
    if field in _FIXED_FACT_LABELS:
        return _FIXED_FACT_LABELS[field]
    key = field.removeprefix("extra.")
    return key, key


@dataclass(frozen=True, slots=True)
class FactCorrection:
    """SPEC E-3: the group leader's correction of a fact an objective item is computed from (客观评分数据核验).

    ``declared`` is what the bid declared at the opening, ``value`` the verified value (None: not provided);
    ``member`` is the committee member's id.
    """

    bidder: str
    field: str
    declared: str | None
    value: str | None
    reason: str
    member: str
    corrected_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "bidder": self.bidder,
            "field": self.field,
            "declared": self.declared,
            "value": self.value,
            "reason": self.reason,
            "member": self.member,
            "corrected_at": ensure_utc(self.corrected_at).isoformat(),
        }


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """The checked content of one evaluation report; build it with :func:`build_report`."""

    project_code: str
    project_name: str
    section_code: str
    section_name: str
    tenderer: str
    method: EvaluationMethod
    prices: PriceResult
    evaluation: Evaluation
    scores: tuple[ExpertScore, ...]
    committee: tuple[CommitteeMember, ...]
    opening: tuple[OpenedBid, ...]
    bidder_names: Mapping[str, str]
    deviations: tuple[DeviationNote, ...]
    issued_at: datetime
    opened_at: datetime | None = None
    conclusion: str = ""
    fact_corrections: tuple[FactCorrection, ...] = ()
    sections: tuple[EvaluationReport, ...] = ()
    """The chapters of a multi-section report (:func:`merge_sections`), one per section; empty for one section."""

    @property
    def chapters(self) -> tuple[EvaluationReport, ...]:
        """The sections' reports in order: the report itself when it covers a single section."""
        return self.sections or (self,)

    @property
    def signing_order(self) -> tuple[CommitteeMember, ...]:
        """Who signs, in order: the group leader first, then the other members as listed."""
        leader = [m for m in self.committee if m.leader]
        return (*leader, *(m for m in self.committee if not m.leader))

    @property
    def candidates(self) -> tuple[str, ...]:
        """The ranked candidates (≤ 3, best first) — what the lifecycle's publicity step 公示 publishes; of a
        multi-section report, every section's candidates in section order."""
        if self.sections:
            return tuple(b for c in self.sections for b in c.evaluation.candidates)
        return self.evaluation.candidates

    def name(self, bidder: str) -> str:
        return self.bidder_names.get(bidder, bidder)

    def member_name(self, member_id: str) -> str:
        return next((m.name for m in self.committee if m.id == member_id), member_id)

    def publicity(self) -> list[dict[str, Any]]:
        """The candidates as the publicity step needs them: section, rank, bidder, name, quoted price, total
        (positions count within each section)."""
        if self.sections:
            return [x for c in self.sections for x in c.publicity()]
        out = []
        for position, bidder in enumerate(self.candidates, start=1):
            row = self.evaluation.row(bidder)
            out.append(
                {
                    "section": self.section_code,
                    "position": position,
                    "rank": row.rank,
                    "bidder": bidder,
                    "name": self.name(bidder),
                    "price": dec_text(row.price),
                    "evaluated_price": dec_text(row.evaluated_price),
                    "total": None if row.total is None else dec_text(row.total),
                }
            )
        return out

    def _body(self) -> dict[str, Any]:
        """What one section's evaluation says: opening, prices, scores, ranking, candidates, interventions."""
        return {
            "opening": [
                {"bidder": b.bidder, "name": self.name(b.bidder), "price": dec_text(b.price), "remark": b.remark}
                for b in self.opening
            ],
            "prices": self.prices.to_dict(),
            "scores": [
                {"expert": s.expert, "bidder": s.bidder, "item": s.item, "score": dec_text(s.score)}
                for s in sorted(self.scores, key=lambda s: (s.bidder, s.item, s.expert))
            ],
            "evaluation": self.evaluation.to_dict(),
            "candidates": self.publicity(),
            "deviations": [{**d.intervention.to_dict(), "reason": d.reason} for d in self.deviations],
            "fact_corrections": [c.to_dict() for c in self.fact_corrections],
        }

    def _chapter_dict(self) -> dict[str, Any]:
        return {
            "section_code": self.section_code,
            "section_name": self.section_name,
            "max_price": None if self.prices.max_price is None else dec_text(self.prices.max_price),
            **self._body(),
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole content, JSON-ready (decimals as strings): what is hashed and attached to the PDF. A
        multi-section report has the sections' parts under ``sections`` (one chapter each)."""
        project: dict[str, Any] = {"code": self.project_code, "name": self.project_name, "tenderer": self.tenderer}
        if not self.sections:
            project |= {"section_code": self.section_code, "section_name": self.section_name}
        head = {
            "format": FORMAT,
            "project": project,
            "issued_at": ensure_utc(self.issued_at).isoformat(),
            "opened_at": None if self.opened_at is None else ensure_utc(self.opened_at).isoformat(),
            "method": self.method.to_dict(),
            "committee": [m.to_dict() for m in self.committee],
            "signing_order": [m.id for m in self.signing_order],
        }
        if self.sections:
            body = {"sections": [c._chapter_dict() for c in self.sections], "candidates": self.publicity()}
        else:
            body = self._body()
        return {**head, **body, "conclusion": self.conclusion}

    @property
    def content_sha256(self) -> str:
        """SHA-256 (hex) of :func:`canonical_json` of the content — printed in every footer."""
        return content_sha256(canonical_json(self.to_dict()))


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes that are hashed and attached."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_length(value: str, limit: int, what_zh: str, what_en: str) -> None:
    if len(value) > limit:
        raise _bad(
            "report.text_too_long",
            f"{what_zh}不得超过 {limit} 个字符",
            f"{what_en} may not exceed {limit} characters",
            limit=limit,
        )


def _check_committee(committee: Sequence[CommitteeMember]) -> None:
    if not committee:
        raise _bad("report.no_committee", "评标报告须列明评标委员会成员", "the report needs the committee")
    ids = [m.id for m in committee]
    if len(set(ids)) != len(ids):
        raise _bad("report.duplicate_member", "评标委员会成员重复", "a committee member is listed twice")
    leaders = [m for m in committee if m.leader]
    if len(leaders) != 1:
        raise _bad(
            "report.leader_required",
            f"评标委员会须有且仅有一名组长，现为 {len(leaders)} 名",
            f"the committee needs exactly one group leader; it has {len(leaders)}",
        )
    for m in committee:
        if not m.name.strip():
            raise _bad("report.member_name", f"成员 {m.id} 缺少姓名", f"member {m.id} has no name", member=m.id)
        _check_length(m.name, 64, "成员姓名", "a member's name")
        _check_length(m.employer, MAX_NAME, "工作单位", "an employer")
        fp = m.certificate_fingerprint
        if fp and (len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp)):
            raise _bad(
                "report.bad_fingerprint",
                f"成员 {m.id} 的证书指纹须为 64 位小写十六进制",
                f"the certificate fingerprint of {m.id} must be 64 lower-case hex digits",
                member=m.id,
            )


def build_report(
    *,
    project_code: str,
    project_name: str,
    section_code: str,
    section_name: str,
    tenderer: str,
    method: EvaluationMethod,
    prices: PriceResult,
    evaluation: Evaluation,
    scores: Sequence[ExpertScore],
    committee: Sequence[CommitteeMember],
    opening: Sequence[OpenedBid],
    issued_at: datetime,
    bidder_names: Mapping[str, str] | None = None,
    deviations: Sequence[DeviationNote] = (),
    opened_at: datetime | None = None,
    conclusion: str = "",
    fact_corrections: Sequence[FactCorrection] = (),
) -> EvaluationReport:
    """Check that the parts belong together and return the report's content.

    Refused (``ValidationFailed``): a method/result mismatch, no or two group leaders, an expert score or a
    deviation by someone not on the committee, a deviation without a written reason, a bid evaluated or
    rejected that is not in the opening record, more than 3 candidates, a project without code or name, a
    fact correction of a field no objective item reads, of a bid not opened, by a non-member or without a reason.
    """
    if not project_code.strip() or not project_name.strip():
        raise _bad(
            "report.project_required", "评标报告须有项目编号和名称", "the report needs the project's code and name"
        )
    for value, zh, en in (
        (project_code, "项目编号", "the project code"),
        (project_name, "项目名称", "the project name"),
        (section_code, "标段编号", "the section code"),
        (section_name, "标段名称", "the section name"),
        (tenderer, "招标人名称", "the tenderer's name"),
        *((b.remark, "开标记录备注", "an opening remark") for b in opening),
        *((n, "投标人名称", "a bidder's name") for n in (bidder_names or {}).values()),
    ):
        _check_length(value, MAX_NAME, zh, en)
    _check_length(conclusion, 4 * MAX_REASON, "评标结论", "the conclusion")
    if prices.method_id != method.id or evaluation.method_id != method.id:
        raise _bad("report.method_mismatch", "价格计算、评审结果与评标办法不一致", "the results are for another method")
    _check_committee(committee)
    members = {m.id for m in committee}
    opened = {b.bidder for b in opening}
    if len(opened) != len(opening):
        raise _bad("report.duplicate_bid", "开标记录中投标人重复", "a bidder appears twice in the opening record")
    evaluated = {r.bidder for r in evaluation.rows} | {r.bidder for r in prices.rejected}
    if not evaluated <= opened:
        missing = "、".join(sorted(evaluated - opened))
        raise _bad(
            "report.bid_not_opened",
            f"投标人 {missing} 不在开标记录中",
            f"{missing} is not in the opening record",
            bidders=sorted(evaluated - opened),
        )
    strangers = sorted({s.expert for s in scores} - members)
    if strangers:
        raise _bad(
            "report.unknown_expert",
            f"{'、'.join(strangers)} 不是评标委员会成员",
            f"{', '.join(strangers)} is not on the committee",
            experts=strangers,
        )
    for d in deviations:
        if d.intervention.expert not in members:
            raise _bad(
                "report.unknown_expert",
                f"{d.intervention.expert} 不是评标委员会成员",
                f"{d.intervention.expert} is not on the committee",
            )
        _check_length(d.reason, MAX_REASON, "书面理由", "a written reason")
        if not d.reason.strip():
            raise _bad(
                "report.reason_required",
                f"专家 {d.intervention.expert} 对 {d.intervention.bidder} 的 {d.intervention.item} "
                "偏离评分缺少书面理由",
                f"the deviating score of {d.intervention.expert} has no written reason",
            )
    _check_corrections(fact_corrections, method, members, opened)
    if len(evaluation.candidates) > MAX_CANDIDATES:
        raise _bad(
            "report.too_many_candidates",
            f"中标候选人不得超过 {MAX_CANDIDATES} 名",
            f"at most {MAX_CANDIDATES} candidates",
        )
    return EvaluationReport(
        project_code=project_code,
        project_name=project_name,
        section_code=section_code,
        section_name=section_name,
        tenderer=tenderer,
        method=method,
        prices=prices,
        evaluation=evaluation,
        scores=tuple(scores),
        committee=tuple(committee),
        opening=tuple(opening),
        bidder_names=dict(bidder_names or {}),
        deviations=tuple(deviations),
        issued_at=ensure_utc(issued_at),
        opened_at=None if opened_at is None else ensure_utc(opened_at),
        conclusion=conclusion,
        fact_corrections=tuple(fact_corrections),
    )


def merge_sections(parts: Sequence[EvaluationReport], *, conclusion: str | None = None) -> EvaluationReport:
    """One report of several sections: ``parts`` are the sections' reports (each from :func:`build_report`, in
    section order) of the same project, method, committee and date; a single part is returned as it is.

    Refused (``ValidationFailed``): no part, a section twice, or parts that differ in project, method, committee,
    opening time or date (``report.sections_mismatch``).
    """
    if not parts:
        raise _bad("report.no_section", "评标报告须至少包含一个标段", "the report needs at least one section")
    if len(parts) == 1:
        return parts[0] if conclusion is None else replace(parts[0], conclusion=conclusion)
    codes = [p.section_code for p in parts]
    if len(set(codes)) != len(codes):
        raise _bad("report.duplicate_section", "评标报告中标段重复", "a section appears twice in the report")
    first = parts[0]
    for p in parts[1:]:
        fields = ("project_code", "project_name", "tenderer", "method", "committee", "issued_at", "opened_at")
        if any(getattr(p, f) != getattr(first, f) for f in fields) or p.sections:
            raise _bad(
                "report.sections_mismatch",
                f"标段 {p.section_code} 的评审与其他标段不属于同一项目、评标办法或评标委员会",
                f"section {p.section_code} is not of the same project, method or committee",
                section=p.section_code,
            )
    names: dict[str, str] = {}
    for p in parts:
        names.update(p.bidder_names)
    return replace(
        first,
        section_code="",
        section_name="",
        bidder_names=names,
        conclusion=first.conclusion if conclusion is None else conclusion,
        sections=tuple(parts),
    )


def _check_corrections(
    corrections: Sequence[FactCorrection], method: EvaluationMethod, members: set[str], opened: set[str]
) -> None:
    fields = {i.rule.field for i in method.items if i.rule is not None}
    for c in corrections:
        if c.field not in fields:
            raise _bad(
                "report.unknown_fact",
                f"评标办法的客观评分项不读取数据项 {c.field}",
                f"no objective item reads the field {c.field}",
                field=c.field,
            )
        if c.bidder not in opened:
            raise _bad(
                "report.bid_not_opened", f"投标人 {c.bidder} 不在开标记录中", f"{c.bidder} is not in the opening record"
            )
        if c.member not in members:
            raise _bad("report.unknown_expert", f"{c.member} 不是评标委员会成员", f"{c.member} is not on the committee")
        for text in (c.declared or "", c.value or ""):
            _check_length(text, MAX_FACT, "客观评分数据", "a fact")
        _check_length(c.reason, MAX_REASON, "书面理由", "a written reason")
        if not c.reason.strip():
            raise _bad(
                "report.reason_required",
                f"对 {c.bidder} 的 {c.field} 的数据更正缺少书面理由",
                f"the correction of {c.field} of {c.bidder} has no written reason",
            )


# --- the report information file (``sunbid calc report --info``) --------------------------------------

INFO_FORMAT: Final = "sunbid.evaluation-report-info/1"
MAX_INFO_BYTES: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class ReportInfo:
    """What the calculator's files do not say: the project, the committee, names, remarks and written reasons."""

    project_code: str
    project_name: str
    section_code: str
    section_name: str
    tenderer: str
    committee: tuple[CommitteeMember, ...]
    bidder_names: Mapping[str, str]
    remarks: Mapping[str, str]
    reasons: Mapping[tuple[str, str, str], str]
    """(expert, bidder, item) → the expert's written reason for a deviating score."""
    opened_at: datetime | None
    issued_at: datetime | None
    conclusion: str

    def reason(self, intervention: Intervention) -> str:
        return self.reasons.get((intervention.expert, intervention.bidder, intervention.item), "")


def _moment(obj: JsonObject, key: str) -> datetime | None:
    value = obj.raw(key, required=False)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise field_error(
            "report.bad_time",
            obj.at(key),
            "须为带时区的 ISO 8601 时间，如 2026-11-20T10:00:00+08:00",
            "must be an ISO 8601 time with a zone, e.g. 2026-11-20T10:00:00+08:00",
        )
    return ensure_utc(moment)


def _names(obj: JsonObject, key: str) -> dict[str, str]:
    inner = obj.obj(key)
    if inner is None:
        return {}
    out = {k: inner.text(k, max_len=MAX_NAME) for k in list(inner.data)}
    inner.done()
    return out


def parse_report_info(data: str | bytes) -> ReportInfo:
    """Read a report information file (JSON, format ``sunbid.evaluation-report-info/1``; see
    ``docs/evaluation-report.md``); errors name the field."""
    try:
        root_data = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise field_error("report.bad_info", "", f"不是有效的 JSON：{exc}", f"not valid JSON: {exc}") from None
    root = JsonObject(root_data, "")
    if root.raw("format") != INFO_FORMAT:
        raise field_error("report.bad_info", "format", f"须为 {INFO_FORMAT}", f"must be {INFO_FORMAT}")
    project = root.obj("project", required=True)
    assert project is not None
    code, name = project.text("code", max_len=64), project.text("name", max_len=MAX_NAME)
    section_code = project.text("section_code", required=False, max_len=64)
    section_name = project.text("section_name", required=False, max_len=MAX_NAME)
    tenderer = project.text("tenderer", max_len=MAX_NAME)
    project.done()
    committee: list[CommitteeMember] = []
    for path, raw in root.items("committee"):
        m = JsonObject(raw, path)
        role: Literal["expert", "representative"] = "expert"
        if m.choice("role", ("expert", "representative"), default="expert") == "representative":
            role = "representative"
        committee.append(
            CommitteeMember(
                id=m.text("id", max_len=64),
                name=m.text("name", max_len=64),
                role=role,
                leader=m.boolean("leader", default=False),
                employer=m.text("employer", required=False, max_len=MAX_NAME),
                certificate_fingerprint=m.text("certificate_fingerprint", required=False, max_len=64).lower(),
            )
        )
        m.done()
    reasons: dict[tuple[str, str, str], str] = {}
    for path, raw in root.items("deviation_reasons"):
        r = JsonObject(raw, path)
        key = (r.text("expert", max_len=64), r.text("bidder", max_len=MAX_NAME), r.text("item", max_len=64))
        reasons[key] = r.text("reason", max_len=MAX_REASON)
        r.done()
    info = ReportInfo(
        project_code=code,
        project_name=name,
        section_code=section_code,
        section_name=section_name,
        tenderer=tenderer,
        committee=tuple(committee),
        bidder_names=_names(root, "bidder_names"),
        remarks=_names(root, "opening_remarks"),
        reasons=reasons,
        opened_at=_moment(root, "opened_at"),
        issued_at=_moment(root, "issued_at"),
        conclusion=root.text("conclusion", required=False, max_len=4 * MAX_REASON),
    )
    root.done()
    return info
