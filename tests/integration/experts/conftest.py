"""A project with sealed bids from bidders A and B, and an expert pool around it (fake time)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from sunbid.experts import pool as pool_service
from sunbid.experts.pool import PoolKeys
from sunbid.identity.domain import make_uscc
from sunbid.platform.container import Platform
from sunbid.platform.schema import metadata
from tests.integration.bidding.conftest import Bw
from tests.integration.bidding.conftest import bw as bw  # the fixture
from tests.integration.projects.conftest import tw as tw  # the fixture

HEADER = list(pool_service.CSV_COLUMNS)


def id_number(n: int) -> str:
    """A valid 18-character identity number (GB 11643 check character) for test person ``n``."""
    body = f"34170219800101{n:03d}"
    return body + pool_service.id_check_char(body)


def phone(n: int) -> str:
    return f"139{n:08d}"


def name(n: int) -> str:
    return f"测试专家{n:03d}号"


def csv_text(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HEADER)
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in HEADER})
    return buf.getvalue()


def expert_row(n: int, specialty: str = "A0101", **kw: str) -> dict[str, str]:
    row = {
        "code": f"EX{n:05d}",
        "name": name(n),
        "id_number": id_number(n),
        "phone": phone(n),
        "email": f"expert{n}@example.cn",
        "region_code": "341700",
        "specialties": specialty,
        "employer_uscc": make_uscc(500 + n, region_code="341700"),
        "employed_since": "2018-01-01",
    }
    row.update(kw)
    return row


@dataclass
class Ew:
    """The bidding world plus the pool's key and helpers."""

    bw: Bw
    keys: PoolKeys
    avoided: dict[str, str]  # code → why it must never be drawn

    @property
    def platform(self) -> Platform:
        return self.bw.platform

    def uscc(self, who: str) -> str:
        return str(self.bw.org(who).uscc)

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self.platform.uow() as uow:
            result = fn(uow, *args, **kwargs)
            uow.commit()
            return result

    def advance_to(self, moment: datetime) -> None:
        self.bw.clock.set(moment)


def db_dump(platform: Platform, skip: frozenset[str] = frozenset({"sms_simulator_messages"})) -> str:
    """Every row of every table as text (the database administrator's view); bytes as latin-1 and hex."""
    parts: list[str] = []
    with platform.db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in skip:
                continue
            for row in conn.execute(table.select()):
                for v in row:
                    if isinstance(v, bytes | memoryview):
                        b = bytes(v)
                        parts.append(b.decode("latin-1") + b.hex())
                    else:
                        parts.append(str(v))
        if platform.db.engine.dialect.name == "sqlite":
            parts.append(str(conn.execute(text("select 1")).all()))
    return "\n".join(parts)


@pytest.fixture
def ew(bw: Bw) -> Ew:
    """Bidders A and B have bid; the pool has 24 A0101 experts, of whom 6 must be avoided, and 8 B0101."""
    bw.submit("bidder_a")
    bw.submit("bidder_b")
    keys = PoolKeys.of(bw.platform)
    rows = [expert_row(n) for n in range(1, 19)]
    avoided = {
        "EX00101": "bidder employee",
        "EX00102": "tenderer employee",
        "EX00103": "agency staff",
        "EX00104": "regulator staff",
        "EX00105": "declared conflict",
        "EX00106": "recent bidder employee",
    }
    tw_orgs = bw.tw.world.orgs
    rows += [
        expert_row(101, employer_uscc=str(tw_orgs["bidder_a"].uscc)),
        expert_row(102, employer_uscc=str(tw_orgs["tenderer"].uscc)),
        expert_row(103, employer_uscc=str(tw_orgs["agency"].uscc)),
        expert_row(104, regulator_sectors="engineering"),
        expert_row(105, conflict_orgs=str(tw_orgs["bidder_b"].uscc)),
        expert_row(
            106,
            past_employments=f"{tw_orgs['bidder_b'].uscc}/2019-01-01/{(bw.clock.now() - timedelta(days=400)).date()}",
        ),
    ]
    rows += [expert_row(n, "B0101") for n in range(201, 209)]
    with bw.platform.uow() as uow:
        result = pool_service.import_csv(uow, keys, csv_text(rows))
        assert result.ok, result.errors
        uow.commit()
    return Ew(bw, keys, avoided)
