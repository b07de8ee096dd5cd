"""The demo's evaluation 评标 (issue 5, item 7): expert pool, sealed draw, committee, scoring, signed report.

The road tender (``demo_tenders.road_tender``) calls these steps:

1. :func:`install` — the centre imports a small expert pool (personal data encrypted under the pool key);
2. :func:`attach_method`, :func:`commit_draw` — before the bid deadline the agency attaches the evaluation
   method ``eng-comprehensive`` (the coefficient drawn at the opening is its K) and the centre commits the draw;
3. :func:`draw` — after the opening the draw runs (avoidance, verifiable seed with the sealed bids); the drawn
   experts answer the automated call by pressing 1;
4. :func:`evaluate` — at the evaluation start the committee is formed (the panel is unsealed, audited), every
   member signs in, the leader is recorded, ``start_evaluation`` is performed; the objective items are computed
   from the facts the bids declared, and the group leader corrects one of them (bidder4's 类似工程业绩, declared 2,
   verified as 1) with a written reason; the members score the subjective items; one expert's score deviates
   from the panel mean, his submission is held until he writes a reason (the intervention is reported to the
   regulator); each member gets a personal signing certificate, the leader builds the report
   PDF and every member signs it in turn (client-side, with his own key), and the fully signed report is
   submitted (``submit_report``);
5. :func:`publish` — the agency publishes the report's candidates (``publish_candidates``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select

from sunbid.evaluation import service as evaluation
from sunbid.evaluation import service_objective as objective
from sunbid.evaluation import service_report as reports
from sunbid.evaluation import service_scoring as scoring
from sunbid.evaluation.pdfsign import Signer, sign_report
from sunbid.experts import pool as expert_pool
from sunbid.experts import service as experts
from sunbid.experts.domain import AvoidancePolicy, SlotRequest
from sunbid.experts.models import ExpertDrawSeat
from sunbid.identity.domain import make_uscc
from sunbid.identity.models import Organisation, User

if TYPE_CHECKING:
    from sunbid.platform.demo_tenders import DemoWorld

__all__ = ["DEMO_METHOD", "attach_method", "commit_draw", "draw", "evaluate", "install", "publish"]

T = TypeVar("T")
DEMO_METHOD = "eng-comprehensive"
POOL_SIZE = 12
PANEL = 5
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙"
_GIVEN = ("建国", "海燕", "志强", "丽华", "国平", "晓东", "红梅", "德明", "秀英", "立新", "文博", "春生")
#: The deviating expert (position in the committee) and his written reason.
DEVIATING_MEMBER = 3
REASON = "该投标人施工组织设计未针对雨季施工编制专项措施，关键工序质量控制点不完整，故评分偏低。"
#: The group leader's fact correction: (bidder, field, verified value, reason).
FACT_CORRECTION = (
    "bidder4",
    "extra.类似工程业绩",
    "1",
    "投标文件所附业绩证明中，“池州市站前路改造工程”缺少竣工验收证明，不予认定；经核实类似工程业绩为 1 项。",
)


def _id_number(n: int) -> str:
    body = f"34170219750101{n:03d}"
    return body + expert_pool.id_check_char(body)


def install(w: DemoWorld) -> None:
    """Import the demo's expert pool (A0101 建筑工程 experts of distinct employers)."""
    region = w.platform.settings.centre_region_code
    buf = io.StringIO()
    out = csv.DictWriter(buf, fieldnames=list(expert_pool.CSV_COLUMNS))
    out.writeheader()
    for n in range(1, POOL_SIZE + 1):
        out.writerow(
            {
                "code": f"EX{900 + n:05d}",
                "name": _SURNAMES[n - 1] + _GIVEN[n - 1],
                "id_number": _id_number(n),
                "phone": f"1380566{n:04d}",
                "email": f"expert{n}@experts.demo.cn",
                "region_code": region,
                "specialties": "A0101",
                "employer_uscc": make_uscc(900 + n, region_code=region),
                "employed_since": "2015-01-01",
            }
        )
    keys = expert_pool.PoolKeys.of(w.platform)

    def run(uow: Any, actor: Any) -> None:
        result = expert_pool.import_csv(uow, keys, buf.getvalue())
        if not result.ok:
            raise RuntimeError(f"demo expert pool refused: {[e.as_dict() for e in result.errors]}")

    w.act("admin", run)


def method_text(name: str = DEMO_METHOD) -> str:
    return (resources.files("sunbid.evaluation") / "methods" / f"{name}.json").read_text("utf-8")


def attach_method(w: DemoWorld, pid: int) -> None:
    """Before the deadline the agency attaches the evaluation method; it is published with the tender documents."""
    w.act("agency", lambda uow, a: evaluation.attach_method(uow, a, pid, method_text()))


def commit_draw(w: DemoWorld, pid: int, evaluation_at: datetime) -> int:
    """Before the deadline the centre commits the expert draw (sealed until ``evaluation_at``); returns its id."""
    keys = expert_pool.PoolKeys.of(w.platform)
    request = experts.DrawRequest(
        project_code=w.project(pid).code,
        evaluation_starts_at=evaluation_at,
        slots=(SlotRequest("A01", PANEL, 2),),
        policy=AvoidancePolicy(employment_years=3),
        response_minutes=30,
    )
    return int(w.act("operator", lambda uow, a: experts.commit_draw(uow, keys, request).id))


def draw(w: DemoWorld, draw_id: int) -> None:
    """After the opening: run the draw; the drawn members confirm on the automated call (press 1)."""
    keys = expert_pool.PoolKeys.of(w.platform)
    w.act("operator", lambda uow, a: experts.run_draw(uow, keys, draw_id))
    with w.platform.db.read() as s:
        seqs = [
            int(seat.seq)
            for seat in s.scalars(
                select(ExpertDrawSeat).where(ExpertDrawSeat.draw_id == draw_id, ExpertDrawSeat.state == "notified")
            )
        ]
    for seq in seqs:
        _as(w, "operator", lambda uow, a, *args: experts.answer_by_voice(uow, *args), draw_id, seq, True)


def _off_loop(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread: pyHanko signs and validates with ``asyncio.run``, which refuses to run inside
    a running event loop (the demo may be seeded from one, e.g. under Playwright's sync API)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def _as(w: DemoWorld, username: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn(uow, actor, *args)`` as ``username`` in one committed unit of work."""
    return w.act(username, lambda uow, a: fn(uow, a, *args))


def _members(w: DemoWorld, pid: int) -> dict[int, str]:
    view = w.act("operator", lambda uow, a: evaluation.committee_view(uow, a, pid))
    ids = {m["seq"]: m for m in view["members"]}
    with w.platform.db.read() as s:
        names = {
            code: s.scalar(select(User.username).where(User.username == f"expert-{code.lower()}"))
            for code in (m["expert_code"] for m in ids.values() if m["expert_code"])
        }
    return {seq: str(names[m["expert_code"]]) if m["expert_code"] else "tenderer" for seq, m in ids.items()}


def _scores(w: DemoWorld, pid: int, username: str, seq: int) -> list[scoring.ScoreIn]:
    """A member's score sheet (subjective items): the panel broadly agrees, but member 3 marks the first bid's plan
    far lower."""
    bids = w.act(username, lambda uow, a: scoring.bids_view(uow, a, pid))
    valid = [ln["bidder"] for ln in bids["prices"]["bids"]]
    out = []
    for n, bidder in enumerate(sorted(valid)):
        plan = "6" if (seq == DEVIATING_MEMBER and n == 0) else str(12 - n)
        out += [scoring.ScoreIn(bidder, "plan", plan), scoring.ScoreIn(bidder, "schedule", str(8 - n % 2))]
    return out


def correct_fact(w: DemoWorld, pid: int, leader: str) -> dict[str, Any]:
    """The group leader verifies a declared fact against the bid documents and corrects it, with the reason."""
    who, field, value, reason = FACT_CORRECTION
    with w.platform.db.read() as s:
        org = s.get(Organisation, w.orgs[who])
        if org is None:
            raise RuntimeError(f"demo organisation {who} vanished")
        uscc = str(org.uscc)
    row = w.act(leader, lambda uow, a: objective.correct_fact(uow, a, pid, uscc, field, value, reason))
    return {"bidder": uscc, "field": field, "declared": row.declared, "value": row.value}


def evaluate(w: DemoWorld, pid: int, draw_id: int) -> dict[str, Any]:
    """Committee, sign-in, scoring with one intervention, signed report, ``submit_report``; returns a summary."""
    w.act("operator", lambda uow, a: evaluation.form_committee(uow, a, pid, draw_id=draw_id))
    members = _members(w, pid)
    _demo_passwords(w, [u for u in members.values() if u.startswith("expert-")])
    for username in members.values():
        w.act(username, lambda uow, a: evaluation.sign_in(uow, a, pid))
    w.act("operator", lambda uow, a: evaluation.record_leader(uow, a, pid, 1))
    w.perform("operator", pid, "start_evaluation")
    correction = correct_fact(w, pid, members[1])
    held: dict[str, Any] = {}
    for seq, username in members.items():
        sheet = _scores(w, pid, username, seq)
        _as(w, username, scoring.save_scores, pid, sheet)
        out = w.act(username, lambda uow, a: scoring.submit(uow, a, pid))
        if out["status"] == "held":
            held = out["interventions"][0]
            reasons = {(i["bidder"], i["item"]): REASON for i in out["interventions"]}
            out = _as(w, username, scoring.submit, pid, reasons)
        if out["status"] != "submitted":
            raise RuntimeError(f"demo scoring of member {seq} was not accepted: {out}")
    if not held:
        raise RuntimeError("the demo's deviating score did not trigger an intervention")
    keys = {}
    for seq, username in members.items():
        kp = w.platform.suite.generate_signing_keypair()
        pem = _as(w, username, reports.register_certificate, pid, kp.public)
        keys[seq] = Signer(kp.private, pem)
    w.act(members[1], lambda uow, a: reports.build(uow, a, pid))
    ca = w.platform.ca().certificate_pem
    for seq in sorted(members):  # the leader first, then the committee's order (client-side signing)
        pdf = w.act(members[seq], lambda uow, a: reports.report_pdf(uow, a, pid))
        signed = _off_loop(partial(sign_report, pdf, keys[seq], ca_cert_pem=ca, at=w.now, suite=w.platform.suite.name))
        _off_loop(partial(_as, w, members[seq], reports.upload_signed, pid, signed))
    return {"intervention": held, "members": len(members), "fact_correction": correction}


def _demo_passwords(w: DemoWorld, usernames: list[str]) -> None:
    """In the demo the committee's experts get the demo password (a real expert sets his with the access code)."""
    from sunbid.identity.passwords import hash_password
    from sunbid.platform.demo import DEMO_PASSWORD

    def run(uow: Any, actor: Any) -> None:
        for user in uow.session.scalars(select(User).where(User.username.in_(usernames))):
            user.password_hash = hash_password(DEMO_PASSWORD)

    w.act("admin", run)


def publish(w: DemoWorld, pid: int) -> list[dict[str, Any]]:
    """The agency publishes the candidates of the signed report."""
    return list(w.act("agency", lambda uow, a: reports.publish(uow, a, pid)))
