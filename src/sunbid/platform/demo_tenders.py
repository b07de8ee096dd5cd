"""Whole tenders for ``sunbid demo``, run through the project service in fake time.

Each tender is a script: a generator that does one or more steps as a demo user and then yields the time it
wants to act next. :func:`drive` moves the :class:`FakeClock` from one moment to the next — the earliest of
the scripts' next times and the outbox's next due job — and runs the outbox worker at every moment, so that
the timed steps (close of bidding at the deadline, start of the opening, close of the decryption window, end
of a publicity period) are fired by the scheduler exactly when they fall due, as in production. Legal dates are
computed from the rule book and the working calendar, so the scripts keep every time limit whatever the start
date. Bids are real sealed containers submitted and opened through the services (:mod:`.demo_bids`).

The tenders (see :func:`run_tenders`):

1. 工程 公开招标 to ``archived``: green channel, an objection to the documents (suspension, reply, resumption), a
   late amendment that moves the deadline, four sealed bids (one replaced before the deadline) and a fifth
   refused at the deadline instant, remote opening with a coefficient draw, one bidder releasing the key of its
   replaced container and giving up (revoked, RULES §3), the published record confirmed by the bidders,
   evaluation, candidate publicity, award at the winner's sealed price, a contract signed by both parties with
   the keys of their demo bundles, publication, report, archive;
2. 政府采购 公开招标 to ``contracted``: three sealed bids, one bidder never decrypts and the tender's custodian
   fallback opens its bid (two of the three custodians post their shares of the opening key);
3. 工程 公开招标 with two sealed bids: ``failed`` at the deadline (never opened), then re-tendered (``accepted``);
4. 竞争性磋商 accepted on a credit promise, still ``bidding``: its days are the days just before now, its deadline
   ahead, so the served site counts down to it and the server's own worker closes it;
5. 工程 公开招标 suspended by the regulator and ``terminated`` by the tenderer.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from sunbid.calendar.service import load_calendar
from sunbid.core.calendar import WorkingCalendar, local_date
from sunbid.core.clock import SHANGHAI, FakeClock, ensure_utc, to_local
from sunbid.crypto.bundle import KeyBundle
from sunbid.crypto.certificates import import_bundle
from sunbid.draws.domain import DecimalRange
from sunbid.identity import service as identity
from sunbid.identity.models import Organisation, User
from sunbid.identity.service import Actor, load_actor
from sunbid.opening.domain import OpeningSettings
from sunbid.platform import demo_bids as bids
from sunbid.platform import demo_deposits as deposits
from sunbid.platform import demo_evaluation as evaluation
from sunbid.platform.container import Platform
from sunbid.platform.context import RequestContext
from sunbid.platform.demo_bids import DemoBid
from sunbid.platform.models import OutboxMessage
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import contracts, rules, service
from sunbid.projects.engine import Facts
from sunbid.projects.models import Project, ProjectDocument, ProjectEvent
from sunbid.projects.procedure_vocabulary import ACTION_LABELS
from sunbid.projects.procedures import get_procedure
from sunbid.projects.timing import project_facts

T = TypeVar("T")


@dataclass(frozen=True)
class Ahead:
    """Yielded by a script: act at ``at`` *before* the scheduler's jobs due at that same moment.

    A plain time acts after them (a step at a deadline sees bidding closed). ``Ahead`` is for a request racing a
    timed job, e.g. a bid's last chunk arriving at the deadline instant, judged by the server clock (late) while
    bidding is still open, before the job closes it.
    """

    at: datetime


#: A tender script: does its steps and yields the time of its next one.
Script = Iterator[datetime | Ahead]

#: Safety net for :func:`drive`: far more moments than the demo needs.
MAX_MOMENTS = 5000


class DemoError(RuntimeError):
    """A demo tender did not go as scripted (a bug in the demo or in the service)."""


@dataclass(frozen=True)
class TenderSpec:
    """A demo project: who registers it and how."""

    key: str
    name: str
    procedure: str
    tenderer: str  # organisation key
    budget: str
    documents_complete: bool = True


TENDERS: tuple[TenderSpec, ...] = (
    TenderSpec("road", "池州市平天湖东路道路改造工程", "eng_open", "tenderer", "12500000.00"),
    TenderSpec("imaging", "池州市人民医院医学影像设备采购项目", "gp_open", "purchaser", "3200000.00"),
    TenderSpec("plant", "池州市江南产业园标准化厂房建设工程", "eng_open", "tenderer", "8600000.00"),
    TenderSpec("estate", "池州市老旧小区改造配套工程（二期）", "eng_open", "tenderer", "5400000.00"),
    TenderSpec(
        "smartcity", "池州市智慧城市运营中心运维服务采购项目", "gp_consultation", "purchaser", "960000.00", False
    ),
)


@dataclass
class DemoWorld:
    """The fake-time platform and helpers to act in it as the demo users."""

    platform: Platform
    clock: FakeClock
    orgs: Mapping[str, int]
    bundles: Mapping[str, Path]
    bundle_password: str
    pids: dict[str, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    _calendar: WorkingCalendar | None = None
    _bundles: dict[str, KeyBundle] = field(default_factory=dict)

    # --- time ----------------------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The fake time."""
        return self.clock.now()

    @property
    def calendar(self) -> WorkingCalendar:
        """The centre's working calendar (official holidays and make-up days, plus its overrides)."""
        if self._calendar is None:
            with self.platform.db.read() as s:
                self._calendar = load_calendar(s)
        return self._calendar

    def on(self, day: date, hhmm: str) -> datetime:
        """``hhmm`` Asia/Shanghai on ``day``, in UTC."""
        h, m = (int(x) for x in hhmm.split(":"))
        return ensure_utc(datetime.combine(day, time(h, m), tzinfo=SHANGHAI))

    def next_at(self, hhmm: str, *, after: datetime | None = None, days: int = 0) -> datetime:
        """The first working-day ``hhmm`` after ``after`` (default now) plus ``days`` calendar days."""
        base = (after or self.now) + timedelta(days=days)
        day = self.calendar.working_day_on_or_after(local_date(base))
        while self.on(day, hhmm) <= base:
            day = self.calendar.next_working_day(day)
        return self.on(day, hhmm)

    def bidding_closes(self, deadline: datetime) -> datetime:
        """When the scheduler closes bidding: the deadline plus the settling time for submissions in flight."""
        return deadline + timedelta(seconds=self.platform.settings.submission_settle_seconds)

    def workday(self, day: date, hhmm: str) -> datetime:
        """``hhmm`` on the first working day on or after ``day``."""
        return self.on(self.calendar.working_day_on_or_after(day), hhmm)

    def earliest(self, rule_id: str, start: datetime | None = None) -> date:
        """The first date a ``min_between``/``duration`` rule allows after ``start`` (default now)."""
        rule = rules.RuleBook.default().get(rule_id)
        return rules.earliest_allowed_date(rule, local_date(start or self.now), self.calendar)

    def latest(self, rule_id: str, start: datetime | None = None) -> datetime:
        """The last instant a ``max_within`` rule allows after ``start`` (default now)."""
        return rules.latest_allowed(rules.RuleBook.default().get(rule_id), start or self.now, self.calendar)

    # --- people ------------------------------------------------------------------------------------------

    def bundle(self, org_key: str) -> KeyBundle:
        """The keys and certificates of the organisation's demo bundle (read once)."""
        if org_key not in self._bundles:
            self._bundles[org_key] = import_bundle(self.bundles[org_key].read_bytes(), self.bundle_password)
        return self._bundles[org_key]

    def org_name(self, org_id: int) -> str:
        """An organisation's name."""
        with self.platform.db.read() as s:
            org = s.get(Organisation, org_id)
            if org is None:
                raise DemoError(f"demo organisation {org_id} vanished")
            return org.name

    # --- acting --------------------------------------------------------------------------------------------

    def actor(self, username: str) -> Actor:
        """The demo user ``username`` as signed in by password, with his current memberships."""
        with self.platform.db.read() as s:
            user = identity.get_user(s, username)
            return load_actor(s, user, method="password")

    def act(self, username: str, fn: Callable[[UnitOfWork, Actor], T]) -> T:
        """Run ``fn`` in one unit of work as ``username`` and commit."""
        actor = self.actor(username)
        ctx = RequestContext(
            source="cli", user_id=actor.user_id, org_id=actor.org_id, actor_name=f"sunbid demo: {username}"
        )
        with self.platform.uow(ctx) as uow:
            result = fn(uow, actor)
            uow.commit()
        return result

    def register(self, spec: TenderSpec) -> int:
        """The agency creates and registers the project of ``spec``; returns its id."""

        def create(uow: UnitOfWork, actor: Actor) -> int:
            return service.create_project(
                uow,
                actor,
                name=spec.name,
                procedure_code=spec.procedure,
                tenderer_org_id=self.orgs[spec.tenderer],
                agency_org_id=self.orgs["agency"],
                budget=spec.budget,
                documents_complete=spec.documents_complete,
            ).id

        pid = self.act("agency", create)
        self.pids[spec.key], self.names[pid] = pid, spec.name
        return pid

    def perform(self, username: str, pid: int, action: str, **params: Any) -> None:
        """One step of the procedure as ``username`` (through the engine, like a click on the site)."""
        self.act(username, lambda uow, a: service.perform(uow, a, pid, action, params))

    def upload(self, pid: int, kind: str, title: str, *lines: str, who: str = "agency", public: bool = True) -> None:
        """Upload a small text document (the demo's stand-in for a PDF) titled ``title``."""
        body = "\n".join([title, f"项目：{self.names[pid]}", "", *lines, "", "（示范数据 / demo data）"]).encode()

        def add(uow: UnitOfWork, actor: Actor) -> None:
            service.add_document(
                uow,
                actor,
                pid,
                kind=kind,
                title=title,
                filename=f"{title}.txt",
                content_type="text/plain; charset=utf-8",
                data=body,
                public=public,
            )

        self.act(who, add)

    def project(self, pid: int) -> Project:
        """The project as stored now (detached)."""
        with self.platform.db.read() as s:
            p = s.get(Project, pid)
            if p is None:
                raise DemoError(f"demo project {pid} vanished")
            return p

    def facts(self, pid: int) -> Facts:
        """The project's facts as the engine sees them now."""
        return project_facts(self.project(pid), self.now)

    def expect(self, pid: int, state: str) -> None:
        """Stop the demo loudly when a project is not where the script expects it."""
        p = self.project(pid)
        if p.state != state:
            raise DemoError(f"demo project {p.code}: expected state {state}, found {p.state}")

    def due(self, pid: int, fact: str) -> datetime:
        """A time fact of the project (a deadline, the end of a publicity period)."""
        value = getattr(self.facts(pid), fact)
        if not isinstance(value, datetime):
            raise DemoError(f"demo project {pid}: {fact} is not set")
        return value

    def sign_contract(self, username: str, org_key: str, pid: int) -> None:
        """Sign the latest contract text with the signing key of the organisation's demo bundle."""
        bundle = self.bundle(org_key)
        with self.platform.db.read() as s:
            project = s.get(Project, pid)
            doc = s.scalar(
                select(ProjectDocument)
                .where(ProjectDocument.project_id == pid, ProjectDocument.kind == "contract")
                .order_by(ProjectDocument.id.desc())
                .limit(1)
            )
            if project is None or doc is None:
                raise DemoError(f"demo project {pid}: no contract text to sign")
            message = contracts.contract_message(project, doc).encode()
        signature = base64.b64encode(self.platform.suite.sign(bundle.signing_private, message)).decode()
        self.act(
            username,
            lambda uow, a: contracts.sign_contract(
                uow, a, pid, certificate_pem=bundle.signing_cert_pem, signature_b64=signature
            ),
        )

    def confirm_award(self, username: str, pid: int, winner: str, amount: str) -> None:
        """The tenderer confirms the winner (organisation key) and the award notice is issued."""
        self.act(
            username,
            lambda uow, a: contracts.confirm_award(uow, a, pid, winner_org_id=self.orgs[winner], amount=amount),
        )


# --- the driver ----------------------------------------------------------------------------------------------


def _next_job(platform: Platform) -> datetime | None:
    """When the earliest pending outbox job falls due, if any."""
    with platform.db.read() as s:
        due = s.scalar(select(func.min(OutboxMessage.available_at)).where(OutboxMessage.status == "pending"))
    return None if due is None else ensure_utc(due)


def drive(w: DemoWorld, scripts: list[Script], *, horizon: datetime) -> None:
    """Run ``scripts`` interleaved in time order, firing due outbox jobs at each moment.

    At one moment the :class:`Ahead` steps due run first, then the worker (a plain step at a deadline sees the
    scheduler's work), then every other script step due. When the scripts are done, jobs due up to ``horizon``
    are still run; later ones stay for the server.
    """
    queue: list[tuple[datetime, int, int, Script]] = []  # (when, 0 if ahead of the jobs else 1, script no, script)

    def advance(n: int, script: Script) -> None:
        try:
            step = next(script)
        except StopIteration:
            return
        when, phase = (step.at, 0) if isinstance(step, Ahead) else (step, 1)
        if when < w.now:
            raise DemoError(f"demo script {n} asked to go back in time to {when.isoformat()}")
        heapq.heappush(queue, (when, phase, n, script))

    for n, script in enumerate(scripts):
        advance(n, script)
    for _ in range(MAX_MOMENTS):
        job = _next_job(w.platform)
        if not queue and (job is None or job > horizon):
            return
        moment = min(t for t in (job, queue[0][0] if queue else None) if t is not None)
        if moment > w.now:
            w.clock.set(moment)
        while queue and queue[0][0] <= w.now and queue[0][1] == 0:
            _, _, n, script = heapq.heappop(queue)
            advance(n, script)
        stats = w.platform.worker.run_once()
        if stats.failed or stats.dead:
            raise DemoError(f"a background job failed at {w.now.isoformat()}; see the outbox")
        while queue and queue[0][0] <= w.now:
            _, _, n, script = heapq.heappop(queue)
            advance(n, script)
    raise DemoError("the demo tenders did not finish")


# --- the bids ---------------------------------------------------------------------------------------------------

_ROAD_ITEMS = (
    ("路基工程", "0.18"),
    ("路面工程", "0.46"),
    ("排水工程", "0.14"),
    ("交通安全设施", "0.08"),
    ("照明及绿化工程", "0"),
)
_PLANT_ITEMS = (("土建工程", "0.62"), ("钢结构工程", "0.21"), ("给排水及电气安装", "0.11"), ("室外总平", "0"))
_IMAGING_ITEMS = (("数字化X射线摄影系统主机", "0.78"), ("平板探测器（备用）", "0.12"), ("安装调试及培训", "0"))
_WORKS_QUALITY = "合格"
_GOODS_QUALITY = "全新原装，符合国家医疗器械相关标准"


def _works(
    bidder: str,
    price: str,
    days: int,
    items: tuple[tuple[str, str], ...] = _ROAD_ITEMS,
    facts: tuple[tuple[str, str], ...] = (),
) -> DemoBid:
    commitments = ("不转包、不违法分包", "项目经理到岗履职")
    return DemoBid(bidder, price, days, _WORKS_QUALITY, "works", items, commitments, facts)


def _road_facts(certified: str, credit: str, projects: str) -> tuple[tuple[str, str], ...]:
    """What a road bid declares for the objective items of ``eng-comprehensive`` (the manifest's ``extra``)."""
    return (("质量管理体系认证", certified), ("信用等级", credit), ("类似工程业绩", projects))


def _goods(bidder: str, price: str) -> DemoBid:
    return DemoBid(bidder, price, 60, _GOODS_QUALITY, "goods", _IMAGING_ITEMS, ("整机保修三年",))


#: The road tender's bids. bidder3 first seals 12,150,000.00, then replaces it before the deadline; the last chunk
#: of bidder5's upload arrives at the deadline instant and is refused.
#: Each declares the facts the method's objective items are computed from; the committee verifies bidder4's
#: 类似工程业绩 (declared 2) as 1 (``demo_evaluation.FACT_CORRECTION``).
ROAD_BIDS = {
    "bidder1": _works("bidder1", "11860000.00", 240, facts=_road_facts("有", "AAA", "3")),
    "bidder2": _works("bidder2", "12030000.00", 250, facts=_road_facts("有", "AA", "2")),
    "bidder3": _works("bidder3", "11990000.00", 235, facts=_road_facts("有", "AA", "2")),
    "bidder4": _works("bidder4", "12080000.00", 245, facts=_road_facts("无", "A", "2")),
    "bidder5": _works("bidder5", "11950000.00", 240, facts=_road_facts("有", "AA", "1")),
}
ROAD_FIRST_BID_OF_BIDDER3 = _works("bidder3", "12150000.00", 240, facts=_road_facts("有", "AA", "2"))
ROAD_COEFFICIENT = DecimalRange("0.95", "0.98", "0.005")
ROAD_EVALUATION_AFTER = timedelta(hours=1, minutes=40)  # evaluation starts 100 minutes after the bid deadline
IMAGING_BIDS = {
    "bidder1": _goods("bidder1", "3050000.00"),
    "bidder2": _goods("bidder2", "2980000.00"),
    "bidder3": _goods("bidder3", "3120000.00"),
}
PLANT_BIDS = {
    "bidder2": _works("bidder2", "8420000.00", 300, _PLANT_ITEMS),
    "bidder4": _works("bidder4", "8390000.00", 310, _PLANT_ITEMS),
}


def _amount(price: str) -> str:
    """``11,860,000.00`` for ``"11860000.00"``."""
    return f"{Decimal(price):,.2f}"


# --- the tenders ----------------------------------------------------------------------------------------------


def road_tender(w: DemoWorld, pid: int) -> Script:
    """工程 公开招标, every step to the archive, with sealed bids, a late one refused and one revoked at opening."""
    yield w.next_at("10:00")
    w.perform("operator", pid, "accept", green_channel=True)
    yield w.next_at("09:00", days=1)
    w.upload(pid, "announcement", "招标公告", "采用资格后审，不见面开标。")
    w.perform("agency", pid, "publish_announcement")
    yield w.next_at("09:30")
    w.upload(pid, "tender_documents", "招标文件", "第三章 评标办法：综合评估法。")
    deadline = w.workday(local_date(w.now) + timedelta(days=27), "09:30")
    w.perform("agency", pid, "issue_documents", bid_deadline=deadline)
    bids.configure(w, pid, OpeningSettings(window_minutes=30, coefficient=ROAD_COEFFICIENT))
    evaluation.attach_method(w, pid)  # the evaluation method, published with the tender documents
    deposits.require(w, pid, "200000.00", "works")
    yield w.next_at("10:00", days=3)
    objection_id = w.act(
        "bidder2",
        lambda uow, a: (
            service.raise_objection(
                uow, a, pid, text="招标文件第三章评分标准要求“本市同类工程业绩”，排斥外地潜在投标人。"
            ).id
        ),
    )
    w.expect(pid, "suspended")
    yield w.next_at("15:00", days=1)
    w.upload(pid, "objection_reply", "异议答复", "异议成立，删除地域业绩要求。")
    w.act(
        "agency",
        lambda uow, a: service.answer_objection(
            uow, a, objection_id, reply="异议成立：删除评分标准中的地域业绩要求，另行发出修改。", upheld=True
        ),
    )
    w.expect(pid, "bidding")
    # a late amendment: fewer than 15 days before the deadline, on a day whose 15th day is a working day
    day = local_date(deadline) - timedelta(days=11)
    for back in range(4):
        candidate = day - timedelta(days=back)
        if w.calendar.is_working_day(candidate) and w.calendar.is_working_day(candidate + timedelta(days=15)):
            day = candidate
            break
    yield w.workday(day, "10:00")
    w.upload(pid, "amendment", "澄清与修改", "删除地域业绩要求；更正工程量清单。")
    w.perform("agency", pid, "amend_documents")
    deadline = w.due(pid, "bid_deadline")
    if deadline <= w.now + timedelta(days=14):
        raise DemoError("the late amendment did not move the bid deadline")
    draw_id = evaluation.commit_draw(w, pid, evaluation_at=deadline + ROAD_EVALUATION_AFTER)  # sealed until then
    yield w.next_at("16:00", after=deadline - timedelta(days=3))
    deposits.secure(w, pid, deposits.ROAD_PLAN)  # bidder4 pays from its general account: flagged, sent back
    first = bids.seal(w, pid, ROAD_FIRST_BID_OF_BIDDER3)
    bids.submit(w, pid, "bidder3", first)
    sealed = {who: bids.seal(w, pid, bid) for who, bid in ROAD_BIDS.items()}
    bid_ids = {"bidder2": bids.submit(w, pid, "bidder2", sealed["bidder2"])}
    yield w.next_at("16:00", after=deadline - timedelta(days=2))
    bid_ids["bidder1"] = bids.submit(w, pid, "bidder1", sealed["bidder1"])
    bid_ids["bidder3"] = bids.submit(w, pid, "bidder3", sealed["bidder3"])  # replaces its first bid
    yield w.next_at("10:00", after=deadline - timedelta(days=1))
    deposits.pay_again(w, pid, "bidder4")  # now from its basic account
    bid_ids["bidder4"] = bids.submit(w, pid, "bidder4", sealed["bidder4"])
    yield deadline - timedelta(minutes=3)
    late = bids.upload(w, pid, "bidder5", sealed["bidder5"], hold_last=True)  # a slow line: all but the last chunk
    yield Ahead(deadline)
    bids.send_late(w, "bidder5", late, sealed["bidder5"])  # the last chunk at the deadline instant: refused, logged
    yield w.bidding_closes(deadline)
    w.expect(pid, "opening")  # the scheduler closed bidding at the deadline and started the opening
    yield deadline + timedelta(minutes=2)
    for who in ("bidder1", "bidder2", "bidder3", "bidder4"):
        bids.check_in(w, pid, who)
    yield deadline + timedelta(minutes=5)
    bids.decrypt(w, pid, "bidder1", bid_ids["bidder1"], sealed["bidder1"])
    bids.decrypt(w, pid, "bidder2", bid_ids["bidder2"], sealed["bidder2"])
    yield deadline + timedelta(minutes=9)
    bids.release_wrong_key(w, pid, "bidder3", bid_ids["bidder3"], first)  # its replaced container's key; gives up
    yield deadline + timedelta(minutes=12)
    bids.decrypt(w, pid, "bidder4", bid_ids["bidder4"], sealed["bidder4"])
    yield deadline + timedelta(minutes=40)  # the scheduler closed the window at 30 minutes: record published
    for who in ("bidder1", "bidder2", "bidder4"):
        bids.confirm(w, pid, who)
    yield deadline + timedelta(hours=1)
    bids.finish(w, pid, expected_valid=3)
    yield w.now + timedelta(minutes=10)
    evaluation.draw(w, draw_id)  # avoidance and the verifiable draw; the drawn experts confirm by phone
    yield deadline + ROAD_EVALUATION_AFTER
    evaluation.evaluate(w, pid, draw_id)  # committee, sign-in, scoring with one intervention, signed report
    yield w.next_at("09:00")
    w.upload(pid, "announcement", "中标候选人公示", "第一名：池州第一建筑工程有限公司。")
    evaluation.publish(w, pid)
    yield w.due(pid, "publicity_end")
    w.expect(pid, "award_pending")  # the scheduler ended the publicity
    yield w.next_at("09:00")
    price = bids.opened_price(w, pid, "bidder1")  # the award is the winner's sealed price, read at opening
    w.confirm_award("tenderer", pid, "bidder1", price)
    w.upload(pid, "award_notice", "中标通知书", f"中标价：{_amount(price)} 元。")
    yield w.next_at("10:00", days=1)
    w.upload(pid, "contract", "建设工程施工合同", f"合同价款：{_amount(price)} 元。")
    yield w.next_at("10:00", days=1)
    w.sign_contract("tenderer", "tenderer", pid)
    yield w.next_at("15:00")
    w.sign_contract("bidder1", "bidder1", pid)
    w.expect(pid, "contracted")
    yield w.next_at("09:00")
    w.act("agency", lambda uow, a: contracts.publish_contract(uow, a, pid))
    yield w.next_at("10:00")
    w.act("tenderer", lambda uow, a: contracts.file_regulator_report(uow, a, pid))
    yield w.next_at("10:00", days=1)
    w.perform("agency", pid, "archive")
    w.expect(pid, "archived")


def imaging_tender(w: DemoWorld, pid: int) -> Script:
    """政府采购 公开招标 to a signed and published contract; the custodians open the bid of a bidder who never
    decrypts (the tender allows the custodian fallback)."""
    yield w.next_at("10:00", days=2)
    w.perform("operator", pid, "accept")
    yield w.next_at("09:00", days=1)
    w.upload(pid, "announcement", "招标公告", "公告期限5个工作日。")
    w.perform(
        "agency", pid, "publish_announcement", announcement_end=w.on(w.earliest("gp.announcement_duration"), "17:30")
    )
    yield w.next_at("09:30")
    w.upload(pid, "tender_documents", "招标文件", "采购需求：数字化X射线摄影系统1套。")
    sale_end = w.on(w.earliest("gp.doc_availability"), "17:30")
    deadline = w.workday(w.earliest("gp.doc_issue_to_bid_deadline") + timedelta(days=1), "09:30")
    w.perform("agency", pid, "issue_documents", sale_end=sale_end, bid_deadline=deadline)
    bids.configure(w, pid, OpeningSettings(window_minutes=20, custodian_fallback=True))
    deposits.require(w, pid, "60000.00", "goods")
    yield w.next_at("16:00", after=deadline - timedelta(days=1))
    deposits.secure(w, pid, deposits.IMAGING_PLAN)
    sealed = {who: bids.seal(w, pid, bid) for who, bid in IMAGING_BIDS.items()}
    bid_ids = {who: bids.submit(w, pid, who, data) for who, data in sealed.items()}
    yield w.bidding_closes(deadline)
    w.expect(pid, "opening")
    yield deadline + timedelta(minutes=3)
    for who in ("bidder1", "bidder2", "bidder3"):
        bids.check_in(w, pid, who)
    bids.decrypt(w, pid, "bidder1", bid_ids["bidder1"], sealed["bidder1"])
    yield deadline + timedelta(minutes=6)
    bids.decrypt(w, pid, "bidder2", bid_ids["bidder2"], sealed["bidder2"])
    # bidder3 never decrypts; the window closes at 20 minutes and its bid waits for the custodians
    yield deadline + timedelta(minutes=25)
    bids.post_share(w, pid, "custodian_centre", "centre")
    yield deadline + timedelta(minutes=28)
    rebuilt = bids.post_share(w, pid, "custodian_notary", "notary")  # 2 of 3: the key is rebuilt, the bid opened
    if not rebuilt["rebuilt"]:
        raise DemoError("two custodian shares did not rebuild the opening key")
    yield deadline + timedelta(minutes=35)
    for who in ("bidder1", "bidder2", "bidder3"):
        bids.confirm(w, pid, who)
    bids.finish(w, pid, expected_valid=3)
    yield w.now + timedelta(hours=1)
    w.perform("operator", pid, "start_evaluation", committee_ready=True)
    yield w.next_at("15:00")
    w.perform("expert", pid, "submit_report", award_confirm_due=w.latest("gp.purchaser_confirm"))
    yield w.next_at("10:00")
    price = bids.opened_price(w, pid, "bidder2")
    w.confirm_award("purchaser", pid, "bidder2", price)
    yield w.next_at("14:00")
    w.upload(pid, "announcement", "中标结果公告", "中标供应商：安徽长江路桥建设有限公司。")
    w.upload(pid, "award_notice", "中标通知书", f"中标金额：{_amount(price)} 元。")
    w.perform("agency", pid, "publish_result")
    yield w.due(pid, "publicity_end")
    w.expect(pid, "awarded")
    yield w.next_at("10:00")
    w.upload(pid, "contract", "政府采购合同", f"合同金额：{_amount(price)} 元。")
    yield w.next_at("10:00", days=1)
    w.sign_contract("purchaser", "purchaser", pid)
    yield w.next_at("14:00")
    w.sign_contract("bidder2", "bidder2", pid)
    w.expect(pid, "contracted")
    yield w.next_at("09:00")
    w.act("agency", lambda uow, a: contracts.publish_contract(uow, a, pid))


def plant_tender(w: DemoWorld, pid: int) -> Script:
    """工程 公开招标 with two sealed bids: failed at the deadline (never opened), then re-tendered."""
    yield w.next_at("10:30")
    w.perform("operator", pid, "accept")
    yield w.next_at("09:00", days=2)
    w.upload(pid, "announcement", "招标公告", "标准化厂房4栋。")
    w.perform("agency", pid, "publish_announcement")
    yield w.next_at("09:30")
    w.upload(pid, "tender_documents", "招标文件", "经评审的最低投标价法。")
    deadline = w.workday(local_date(w.now) + timedelta(days=21), "09:30")
    w.perform("agency", pid, "issue_documents", bid_deadline=deadline)
    yield w.next_at("16:00", after=deadline - timedelta(days=1))
    for who, bid in PLANT_BIDS.items():
        bids.submit(w, pid, who, bids.seal(w, pid, bid))
    yield w.bidding_closes(deadline)
    w.expect(pid, "failed")  # fewer than three bids: not opened (条例 §44), the sealed bids stay sealed
    yield w.next_at("10:00")
    w.perform("agency", pid, "retender", reason="投标人少于3个，依法重新招标")
    w.expect(pid, "accepted")


def estate_tender(w: DemoWorld, pid: int) -> Script:
    """工程 公开招标 suspended by the regulator, then terminated by the tenderer."""
    yield w.next_at("10:00", days=3)
    w.perform("operator", pid, "accept")
    yield w.next_at("09:00", days=1)
    w.upload(pid, "announcement", "招标公告", "雨污分流、道路及绿化。")
    w.perform("agency", pid, "publish_announcement")
    yield w.next_at("09:30")
    w.upload(pid, "tender_documents", "招标文件", "综合评估法。")
    w.perform("agency", pid, "issue_documents", bid_deadline=w.workday(local_date(w.now) + timedelta(days=25), "09:30"))
    yield w.next_at("10:00", days=5)
    w.perform("regulator", pid, "suspend", reason="监督检查：招标文件资格条件与项目规模不相适应，责令暂停")
    w.expect(pid, "suspended")
    yield w.next_at("10:00", days=2)
    w.perform("tenderer", pid, "terminate", reason="项目资金来源调整，终止招标，退还已收取的费用")
    w.expect(pid, "terminated")


def smartcity_tender(w: DemoWorld, spec: TenderSpec, real_now: datetime) -> Script:
    """竞争性磋商 on the days just before ``real_now``, its response deadline still ahead."""
    today = local_date(real_now)
    issue_day = w.calendar.working_day_on_or_before(today - timedelta(days=1))
    register_day = w.calendar.working_day_on_or_before(issue_day - timedelta(days=1))
    yield w.on(register_day, "09:00")
    pid = w.register(spec)
    yield w.on(register_day, "10:30")
    w.perform("operator", pid, "accept", accept_with_promise=True)
    yield w.on(issue_day, "09:00")
    w.upload(pid, "announcement", "竞争性磋商公告", "服务期一年。")
    w.perform("agency", pid, "publish_announcement")
    yield w.on(issue_day, "09:30")
    w.upload(pid, "tender_documents", "竞争性磋商文件", "综合评分法。")
    earliest = w.earliest("gp.consultation_doc_to_submission")
    deadline = w.workday(max(earliest, today + timedelta(days=12)), "09:30")
    w.perform("agency", pid, "issue_documents", bid_deadline=deadline)
    w.expect(pid, "bidding")


def _grant_expert(uow: UnitOfWork, centre_org_id: int, project_ids: list[int]) -> None:
    """Make the demo expert an evaluation expert of the centre for ``project_ids`` only."""
    user = uow.session.scalar(select(User).where(User.username == "expert"))
    org = uow.session.get(Organisation, centre_org_id)
    if user is None or org is None:
        raise DemoError("the demo expert or the centre is missing")  # seeded in the same run: a bug
    identity.add_membership(uow, user=user, org=org, role="expert", project_ids=project_ids)


def run_tenders(
    platform: Platform,
    clock: FakeClock,
    *,
    orgs: Mapping[str, int],
    bundles: Mapping[str, Path],
    bundle_password: str,
    real_now: datetime,
    keys: Mapping[str, KeyBundle] | None = None,
) -> dict[str, int]:
    """Register the demo projects and run their tenders; returns the project ids by tender key.

    ``platform`` runs on ``clock`` (set to the demo's start). The agency registers four projects on the first
    morning, the centre names the expert for them, and the scripts run from there; the fifth (live) tender
    registers itself two working days before ``real_now``. ``keys`` are the bundles' contents when the caller
    has them (else each bundle file is read on first use).
    """
    w = DemoWorld(platform, clock, orgs, bundles, bundle_password, _bundles=dict(keys or {}))
    deposits.install(w)
    evaluation.install(w)  # the expert pool
    *first_morning, live = TENDERS
    for spec in first_morning:
        clock.advance(timedelta(minutes=10))
        w.register(spec)
    clock.advance(timedelta(minutes=10))
    w.act("admin", lambda uow, a: _grant_expert(uow, orgs["centre"], list(w.pids.values())))
    deposits.register_basic_accounts(w)
    scripts = [
        road_tender(w, w.pids["road"]),
        imaging_tender(w, w.pids["imaging"]),
        plant_tender(w, w.pids["plant"]),
        estate_tender(w, w.pids["estate"]),
        smartcity_tender(w, live, real_now),
        deposits.daily_reconciliation(w, [w.pids["road"], w.pids["imaging"]], until=real_now),
    ]
    drive(w, scripts, horizon=real_now)
    return dict(w.pids)


# --- the summary ---------------------------------------------------------------------------------------------


def _local_iso(when: datetime | None) -> str | None:
    return None if when is None else to_local(ensure_utc(when)).isoformat()


def project_summaries(platform: Platform) -> list[dict[str, Any]]:
    """Every project with its procedure, current state, bid deadline, full timeline and opening, from the database."""
    out: list[dict[str, Any]] = []
    with platform.db.read() as s:
        projects = list(s.scalars(select(Project).order_by(Project.id)))
        openings = {p.id: bids.opening_summary(s, p) for p in projects}
        money = {p.id: deposits.deposit_summary(s, p) for p in projects}
        events: dict[int, list[ProjectEvent]] = {}
        for e in s.scalars(select(ProjectEvent).order_by(ProjectEvent.project_id, ProjectEvent.seq)):
            events.setdefault(e.project_id, []).append(e)
    for p in projects:
        procedure = get_procedure(p.procedure_code)
        state = procedure.state(p.state)
        out.append(
            {
                "code": p.code,
                "name": p.name,
                "procedure": p.procedure_code,
                "procedure_zh": procedure.name_zh,
                "final_state": p.state,
                "final_state_zh": state.name_zh if state is not None else p.state,
                "bid_deadline": _local_iso(project_facts(p, platform.clock.now()).bid_deadline),
                "timeline": [
                    {
                        "seq": e.seq,
                        "action": e.action,
                        "action_zh": ACTION_LABELS.get(e.action, (e.action, ""))[0],
                        "to_state": e.to_state,
                        "role": e.actor_role,
                        "at": _local_iso(e.occurred_at),
                    }
                    for e in events.get(p.id, [])
                ],
                "opening": openings[p.id],
                "deposits": money[p.id],
            }
        )
    return out
