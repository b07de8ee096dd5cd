"""Request and response bodies of the projects API (tender lifecycle, documents, objections, contract, portal).

Request bodies are :class:`~sunbid.platform.schemas.StrictModel`: unknown fields are refused and nothing is
coerced, so ``false`` or ``11800000`` is not an amount (money is a decimal *string*) and ``"3"`` is not a count.
Times in requests are ISO 8601 strings *with* an offset (``2026-03-23T09:00:00+08:00``). Times in responses
are :class:`Moment`: UTC and the same instant in Asia/Shanghai.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, overload

from pydantic import BeforeValidator, Field, WithJsonSchema

from sunbid.core.clock import to_local
from sunbid.platform.schemas import Out, StrictModel


def _aware_iso(value: object) -> object:
    """Parse an ISO 8601 string with an offset; anything else (numbers, naive times) is refused."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("time needs an offset (e.g. +08:00)")
        return value
    if not isinstance(value, str):
        raise ValueError("time must be an ISO 8601 string with an offset")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("time must be an ISO 8601 string with an offset") from None
    if when.tzinfo is None:
        raise ValueError("time needs an offset (e.g. +08:00)")
    return when


#: An aware time given as an ISO 8601 string with an offset.
IsoTime = Annotated[
    datetime,
    BeforeValidator(_aware_iso),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-03-23T09:00:00+08:00"]}),
]
#: Yuan as a decimal string with at most two places (never a JSON number).
Money = Annotated[str, Field(pattern=r"^\d{1,16}(\.\d{1,2})?$", examples=["11800000.00"])]


# --- requests ----------------------------------------------------------------------------------------------


class SectionCreate(StrictModel):
    """A section (标段/包) of a new project."""

    code: str = Field(min_length=1, max_length=20)
    name: str = Field(min_length=1, max_length=300)
    budget: Money | None = None
    max_price: Money | None = None


class ProjectCreate(StrictModel):
    """Register a project (项目登记) for a tenderer, by the tenderer or its agency."""

    name: str = Field(min_length=1, max_length=300)
    procedure_code: str = Field(min_length=1, max_length=40, examples=["eng_open"])
    tenderer_org_id: int = Field(ge=1)
    agency_org_id: int | None = Field(default=None, ge=1)
    budget: Money | None = None
    sections: list[SectionCreate] | None = Field(default=None, min_length=1, max_length=200)
    documents_complete: bool = True
    plan_required: bool = False


class ActionParams(StrictModel):
    """Parameters of a procedure action; each action reads the ones it needs (see docs/procedures.md)."""

    green_channel: bool | None = None
    accept_with_promise: bool | None = None
    bid_deadline: IsoTime | None = None
    sale_start: IsoTime | None = None
    sale_end: IsoTime | None = None
    preq_deadline: IsoTime | None = None
    new_deadline: IsoTime | None = None
    publicity_end: IsoTime | None = None
    announcement_end: IsoTime | None = None
    award_confirm_due: IsoTime | None = None
    invitees: int | None = Field(default=None, ge=0, le=10000)
    valid_bids: int | None = Field(default=None, ge=0, le=100000)
    committee_ready: bool | None = None
    reason: str | None = Field(default=None, max_length=2000)


class ObjectionCreate(StrictModel):
    """An objection (异议) to the documents or to the result."""

    text: str = Field(min_length=1, max_length=20000)


class ObjectionAnswer(StrictModel):
    """The reply to an objection, on record."""

    reply: str = Field(min_length=1, max_length=20000)
    upheld: bool


class AwardCreate(StrictModel):
    """The tenderer confirms the winner (定标); the amount is a decimal string."""

    winner_org_id: int = Field(ge=1)
    amount: Money


class SignatureCreate(StrictModel):
    """A party's signature over ``GET /projects/{id}/contract``'s ``message``, with its signing certificate."""

    certificate_pem: str = Field(min_length=1, max_length=20000)
    signature_b64: str = Field(min_length=1, max_length=4000)


class NoParams(StrictModel):
    """An empty body (``{}``, or none at all)."""


# --- responses ---------------------------------------------------------------------------------------------


class Moment(Out):
    """One instant, in UTC and in Beijing time."""

    utc: str
    shanghai: str

    @overload
    @classmethod
    def of(cls, when: datetime) -> Moment: ...

    @overload
    @classmethod
    def of(cls, when: None) -> None: ...

    @overload
    @classmethod
    def of(cls, when: datetime | None) -> Moment | None: ...

    @classmethod
    def of(cls, when: datetime | None) -> Moment | None:
        """The moment of ``when`` (``None`` stays ``None``)."""
        if when is None:
            return None
        return cls(utc=when.astimezone(UTC).isoformat(), shanghai=to_local(when).isoformat())


class OrgRef(Out):
    """An organisation: id and name."""

    id: int
    name: str


class SectionOut(Out):
    """A section; its budget is left out of the public view."""

    code: str
    name: str
    budget: str | None = None
    max_price: str | None = None


class ProjectOut(Out):
    """The working view of a project (parties, centre, competent regulator)."""

    id: int
    code: str
    name: str
    procedure_code: str
    procedure_zh: str
    sector: str
    region_code: str
    state: str
    state_zh: str
    phase: str
    tenderer: OrgRef
    agency: OrgRef | None
    centre_id: int
    budget: str | None
    green_channel: bool
    accept_with_promise: bool
    winner: OrgRef | None
    award_amount: str | None
    sections: list[SectionOut]
    facts: dict[str, Any]
    your_roles: list[str]
    created_at: Moment
    updated_at: Moment


class ProjectSummary(Out):
    """A line of the caller's project list."""

    id: int
    code: str
    name: str
    procedure_code: str
    procedure_zh: str
    state: str
    state_zh: str
    updated_at: Moment


class ProjectPage(Out):
    """A page of the caller's projects."""

    items: list[ProjectSummary]
    total: int
    limit: int
    offset: int


class WarningOut(Out):
    """A legal time rule broken with severity ``warn`` (the step went ahead; the regulator is told)."""

    code: str
    message_zh: str
    message_en: str


class ActionOut(Out):
    """An accepted step: where the project went, the event recorded and the broken ``warn`` rules."""

    project_id: int
    code: str
    action: str
    action_zh: str
    event: str
    from_state: str
    state: str
    state_zh: str
    warnings: list[WarningOut]


class TimelineItem(Out):
    """One step of the project, with who did it, when, and its transparency-log index."""

    seq: int
    action: str
    action_zh: str
    event: str
    from_state: str
    to_state: str
    to_state_zh: str
    role: str
    role_zh: str
    at: Moment
    ledger_index: int | None
    params: dict[str, Any]
    warnings: list[str]


class DeadlineOut(Out):
    """A running time limit (countdown)."""

    kind: str
    label_zh: str
    label_en: str
    action: str | None
    rule_id: str | None
    rule_title_zh: str | None
    rule_source: str | None
    severity: str | None
    due: Moment | None
    seconds_remaining: int | None
    overdue: bool


class DeadlinesOut(Out):
    """The countdowns of the project's current state."""

    state: str
    state_zh: str
    now: Moment
    deadlines: list[DeadlineOut]


class AllowedAction(Out):
    """A step the caller may take now, and where to send it."""

    action: str
    label_zh: str
    label_en: str
    method: str
    endpoint: str


class AllowedActionsOut(Out):
    """What the caller may do now."""

    state: str
    state_zh: str
    roles: list[str]
    actions: list[AllowedAction]


class DocumentOut(Out):
    """A project document: its hash, its log index, where to download it."""

    id: int
    project_id: int
    kind: str
    kind_zh: str
    title: str
    filename: str
    content_type: str
    size: int
    sha256: str
    public: bool
    uploaded_at: Moment
    ledger_index: int | None
    download_url: str


class ObjectionOut(Out):
    """An objection and its reply, with the project's state."""

    id: int
    project_id: int
    kind: str
    org_id: int
    text: str
    status: str
    raised_at: Moment
    reply_due_at: Moment
    reply: str | None
    upheld: bool | None
    replied_at: Moment | None
    state: str
    state_zh: str


class SignatureOut(Out):
    """A party's signature on the contract."""

    party: str
    org_id: int
    certificate_serial: str
    document_sha256: str
    signed_at: Moment


class ContractOut(Out):
    """What the parties sign: the contract document, the exact message and the signatures so far."""

    project_id: int
    state: str
    state_zh: str
    winner: OrgRef | None
    award_amount: str | None
    document: DocumentOut | None
    message: str | None
    signatures: list[SignatureOut]
    signed: bool
    published: bool


class ProjectStepOut(Out):
    """The project after a contract or report step."""

    project_id: int
    code: str
    state: str
    state_zh: str
    facts: dict[str, Any]


class AnnouncementOut(Out):
    """A published announcement on the portal."""

    code: str
    name: str
    procedure_code: str
    procedure_zh: str
    region_code: str
    region_zh: str | None
    state: str
    state_zh: str
    announced_at: Moment
    bid_deadline: Moment | None


class AnnouncementPage(Out):
    """A page of announcements, newest first."""

    items: list[AnnouncementOut]
    total: int
    page: int
    page_size: int


class PublicStep(Out):
    """A public step of a project."""

    action: str
    action_zh: str
    event: str
    state_zh: str
    at: Moment


class PublicProjectOut(Out):
    """What anyone may know about a published project."""

    code: str
    name: str
    procedure_code: str
    procedure_zh: str
    sector: str
    region_code: str
    region_zh: str | None
    state: str
    state_zh: str
    announced_at: Moment | None
    bid_deadline: Moment | None
    publicity_end: Moment | None
    sections: list[SectionOut]
    documents: list[DocumentOut]
    timeline: list[PublicStep]
