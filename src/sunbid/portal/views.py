"""Read models of projects for pages: labels in the page language, countdowns, timelines and documents.

Shared by the working pages (:mod:`sunbid.projects.pages`) and the public portal (:mod:`sunbid.portal.pages`).
Everything a template shows is decided here — which documents and steps are public, how long a time limit has
left, which legal rule sets it — so that templates only lay it out. Times are shown in Asia/Shanghai.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from sunbid.core.clock import ensure_utc
from sunbid.identity.models import Organisation, RegionRow, User
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import contracts, engine, rules
from sunbid.projects.engine import Deadline, Facts
from sunbid.projects.models import ContractSignature, Objection, Project, ProjectDocument, ProjectEvent
from sunbid.projects.procedure_model import Procedure, StateDef
from sunbid.projects.procedure_vocabulary import ACTION_LABELS, FACT_LABELS, NOW, ROLE_LABELS, Phase, Severity
from sunbid.projects.procedures import get_procedure
from sunbid.projects.service import DOCUMENT_KINDS
from sunbid.projects.timing import RuleChecker, checker_for, project_facts
from sunbid.web import i18n
from sunbid.web.i18n import N_, Translator
from sunbid.web.render import local_time

PROOF_URL: Final = "/api/v1/log/proof/inclusion?index={index}"
MINUTE_FORMAT: Final = "%Y-%m-%d %H:%M"
#: Steps that publish a project on the portal (an announcement of some kind).
ANNOUNCE_ACTIONS: Final = ("publish_announcement", "publish_prequalification", "publish_single_source")
#: Steps the public timeline shows. Registration, acceptance and objections stay on the working pages.
PUBLIC_ACTIONS: Final = frozenset(
    {
        *ANNOUNCE_ACTIONS,
        "publish_plan",
        "send_invitations",
        "issue_documents",
        "amend_documents",
        "close_prequalification",
        "close_bidding",
        "finish_opening",
        "publish_candidates",
        "end_publicity",
        "confirm_award",
        "publish_result",
        "sign_contract",
        "archive",
        "suspend",
        "resume",
        "terminate",
        "declare_failed",
        "retender",
    }
)
#: Dates of a project the public may know.
PUBLIC_DATES: Final = (
    "announcement_at",
    "announcement_end",
    "sale_start",
    "sale_end",
    "documents_issued_at",
    "preq_deadline",
    "bid_deadline",
    "source_publicity_start",
    "source_publicity_end",
    "publicity_start",
    "publicity_end",
    "contract_published_at",
)
SECTOR_LABELS: Final = {
    "engineering": ("工程建设", "engineering construction"),
    "procurement": ("政府采购", "government procurement"),
}
TONES: Final = {Phase.EXCEPTION: "warn", Phase.CLOSED: "closed"}
#: States in which the project waits for the centre (shown in amber).
PENDING_STATES: Final = frozenset({"draft", "registered"})

LEFT_DAYS: Final = N_("%(days)s d %(hours)s h left")
LEFT_HOURS: Final = N_("%(hours)s h %(minutes)s min left")
TIME_UP: Final = N_("Time is up")
AUTO: Final = N_("The system takes this step automatically at this time")
REFUSED_AFTER: Final = N_("After this time the step is refused")
REPORTED_AFTER: Final = N_("A late step still goes ahead but is reported to the regulator")
NOT_BEFORE: Final = N_("The step is not allowed before this time")
YUAN: Final = N_("%(amount)s yuan")
OPEN: Final = N_("Awaiting an answer")
ANSWERED: Final = N_("Answered")
UPHELD: Final = N_("Upheld")
NOT_UPHELD: Final = N_("Not upheld")
PARTIES: Final = {"tenderer": N_("Tenderer"), "winner": N_("Winning bidder")}


@dataclass(frozen=True)
class Lang:
    """Texts in the page language: translated msgids and the Chinese or English labels of procedure data."""

    tr: Translator

    @property
    def english(self) -> bool:
        """Whether the page is in English."""
        return self.tr.english

    def text(self, msgid: str, **params: Any) -> str:
        """A translated msgid."""
        return self.tr.gettext(msgid, **params)

    def pick(self, pair: tuple[str, str]) -> str:
        """The Chinese or the (capitalised) English member of a label pair."""
        if not self.english:
            return pair[0]
        return pair[1][:1].upper() + pair[1][1:]

    def state(self, procedure: Procedure, code: str) -> str:
        """The name of a state of ``procedure``."""
        found = procedure.state(code)
        return code if found is None else self.pick((found.name_zh, found.name_en))

    def action(self, code: str) -> str:
        """The label of a procedure action."""
        return self.pick(ACTION_LABELS.get(code, (code, code)))

    def role(self, code: str) -> str:
        """The label of a procedure role."""
        return self.pick(ROLE_LABELS.get(code, (code, code)))

    def fact(self, name: str) -> str:
        """The label of a time fact."""
        return self.pick(FACT_LABELS.get(name, (name, name)))

    def kind(self, kind: str) -> str:
        """The label of a document kind."""
        return self.pick(DOCUMENT_KINDS.get(kind, (kind, kind)))

    def procedure(self, procedure: Procedure) -> str:
        """The name of a procedure."""
        return self.pick((procedure.name_zh, procedure.name_en))

    def yuan(self, amount: Decimal | None) -> str:
        """An amount of money with thousands separators (empty when unknown)."""
        return "" if amount is None else self.text(YUAN, amount=f"{amount:,.2f}")


def lang_of(request: Request) -> Lang:
    """The texts of the request's page language."""
    return Lang(i18n.translator(i18n.negotiate(request)))


def minutes(value: datetime | None) -> str:
    """A time to the minute in China time (empty when unknown)."""
    return local_time(value, MINUTE_FORMAT)


@dataclass(frozen=True)
class Reading:
    """What a page reads with: the time of the request and the legal time rules on the official calendar."""

    now: datetime
    checker: RuleChecker


def reading(uow: UnitOfWork) -> Reading:
    """The time and rule checker of a reading unit of work."""
    return Reading(uow.now, checker_for(uow.session))


def proof_url(index: int | None) -> str:
    """Where the inclusion proof of a transparency-log entry is (empty without an entry)."""
    return "" if index is None else PROOF_URL.format(index=index)


# --- projects ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectView:
    """What pages show about a project, in the page language."""

    id: int
    code: str
    name: str
    procedure: str
    sector: str
    state: str
    state_code: str
    tone: str
    region: str
    tenderer: str
    agency: str
    budget: str
    winner: str
    award_amount: str
    created_at: str
    updated_at: str
    green_channel: bool
    accept_with_promise: bool


def org_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Names of organisations by id."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))).all())


def region_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Names of regions by code."""
    wanted = set(codes)
    if not wanted:
        return {}
    return dict(session.execute(select(RegionRow.code, RegionRow.name).where(RegionRow.code.in_(wanted))).all())


def _tone(sdef: StateDef | None) -> str:
    """The colour of a state's badge: waiting for the centre, exception, closed, or running."""
    if sdef is None:
        return "active"
    return "pending" if sdef.code in PENDING_STATES else TONES.get(sdef.phase, "active")


def project_views(session: Session, projects: Sequence[Project], lang: Lang) -> list[ProjectView]:
    """Views of several projects, with their organisations and regions loaded at once."""
    orgs = org_names(session, [i for p in projects for i in (p.tenderer_org_id, p.agency_org_id, p.winner_org_id)])
    regions = region_names(session, [p.region_code for p in projects])
    out = []
    for p in projects:
        procedure = get_procedure(p.procedure_code)
        sdef = procedure.state(p.state)
        out.append(
            ProjectView(
                id=p.id,
                code=p.code,
                name=p.name,
                procedure=lang.procedure(procedure),
                sector=lang.pick(SECTOR_LABELS.get(p.sector, (p.sector, p.sector))),
                state=lang.state(procedure, p.state),
                state_code=p.state,
                tone=_tone(sdef),
                region=regions.get(p.region_code, p.region_code),
                tenderer=orgs.get(p.tenderer_org_id, ""),
                agency=orgs.get(p.agency_org_id, "") if p.agency_org_id else "",
                budget=lang.yuan(p.budget),
                winner=orgs.get(p.winner_org_id, "") if p.winner_org_id else "",
                award_amount=lang.yuan(p.award_amount),
                created_at=minutes(p.created_at),
                updated_at=minutes(p.updated_at),
                green_channel=p.green_channel,
                accept_with_promise=p.accept_with_promise,
            )
        )
    return out


def project_view(session: Session, project: Project, lang: Lang) -> ProjectView:
    """The view of one project."""
    return project_views(session, [project], lang)[0]


def announced_at(session: Session, project_id: int) -> datetime | None:
    """When the project was last announced on the portal (None: never, so it is not public)."""
    at = session.scalar(
        select(func.max(ProjectEvent.occurred_at)).where(
            ProjectEvent.project_id == project_id, ProjectEvent.action.in_(ANNOUNCE_ACTIONS)
        )
    )
    return None if at is None else ensure_utc(at)


def key_dates(project: Project, lang: Lang, now: datetime, *, public: bool) -> list[tuple[str, str]]:
    """The recorded dates of the project (only those the public may know when ``public``)."""
    facts = project_facts(project, now)
    names = PUBLIC_DATES if public else tuple(n for n in FACT_LABELS if n != NOW)
    return [(lang.fact(n), minutes(t)) for n in names if (t := facts.time(n)) is not None]


# --- countdowns --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Countdown:
    """A running time limit: what ends, when (China time), how long is left, the rule and its legal source."""

    label: str
    rule: str
    source: str
    consequence: str
    due: datetime
    due_text: str
    due_iso: str
    remaining: str
    overdue: bool


def remaining_text(due: datetime, now: datetime, lang: Lang) -> tuple[str, bool]:
    """How long is left until ``due`` (days and hours, or hours and minutes in the last day); overdue flag."""
    seconds = int((ensure_utc(due) - ensure_utc(now)).total_seconds())
    if seconds <= 0:
        return lang.text(TIME_UP), True
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return lang.text(LEFT_DAYS, days=days, hours=hours), False
    return lang.text(LEFT_HOURS, hours=hours, minutes=rest // 60), False


def _setting_rule(procedure: Procedure, state: str, fact: str | None) -> str | None:
    """The rule that governed a date a timed step waits for: a time check ending at it on the way into ``state``."""
    entering = [t for t in procedure.transitions if t.target == state and state not in t.sources]
    for t in entering + [t for t in procedure.transitions if t not in entering]:
        for check in t.time_rules:
            if fact is not None and check.end_fact == fact:
                return check.rule_id
    return None


def _consequence(d: Deadline, rule: rules.TimeRule | None) -> str:
    if d.kind == "timed":
        return AUTO
    if d.end_fact == NOW and rule is not None and rule.kind != "max_within":
        return NOT_BEFORE
    return REFUSED_AFTER if d.severity is Severity.REFUSE else REPORTED_AFTER


def _shown(procedure: Procedure, state: str, d: Deadline, roles: frozenset[str] | None) -> bool:
    if roles is None or d.kind == "timed":
        return True
    if d.kind == "watch":
        return False
    return any(t.action == d.action and t.roles & roles for t in procedure.transitions_from(state))


def countdowns(
    session: Session, project: Project, lang: Lang, now: datetime, roles: frozenset[str] | None = None
) -> list[Countdown]:
    """Every running time limit of the project (``engine.deadlines`` resolved on the official calendar).

    ``roles=None`` shows them all (the parties' page); otherwise the timed steps and the limits of actions
    those roles take (a bidder sees the bid deadline and the last day to object; the public only the former).
    """
    procedure = get_procedure(project.procedure_code)
    checker = checker_for(session)
    facts: Facts = project_facts(project, now)
    out = []
    for d in engine.deadlines(procedure, project.state, facts, checker.resolve):
        if d.due is None or not _shown(procedure, project.state, d, roles):
            continue
        rule_id = d.rule_id or _setting_rule(procedure, project.state, d.end_fact)
        rule = checker.book.get(rule_id) if rule_id is not None and rule_id in checker.book else None
        remaining, overdue = remaining_text(d.due, now, lang)
        out.append(
            Countdown(
                label=lang.pick((d.label_zh, d.label_en)),
                rule="" if rule is None else lang.pick((rule.title_zh, rule.title_en)),
                source="" if rule is None else rule.source,
                consequence=lang.text(_consequence(d, rule)),
                due=d.due,
                due_text=minutes(d.due),
                due_iso=ensure_utc(d.due).isoformat(),
                remaining=remaining,
                overdue=overdue,
            )
        )
    return sorted(out, key=lambda c: c.due)


def countdown_context(
    session: Session, project: Project, lang: Lang, now: datetime, roles: frozenset[str] | None = None
) -> dict[str, Any]:
    """The template variables of the countdown list: the limits, the script's texts and the server's time."""
    return {
        "countdowns": countdowns(session, project, lang, now, roles),
        "formats": countdown_formats(lang),
        "now_iso": ensure_utc(now).isoformat(),
    }


def countdown_formats(lang: Lang) -> dict[str, str]:
    """The remaining-time texts with ``{d}``, ``{h}``, ``{m}`` placeholders, for the optional ticking script."""
    return {
        "days": lang.text(LEFT_DAYS, days="{d}", hours="{h}"),
        "hours": lang.text(LEFT_HOURS, hours="{h}", minutes="{m}"),
        "over": lang.text(TIME_UP),
    }


# --- timeline ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One recorded step of a project and its entry in the transparency log."""

    seq: int
    at: str
    action: str
    from_state: str
    to_state: str
    role: str
    actor: str
    ledger_index: int | None
    proof_url: str
    warnings: tuple[str, ...]


def timeline(session: Session, project: Project, lang: Lang, *, public: bool) -> list[Step]:
    """The steps of the project, oldest first; ``public`` keeps only public steps and hides who acted."""
    procedure = get_procedure(project.procedure_code)
    events = list(
        session.scalars(select(ProjectEvent).where(ProjectEvent.project_id == project.id).order_by(ProjectEvent.seq))
    )
    if public:
        events = [e for e in events if e.action in PUBLIC_ACTIONS]
    users: dict[int, str] = {}
    orgs: dict[int, str] = {}
    if not public:
        ids = {e.actor_user_id for e in events if e.actor_user_id is not None}
        if ids:
            users = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())
        orgs = org_names(session, [e.actor_org_id for e in events])
    book = rules.RuleBook.default()
    steps = []
    for e in events:
        actor = " · ".join(x for x in (users.get(e.actor_user_id or 0, ""), orgs.get(e.actor_org_id or 0, "")) if x)
        warnings: tuple[str, ...] = ()
        if not public:
            codes = [str(c).removeprefix("rules.") for c in (e.data or {}).get("warnings", [])]
            warnings = tuple(lang.pick((book.get(c).title_zh, book.get(c).title_en)) if c in book else c for c in codes)
        steps.append(
            Step(
                seq=e.seq,
                at=local_time(e.occurred_at),
                action=lang.action(e.action),
                from_state=lang.state(procedure, e.from_state),
                to_state=lang.state(procedure, e.to_state),
                role=lang.role(e.actor_role),
                actor="" if public else actor,
                ledger_index=e.ledger_index,
                proof_url=proof_url(e.ledger_index),
                warnings=warnings,
            )
        )
    return steps


# --- objections and the contract ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectionView:
    """An objection with its reply; ``answer_url`` is set when the reader may answer it now."""

    id: int
    org: str
    text: str
    raised_at: str
    reply_due: str
    status: str
    answered: bool
    reply: str
    replied_at: str
    upheld: str
    answer_url: str


def objection_views(
    session: Session, project: Project, lang: Lang, answer_base: str, *, org_ids: set[int] | None
) -> list[ObjectionView]:
    """The objections of the project (only those of ``org_ids`` when given), oldest first.

    ``answer_base`` is the project page's URL when the reader may answer (the tenderer or agency), else empty.
    """
    stmt = select(Objection).where(Objection.project_id == project.id).order_by(Objection.raised_at, Objection.id)
    if org_ids is not None:
        stmt = stmt.where(Objection.org_id.in_(org_ids or {0}))
    rows = list(session.scalars(stmt))
    names = org_names(session, [o.org_id for o in rows])
    return [
        ObjectionView(
            id=o.id,
            org=names.get(o.org_id, ""),
            text=o.text,
            raised_at=minutes(o.raised_at),
            reply_due=minutes(o.reply_due_at),
            status=lang.text(ANSWERED if o.status == "answered" else OPEN),
            answered=o.status == "answered",
            reply=o.reply or "",
            replied_at=minutes(o.replied_at),
            upheld="" if o.upheld is None else lang.text(UPHELD if o.upheld else NOT_UPHELD),
            answer_url=f"{answer_base}/objections/{o.id}/answer" if answer_base and o.status == "open" else "",
        )
        for o in rows
    ]


@dataclass(frozen=True)
class ContractView:
    """The contract to sign online: the exact text each party signs, who has signed, and where to post."""

    message: str
    filename: str
    sha256: str
    signed: str
    already_signed: bool
    url: str


def contract_view(session: Session, project: Project, lang: Lang, party: str | None, base: str) -> ContractView | None:
    """For a party (``tenderer`` or ``winner``) of an awarded project, the contract signing; else None.

    ``message`` is empty while no contract text is uploaded.
    """
    if party is None or project.state != "awarded":
        return None
    doc = session.scalar(
        select(ProjectDocument)
        .where(ProjectDocument.project_id == project.id, ProjectDocument.kind == "contract")
        .order_by(ProjectDocument.id.desc())
        .limit(1)
    )
    if doc is None:
        return ContractView("", "", "", "", False, f"{base}/contract/sign")
    signed = set(
        session.scalars(
            select(ContractSignature.party).where(
                ContractSignature.project_id == project.id, ContractSignature.document_id == doc.id
            )
        )
    )
    return ContractView(
        message=contracts.contract_message(project, doc),
        filename=doc.filename,
        sha256=doc.sha256,
        signed=(", " if lang.english else "、").join(lang.text(PARTIES[p]) for p in sorted(signed) if p in PARTIES),
        already_signed=party in signed,
        url=f"{base}/contract/sign",
    )
