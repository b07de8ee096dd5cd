"""Scoring (SPEC E-3, E-4): the opened bids for the committee, scores, deviation intervention, aggregation.

* Only members of this project's committee read the opened bids (manifest fields, document list) and download
  documents — each download re-opens the sealed container with the stored content key (audited by the opening
  feature, ``opening:content_key_access``) and is audited here (``evaluation:document:download``).
* A project of several sections 标段 is evaluated by one committee, section by section: each section's bids are
  read, scored, checked for deviations and ranked on their own (price scores with the section's drawn K and
  maximum price), each section gets its own candidates; a member submits once, for every section.
* Each member scores every subjective item of every valid bid. Objective items are never typed in: their points
  are computed from the bids' facts (what the manifests declared at the opening, with the group leader's
  corrections applied — :func:`facts_of`, :mod:`sunbid.evaluation.service_objective`). Price scores come from
  :func:`compute_prices` with the coefficient K drawn at the opening.
* Nobody reads another member's scores before every member has submitted.
* :func:`submit` runs :func:`detect_deviations` on the submitted scores of the panel plus the submitter's: a
  deviating score stops the submission until the expert gives a written reason (or revises the score). Each
  intervention is stored, audited (``evaluation:intervention``) and reported to the competent regulators (the
  notifier and :func:`interventions_view`). When the last member submits, the check runs on the whole panel
  again; a member whose score now deviates is reopened the same way. Then :func:`evaluate` ranks the bids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from sunbid.bidding.container import MemorySink, open_bid_from
from sunbid.bidding.models import Bid as BidRow
from sunbid.core.errors import Conflict, Forbidden, IntegrityFailure, NotFound, ValidationFailed
from sunbid.evaluation.methods import EvaluationMethod, dec_text
from sunbid.evaluation.models import CommitteeMemberRow, Evaluation, FactCorrectionRow, InterventionRow, ScoreRow
from sunbid.evaluation.objective import EXTRA_PREFIX, ObjectivePoints, objective_points, objective_scores
from sunbid.evaluation.price import Bid, PriceResult, compute_prices
from sunbid.evaluation.scoring import ExpertScore, Intervention, detect_deviations, evaluate
from sunbid.evaluation.service import (
    evaluation_of,
    member_of,
    members_of,
    method_of,
    regulator_user_ids,
    require_member,
)
from sunbid.identity.models import Organisation
from sunbid.identity.service import Actor
from sunbid.opening.models import OpeningBid, OpeningSession
from sunbid.opening.service import section_key
from sunbid.opening.session_base import content_key_of
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project, Section

__all__ = [
    "OpenedLot",
    "ScoreIn",
    "bids_view",
    "corrections_of",
    "declared_fact",
    "download",
    "facts_of",
    "interventions_view",
    "member_key",
    "my_scores",
    "objective_results",
    "opened_lot",
    "opened_lots",
    "result_sections",
    "results_view",
    "save_scores",
    "submit",
]

MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class ScoreIn:
    """One score as a member enters it: the bidder's USCC, the item id and the score (a decimal string); the
    section 标段 code (may be left out when the project has a single section)."""

    bidder: str
    item: str
    score: str
    section: str | None = None


@dataclass(frozen=True, slots=True)
class OpenedLot:
    """The decrypted bids of one section of the project's opening, the section and the coefficient drawn for it."""

    section: Section
    bids: dict[str, OpeningBid]  # USCC → row
    names: dict[str, str]  # USCC → name
    drawn: Decimal | None


def member_key(m: CommitteeMemberRow) -> str:
    """How a member is named in scores and the report: the pool code of an expert, ``R<seq>`` for a representative."""
    return m.expert_code or f"R{m.seq}"


def sections_of(uow: UnitOfWork, project: Project) -> list[Section]:
    """The project's sections 标段, by code."""
    return list(uow.session.scalars(select(Section).where(Section.project_id == project.id).order_by(Section.code)))


def pick_section(sections: Sequence[Section], code: str | None) -> Section:
    """The section named ``code``; ``None`` is the only section of a single-section project."""
    if code is None and len(sections) == 1:
        return sections[0]
    found = next((s for s in sections if s.code == code), None)
    if found is None:
        codes = "、".join(s.code for s in sections)
        if code is None:
            raise ValidationFailed(
                "evaluation.unknown_section",
                f"本项目有多个标段（{codes}），请指明标段。",
                f"The project has several sections ({codes}): name one.",
                details={"sections": [s.code for s in sections]},
            )
        raise ValidationFailed(
            "evaluation.unknown_section",
            f"本项目没有标段 {code}（标段：{codes}）。",
            f"The project has no section {code} (sections: {codes}).",
            details={"section": code, "sections": [s.code for s in sections]},
        )
    return found


def _opening_session(uow: UnitOfWork, project: Project) -> OpeningSession:
    s = uow.session.scalar(
        select(OpeningSession).where(OpeningSession.project_id == project.id).order_by(OpeningSession.round.desc())
    )
    if s is None:
        raise Conflict("evaluation.no_opening", "该项目没有开标记录。", "The project has no opening.")
    return s


def _lot(uow: UnitOfWork, s: OpeningSession, section: Section) -> OpenedLot:
    rows = uow.session.execute(
        select(OpeningBid, Organisation)
        .join(Organisation, Organisation.id == OpeningBid.org_id)
        .where(OpeningBid.session_id == s.id, OpeningBid.section_id == section.id, OpeningBid.status == "decrypted")
    ).all()
    drawn: Decimal | None = None
    value = (s.draws or {}).get(section.code, {}).get("value")
    if value is not None:
        drawn = Decimal(str(value))
    return OpenedLot(
        section=section,
        bids={str(org.uscc): ob for ob, org in rows},
        names={str(org.uscc): str(org.name) for _, org in rows},
        drawn=drawn,
    )


def opened_lot(uow: UnitOfWork, project: Project, section_code: str | None = None) -> OpenedLot:
    """The decrypted bids of one section in the latest opening round (``None``: the only section)."""
    s = _opening_session(uow, project)
    return _lot(uow, s, pick_section(sections_of(uow, project), section_code))


def opened_lots(uow: UnitOfWork, project: Project) -> list[OpenedLot]:
    """Every section's decrypted bids in the latest opening round, by section code."""
    s = _opening_session(uow, project)
    return [_lot(uow, s, section) for section in sections_of(uow, project)]


def result_sections(result: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The per-section results of ``Evaluation.result`` (``{"sections": [...]}``); a result stored before sections
    were evaluated separately (``{"prices", "evaluation"}``) reads as one section without a code."""
    if not result:
        return []
    if "sections" in result:
        return [dict(x) for x in result["sections"]]
    return [{"section": None, "name": None, **result}]


def prices_of(method: EvaluationMethod, lot: OpenedLot) -> PriceResult:
    bids = [Bid(uscc, Decimal(str(ob.price))) for uscc, ob in sorted(lot.bids.items()) if ob.price is not None]
    cap = method.max_price if method.max_price is not None else lot.section.max_price
    return compute_prices(method, bids, drawn=lot.drawn if method.coefficient else None, max_price=cap)


def evaluated_bidders(method: EvaluationMethod, lot: OpenedLot) -> list[str]:
    """The bids that are evaluated (not rejected by the price rules), by USCC."""
    return sorted(ln.bidder for ln in prices_of(method, lot).lines)


# --- facts of the objective items --------------------------------------------------------------------------


def declared_fact(ob: OpeningBid, field: str) -> str | None:
    """What the bid's manifest declared for ``field`` (as text), None when it declared nothing."""
    if field == "duration_days":
        return None if ob.duration_days is None else str(ob.duration_days)
    if field == "quality":
        return ob.quality
    if field.startswith(EXTRA_PREFIX):
        value = (ob.extra or {}).get(field.removeprefix(EXTRA_PREFIX))
        return value if isinstance(value, str) else None
    return None


def corrections_of(uow: UnitOfWork, evaluation: Evaluation, section: str | None = None) -> list[FactCorrectionRow]:
    """The fact corrections of the evaluation (of one section when ``section`` is given), oldest first."""
    stmt = select(FactCorrectionRow).where(FactCorrectionRow.evaluation_id == evaluation.id)
    if section is not None:
        stmt = stmt.where(FactCorrectionRow.section == section)
    return list(uow.session.scalars(stmt.order_by(FactCorrectionRow.id)))


def facts_of(uow: UnitOfWork, evaluation: Evaluation, lot: OpenedLot) -> dict[str, dict[str, str | None]]:
    """bidder USCC → field → value: the opened bids' declared facts (``duration_days``, ``quality``,
    ``extra.<key>``) of the lot's section with the latest correction of each (bidder, field) applied."""
    out: dict[str, dict[str, str | None]] = {}
    for uscc, ob in lot.bids.items():
        facts: dict[str, str | None] = {f: declared_fact(ob, f) for f in ("duration_days", "quality")}
        for key, value in sorted((ob.extra or {}).items()):
            facts[EXTRA_PREFIX + key] = value
        out[uscc] = facts
    for c in corrections_of(uow, evaluation, lot.section.code):  # oldest first: the latest wins
        if c.bidder in out:
            out[c.bidder][c.field] = c.value
    return out


def objective_results(
    uow: UnitOfWork, evaluation: Evaluation, method: EvaluationMethod, lot: OpenedLot, bidders: Sequence[str]
) -> dict[str, dict[str, ObjectivePoints]]:
    """The objective items' points of ``bidders`` (the bids evaluated), computed from the facts as corrected."""
    return objective_scores(method, list(bidders), facts_of(uow, evaluation, lot))


def results_out(results: Mapping[str, Mapping[str, ObjectivePoints]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Objective results JSON-ready: bidder → item → points, value used, status, basis."""
    return {
        bidder: {
            item: {
                "points": dec_text(r.points),
                "value": r.value,
                "status": r.status,
                "basis_zh": r.basis_zh,
                "basis_en": r.basis_en,
            }
            for item, r in items.items()
        }
        for bidder, items in results.items()
    }


def _not_started() -> Conflict:
    return Conflict("evaluation.not_scoring", "评标开始后才能查阅投标文件。", "Bids are read once evaluation starts.")


def _scoring(uow: UnitOfWork, project: Project) -> Evaluation:
    """The evaluation, moved to ``scoring`` once the lifecycle's ``start_evaluation`` has happened."""
    evaluation = evaluation_of(uow, project.id, lock=True)
    if project.state != "evaluation" or evaluation.state not in {"signin", "scoring"}:
        raise Conflict(
            "evaluation.not_scoring", "当前不在评分阶段。", "Scoring is not open (evaluation not started or finished)."
        )
    if evaluation.state == "signin":
        evaluation.state = "scoring"
        evaluation.started_at = uow.now
    return evaluation


def _audit(uow: UnitOfWork, project: Project, action: str, **data: Any) -> int | None:
    event = uow.audit(
        f"evaluation:{action}", subject_type="project", subject_id=project.id, data={"code": project.code, **data}
    )
    return event.ledger_index


# --- reading the bids --------------------------------------------------------------------------------------


def bids_view(uow: UnitOfWork, actor: Actor, project_id: int, section: str | None = None) -> dict[str, Any]:
    """The opened bids of one section (``None``: the only one) for a committee member: manifest fields, documents,
    the price computation, and the project's sections."""
    project = projects.get_project(uow, project_id)
    member = require_member(uow, actor, project)
    if project.state not in {"evaluation", "reported", "publicity"}:
        raise _not_started()
    method = method_of(uow, project.id)
    lot = opened_lot(uow, project, section)
    prices = prices_of(method, lot)
    _audit(uow, project, "bids:view", member=member.seq, section=lot.section.code)
    return {
        "project": project.code,
        "section": lot.section.code,
        "section_name": lot.section.name,
        "sections": [{"code": x.code, "name": x.name} for x in sections_of(uow, project)],
        "method": method.to_dict(),
        "drawn": None if lot.drawn is None else dec_text(lot.drawn),
        "bids": [
            {
                "bidder": uscc,
                "name": lot.names[uscc],
                "price": ob.price,
                "duration_days": ob.duration_days,
                "quality": ob.quality,
                "extra": dict(ob.extra or {}),
                "manifest_digest": ob.manifest_digest,
                "documents": [{"name": d["name"], "size": d["size"]} for d in (ob.documents or [])],
            }
            for uscc, ob in sorted(lot.bids.items())
        ],
        "prices": prices.to_dict(),
    }


def download(
    uow: UnitOfWork, actor: Actor, project_id: int, bidder: str, name: str, section: str | None = None
) -> bytes:
    """One document of an opened bid in a section (``None``: the only one), for committee members only;
    re-opened from the container, audited."""
    project = projects.get_project(uow, project_id)
    member = require_member(uow, actor, project)
    if project.state not in {"evaluation", "reported", "publicity"}:
        raise _not_started()
    lot = opened_lot(uow, project, section)
    ob = lot.bids.get(bidder)
    if ob is None or not any(d["name"] == name for d in (ob.documents or [])):
        raise NotFound("evaluation.no_document", "没有该投标文件。", "No such bid document.")
    bid = uow.session.get(BidRow, ob.bid_id)
    key = section_key(uow, ob.section_id)
    assert bid is not None
    assert key is not None
    content_key = content_key_of(uow, ob)
    platform = uow.platform
    sink = MemorySink()
    with platform.storage.open(bid.storage_key) as src:
        open_bid_from(
            platform.suite,
            src,
            sink,
            content_key=content_key,
            context=key.context,
            expected_hash=bid.container_hash,
            ca_cert_pem=platform.ca().certificate_pem,
            now=bid.received_at,
        )
    if name not in sink.files:
        raise IntegrityFailure("evaluation.document_missing", "投标文件内容缺失。", "The document is missing.")
    _audit(uow, project, "document:download", member=member.seq, section=lot.section.code, bidder=bidder, document=name)
    return sink.files[name]


# --- scores ------------------------------------------------------------------------------------------------


def _parse_score(method: EvaluationMethod, item_id: str, raw: str) -> Decimal:
    item = next((i for i in method.items if i.id == item_id), None)
    if item is None:
        raise ValidationFailed("evaluation.unknown_item", f"没有评分项 {item_id}。", f"No item {item_id}.")
    if not item.subjective:
        raise ValidationFailed(
            "evaluation.objective_computed",
            f"客观评分项 {item_id} 的得分由投标文件数据计算，不能录入；如数据有误，请由评标组长更正数据。",
            f"The points of the objective item {item_id} are computed from the bid's data: correct the data "
            "instead (group leader).",
            details={"item": item_id},
        )
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, AttributeError):
        value = Decimal("NaN")
    if not value.is_finite() or not 0 <= value <= item.max_points or value != value.quantize(Decimal("0.01")):
        raise ValidationFailed(
            "evaluation.bad_score",
            f"评分项 {item_id} 的得分须在 0–{dec_text(item.max_points)} 之间，最多两位小数。",
            f"The score of {item_id} must be 0-{dec_text(item.max_points)} with at most 2 decimals.",
            details={"item": item_id},
        )
    return value.quantize(Decimal("0.01"))


def save_scores(uow: UnitOfWork, actor: Actor, project_id: int, entries: Sequence[ScoreIn]) -> int:
    """Store (or change) the member's draft scores of subjective items, each in its section (objective items are
    computed)."""
    project = projects.get_project(uow, project_id)
    member = require_member(uow, actor, project)
    evaluation = _scoring(uow, project)
    if member.submitted_at is not None:
        raise Conflict("evaluation.submitted", "您的评分已提交，不能修改。", "Your scores are already submitted.")
    method = method_of(uow, project.id)
    sections = sections_of(uow, project)
    session = _opening_session(uow, project)
    valid_of: dict[str, set[str]] = {}
    for e in entries:
        chosen = pick_section(sections, e.section)
        section = chosen.code
        if section not in valid_of:
            lot = _lot(uow, session, chosen)
            valid_of[section] = {ln.bidder for ln in prices_of(method, lot).lines}
        if e.bidder not in valid_of[section]:
            raise ValidationFailed(
                "evaluation.unknown_bidder", f"投标人 {e.bidder} 不参与评审。", f"{e.bidder} is not evaluated."
            )
        value = _parse_score(method, e.item, e.score)
        row = uow.session.scalar(
            select(ScoreRow).where(
                ScoreRow.evaluation_id == evaluation.id,
                ScoreRow.member_id == member.id,
                ScoreRow.section == section,
                ScoreRow.bidder == e.bidder,
                ScoreRow.item == e.item,
            )
        )
        if row is None:
            row = ScoreRow(
                evaluation_id=evaluation.id, member_id=member.id, section=section, bidder=e.bidder, item=e.item
            )
            uow.session.add(row)
        row.objective, row.score, row.updated_at = False, dec_text(value), uow.now
    uow.session.flush()
    return len(entries)


def _scores(uow: UnitOfWork, evaluation: Evaluation, members: Sequence[CommitteeMemberRow]) -> list[ScoreRow]:
    ids = [m.id for m in members]
    if not ids:
        return []
    return list(
        uow.session.scalars(
            select(ScoreRow).where(ScoreRow.evaluation_id == evaluation.id, ScoreRow.member_id.in_(ids))
        )
    )


def my_scores(uow: UnitOfWork, actor: Actor, project_id: int) -> dict[str, Any]:
    """The caller's own scores (never another member's), the submission state and open interventions."""
    project = projects.get_project(uow, project_id)
    member = require_member(uow, actor, project)
    evaluation = evaluation_of(uow, project.id)
    rows = _scores(uow, evaluation, [member])
    return {
        "member": member.seq,
        "leader": member.leader,
        "submitted": member.submitted_at is not None,
        "scores": [
            {"section": r.section, "bidder": r.bidder, "item": r.item, "score": r.score, "objective": r.objective}
            for r in sorted(rows, key=lambda r: (r.section, r.bidder, r.item))
        ],
        "interventions": [_intervention_out(i, member) for i in _interventions(uow, evaluation, member.id)],
    }


def _interventions(uow: UnitOfWork, evaluation: Evaluation, member_id: int | None = None) -> list[InterventionRow]:
    stmt = select(InterventionRow).where(InterventionRow.evaluation_id == evaluation.id)
    if member_id is not None:
        stmt = stmt.where(InterventionRow.member_id == member_id)
    return list(uow.session.scalars(stmt.order_by(InterventionRow.id)))


def _intervention_out(i: InterventionRow, m: CommitteeMemberRow | None) -> dict[str, Any]:
    return {
        "id": i.id,
        "member": None if m is None else m.seq,
        "expert": None if m is None else member_key(m),
        "section": i.section,
        "bidder": i.bidder,
        "item": i.item,
        "score": i.score,
        "mean": i.mean,
        "deviation": i.deviation,
        "threshold": i.threshold,
        "basis": i.basis,
        "status": i.status,
        "reason": i.reason,
        "detected_at": i.detected_at.isoformat(),
        "resolved_at": None if i.resolved_at is None else i.resolved_at.isoformat(),
    }


def _expert_scores(rows: Sequence[ScoreRow], keys: Mapping[int, str]) -> list[ExpertScore]:
    return [ExpertScore(keys[r.member_id], r.bidder, r.item, Decimal(r.score)) for r in rows if not r.objective]


def _record_intervention(
    uow: UnitOfWork,
    project: Project,
    evaluation: Evaluation,
    member: CommitteeMemberRow,
    section: str,
    d: Intervention,
    reason: str,
) -> InterventionRow:
    row = InterventionRow(
        evaluation_id=evaluation.id,
        member_id=member.id,
        section=section,
        bidder=d.bidder,
        item=d.item,
        score=dec_text(d.score),
        mean=d.to_dict()["mean"],
        deviation=d.to_dict()["deviation"],
        threshold=dec_text(d.threshold),
        basis=d.basis,
        status="explained" if reason else "open",
        reason=reason or None,
        detected_at=uow.now,
        resolved_at=uow.now if reason else None,
    )
    uow.session.add(row)
    uow.session.flush()
    row.ledger_index = _audit(
        uow,
        project,
        "intervention",
        intervention=row.id,
        member=member.seq,
        section=section,
        bidder=d.bidder,
        item=d.item,
        deviation=row.deviation,
        threshold=row.threshold,
        basis=d.basis,
    )
    regulators = regulator_user_ids(uow, project)
    if regulators:
        uow.platform.notifier.notify(
            uow,
            user_ids=regulators,
            kind="evaluation.intervention",
            subject_zh=f"项目 {project.code} 评分偏离干预",
            body_zh=(
                f"项目 {project.code} 评标委员会成员 {member.seq} 对标段 {section} 投标人 {d.bidder} "
                f"评分项 {d.item} 的评分 {row.score} 偏离平均值 {row.mean}"
                f"（偏离 {row.deviation}，阈值 {row.threshold}），"
                "系统已暂停其提交，要求书面说明理由。"
            ),
            subject_en=f"Score deviation intervention in {project.code}",
            body_en=(
                f"Member {member.seq} of the committee of {project.code} scored {row.score} on {d.item} of "
                f"{d.bidder} in section {section}, deviating {row.deviation} from the mean {row.mean} "
                f"(threshold {row.threshold}); "
                "the submission is stopped until a written reason is given."
            ),
            dedupe=f"evaluation-intervention:{row.id}",
        )
    return row


def _reconcile(
    uow: UnitOfWork,
    project: Project,
    evaluation: Evaluation,
    member: CommitteeMemberRow,
    deviations: Sequence[tuple[str, Intervention]],
    reasons: Mapping[tuple[str, ...], str],
) -> list[InterventionRow]:
    """Match the member's current deviations (section, deviation) with stored interventions; returns the ones
    still open. ``reasons`` are keyed (section, bidder, item), or (bidder, item) for any section."""
    stored = _interventions(uow, evaluation, member.id)
    current = {(section, d.bidder, d.item): d for section, d in deviations}
    for row in stored:  # a score revised so that it no longer deviates (or changed) closes the old intervention
        d = current.get((row.section, row.bidder, row.item))
        if row.status == "open" and (d is None or dec_text(d.score) != row.score):
            row.status, row.resolved_at = "revised", uow.now
    blocking: list[InterventionRow] = []
    for (section, bidder, item), d in sorted(current.items()):
        same = [
            r
            for r in stored
            if (r.section, r.bidder, r.item) == (section, bidder, item) and r.score == dec_text(d.score)
        ]
        if any(r.status == "explained" for r in same):
            continue
        reason = (reasons.get((section, bidder, item)) or reasons.get((bidder, item)) or "").strip()
        if len(reason) > MAX_REASON:
            raise ValidationFailed(
                "evaluation.reason_too_long", f"书面理由不得超过 {MAX_REASON} 字。", "The reason is too long."
            )
        open_row = next((r for r in same if r.status == "open"), None)
        if open_row is None:
            open_row = _record_intervention(uow, project, evaluation, member, section, d, reason)
        elif reason:
            open_row.status, open_row.reason, open_row.resolved_at = "explained", reason, uow.now
            _audit(uow, project, "intervention:explained", intervention=open_row.id, member=member.seq)
        if open_row.status == "open":
            blocking.append(open_row)
    return blocking


def _deviations(
    method: EvaluationMethod, rows: Sequence[ScoreRow], keys: Mapping[int, str]
) -> list[tuple[str, Intervention]]:
    """The deviating scores, detected section by section (each section's panel scores on their own)."""
    assert method.deviation is not None
    out: list[tuple[str, Intervention]] = []
    for section in sorted({r.section for r in rows}):
        pool = _expert_scores([r for r in rows if r.section == section], keys)
        out += [(section, d) for d in detect_deviations(method.deviation, method.items, pool)]
    return out


def submit(
    uow: UnitOfWork, actor: Actor, project_id: int, reasons: Mapping[tuple[str, ...], str] | None = None
) -> dict[str, Any]:
    """Submit the member's scores of every section; ``held`` (with the interventions) if a score deviates without
    a reason. ``reasons`` are keyed (section, bidder, item); a (bidder, item) key, as a single-section project's
    callers send, applies to that bidder and item in any section.

    The caller commits in both cases: a held submission's interventions are on record.
    """
    reasons = dict(reasons or {})
    project = projects.get_project(uow, project_id, lock=True)
    member = require_member(uow, actor, project)
    evaluation = _scoring(uow, project)
    if member.submitted_at is not None:
        raise Conflict("evaluation.submitted", "您的评分已提交。", "Your scores are already submitted.")
    method = method_of(uow, project.id)
    lots = opened_lots(uow, project)
    members = members_of(uow, evaluation)
    keys = {m.id: member_key(m) for m in members}
    mine = _scores(uow, evaluation, [member])
    have = {(r.section, r.bidder, r.item) for r in mine}
    missing = [
        (lot.section.code, b, i.id)
        for lot in lots
        for b in evaluated_bidders(method, lot)
        for i in method.items
        if i.subjective and (lot.section.code, b, i.id) not in have
    ]
    if missing:
        where = f" 标段 {missing[0][0]}" if len(lots) > 1 else ""
        where_en = f" in section {missing[0][0]}" if len(lots) > 1 else ""
        raise ValidationFailed(
            "evaluation.scores_missing",
            f"尚有 {len(missing)} 项未评分（如{where} {missing[0][1]} 的 {missing[0][2]}）。",
            f"{len(missing)} scores are missing (e.g. {missing[0][2]} of {missing[0][1]}{where_en}).",
            details={"missing": [{"section": sc, "bidder": b, "item": i} for sc, b, i in missing[:50]]},
        )
    blocking: list[InterventionRow] = []
    if method.deviation is not None:
        others = [m for m in members if m.submitted_at is not None and m.id != member.id]
        found = _deviations(method, _scores(uow, evaluation, others) + mine, keys)
        mine_dev = [(sc, d) for sc, d in found if d.expert == keys[member.id]]
        blocking = _reconcile(uow, project, evaluation, member, mine_dev, reasons)
    if blocking:
        return {"status": "held", "interventions": [_intervention_out(i, member) for i in blocking]}
    member.submitted_at = uow.now
    _audit(uow, project, "scores:submit", member=member.seq)
    if all(m.submitted_at is not None for m in members):
        _finish(uow, project, evaluation, method, lots, members)
    return {"status": "submitted", "evaluation": evaluation.state}


def _finish(
    uow: UnitOfWork,
    project: Project,
    evaluation: Evaluation,
    method: EvaluationMethod,
    lots: Sequence[OpenedLot],
    members: Sequence[CommitteeMemberRow],
) -> None:
    """Every member has submitted: check the whole panel again, then evaluate each section on its own."""
    keys = {m.id: member_key(m) for m in members}
    rows = _scores(uow, evaluation, members)
    if method.deviation is not None:
        all_dev = _deviations(method, rows, keys)
        reopened = []
        for m in members:
            mine = [(sc, d) for sc, d in all_dev if d.expert == keys[m.id]]
            blocking = _reconcile(uow, project, evaluation, m, mine, {})
            if blocking:
                m.submitted_at = None
                reopened.append(m)
                uow.platform.notifier.notify(
                    uow,
                    user_ids=[m.user_id],
                    kind="evaluation.reason_required",
                    subject_zh=f"项目 {project.code} 评分需书面说明",
                    body_zh="全体成员提交后，您的部分评分偏离平均值超过阈值，请书面说明理由或修改评分后重新提交。",
                    subject_en=f"A written reason is needed in {project.code}",
                    body_en="With every member's scores in, some of yours deviate too far: explain or revise them.",
                    channels=("inapp",),
                    dedupe=f"evaluation-reopen:{evaluation.id}:{m.id}:{blocking[0].id}",
                )
        if reopened:
            _audit(uow, project, "scores:reopened", members=[m.seq for m in reopened])
            return
    parts: list[dict[str, Any]] = []
    for lot in lots:
        code = lot.section.code
        section_rows = [r for r in rows if r.section == code]
        prices = prices_of(method, lot)
        facts = objective_results(uow, evaluation, method, lot, sorted(ln.bidder for ln in prices.lines))
        scores = _expert_scores(section_rows, keys)
        result = evaluate(method, prices, scores, objective_points(facts), experts=[keys[m.id] for m in members])
        parts.append(
            {
                "section": code,
                "name": lot.section.name,
                "prices": prices.to_dict(),
                "evaluation": result.to_dict(),
                "objective": results_out(facts),
            }
        )
    evaluation.result = {"sections": parts}
    evaluation.state = "scored"
    evaluation.scored_at = uow.now
    _audit(
        uow,
        project,
        "scored",
        sections=[
            {
                "section": p["section"],
                "candidates": p["evaluation"]["candidates"],
                "undecided": p["evaluation"]["undecided"],
            }
            for p in parts
        ],
    )


# --- who sees what -----------------------------------------------------------------------------------------


def interventions_view(uow: UnitOfWork, actor: Actor, project_id: int) -> list[dict[str, Any]]:
    """Regulators and the centre see every intervention; a member sees his own; nobody else any."""
    project = projects.get_project(uow, project_id)
    roles = projects.project_roles(uow, actor, project)
    evaluation = evaluation_of(uow, project.id)
    members = {m.id: m for m in members_of(uow, evaluation)}
    if roles & {"regulator", "operator"}:
        return [_intervention_out(i, members.get(i.member_id)) for i in _interventions(uow, evaluation)]
    member = require_member(uow, actor, project)
    return [_intervention_out(i, member) for i in _interventions(uow, evaluation, member.id)]


def results_view(uow: UnitOfWork, actor: Actor, project_id: int) -> dict[str, Any]:
    """Totals and ranking with every member's scores: the committee, centre and regulator once everybody has
    submitted; the tenderer and agency once the report is submitted. Bidders see only the published candidates."""
    project = projects.get_project(uow, project_id)
    roles = projects.project_roles(uow, actor, project)
    evaluation = evaluation_of(uow, project.id)
    if roles & {"operator", "regulator"} or member_of(uow, actor, project) is not None:
        pass
    elif roles & {"tenderer", "agency"}:
        if evaluation.submitted_at is None:
            raise Forbidden(
                "evaluation.report_not_submitted",
                "评标报告提交后招标人方可查看评标结果。",
                "The tender side sees the results once the report is submitted.",
            )
    else:
        raise Forbidden("evaluation.forbidden", "无权查看评标结果。", "You may not see the evaluation results.")
    if evaluation.result is None:
        raise Conflict("evaluation.not_scored", "全体成员提交评分后才有评审结果。", "Not every member has submitted.")
    members = members_of(uow, evaluation)
    keys = {m.id: member_key(m) for m in members}
    rows = sorted(_scores(uow, evaluation, members), key=lambda r: (r.section, r.bidder, r.item, keys[r.member_id]))
    parts = result_sections(evaluation.result)
    for part in parts:
        part["scores"] = [
            {"expert": keys[r.member_id], "bidder": r.bidder, "item": r.item, "score": r.score}
            for r in rows
            if part["section"] is None or r.section == part["section"]
        ]
    out: dict[str, Any] = {"sections": parts}
    if len(parts) == 1:  # a single-section project reads as before: prices, evaluation and scores at the top
        out.update(parts[0])
    return out
