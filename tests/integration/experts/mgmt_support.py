"""An evaluation whose panel is unsealed: three experts confirmed, one refused (helpers for management tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from sunbid.experts import service
from sunbid.experts.domain import AvoidancePolicy, SlotRequest
from sunbid.experts.models import ExpertDrawSeat
from sunbid.notifications.models import SmsSimulatorMessage
from tests.integration.experts.conftest import Ew


@dataclass
class Panel:
    draw_id: int
    starts_at: datetime
    confirmed: list[str]
    refused: list[str]
    reserves: list[str]


def unsealed_panel(ew: Ew) -> Panel:
    """Draw 3 A01 experts (2 reserves); the first called refuses, the others and the called reserve confirm;
    evaluation starts and the panel is unsealed."""
    starts = ew.bw.deadline + timedelta(days=1)
    req = service.DrawRequest(
        project_code=ew.bw.code,
        evaluation_starts_at=starts,
        slots=(SlotRequest("A01", 3, 2),),
        policy=AvoidancePolicy(employment_years=3),
        response_minutes=30,
    )
    draw = ew.run(service.commit_draw, ew.keys, req)
    ew.advance_to(starts - timedelta(hours=20))
    ew.run(service.run_draw, ew.keys, draw.id)
    answered: set[str] = set()
    refused = False
    for _ in range(4):
        ew.platform.worker.run_once()
        with ew.platform.db.read() as s:
            messages = [m.text for m in s.scalars(select(SmsSimulatorMessage).order_by(SmsSimulatorMessage.id))]
        for text in messages:
            token = text.split("答复码 ")[1].split(" ")[0]
            if token in answered:
                continue
            answered.add(token)
            ew.run(service.respond, token, refused)  # the first answer is a refusal
            refused = True
    ew.advance_to(starts)
    panel = ew.run(service.unseal, draw.id)
    with ew.platform.db.read() as s:
        states = {x.seq: x.state for x in s.scalars(select(ExpertDrawSeat).where(ExpertDrawSeat.draw_id == draw.id))}
    seats = panel["seats"]
    confirmed = [x["code"] for x in seats if states[x["seq"]] == "confirmed"]
    refusals = [x["code"] for x in seats if states[x["seq"]] == "refused"]
    reserves = [x["code"] for x in seats if states[x["seq"]] == "standby"]
    assert len(confirmed) == 3 and len(refusals) == 1, states
    return Panel(int(draw.id), starts, confirmed, refusals, reserves)
