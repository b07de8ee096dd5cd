"""Adapters between the pure engine and the legal rules: facts ↔ JSON, the rule checker, countdowns."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sunbid.calendar.service import load_calendar
from sunbid.core.calendar import WorkingCalendar
from sunbid.core.clock import ensure_utc
from sunbid.core.errors import DomainError
from sunbid.projects import rules
from sunbid.projects.engine import Deadline, Facts
from sunbid.projects.models import Project

_TIME_FIELDS = frozenset(f.name for f in fields(Facts) if f.name != "now" and "datetime" in str(f.type))


def facts_from_json(data: dict[str, Any], now: datetime) -> Facts:
    """The engine's facts from a project's stored ``facts`` (times as ISO strings)."""
    known = {f.name for f in fields(Facts)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known or key == "now":
            continue
        if key in _TIME_FIELDS and isinstance(value, str):
            values[key] = ensure_utc(datetime.fromisoformat(value))
        else:
            values[key] = value
    return Facts(now=now, **values)


def facts_to_json(facts: Facts) -> dict[str, Any]:
    """Stored form of the facts: only what is set, times as ISO 8601 UTC strings."""
    out: dict[str, Any] = {}
    defaults = Facts(now=facts.now)
    for f in fields(Facts):
        if f.name == "now":
            continue
        value = getattr(facts, f.name)
        if value == getattr(defaults, f.name):
            continue
        out[f.name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def project_facts(project: Project, now: datetime) -> Facts:
    return facts_from_json(dict(project.facts or {}), now)


def with_facts(facts: Facts, **changes: Any) -> Facts:
    return replace(facts, **changes)


@dataclass(frozen=True)
class RuleChecker:
    """The engine's :class:`~sunbid.projects.engine.TimeRuleChecker`: the rule book on the official calendar."""

    book: rules.RuleBook
    calendar: WorkingCalendar

    def check(self, rule_id: str, start: datetime, end: datetime) -> DomainError | None:
        violation = rules.check(self.book.get(rule_id), start, end, self.calendar)
        return None if violation is None else violation.as_error()

    def resolve(self, d: Deadline) -> datetime | None:
        """Due time of a running limit, for countdowns."""
        if d.due is not None or d.rule_id is None:
            return d.due
        rule = self.book.get(d.rule_id)
        if d.start_fact == "now" and d.end is not None:
            return rules.latest_start_allowed(rule, d.end, self.calendar)
        if d.start is not None and rule.kind == "max_within":
            return rules.latest_allowed(rule, d.start, self.calendar)
        if d.start is not None and rule.kind in ("min_between", "duration"):
            return rules.earliest_allowed(rule, d.start, self.calendar)
        return None


def checker_for(session: Session, book: rules.RuleBook | None = None) -> RuleChecker:
    return RuleChecker(book or rules.RuleBook.default(), load_calendar(session))
