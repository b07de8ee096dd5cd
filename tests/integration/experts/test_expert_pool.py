"""The pool: CSV import with errors by line and column, encrypted personal data, status and penalties."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from sunbid.core.errors import Conflict
from sunbid.experts import pool
from sunbid.experts.domain import ExpertStatus
from sunbid.experts.models import Expert, ExpertStatusEvent
from sunbid.ledger.models import AuditEvent
from tests.integration.experts.conftest import Ew, csv_text, db_dump, expert_row, id_number, name, phone


def test_import_reports_every_error_by_line_and_column_and_stores_nothing(ew: Ew) -> None:
    rows = [
        expert_row(301),
        expert_row(302, id_number="341702198001010000", phone="12345"),
        expert_row(303, specialties="A0101;Z99", employer_uscc="NOT-A-USCC"),
        expert_row(301, id_number=id_number(304)),
        expert_row(305, past_employments="bad", regulator_sectors="moon"),
    ]
    with ew.platform.uow() as uow:
        result = pool.import_csv(uow, ew.keys, csv_text(rows))
    found = {(e.line, e.column, e.code) for e in result.errors}
    assert found == {
        (3, "id_number", "expert.csv_bad_id_number"),
        (3, "phone", "expert.csv_bad_phone"),
        (4, "specialties", "expert.csv_unknown_specialty"),
        (4, "employer_uscc", "expert.csv_bad_uscc"),
        (5, "code", "expert.csv_duplicate"),
        (6, "past_employments", "expert.csv_bad_employment"),
        (6, "regulator_sectors", "expert.csv_bad_sector"),
    }
    assert all(e.message_zh and e.message_en for e in result.errors)
    with ew.platform.db.read() as s:
        assert s.scalar(select(Expert).where(Expert.code == "EX00301")) is None


def test_import_refuses_missing_columns(ew: Ew) -> None:
    with ew.platform.uow() as uow:
        result = pool.import_csv(uow, ew.keys, "code,name\nEX1,张三\n")
    assert {(e.line, e.column) for e in result.errors} >= {(1, "id_number"), (1, "specialties")}


def test_one_person_cannot_be_two_experts(ew: Ew) -> None:
    with ew.platform.uow() as uow:
        result = pool.import_csv(uow, ew.keys, csv_text([expert_row(400, id_number=id_number(1))]))
    assert [(e.column, e.code) for e in result.errors] == [("id_number", "expert.duplicate_person")]


def test_personal_data_is_encrypted_at_rest_and_never_audited(ew: Ew) -> None:
    dump = db_dump(ew.platform, skip=frozenset())
    for n in (1, 2, 101, 201):
        assert name(n) not in dump and phone(n) not in dump and id_number(n) not in dump
    with ew.platform.db.read() as s:
        view = pool.expert_view(s, "EX00001", ew.keys)
        bare = pool.expert_view(s, "EX00001")
    assert view["name"] == name(1) and view["phone_masked"] == "139****0001"
    assert "name" not in bare and bare["specialties"] == ["A0101"] and not bare["has_draw_history"]


def test_status_changes_are_recorded_with_history_and_removal_is_final(ew: Ew) -> None:
    ew.run(pool.change_status, "EX00001", ExpertStatus.SUSPENDED, "考评不合格")
    ew.run(pool.change_status, "EX00001", ExpertStatus.ACTIVE, "整改完成")
    ew.run(pool.change_status, "EX00001", ExpertStatus.REMOVED, "清退出库")
    with pytest.raises(Conflict):
        ew.run(pool.change_status, "EX00001", ExpertStatus.ACTIVE, "再入库")
    with ew.platform.db.read() as s:
        row = s.scalar(select(Expert).where(Expert.code == "EX00001"))
        assert row is not None and row.status == "removed"
        events = [
            (e.from_status, e.to_status)
            for e in s.scalars(
                select(ExpertStatusEvent).where(ExpertStatusEvent.expert_id == row.id).order_by(ExpertStatusEvent.id)
            )
        ]
        tags = [a.tag for a in s.scalars(select(AuditEvent).where(AuditEvent.subject_type == "expert"))]
    assert events == [(None, "active"), ("active", "suspended"), ("suspended", "active"), ("active", "removed")]
    assert tags == ["expert:pool:suspend", "expert:pool:reinstate", "expert:pool:remove"]


def test_penalty_is_loaded_into_the_draw_profile(ew: Ew) -> None:
    ew.run(pool.add_penalty, "EX00002", date(2026, 1, 1), date(2026, 12, 31), "条例 §71")
    with ew.platform.db.read() as s:
        profiles, _ = pool.load_profiles(s, ["A01"])
    by = {p.code: p for p in profiles}
    assert by["EX00002"].penalties and by["EX00002"].penalties[0].active_at(date(2026, 3, 1))
    assert "EX00201" not in by and "EX00101" in by
