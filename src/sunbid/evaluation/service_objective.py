"""Objective items from the bids' facts (SPEC E-3): facts read at the opening, the leader's corrections, points.

* The facts 事实数据 of a bid are what its signed manifest declared and the opening stored on the
  :class:`~sunbid.opening.models.OpeningBid`: ``duration_days``, ``quality`` and ``extra.<key>`` (the manifest's
  ``extra``). Each objective item of the method reads one of them through its rule
  (:func:`sunbid.evaluation.objective.objective_scores`).
* The group leader may **correct a fact** — the value verified against the bid documents — with a written
  reason (:func:`correct_fact`), during scoring only. Points are never typed in. Every correction is stored
  (the latest per bid and field applies), audited (``evaluation:fact_correction``, in the transparency log) and
  reported to the competent regulators; the report lists them (客观评分数据核验).
* :func:`objective_view` shows committee members, per bid and objective item, the declared value, the verified
  value, the points and their basis 计分依据, and the corrections.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sunbid.core.errors import Forbidden, ValidationFailed
from sunbid.evaluation.methods import dec_text
from sunbid.evaluation.models import CommitteeMemberRow, FactCorrectionRow
from sunbid.evaluation.objective import fact_fields, objective_items, objective_scores, rule_text
from sunbid.evaluation.report_model import MAX_REASON, fact_label
from sunbid.evaluation.service import evaluation_of, members_of, method_of, regulator_user_ids, require_member
from sunbid.evaluation.service_scoring import (
    _audit,
    _not_started,
    _scoring,
    corrections_of,
    declared_fact,
    evaluated_bidders,
    facts_of,
    member_key,
    opened_lot,
    results_out,
)
from sunbid.identity.service import Actor
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects

__all__ = ["MAX_CORRECTION_REASON", "MAX_FACT", "correct_fact", "objective_view"]

MAX_FACT = 200
"""Characters of a verified value (a number, a grade, a certificate's name)."""
MAX_CORRECTION_REASON = MAX_REASON
"""Characters of a correction's written reason (as many as one cell of the report holds)."""


def _correction_out(
    c: FactCorrectionRow, members: Mapping[int, CommitteeMemberRow], names: Mapping[str, str]
) -> dict[str, Any]:
    m = members.get(c.member_id)
    label_zh, label_en = fact_label(c.field)
    return {
        "id": c.id,
        "bidder": c.bidder,
        "name": names.get(c.bidder, c.bidder),
        "field": c.field,
        "label_zh": label_zh,
        "label_en": label_en,
        "declared": c.declared,
        "value": c.value,
        "reason": c.reason,
        "member": None if m is None else m.seq,
        "member_name": None if m is None else m.name,
        "expert": None if m is None else member_key(m),
        "corrected_at": c.corrected_at.isoformat(),
        "ledger_index": c.ledger_index,
    }


def objective_view(uow: UnitOfWork, actor: Actor, project_id: int, section: str | None = None) -> dict[str, Any]:
    """For committee members once evaluation has started: per bid of the section (required when the project has
    several) and objective item the declared and verified values, points, status and basis; the fields that may
    be corrected; the section's corrections."""
    project = projects.get_project(uow, project_id)
    member = require_member(uow, actor, project)
    if project.state not in {"evaluation", "reported", "publicity"}:
        raise _not_started()
    evaluation = evaluation_of(uow, project.id)
    method = method_of(uow, project.id)
    lot = opened_lot(uow, project, section)
    bidders = evaluated_bidders(method, lot)
    facts = facts_of(uow, evaluation, lot)
    results = objective_scores(method, bidders, facts)
    corrections = corrections_of(uow, evaluation, lot.section.code)
    corrected = {(c.bidder, c.field) for c in corrections}
    items = objective_items(method)
    fields = fact_fields(method)
    bids = []
    for uscc in bidders:
        ob = lot.bids[uscc]
        bids.append(
            {
                "bidder": uscc,
                "name": lot.names[uscc],
                "facts": {
                    f: {
                        "declared": declared_fact(ob, f),
                        "value": facts[uscc].get(f),
                        "corrected": (uscc, f) in corrected,
                    }
                    for f in fields
                },
                "items": results_out({uscc: results[uscc]})[uscc],
                "points": dec_text(sum((r.points for r in results[uscc].values()), start=Decimal("0.00"))),
            }
        )
    members = {m.id: m for m in members_of(uow, evaluation)}
    return {
        "project": project.code,
        "section": lot.section.code,
        "items": [
            {
                "id": i.id,
                "name_zh": i.name_zh,
                "name_en": i.name_en,
                "max_points": dec_text(i.max_points),
                "kind": i.rule.kind if i.rule else None,
                "field": i.rule.field if i.rule else None,
                "field_label_zh": fact_label(i.rule.field)[0] if i.rule else None,
                "rule_zh": rule_text(i)[0],
                "rule_en": rule_text(i)[1],
            }
            for i in items
        ],
        "fields": [{"field": f, "label_zh": fact_label(f)[0], "label_en": fact_label(f)[1]} for f in fields],
        "bids": bids,
        "corrections": [_correction_out(c, members, lot.names) for c in corrections],
        "can_correct": member.leader and project.state == "evaluation" and evaluation.state in {"signin", "scoring"},
    }


def correct_fact(
    uow: UnitOfWork,
    actor: Actor,
    project_id: int,
    bidder: str,
    field: str,
    value: str | None,
    reason: str,
    section: str | None = None,
) -> FactCorrectionRow:
    """The group leader corrects one fact of one opened bid (in ``section``, required when the project has
    several) to the value verified against its documents.

    ``value`` empty or None means "not provided". Refused: not the leader (``evaluation.leader_only``), outside
    scoring (``evaluation.not_scoring``), a field no rule of the method reads (``evaluation.unknown_fact``), a
    bid that was not decrypted (``evaluation.unknown_bidder``), no reason, a reason or value too long, a value
    equal to the one in force (``evaluation.fact_unchanged``).
    """
    project = projects.get_project(uow, project_id)
    member = require_member(uow, actor, project)
    if not member.leader:
        raise Forbidden(
            "evaluation.leader_only",
            "客观评分数据由评标组长核实更正。",
            "The group leader corrects the data objective items are computed from.",
        )
    evaluation = _scoring(uow, project)
    method = method_of(uow, project.id)
    fields = fact_fields(method)
    if field not in fields:
        raise ValidationFailed(
            "evaluation.unknown_fact",
            f"评标办法的客观评分项不读取数据项“{field[:80]}”（可更正：{'、'.join(fields) or '无'}）。",
            f"No objective item reads the field {field[:80]!r} (correctable: {', '.join(fields) or 'none'}).",
            details={"fields": list(fields)},
        )
    lot = opened_lot(uow, project, section)
    ob = lot.bids.get(bidder)
    if ob is None:
        raise ValidationFailed(
            "evaluation.unknown_bidder", f"投标人 {bidder[:32]} 的投标文件未解密。", f"{bidder[:32]} has no opened bid."
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "evaluation.reason_required", "更正客观评分数据须书面说明理由。", "A correction needs a written reason."
        )
    if len(reason) > MAX_CORRECTION_REASON:
        raise ValidationFailed(
            "evaluation.reason_too_long",
            f"书面理由不得超过 {MAX_CORRECTION_REASON} 字。",
            f"The reason may not exceed {MAX_CORRECTION_REASON} characters.",
        )
    verified = (value or "").strip() or None
    if verified is not None and len(verified) > MAX_FACT:
        raise ValidationFailed(
            "evaluation.fact_too_long", f"核实的数据不得超过 {MAX_FACT} 字。", "The verified value is too long."
        )
    current = facts_of(uow, evaluation, lot)[bidder].get(field)
    if ((current or "").strip() or None) == verified:
        raise ValidationFailed(
            "evaluation.fact_unchanged",
            "核实的数据与现行数据相同，无需更正。",
            "The verified value is the one already in force.",
        )
    declared = declared_fact(ob, field)
    row = FactCorrectionRow(
        evaluation_id=evaluation.id,
        section=lot.section.code,
        bidder=bidder,
        field=field,
        declared=declared,
        value=verified,
        reason=reason,
        member_id=member.id,
        corrected_at=uow.now,
    )
    uow.session.add(row)
    uow.session.flush()
    row.ledger_index = _audit(
        uow,
        project,
        "fact_correction",
        correction=row.id,
        member=member.seq,
        section=lot.section.code,
        bidder=bidder,
        field=field,
        declared=declared,
        value=verified,
        reason=reason,
    )
    label_zh, label_en = fact_label(field)
    regulators = regulator_user_ids(uow, project)
    if regulators:
        uow.platform.notifier.notify(
            uow,
            user_ids=regulators,
            kind="evaluation.fact_correction",
            subject_zh=f"项目 {project.code} 客观评分数据更正",
            body_zh=(
                f"项目 {project.code} 评标组长将投标人 {lot.names.get(bidder, bidder)}（{bidder}）的“{label_zh}”"
                f"由“{declared or '未提供'}”核实为“{verified or '未提供'}”。理由：{reason}"
            ),
            subject_en=f"Objective data corrected in {project.code}",
            body_en=(
                f"The group leader of {project.code} corrected {label_en} of {bidder} from "
                f"{declared or 'not provided'!r} to {verified or 'not provided'!r}. Reason: {reason}"
            ),
            dedupe=f"evaluation-fact-correction:{row.id}",
        )
    return row
