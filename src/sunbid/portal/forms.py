"""The forms of procedure steps on pages: which steps to offer, their inputs, and the parameters they post.

A step's inputs are declared once here (:data:`ACTION_FIELDS`); the pages render them and turn what comes
back into the parameters of ``service.perform`` (dates are entered in Beijing time). Which steps are offered
is the engine's answer (``engine.allowed_actions``: roles and guards hold); the legal time rules are checked
when the step is taken, and a date input shows the earliest date the law allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sunbid.core.clock import SHANGHAI, ensure_utc
from sunbid.core.errors import ValidationFailed
from sunbid.identity.service import Actor, get_org_by_uscc
from sunbid.platform.uow import UnitOfWork
from sunbid.portal.views import Lang, Reading, minutes
from sunbid.projects import contracts, engine, rules, service
from sunbid.projects.models import Project
from sunbid.projects.procedure_vocabulary import NOW
from sunbid.projects.procedures import get_procedure
from sunbid.projects.timing import project_facts
from sunbid.web.i18n import N_, translator

MAX_FIELD: Final = 500
#: Steps with forms of their own (objections, contract signing), never offered as plain buttons.
OWN_FORMS: Final = frozenset({"raise_objection", "answer_objection", "sign_contract"})
DANGEROUS: Final = frozenset({"terminate", "declare_failed", "return_registration", "suspend"})
#: Facts the service records as the time of the step itself (so a limit starting there starts now).
RECORDED_AT_NOW: Final = frozenset(
    {NOW, "documents_issued_at", "sale_start", "announcement_at", "source_publicity_start", "publicity_start"}
)
EARLIEST: Final = N_("Earliest allowed: %(date)s (%(source)s)")


@dataclass(frozen=True)
class Field:
    """An input of a step's form: ``name`` is the parameter the step receives; ``fact`` the date it sets."""

    name: str
    kind: Literal["datetime", "number", "checkbox", "text"]
    label: str
    required: bool = False
    fact: str | None = None


_PUBLICITY_END = Field(
    "publicity_end", "datetime", N_("Publicity ends (empty: the legal minimum)"), fact="publicity_end"
)
ACTION_FIELDS: Final[Mapping[str, tuple[Field, ...]]] = {
    "accept": (
        Field("green_channel", "checkbox", N_("Green channel")),
        Field("accept_with_promise", "checkbox", N_("Accept with missing documents on a credit promise")),
    ),
    "return_registration": (Field("reason", "text", N_("Reason for returning")),),
    "publish_announcement": (
        Field("announcement_end", "datetime", N_("Announcement period ends"), fact="announcement_end"),
    ),
    "publish_prequalification": (
        Field("sale_end", "datetime", N_("Documents on sale until"), True, "sale_end"),
        Field("preq_deadline", "datetime", N_("Application deadline"), True, "preq_deadline"),
    ),
    "send_invitations": (Field("invitees", "number", N_("Number of invited bidders"), True),),
    "publish_single_source": (Field("publicity_end", "datetime", N_("Publicity ends"), True, "source_publicity_end"),),
    "issue_documents": (
        Field("bid_deadline", "datetime", N_("Bid deadline"), True, "bid_deadline"),
        Field("sale_end", "datetime", N_("Documents available until (empty: the bid deadline)"), fact="sale_end"),
    ),
    "amend_documents": (Field("new_deadline", "datetime", N_("New deadline (empty: moved only if the law requires)")),),
    "finish_opening": (Field("valid_bids", "number", N_("Valid bids"), True),),
    "start_evaluation": (Field("committee_ready", "checkbox", N_("The evaluation committee is formed and signed in")),),
    "submit_report": (Field("award_confirm_due", "datetime", N_("The purchaser must confirm by")),),
    "publish_candidates": (_PUBLICITY_END,),
    "publish_result": (_PUBLICITY_END,),
    "confirm_award": (
        Field("winner_uscc", "text", N_("Winner's unified social credit code"), True),
        Field("amount", "text", N_("Award amount (yuan)"), True),
    ),
}
#: Contract steps that are not transitions of the procedure table (``contracts``), offered when due.
EXTRA_LABELS: Final = {
    "publish_contract": N_("Publish the contract"),
    "regulator_report": N_("File the written report"),
}


@dataclass(frozen=True)
class FieldView:
    """An input as the template shows it."""

    name: str
    kind: str
    label: str
    required: bool
    value: str
    hint: str


@dataclass(frozen=True)
class ActionForm:
    """A step the reader may take now, as a form posting to ``url``."""

    action: str
    label: str
    url: str
    fields: tuple[FieldView, ...]
    danger: bool


def _zh(msgid: str) -> str:
    return translator("zh-CN").gettext(msgid)


def _china_time(raw: str, label: str) -> datetime:
    """A ``datetime-local`` value, taken as Beijing time."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            "page.bad_time", f"「{_zh(label)}」的时间格式错误。", f"{label}: malformed date and time."
        ) from None
    return ensure_utc(value if value.tzinfo else value.replace(tzinfo=SHANGHAI))


def params_from_form(action: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The parameters of a step from its form: dates in Beijing time, whole numbers, checkboxes as flags."""
    out: dict[str, Any] = {}
    for f in ACTION_FIELDS.get(action, ()):
        raw = str(form.get(f.name, "")).strip()[:MAX_FIELD]
        if f.kind == "checkbox":
            out[f.name] = raw in ("1", "on", "true")
        elif not raw:
            if f.required:
                raise ValidationFailed("page.field_required", f"请填写「{_zh(f.label)}」。", f"Fill in: {f.label}.")
        elif f.kind == "datetime":
            out[f.name] = _china_time(raw, f.label)
        elif f.kind == "number":
            if not (raw.isascii() and raw.isdigit()):
                raise ValidationFailed(
                    "page.bad_number", f"「{_zh(f.label)}」须为非负整数。", f"{f.label}: enter a whole number."
                )
            out[f.name] = int(raw)
        else:
            out[f.name] = raw
    return out


def _earliest_hint(project: Project, action: str, fact: str | None, lang: Lang, ctx: Reading) -> str:
    """The earliest date the law allows for a date the step sets, from the rule its transition checks."""
    if fact is None:
        return ""
    facts = project_facts(project, ctx.now)
    for t in get_procedure(project.procedure_code).transitions_from(project.state):
        for check in t.time_rules if t.action == action else ():
            start = ctx.now if check.start_fact in RECORDED_AT_NOW else facts.time(check.start_fact)
            rule = ctx.checker.book.get(check.rule_id)
            if check.end_fact == fact and start is not None and rule.kind in ("min_between", "duration"):
                day = rules.earliest_allowed(rule, start, ctx.checker.calendar)
                return lang.text(EARLIEST, date=minutes(day)[:10], source=rule.source)
    return ""


def action_form(
    action: str,
    url: str,
    lang: Lang,
    *,
    project: Project | None = None,
    ctx: Reading | None = None,
    values: Mapping[str, str] | None = None,
) -> ActionForm:
    """The form of one step, refilled with what a refused attempt sent, with the law's earliest dates."""
    values = values or {}
    fields = tuple(
        FieldView(
            name=f.name,
            kind=f.kind,
            label=lang.text(f.label),
            required=f.required,
            value=str(values.get(f.name, ""))[:MAX_FIELD],
            hint=_earliest_hint(project, action, f.fact, lang, ctx) if project is not None and ctx else "",
        )
        for f in ACTION_FIELDS.get(action, ())
    )
    label = lang.text(EXTRA_LABELS[action]) if action in EXTRA_LABELS else lang.action(action)
    return ActionForm(action, label, url, fields, action in DANGEROUS)


def offered_steps(project: Project, roles: frozenset[str], facts: engine.Facts) -> list[str]:
    """The steps the project page offers ``roles`` now: the engine's allowed actions, then due contract steps."""
    procedure = get_procedure(project.procedure_code)
    steps = [a for a in engine.allowed_actions(procedure, project.state, roles, facts) if a not in OWN_FORMS]
    if roles & {"tenderer", "agency", "operator"} and facts.contract_signed_at and not facts.contract_published_at:
        steps.append("publish_contract")
    reporter = project.sector == "engineering" and bool(roles & {"tenderer", "agency"})
    if reporter and facts.award_confirmed_at and not facts.regulator_report_at:
        steps.append("regulator_report")
    return steps


def perform_step(uow: UnitOfWork, actor: Actor, project_id: int, action: str, params: dict[str, Any]) -> None:
    """Take a step from a page: award and contract steps through ``contracts``, the others through perform."""
    if action == "confirm_award":
        winner = get_org_by_uscc(uow.session, str(params["winner_uscc"]))
        contracts.confirm_award(uow, actor, project_id, winner_org_id=winner.id, amount=params["amount"])
    elif action == "publish_contract":
        contracts.publish_contract(uow, actor, project_id)
    elif action == "regulator_report":
        contracts.file_regulator_report(uow, actor, project_id)
    else:
        service.perform(uow, actor, project_id, action, params)
