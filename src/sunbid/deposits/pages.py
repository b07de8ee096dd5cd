"""Deposit pages: the bidder's own deposits (``/deposits/mine``) and the centre's console (``/deposits/console``).

**The bidder** (its own organisations only) registers its 基本账户, asks for the virtual sub-account of a
section that takes bids now, hands in an electronic guarantee letter or guarantee insurance (fields and the
policy file, whose SHA-256 the issuer confirms), and sees its own sub-accounts with their status, credits,
refunds (principal, interest, due date) and guarantees.

**The centre's staff** see centre-wide ledger totals and statistics, import a day's MT940 statement and read
every difference, clear unclaimed deposits (历史沉淀保证金: grounds required, corrected payee optional), and read
the statistics inputs per period (guarantee share, refunds on time vs late). The period figures count only
sections already opened: before opening even a count of deposits tells how many bid.

Every form carries the CSRF token and every change runs through the deposit services in a unit of work with a
``web`` request context, so it is audited like the API. A refused change re-renders the page with the error's
message and HTTP status and changes nothing. Anonymous visitors go to the login page, other roles get 403.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from sunbid.core.calendar import local_date
from sunbid.core.clock import SHANGHAI
from sunbid.core.errors import DomainError, ValidationFailed
from sunbid.deposits import domain, forfeits, reconcile, refunds, service
from sunbid.deposits.models import (
    BidderBasicAccount,
    DepositCredit,
    DepositGuarantee,
    DepositReconciliation,
    DepositRefund,
    DepositRequirement,
)
from sunbid.deposits.tasks import system
from sunbid.identity.domain import Role
from sunbid.identity.service import Actor
from sunbid.platform.deps import request_context
from sunbid.platform.uow import UnitOfWork
from sunbid.projects.models import Project, Section
from sunbid.projects.timing import project_facts
from sunbid.web import i18n
from sunbid.web.render import add_template_package, error_status, render_page
from sunbid.web.security import page_actor, platform_of, verify_csrf

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]

BIDDERS_ONLY: Final = ("只有投标人可以查看本页。", "Only bidders may open this page.")
STAFF_ONLY: Final = ("只有交易中心工作人员可以查看保证金控制台。", "Only centre staff may open the deposit console.")

#: Largest guarantee policy file and MT940 statement accepted from a form.
MAX_POLICY_BYTES: Final = 10 * 1024 * 1024
MAX_STATEMENT_BYTES: Final = 2 * 1024 * 1024
MAX_TEXT: Final = 2000

#: What a successful form says on the page it returns to (``?done=``).
DONE: Final[Mapping[str, tuple[str, str]]] = {
    "basic": ("基本账户已登记。", "Basic account recorded."),
    "account": ("虚拟子账号已生成，请从基本账户转入保证金。", "Sub-account ready: pay from your basic account."),
    "guarantee": ("保函已提交并经出具机构核验。", "Guarantee handed in and verified by its issuer."),
    "guarantee_rejected": ("保函未通过核验，请查看下方问题。", "The guarantee was not verified: see the problems."),
    "statement": ("对账单已导入，对账结果见下方。", "Statement imported: see the reconciliation below."),
    "cleared": ("已清退，将按新的收款信息重新支付。", "Cleared: the refund is paid again."),
}

#: Chinese (and English) words for the codes the bidder's page shows.
CODE_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    # credit verdicts
    "accepted": ("已入账", "accepted"),
    "wrong_payer": ("非基本账户转入，已原路退回", "not from the basic account: sent back"),
    "late": ("截止后到账，已原路退回", "arrived after the deadline: sent back"),
    "unknown_account": ("子账号不存在，已原路退回", "unknown sub-account: sent back"),
    # refund reasons
    "lost": ("未中标退还", "not awarded"),
    "won": ("中标人签约后退还", "winner, after the contract"),
    "withdrawn": ("撤回投标退还", "bid withdrawn"),
    "terminated": ("招标终止退还", "tender ended"),
    "returned": ("原路退回", "sent back"),
    # refund states
    "planned": ("待退还", "planned"),
    "sent": ("已发送银行", "sent to the bank"),
    "confirmed": ("已退还", "paid"),
    "failed": ("银行拒绝", "refused by the bank"),
    "retried": ("重新支付", "paid again"),
    # sub-account states
    "open": ("收款中", "open"),
    "refunding": ("退还中", "refunding"),
    "settled": ("已结清", "settled"),
    "forfeited": ("不予退还", "kept"),
    # guarantee states
    "verified": ("核验通过", "verified"),
    "rejected": ("核验未通过", "not verified"),
    "claimed": ("已索赔", "claimed"),
}

DIFFERENCE_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "missing_in_ledger": ("台账无此笔", "not in the ledger"),
    "missing_in_statement": ("对账单无此笔", "not on the statement"),
    "amount_mismatch": ("金额不符", "amount differs"),
    "opening_balance": ("期初余额不符", "opening balance differs"),
    "closing_balance": ("期末余额不符", "closing balance differs"),
}


def install(app: FastAPI) -> None:
    """Add the deposit pages and their templates to ``app``."""
    add_template_package("sunbid.deposits")
    app.include_router(router)


# --- statistics per period (pure) --------------------------------------------------------------------------------

Period = Literal["month", "quarter", "year"]
PERIODS: Final[tuple[Period, ...]] = ("month", "quarter", "year")


@dataclass(frozen=True)
class SecuredDeposit:
    """One bidder's deposit on one section: the day it was secured and whether by a guarantee."""

    day: date
    guarantee: bool


@dataclass(frozen=True)
class PaidRefund:
    """One confirmed refund of a sub-account: when it was paid, by when it was due, and its money."""

    paid_on: date
    due: date | None
    interest: Decimal
    fee: Decimal


@dataclass(frozen=True)
class PeriodRow:
    period: str
    deposits: int
    guarantees: int
    guarantee_share_percent: Decimal | None
    refunds: int
    on_time: int
    late: int
    interest: Decimal
    fees: Decimal


def period_of(day: date, period: Period) -> str:
    """``2026-09`` (month), ``2026-Q3`` (quarter) or ``2026`` (year)."""
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def period_statistics(
    deposits: Iterable[SecuredDeposit], paid: Iterable[PaidRefund], period: Period
) -> list[PeriodRow]:
    """The statistics inputs per period, newest first: guarantee share (of the deposits secured in the period)
    and refunds on time vs late (by the day they were paid; a refund with no due date counts as on time)."""
    secured: dict[str, list[SecuredDeposit]] = {}
    for d in deposits:
        secured.setdefault(period_of(d.day, period), []).append(d)
    refunded: dict[str, list[PaidRefund]] = {}
    for r in paid:
        refunded.setdefault(period_of(r.paid_on, period), []).append(r)
    rows: list[PeriodRow] = []
    for key in sorted(set(secured) | set(refunded), reverse=True):
        ds, rs = secured.get(key, []), refunded.get(key, [])
        guarantees = sum(1 for d in ds if d.guarantee)
        share = domain.fen(Decimal(guarantees) * 100 / Decimal(len(ds))) if ds else None
        late = sum(1 for r in rs if domain.paid_late(r.due, r.paid_on))
        rows.append(
            PeriodRow(
                period=key,
                deposits=len(ds),
                guarantees=guarantees,
                guarantee_share_percent=share,
                refunds=len(rs),
                on_time=len(rs) - late,
                late=late,
                interest=sum((r.interest for r in rs), domain.ZERO),
                fees=sum((r.fee for r in rs), domain.ZERO),
            )
        )
    return rows


def _period_inputs(uow: UnitOfWork) -> tuple[list[SecuredDeposit], list[PaidRefund]]:
    """The secured deposits and paid refunds of sections already opened (sealed ones count nowhere)."""
    accounts = reconcile.opened_accounts(uow)
    ids = [a.id for a in accounts] or [-1]
    guaranteed: dict[int, datetime] = {}
    for g in uow.session.scalars(
        select(DepositGuarantee).where(
            DepositGuarantee.account_id.in_(ids), DepositGuarantee.status.in_(("verified", "claimed"))
        )
    ):
        guaranteed[g.account_id] = min(g.submitted_at, guaranteed.get(g.account_id, g.submitted_at))
    paid_in: dict[int, datetime] = {}
    for c in uow.session.scalars(
        select(DepositCredit).where(DepositCredit.account_id.in_(ids), DepositCredit.verdict == "accepted")
    ):
        if c.account_id is not None:
            paid_in[c.account_id] = min(c.booked_at, paid_in.get(c.account_id, c.booked_at))
    secured = [
        SecuredDeposit(local_date(guaranteed.get(a.id) or paid_in[a.id]), a.id in guaranteed)
        for a in accounts
        if a.id in guaranteed or a.id in paid_in
    ]
    paid = [
        PaidRefund(local_date(r.confirmed_at), r.due_date, Decimal(r.interest or 0), Decimal(r.fee or 0))
        for r in uow.session.scalars(
            select(DepositRefund).where(DepositRefund.account_id.in_(ids), DepositRefund.state == "confirmed")
        )
        if r.confirmed_at is not None
    ]
    return secured, paid


# --- helpers -------------------------------------------------------------------------------------------------------


def _guard(request: Request, back: str, roles: tuple[Role, ...], refusal: tuple[str, str]) -> Actor | Response:
    actor = page_actor(request)
    if actor is None:
        return RedirectResponse("/login?next=" + quote(back, safe="/"), status_code=303)
    if not set(roles) & set(actor.roles):
        text = refusal[1] if i18n.negotiate(request) == "en" else refusal[0]
        return render_page(request, "message.html", {"message": text, "back": "/"}, status_code=403)
    return actor


def _guarded(
    request: Request, csrf: str | None, actor: Actor, fn: Callable[[UnitOfWork, Actor], object]
) -> tuple[object, DomainError | None]:
    """Check the CSRF token, run ``fn`` in a unit of work and commit; its result and the error that refused it."""
    try:
        verify_csrf(request, csrf)
        with platform_of(request).uow(request_context(request, "web")) as uow:
            result = fn(uow, actor)
            uow.commit()
    except DomainError as exc:
        return None, exc
    return result, None


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _messages(request: Request, error: DomainError | None, done: str | None) -> dict[str, Any]:
    english = i18n.negotiate(request) == "en"
    notice = DONE.get(done or "")
    return {
        "error": "" if error is None else error.message("en" if english else "zh"),
        "error_code": "" if error is None else error.code,
        "notice": "" if notice is None else notice[1 if english else 0],
    }


def _local_datetime(value: str, what: str) -> datetime:
    """A form's ``datetime-local`` value (Asia/Shanghai unless it names its zone)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            "deposit.bad_time", f"{what}格式错误（如 2026-09-01T09:00）。", f"{what}: use e.g. 2026-09-01T09:00."
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=SHANGHAI)


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed("deposit.bad_form", f"请选择{what}。", f"Choose the {what}.") from None


# --- the bidder's page ---------------------------------------------------------------------------------------------


def _open_sections(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Sections taking bids now that ask for a deposit (public: the deposit is in the tender documents)."""
    rows = uow.session.execute(
        select(Project, Section, DepositRequirement)
        .join(Section, Section.id == DepositRequirement.section_id)
        .join(Project, Project.id == DepositRequirement.project_id)
        .where(Project.state == "bidding")
        .order_by(Project.id, Section.code)
    ).all()
    out: list[dict[str, Any]] = []
    for project, section, req in rows:
        deadline = project_facts(project, uow.now).bid_deadline
        if deadline is None or uow.now < deadline:
            out.append({"project": project, "section": section, "amount": req.amount, "deadline": deadline})
    return out


def _mine_page(
    request: Request, actor: Actor, *, error: DomainError | None = None, done: str | None = None
) -> Response:
    platform = platform_of(request)
    deposit_system = system(platform)
    orgs = service.bidder_orgs(actor)
    with platform.uow(request_context(request, "web")) as uow:
        items = service.my_accounts(uow, actor)
        for item in items:
            code, _, _ = service.deposit_state(
                uow, deposit_system, item["project"], item["section"], item["account"].org_id
            )
            item["status"], item["status_label"] = code, domain.STATUS_LABELS[code]
        basic = list(uow.session.scalars(select(BidderBasicAccount).where(BidderBasicAccount.org_id.in_(orgs))))
        page = render_page(
            request,
            "deposits/mine.html",
            {
                "items": items,
                "basic_accounts": basic,
                "open_sections": _open_sections(uow),
                "payee_account": getattr(deposit_system.bank, "account_no", ""),
                "labels": {k: v[1 if i18n.negotiate(request) == "en" else 0] for k, v in CODE_LABELS.items()},
                **_messages(request, error, done),
            },
            status_code=200 if error is None else error_status(error),
        )
    return page


@router.get("/deposits/mine", summary="我的投标保证金 My deposits")
def my_deposits(request: Request, done: str | None = None) -> Response:
    """The bidder's own sub-accounts, credits, refunds and guarantees, with its forms."""
    actor = _guard(request, "/deposits/mine", (Role.BIDDER,), BIDDERS_ONLY)
    if isinstance(actor, Response):
        return actor
    return _mine_page(request, actor, done=done)


@router.post("/deposits/mine/basic-account", summary="登记基本账户 Register the basic account")
def register_basic_account(
    request: Request,
    account_no: FormStr = "",
    account_name: FormStr = "",
    bank_name: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """The bidder records (or changes) its 基本账户: cash deposits must come from it."""
    actor = _guard(request, "/deposits/mine", (Role.BIDDER,), BIDDERS_ONLY)
    if isinstance(actor, Response):
        return actor

    def record(uow: UnitOfWork, who: Actor) -> None:
        service.register_basic_account(
            uow, who, account_no=account_no[:64], account_name=account_name[:200], bank_name=bank_name[:200]
        )

    _, error = _guarded(request, csrf_token, actor, record)
    if error is None:
        return _see_other("/deposits/mine?done=basic")
    return _mine_page(request, actor, error=error)


@router.post("/deposits/mine/accounts", summary="申请虚拟子账号 Request a virtual sub-account")
def request_account(request: Request, section: FormStr = "", csrf_token: FormStr = "") -> Response:
    """The bidder's virtual sub-account for one section (``section`` is ``<project id>:<section code>``)."""
    actor = _guard(request, "/deposits/mine", (Role.BIDDER,), BIDDERS_ONLY)
    if isinstance(actor, Response):
        return actor
    pid, _, code = section.partition(":")

    def open_(uow: UnitOfWork, who: Actor) -> None:
        service.open_account(uow, system(uow.platform), who, _int(pid, "标段"), code[:20])

    _, error = _guarded(request, csrf_token, actor, open_)
    if error is None:
        return _see_other("/deposits/mine?done=account")
    return _mine_page(request, actor, error=error)


@router.post("/deposits/mine/guarantees", summary="提交电子保函 Hand in a guarantee")
def submit_guarantee(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    section: FormStr = "",
    number: FormStr = "",
    issuer: FormStr = "",
    form: FormStr = "letter",
    amount: FormStr = "",
    valid_from: FormStr = "",
    valid_until: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """An electronic guarantee letter or guarantee insurance for one section, verified with its issuer.

    The policy file is hashed here (SHA-256); the issuer confirms the hash with every other field.
    """
    actor = _guard(request, "/deposits/mine", (Role.BIDDER,), BIDDERS_ONLY)
    if isinstance(actor, Response):
        return actor
    data = file.file.read(MAX_POLICY_BYTES + 1) if file is not None else b""
    pid, _, code = section.partition(":")

    def submit(uow: UnitOfWork, who: Actor) -> str:
        if not data:
            raise ValidationFailed("deposit.policy_file_required", "请上传保函文件。", "Attach the policy file.")
        if len(data) > MAX_POLICY_BYTES:
            raise ValidationFailed("deposit.policy_too_large", "保函文件不得超过10MB。", "At most 10 MB.")
        row = forfeits.submit_guarantee(
            uow,
            system(uow.platform),
            who,
            _int(pid, "标段"),
            code[:20],
            number=number[:64],
            issuer=issuer[:200],
            form=form,
            amount=amount.strip(),
            valid_from=_local_datetime(valid_from, "保函生效时间"),
            valid_until=_local_datetime(valid_until, "保函失效时间"),
            file_sha256=hashlib.sha256(data).hexdigest(),
        )
        return row.status

    status, error = _guarded(request, csrf_token, actor, submit)
    if error is None:
        return _see_other("/deposits/mine?done=" + ("guarantee" if status == "verified" else "guarantee_rejected"))
    return _mine_page(request, actor, error=error)


# --- the centre's console ------------------------------------------------------------------------------------------


def _console_page(
    request: Request,
    actor: Actor,
    *,
    error: DomainError | None = None,
    done: str | None = None,
    period: str = "month",
) -> Response:
    english = i18n.negotiate(request) == "en"
    chosen: Period = "quarter" if period == "quarter" else "year" if period == "year" else "month"
    with platform_of(request).uow(request_context(request, "web")) as uow:
        ledger = reconcile.ledger_check(uow)
        stats = reconcile.statistics(uow, actor)
        unclaimed = refunds.unclaimed(uow, actor)
        recs = list(
            uow.session.scalars(select(DepositReconciliation).order_by(DepositReconciliation.id.desc()).limit(20))
        )
        secured, paid = _period_inputs(uow)
        page = render_page(
            request,
            "deposits/console.html",
            {
                "ledger": ledger,
                "stats": stats,
                "unclaimed": unclaimed,
                "reconciliations": recs,
                "difference_labels": {k: v[1 if english else 0] for k, v in DIFFERENCE_LABELS.items()},
                "periods": PERIODS,
                "period": chosen,
                "period_rows": period_statistics(secured, paid, chosen),
                **_messages(request, error, done),
            },
            status_code=200 if error is None else error_status(error),
        )
        uow.commit()  # the unclaimed list read is audited
    return page


@router.get("/deposits/console", summary="保证金控制台 Deposit console")
def console(request: Request, done: str | None = None, period: str = "month") -> Response:
    """Centre staff: ledger totals, statistics per period, unclaimed deposits and reconciliations."""
    actor = _guard(request, "/deposits/console", (Role.OPERATOR, Role.ADMIN), STAFF_ONLY)
    if isinstance(actor, Response):
        return actor
    return _console_page(request, actor, done=done, period=period)


@router.post("/deposits/console/statements", summary="导入对账单 Import a bank statement")
def import_statement(
    request: Request, file: Annotated[UploadFile | None, File()] = None, csrf_token: FormStr = ""
) -> Response:
    """Import one day's MT940 statement of the deposit account and reconcile it with the ledger (stored)."""
    actor = _guard(request, "/deposits/console", (Role.OPERATOR, Role.ADMIN), STAFF_ONLY)
    if isinstance(actor, Response):
        return actor
    data = file.file.read(MAX_STATEMENT_BYTES + 1) if file is not None else b""

    def run(uow: UnitOfWork, who: Actor) -> None:
        if not data or len(data) > MAX_STATEMENT_BYTES:
            raise ValidationFailed(
                "deposit.bad_statement", "请上传不超过2MB的MT940对账单。", "Attach an MT940 statement of at most 2 MB."
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("gb18030", errors="replace")
        reconcile.import_statement(uow, who, text)

    _, error = _guarded(request, csrf_token, actor, run)
    if error is None:
        return _see_other("/deposits/console?done=statement#reconciliations")
    return _console_page(request, actor, error=error)


@router.post("/deposits/console/refunds/{refund_id}/clear", summary="清退沉淀保证金 Clear an unclaimed deposit")
def clear_unclaimed(
    request: Request,
    refund_id: int,
    note: FormStr = "",
    to_account: FormStr = "",
    to_name: FormStr = "",
    to_bank: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """Clear an unclaimed refund with its grounds (required) and, if given, the corrected payee; paid again."""
    actor = _guard(request, "/deposits/console", (Role.OPERATOR, Role.ADMIN), STAFF_ONLY)
    if isinstance(actor, Response):
        return actor

    def clear(uow: UnitOfWork, who: Actor) -> None:
        refunds.clear_unclaimed(
            uow,
            who,
            refund_id,
            note=note[:MAX_TEXT],
            to_account=to_account.strip() or None,
            to_name=to_name.strip()[:200] or None,
            to_bank=to_bank.strip()[:200] or None,
        )

    _, error = _guarded(request, csrf_token, actor, clear)
    if error is None:
        return _see_other("/deposits/console?done=cleared#unclaimed")
    return _console_page(request, actor, error=error)
