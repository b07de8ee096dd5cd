"""A project in ``bidding`` that asks a 250,000 yuan deposit, three bidders with basic accounts, a simulated bank."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from sunbid.core.clock import FakeClock
from sunbid.deposits import service, tasks
from sunbid.deposits.bank import BankSimulator, CreditNotice
from sunbid.deposits.domain import DEFAULT_RULES
from sunbid.deposits.guarantees import IssuerSimulator
from sunbid.deposits.models import DepositAccount, DepositRefund
from sunbid.deposits.service import DepositSystem
from sunbid.identity import service as identity
from sunbid.identity.models import Organisation, User
from sunbid.platform.container import Platform
from sunbid.projects import contracts
from sunbid.projects import service as projects
from sunbid.projects.models import Project, ProjectDocument
from sunbid.projects.timing import project_facts
from tests.integration.bidding.conftest import to_bidding
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture
from tests.support.world import PASSWORD

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
REQUIRED = Decimal("250000.00")
BASIC = {"bidder_a": "6222000011110001", "bidder_b": "6222000011110002", "bidder_c": "6222000011110003"}


@dataclass
class Dw:
    tw: Tw
    clock: FakeClock
    system: DepositSystem
    pid: int
    code: str
    deadline: datetime

    @property
    def platform(self) -> Platform:
        return self.tw.platform

    @property
    def bank(self) -> BankSimulator:
        assert isinstance(self.system.bank, BankSimulator)
        return self.system.bank

    @property
    def issuer(self) -> IssuerSimulator:
        assert isinstance(self.system.issuer, IssuerSimulator)
        return self.system.issuer

    def org(self, who: str) -> Organisation:
        return self.tw.world.orgs[who]

    def act(self, who: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self.platform.uow() as uow:
            result = fn(uow, self.tw.actor(who), *args, **kwargs)
            uow.commit()
            return result

    def sact(self, who: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a deposit service ``fn(uow, system, actor, ...)`` as ``who`` and commit."""
        with self.platform.uow() as uow:
            result = fn(uow, self.system, self.tw.actor(who), *args, **kwargs)
            uow.commit()
            return result

    def open_account(self, who: str, section: str = "01") -> str:
        with self.platform.uow() as uow:
            acc = service.open_account(uow, self.system, self.tw.actor(who), self.pid, section)
            number = acc.virtual_account
            uow.commit()
        return number

    def pay(self, who: str, amount: Decimal = REQUIRED, *, from_account: str | None = None, **kw: Any) -> CreditNotice:
        return self.bank.pay_in(
            virtual_account=self.open_account(who),
            payer_account=from_account or BASIC[who],
            payer_name=self.org(who).name,
            amount=amount,
            **kw,
        )

    def receive(self, notice: CreditNotice) -> bool:
        with self.platform.uow() as uow:
            _, new = service.receive_credit(uow, self.system, notice)
            uow.commit()
        return new

    def deliver_all(self, **kw: Any) -> int:
        notices = self.bank.deliveries(**kw)
        for n in notices:
            self.receive(n)
        return len(notices)

    def run_worker(self, rounds: int = 6) -> None:
        for _ in range(rounds):
            self.platform.worker.run_once()
            self.clock.advance(timedelta(seconds=5))

    def perform(self, who: str, action: str, **params: Any) -> None:
        self.act(who, projects.perform, self.pid, action, params)

    def project(self) -> Project:
        with self.platform.db.read() as s:
            p = s.get(Project, self.pid)
            assert p is not None
            return p

    def state(self) -> str:
        return self.project().state

    def to_opened(self) -> None:
        with self.platform.uow() as uow:
            projects.update_facts(uow, self.pid, "bids received", bids_received=3)
            uow.commit()
        self.clock.set(self.deadline)
        self.platform.worker.run_once()
        assert self.state() == "opening"
        self.perform("operator", "finish_opening", valid_bids=3)

    def to_award(self, winner: str = "bidder_a") -> None:
        self.perform("operator", "start_evaluation", committee_ready=True)
        self.perform("expert", "submit_report")
        self.perform("agency", "publish_candidates")
        self.clock.advance(timedelta(days=4))
        self.platform.worker.run_once()
        assert self.state() == "award_pending"
        self.act("tenderer", contracts.confirm_award, self.pid, winner_org_id=self.org(winner).id, amount="11800000.00")

    def sign_contract(self, winner: str = "bidder_a") -> None:
        from sunbid.identity import certs

        self.act(
            "agency",
            projects.add_document,
            self.pid,
            kind="contract",
            title="合同",
            filename="ht.pdf",
            content_type="application/pdf",
            data=b"contract text",
        )
        platform = self.platform
        keys = {}
        for who in ("tenderer", winner):
            kp = platform.suite.generate_signing_keypair()
            enc = platform.suite.generate_encryption_keypair()
            with platform.uow() as uow:
                sc, _ = certs.issue_certificates(uow, self.org(who).id, kp.public, enc.public)
                uow.commit()
            keys[who] = (kp, sc.pem)
        with platform.db.read() as s:
            p = s.get(Project, self.pid)
            doc = s.scalars(select(ProjectDocument).where(ProjectDocument.kind == "contract")).one()
            message = contracts.contract_message(p, doc).encode()  # type: ignore[arg-type]
        for who in ("tenderer", winner):
            kp, pem = keys[who]
            sig = base64.b64encode(platform.suite.sign(kp.private, message)).decode()
            self.act(who, contracts.sign_contract, self.pid, certificate_pem=pem, signature_b64=sig)
        assert self.state() == "contracted"

    def refunds(self) -> list[DepositRefund]:
        with self.platform.db.read() as s:
            return list(s.scalars(select(DepositRefund).order_by(DepositRefund.id)))

    def account(self, who: str) -> DepositAccount:
        with self.platform.db.read() as s:
            return s.scalars(
                select(DepositAccount).where(
                    DepositAccount.project_id == self.pid, DepositAccount.org_id == self.org(who).id
                )
            ).one()

    def refunded_at(self) -> datetime | None:
        return project_facts(self.project(), self.clock.now()).deposits_refunded_at


def make_dw(tw: Tw, clock: FakeClock) -> Dw:
    clock.set(T0)
    platform = tw.platform
    system = DepositSystem(rules=DEFAULT_RULES, bank=BankSimulator(clock), issuer=IssuerSimulator())
    tasks.install_system(platform, system)
    with platform.uow() as uow:
        if uow.session.scalar(select(User).where(User.username == "bidder_c")) is None:
            user = identity.create_user(uow, username="bidder_c", display_name="丙", password=PASSWORD)
            identity.add_membership(uow, user=user, org=tw.world.orgs["bidder_c"], role="bidder")
        uow.commit()
    pid, code, deadline = to_bidding(tw, clock)
    dw = Dw(tw, clock, system, pid, code, deadline)
    with platform.uow() as uow:
        service.set_requirement(uow, system, tw.actor("agency"), pid, "01", amount="250000.00", kind="works")
        for who, number in BASIC.items():
            service.register_basic_account(
                uow, tw.actor(who), account_no=number, account_name=dw.org(who).name, bank_name="工行池州分行"
            )
        uow.commit()
    return dw


@pytest.fixture
def dw(tw: Tw, clock: FakeClock) -> Dw:
    return make_dw(tw, clock)
