"""Screening of the platform's own opened bids 本平台已开标项目 (issue 7 item 1).

Every published opening record (``opening_sessions.record``, signed and logged, see docs/opening.md §5) becomes
one tender per section and round: the decrypted bids' prices per bidder (USCC as bidder id), the section's
maximum price 最高投标限价 (or its budget) as the estimate, the winner when the project was awarded, the
publication date. The records go through ``screening.io.from_records`` — the same checks as a CSV file — and are
scored like any file: with a trained model when one is given, else unsupervised (the platform's tenders carry no
cartel labels).

Who sees what: a regulator sees only the projects it supervises — the same rule as the project pages
(``projects.service.project_roles`` gives ``regulator`` for a regulator membership whose region contains the
project's and whose sectors include its sector); the centre's CLI (no actor) sees every record. Every viewing
of screening results is audited (``screening:view``), with the number of tenders and projects, never a price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import select

from sunbid.core.errors import Forbidden
from sunbid.identity.domain import Role
from sunbid.identity.models import Organisation
from sunbid.identity.service import Actor
from sunbid.opening.models import OpeningSession
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project, Section
from sunbid.screening.io import BidData, from_records
from sunbid.screening.model import Progress, TrainedModel, no_progress
from sunbid.screening.service import ScoreResult, result_doc, score

__all__ = ["PLATFORM_NAME", "PlatformScreening", "records_from_opening", "screen_platform", "visible_records"]

PLATFORM_NAME: Final = "platform"
PLATFORM_SOURCE: Final = ("本平台已开标项目", "opened tenders of this platform")


@dataclass(frozen=True)
class PlatformScreening:
    """The platform's opened tenders, scored: the result, the validated bids and the projects they came from."""

    result: ScoreResult
    data: BidData
    projects: tuple[str, ...]

    def doc(self, english: bool = False) -> dict[str, Any]:
        """The page document (the same shape as a stored import)."""
        return result_doc(PLATFORM_NAME, PLATFORM_SOURCE[1 if english else 0], self.data, self.result)


def _estimate(section: Section | None) -> Decimal | None:
    if section is None:
        return None
    return section.max_price if section.max_price is not None else section.budget


def records_from_opening(
    record: dict[str, Any],
    *,
    round_no: int,
    sections: dict[str, Section],
    winner_uscc: str | None,
) -> list[dict[str, Any]]:
    """The bid records (CSV column names) of one published opening record; failed bids (no price) are left out.

    ``tender_id`` is ``<project code>/<section>`` (``#<round>`` after a re-tender). ``is_winner`` is 1 for the
    awarded bidder's bid and 0 for the others of a section it bid in; unknown (None) otherwise.
    """
    body = record.get("record", record)
    code = str(body.get("project_code", ""))
    published = str(body.get("published_at") or "")[:10] or None
    out: list[dict[str, Any]] = []
    for sec in body.get("sections") or []:
        sec_code = str(sec.get("section", ""))
        rows = [r for r in sec.get("rows") or [] if r.get("price") not in (None, "")]
        tender = f"{code}/{sec_code}" + (f"#{round_no}" if round_no > 1 else "")
        won = winner_uscc is not None and any(r.get("bidder_uscc") == winner_uscc for r in rows)
        for r in rows:
            out.append(
                {
                    "tender_id": tender,
                    "bidder_id": r.get("bidder_uscc") or r.get("bidder_name"),
                    "bid_amount": r.get("price"),
                    "is_winner": (1 if r.get("bidder_uscc") == winner_uscc else 0) if won else None,
                    "estimate": _estimate(sections.get(sec_code)),
                    "date": published,
                    "label": None,
                }
            )
    return out


def _may_screen(actor: Actor) -> None:
    if Role.REGULATOR not in actor.roles:
        raise Forbidden(
            "screen.regulators_only",
            "只有行政监督部门可以查看围标串标筛查。",
            "Only regulators may open the collusion screening.",
        )


def visible_records(uow: UnitOfWork, actor: Actor | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The bid records of every published opening record ``actor`` may screen, and the projects' codes.

    ``actor`` None is the centre's command line (every record). A regulator sees the projects it supervises.
    """
    if actor is not None:
        _may_screen(actor)
    rows = uow.session.execute(
        select(OpeningSession, Project)
        .join(Project, Project.id == OpeningSession.project_id)
        .where(OpeningSession.record.is_not(None))
        .order_by(Project.id, OpeningSession.round)
    ).all()
    latest: dict[int, int] = {}
    for s, p in rows:
        latest[p.id] = max(latest.get(p.id, 0), s.round)
    records: list[dict[str, Any]] = []
    codes: list[str] = []
    allowed: dict[int, bool] = {}
    for s, p in rows:
        if actor is not None:
            if p.id not in allowed:
                allowed[p.id] = "regulator" in projects.project_roles(uow, actor, p)
            if not allowed[p.id]:
                continue
        assert s.record is not None
        sections = {sec.code: sec for sec in uow.session.scalars(select(Section).where(Section.project_id == p.id))}
        winner: str | None = None
        if p.winner_org_id is not None and s.round == latest[p.id]:
            org = uow.session.get(Organisation, p.winner_org_id)
            winner = None if org is None else org.uscc
        records.extend(records_from_opening(s.record, round_no=s.round, sections=sections, winner_uscc=winner))
        if p.code not in codes:
            codes.append(p.code)
    return records, codes


def screen_platform(
    uow: UnitOfWork,
    actor: Actor | None,
    model: TrainedModel | None = None,
    *,
    progress: Progress = no_progress,
) -> PlatformScreening:
    """Score the platform's opened tenders ``actor`` may see (``screen.no_tenders`` when there is none); audited.

    The audit entry ``screening:view`` records the source, the method and how many tenders and projects were
    scored — enough to know who looked at which results, without copying a price into the log.
    """
    records, codes = visible_records(uow, actor)
    progress("读取 reading")
    data = from_records(records)
    result = score(data, model, progress=progress)
    uow.audit(
        "screening:view",
        subject_type="screening",
        subject_id=PLATFORM_NAME,
        data={
            "source": PLATFORM_NAME,
            "method": result.method,
            "tenders": len(result.tenders),
            "projects": len(codes),
        },
    )
    return PlatformScreening(result, data, tuple(codes))
