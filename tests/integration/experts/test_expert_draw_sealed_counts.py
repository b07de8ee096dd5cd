"""Too many draws 抽取过频: draws whose panel is still sealed count, read in memory and audited without identities.

The pool (conftest): 18 eligible A0101 experts (EX00001–EX00018, each with his own employer), 6 always-avoided
ones and 8 B0101 experts. Every draw below requests ``A01`` only, so its public candidate count is 18 minus
the experts the frequency rule excludes.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from sunbid.core.errors import Forbidden, IntegrityFailure
from sunbid.draws.domain import SeedInput
from sunbid.experts import pool, service
from sunbid.experts.domain import AvoidancePolicy, AvoidanceReason, DrawContext, SlotRequest, avoidance_reasons
from sunbid.experts.models import ExpertDraw, ExpertDrawHistory
from sunbid.ledger.models import AuditEvent
from tests.integration.bidding.conftest import to_bidding
from tests.integration.experts.conftest import Ew, db_dump, name, phone

ELIGIBLE = {f"EX{n:05d}" for n in range(1, 19)}
# project B has no bids: the bidders' employees and conflicts (EX00101, EX00105, EX00106) may sit there
ELIGIBLE_B = ELIGIBLE | {"EX00101", "EX00105", "EX00106"}
OTHER_INPUT = (SeedInput("regulator", bytes(range(32))),)  # project B has no bids: a second seed input


def _commit(ew: Ew, evaluation_at: datetime, *, project: str | None = None, **policy: int) -> int:
    req = service.DrawRequest(
        project_code=project or ew.bw.code,
        evaluation_starts_at=evaluation_at,
        slots=(SlotRequest("A01", 3, 2),),
        policy=AvoidancePolicy(employment_years=3, **policy),  # type: ignore[arg-type]
    )
    return int(ew.run(service.commit_draw, ew.keys, req).id)


def _run(ew: Ew, draw_id: int, at: datetime) -> None:
    ew.advance_to(at)
    ew.run(service.run_draw, ew.keys, draw_id, OTHER_INPUT)


def _candidates(ew: Ew, draw_id: int) -> int:
    with ew.platform.db.read() as s:
        return int(service.draw_view(s, draw_id)["candidates"])


def _panel(ew: Ew, draw_id: int) -> set[str]:
    return {seat["code"] for seat in ew.run(service.unseal, draw_id)["seats"]}


def _record_candidates(ew: Ew, draw_id: int) -> set[str]:
    with ew.platform.db.read() as s:
        return set(service.published_record(s, draw_id, ew.bw.clock.now()).candidates)


def _counts(ew: Ew) -> dict[int, dict[str, object]]:
    """``expert:panel:count`` audit data by the draw being made."""
    with ew.platform.db.read() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.tag == "expert:panel:count").order_by(AuditEvent.id))
        return {int(str(a.subject_id)): dict(a.data) for a in rows}


def _history(ew: Ew) -> list[tuple[int, int]]:
    with ew.platform.db.read() as s:
        return sorted((h.draw_id, h.expert_id) for h in s.scalars(select(ExpertDrawHistory)))


def test_an_expert_on_a_sealed_panel_is_not_drawn_again_beyond_the_limit(
    ew: Ew, caplog: pytest.LogCaptureFixture
) -> None:
    _, code_b, _ = to_bidding(ew.bw.tw, ew.bw.clock)  # project B, same parties, no bids
    eval_a = ew.bw.deadline + timedelta(days=1)
    eval_b = eval_a + timedelta(hours=2)
    draw_a = _commit(ew, eval_a)
    draw_b = _commit(ew, eval_b, project=code_b, max_draws=1, draw_period_days=30)
    _run(ew, draw_a, eval_a - timedelta(hours=20))
    assert _counts(ew) == {}  # A has no frequency limit: no sealed panel was opened for it
    before = db_dump(ew.platform)
    caplog.set_level(logging.DEBUG)
    _run(ew, draw_b, eval_a - timedelta(hours=19))
    after = db_dump(ew.platform)

    # while both are sealed: B avoided A's five seats; the only trace is a count, nobody is named anywhere
    assert _candidates(ew, draw_a) == 18 and _candidates(ew, draw_b) == len(ELIGIBLE_B) - 5 == 16
    counted = _counts(ew)
    assert counted == {draw_b: {"draws": [draw_a], "seats": 5, "period_days": 30, "max_draws": 1}}
    assert _history(ew) == []
    for n in [*range(1, 19), *range(101, 107), *range(201, 209)]:
        for needle in (f"EX{n:05d}", name(n), phone(n)):
            assert after.count(needle) == before.count(needle), needle
            assert needle not in caplog.text
    with ew.platform.db.read() as s:
        view = json.dumps(service.draw_view(s, draw_b), ensure_ascii=False)
        with pytest.raises(Forbidden):
            service.published_record(s, draw_b, ew.bw.clock.now())
    assert "EX0" not in view and "测试专家" not in view
    with pytest.raises(Forbidden):
        ew.run(service.unseal, draw_b)

    # after evaluation: A is unsealed (its draws enter the history) and the rule that left A's experts out of B
    # is too-many-draws alone
    ew.advance_to(eval_b)
    panel_a = _panel(ew, draw_a)
    assert len(panel_a) == 5
    with ew.platform.db.read() as s:
        profiles, _ = pool.load_profiles(s, ["A01"])
        drawn_b = s.get(ExpertDraw, draw_b)
        assert drawn_b is not None and drawn_b.drawn_at is not None
        ctx = DrawContext(
            at=drawn_b.drawn_at,
            tenderer_uscc=ew.uscc("tenderer"),
            agency_uscc=ew.uscc("agency"),
            sectors=frozenset({"engineering"}),
        )
    policy_b = AvoidancePolicy(employment_years=3, max_draws=1, draw_period_days=30)
    reasons = {p.code: avoidance_reasons(p, ctx, policy_b) for p in profiles}
    assert {c for c, r in reasons.items() if r == [AvoidanceReason.TOO_MANY_DRAWS]} == panel_a
    assert {c for c, r in reasons.items() if not r} == ELIGIBLE_B - panel_a
    # … and B's published record leaves out every member and reserve of A
    panel_b = _panel(ew, draw_b)
    assert not panel_a & panel_b
    assert _record_candidates(ew, draw_b) == ELIGIBLE_B - panel_a


def test_an_unsealed_draw_is_counted_once_from_its_history_and_a_sealed_one_once_from_its_panel(ew: Ew) -> None:
    eval_a = ew.bw.deadline + timedelta(days=1)
    draw_a = _commit(ew, eval_a)
    draw_c = _commit(ew, eval_a + timedelta(days=1), max_draws=1, draw_period_days=30)
    draw_d = _commit(ew, eval_a + timedelta(days=1, hours=1), max_draws=2, draw_period_days=30)
    _run(ew, draw_a, eval_a - timedelta(hours=20))
    ew.advance_to(eval_a)
    panel_a = _panel(ew, draw_a)  # A unsealed: its five seats are in the history
    assert len(_history(ew)) == 5

    # C (at most 1 draw): A's experts are out, from the history; no sealed panel was opened
    _run(ew, draw_c, eval_a + timedelta(hours=4))
    assert _candidates(ew, draw_c) == 13 and draw_c not in _counts(ew)
    # D (at most 2): A's experts have one draw (history), C's one (sealed panel, disjoint from A): nobody is out;
    # counting A twice, or C from both its panel and a history, would leave some out
    _run(ew, draw_d, eval_a + timedelta(hours=4, minutes=1))
    assert _candidates(ew, draw_d) == 18
    assert _counts(ew) == {draw_d: {"draws": [draw_c], "seats": 5, "period_days": 30, "max_draws": 2}}

    ew.advance_to(eval_a + timedelta(days=1, hours=1))
    panel_c = _panel(ew, draw_c)
    _panel(ew, draw_d)
    assert not panel_a & panel_c
    assert _record_candidates(ew, draw_c) == ELIGIBLE - panel_a
    assert _record_candidates(ew, draw_d) == ELIGIBLE


def test_a_sealed_draw_counts_inside_the_window_only(ew: Ew) -> None:
    eval_a = ew.bw.deadline + timedelta(days=1)
    draw_a = _commit(ew, eval_a)
    draw_e = _commit(ew, eval_a + timedelta(days=1), max_draws=1, draw_period_days=1)
    draw_f = _commit(ew, eval_a + timedelta(days=1, hours=1), max_draws=1, draw_period_days=1)
    drawn_a = eval_a - timedelta(hours=20)
    _run(ew, draw_a, drawn_a)  # A is never unsealed: it stays sealed after its evaluation

    # E, one second inside A's window: A's seats are out
    _run(ew, draw_e, drawn_a + timedelta(days=1) - timedelta(seconds=1))
    assert _candidates(ew, draw_e) == 13
    # F, exactly one period after A (the window is (now − period, now], as in the history): A no longer counts,
    # E (one second ago, sealed) does
    _run(ew, draw_f, drawn_a + timedelta(days=1))
    assert _candidates(ew, draw_f) == 13
    counted = _counts(ew)
    assert counted[draw_e]["draws"] == [draw_a] and counted[draw_f]["draws"] == [draw_e]

    ew.advance_to(eval_a + timedelta(days=1, hours=1))
    panel_a, panel_e = _panel(ew, draw_a), _panel(ew, draw_e)
    _panel(ew, draw_f)
    assert _record_candidates(ew, draw_e) == ELIGIBLE - panel_a
    assert _record_candidates(ew, draw_f) == ELIGIBLE - panel_e
    assert panel_a <= _record_candidates(ew, draw_f)


def test_without_a_limit_no_sealed_panel_is_opened(ew: Ew) -> None:
    eval_a = ew.bw.deadline + timedelta(days=1)
    draw_a = _commit(ew, eval_a)
    draw_b = _commit(ew, eval_a + timedelta(hours=1))
    _run(ew, draw_a, eval_a - timedelta(hours=20))
    _run(ew, draw_b, eval_a - timedelta(hours=19))
    assert _candidates(ew, draw_b) == 18 and _counts(ew) == {}


def test_a_broken_seal_in_the_window_stops_the_draw_and_changes_nothing(ew: Ew) -> None:
    eval_a = ew.bw.deadline + timedelta(days=1)
    draw_a = _commit(ew, eval_a)
    draw_b = _commit(ew, eval_a + timedelta(hours=1), max_draws=1, draw_period_days=30)
    _run(ew, draw_a, eval_a - timedelta(hours=20))
    with ew.platform.db.session() as s:  # a database administrator moves A's release time
        s.execute(
            update(ExpertDraw).where(ExpertDraw.id == draw_a).values(evaluation_starts_at=eval_a - timedelta(minutes=5))
        )
        s.commit()
    before = db_dump(ew.platform)
    ew.advance_to(eval_a - timedelta(hours=19))
    with pytest.raises(IntegrityFailure) as exc:
        ew.run(service.run_draw, ew.keys, draw_b, OTHER_INPUT)
    assert exc.value.code == "expert.seal_broken" and exc.value.details == {"draw": draw_a}
    assert db_dump(ew.platform) == before


def test_a_draw_read_from_its_sealed_panel_is_not_counted_again_from_its_history(ew: Ew) -> None:
    """If a panel is unsealed between the sealed-panel query and the history query, it still counts once."""
    eval_a = ew.bw.deadline + timedelta(days=1)
    draw_a = _commit(ew, eval_a)
    _run(ew, draw_a, eval_a - timedelta(hours=20))
    ew.advance_to(eval_a)
    panel_a = _panel(ew, draw_a)
    with ew.platform.db.read() as s:
        drawn = s.get(ExpertDraw, draw_a)
        assert drawn is not None and drawn.drawn_at is not None
        as_read = {code: [drawn.drawn_at] for code in panel_a}  # what the sealed panel gave, just before
        once, _ = pool.load_profiles(s, ["A01"], extra_draw_times=as_read, skip_history_of={draw_a})
        twice, _ = pool.load_profiles(s, ["A01"], extra_draw_times=as_read)
    assert {p.code: len(p.draw_times) for p in once if p.draw_times} == dict.fromkeys(panel_a, 1)
    assert {p.code: len(p.draw_times) for p in twice if p.draw_times} == dict.fromkeys(panel_a, 2)


def test_a_draw_waits_for_a_draw_running_at_the_same_time_and_then_counts_it(ew: Ew) -> None:
    if ew.platform.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writing transactions are serial already (BEGIN IMMEDIATE)")
    eval_a = ew.bw.deadline + timedelta(days=1)
    draw_a = _commit(ew, eval_a)
    draw_b = _commit(ew, eval_a + timedelta(hours=1), max_draws=1, draw_period_days=30)
    ew.advance_to(eval_a - timedelta(hours=20))
    errors: list[BaseException] = []

    def run_b() -> None:
        try:
            ew.run(service.run_draw, ew.keys, draw_b, OTHER_INPUT)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    with ew.platform.uow() as uow:
        service.run_draw(uow, ew.keys, draw_a, OTHER_INPUT)  # A drawn, not committed yet
        other = threading.Thread(target=run_b)
        other.start()
        other.join(timeout=1.0)
        assert other.is_alive()  # B waits for A …
        uow.commit()
    other.join(timeout=30)
    assert not other.is_alive() and not errors
    assert _candidates(ew, draw_b) == 13  # … and then counts A's sealed panel
    assert _counts(ew)[draw_b]["draws"] == [draw_a]
