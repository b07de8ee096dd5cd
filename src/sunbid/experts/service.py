"""Expert draws 专家抽取 (SPEC E-2): commit, draw, notify, confirm or refuse, reserves, the sealed panel.

1. :func:`commit_draw` — the operator's secret (secret store) is committed and the commitment logged, before
   the bid deadline or at the latest before the draw.
2. :func:`run_draw` — avoidance over the pool, the canonical candidate list and its digest (logged), then the
   secret is revealed into the seed with the sealed-bid hashes and any other inputs; the verifiable panel draw
   runs; the panel (identities, contacts, reply codes, the record) is sealed; seats are stored by position only.
   Members are notified through the outbox (``expert.notify``); each has until ``respond_by`` to answer.
3. :func:`respond` (the reply code from the message) confirms or refuses; a refusal, or no answer by
   ``respond_by`` (``expert.response_due`` job), calls the next reserve of the same specialty.
4. :func:`unseal` — from the start of evaluation only, for permitted roles; every opening is audited. The
   first opening publishes the draw record (``sunbid draw verify`` recomputes it) and writes draw history.

The too-many-draws rule counts both: the draw history (unsealed panels) and, in memory at draw time, the seats
of other draws whose panels are still sealed and were drawn inside the rule's window
(:func:`_sealed_draw_times`, audited as ``expert:panel:count`` without identities).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from sunbid.bidding.models import Bid
from sunbid.core.errors import Conflict, Forbidden, IntegrityFailure, NotFound, ValidationFailed
from sunbid.crypto.suite import KeyPair
from sunbid.draws.domain import Commitment, SeedInput, commit, new_secret, sealed_bids_input
from sunbid.draws.record import DrawRecord, candidates_digest, parse_record
from sunbid.experts import domain
from sunbid.experts.models import Expert, ExpertDraw, ExpertDrawHistory, ExpertDrawSeat
from sunbid.experts.pool import PoolKeys, load_profiles
from sunbid.experts.sealing import SealedPanel, open_panel, open_pii, panel_context, seal_panel
from sunbid.experts.voice import CONFIRM_KEY, REFUSE_KEY, SimulatedVoiceCaller, VoiceCaller
from sunbid.identity.domain import Sector
from sunbid.identity.models import Organisation
from sunbid.platform.context import RequestContext
from sunbid.projects.models import Project
from sunbid.projects.timing import project_facts

if TYPE_CHECKING:
    from sunbid.platform.container import Platform
    from sunbid.platform.uow import UnitOfWork

log = logging.getLogger("sunbid.experts")

__all__ = [
    "DrawRequest",
    "answer_by_voice",
    "commit_draw",
    "committee_contacts",
    "deliver_notification",
    "draw_view",
    "install_voice_caller",
    "published_record",
    "respond",
    "response_due",
    "run_draw",
    "seal_keypair",
    "unseal",
    "voice_caller",
]

SEAL_KEY = "expert_panel_seal.json"
NOTIFY_TOPIC = "expert.notify"
DUE_TOPIC = "expert.response_due"
OPERATOR_INPUT = "operator"
_WORKER = RequestContext(source="worker", actor_name="experts")


def seal_keypair(platform: Platform) -> KeyPair:
    """The panel sealing key pair; the private half stays in the secret store (0600), never in the database."""

    def make() -> bytes:
        kp = platform.suite.generate_encryption_keypair()
        return json.dumps(
            {"suite": platform.suite.name, "private": kp.private.hex(), "public": kp.public.hex()}
        ).encode()

    raw = json.loads(platform.secrets.get_or_create(SEAL_KEY, make))
    return KeyPair(private=bytes.fromhex(raw["private"]), public=bytes.fromhex(raw["public"]))


def _secret_name(draw_id: int) -> str:
    return f"expert_draw_{draw_id}.secret"


def _token_digest(token: str) -> str:
    return hashlib.sha256(b"sunbid/expert-reply/v1\x00" + token.strip().upper().encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class DrawRequest:
    """What to draw for a project: specialties with counts and reserves, the rules, and the timing.

    ``draw_window_hours``: the draw may run at most this long before evaluation (重庆: 24 h; procurement: two
    working days, about 48 h). ``persons``: names or identity numbers of people whose relatives or associates
    must not sit (matched against declared conflicts through keyed digests only).
    """

    project_code: str
    evaluation_starts_at: datetime
    slots: tuple[domain.SlotRequest, ...]
    policy: domain.AvoidancePolicy = field(default_factory=domain.AvoidancePolicy)
    supervising_sectors: frozenset[str] = frozenset()
    persons: tuple[str, ...] = ()
    response_minutes: int = 30
    draw_window_hours: int = 48


_DRAW_LOCK_KEY = int.from_bytes(hashlib.sha256(b"sunbid/expert-draw/v1").digest()[:8], "big", signed=True)


def _one_draw_at_a_time(session: Session) -> None:
    """Serialise draws so that each sees every panel sealed before it (for the too-many-draws count).

    PostgreSQL: a transaction-scoped advisory lock, released at commit or rollback. SQLite: writing transactions
    are serial already (``BEGIN IMMEDIATE``).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DRAW_LOCK_KEY})


def _project(session: Session, code: str) -> Project:
    row = session.scalar(select(Project).where(Project.code == code))
    if row is None:
        raise NotFound("project.not_found", f"项目 {code} 不存在", f"project {code} does not exist")
    return row


def _draw(session: Session, draw_id: int, *, lock: bool = False) -> ExpertDraw:
    stmt = select(ExpertDraw).where(ExpertDraw.id == draw_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound("expert.draw_not_found", f"抽取 {draw_id} 不存在", f"draw {draw_id} does not exist")
    return row


def commit_draw(uow: UnitOfWork, keys: PoolKeys, request: DrawRequest) -> ExpertDraw:
    """Create a draw and publish the operator's commitment (the secret goes to the secret store only)."""
    platform = uow.platform
    project = _project(uow.session, request.project_code)
    tree = domain.load_specialty_tree()
    for slot in request.slots:
        tree.get(slot.specialty)
    if not request.slots or len({s.specialty for s in request.slots}) != len(request.slots):
        raise ValidationFailed("expert.bad_request", "须申请至少一个且不重复的专业", "request distinct specialties")
    if request.evaluation_starts_at <= uow.now:
        raise Conflict("expert.evaluation_started", "评标已开始，不能再抽取专家", "evaluation has already started")
    unknown = sorted(set(request.supervising_sectors) - {x.value for x in Sector})
    if unknown:
        raise ValidationFailed("expert.bad_sector", f"未知行业 {', '.join(unknown)}", f"unknown sector {unknown}")
    if not 1 <= request.response_minutes <= 24 * 60:
        raise ValidationFailed("expert.bad_request", "答复时限须为 1–1440 分钟", "response time must be 1..1440 min")
    deadline = project_facts(project, uow.now).bid_deadline
    if deadline is not None and uow.now >= deadline:
        raise Conflict(
            "expert.commit_too_late",
            "运营方承诺须在投标截止前公布（否则运营方可结合已知的投标文件哈希选择秘密值）",
            "the operator's commitment must be published before the bid deadline",
        )
    subject = {"project": project.code, "draw": secrets.token_hex(8)}
    secret = new_secret()
    c = commit("expert", subject, OPERATOR_INPUT, secret, suite=platform.suite, committed_at=_iso(uow.now))
    p = request.policy
    row = ExpertDraw(
        project_id=project.id,
        status="committed",
        suite=platform.suite.name,
        subject=subject,
        requests=[{"specialty": s.specialty, "count": s.count, "reserves": s.reserves} for s in request.slots],
        policy={
            "employment_years": p.employment_years,
            "max_draws": p.max_draws,
            "draw_period_days": p.draw_period_days,
            "regions": sorted(p.regions),
            "supervising_sectors": sorted(request.supervising_sectors),
            "draw_window_hours": request.draw_window_hours,
        },
        persons=sorted(keys.digest(x) for x in request.persons),
        commitment=c.to_dict(),
        evaluation_starts_at=request.evaluation_starts_at,
        response_minutes=request.response_minutes,
        created_at=uow.now,
    )
    uow.session.add(row)
    uow.session.flush()
    platform.secrets.write(_secret_name(row.id), secret)
    event = uow.audit(
        "expert:draw:commit",
        subject_type="expert_draw",
        subject_id=row.id,
        data={"project": project.code, "commitment": c.to_dict(), "requests": row.requests},
    )
    row.commitment = {**c.to_dict(), "log_index": event.ledger_index}
    return row


def _context(session: Session, project: Project, row: ExpertDraw, at: datetime) -> domain.DrawContext:
    def uscc(org_id: int | None) -> str | None:
        return None if org_id is None else session.scalar(select(Organisation.uscc).where(Organisation.id == org_id))

    bidders = set(
        session.scalars(
            select(Organisation.uscc)
            .join(Bid, Bid.org_id == Organisation.id)
            .where(Bid.project_id == project.id, Bid.status == "submitted")
        )
    )
    sectors = set(row.policy.get("supervising_sectors") or ()) | {project.sector}
    return domain.DrawContext(
        at=at,
        tenderer_uscc=uscc(project.tenderer_org_id) or "",
        agency_uscc=uscc(project.agency_org_id),
        bidder_usccs=frozenset(bidders),
        sectors=frozenset(sectors),
        persons=frozenset(row.persons),
    )


def run_draw(uow: UnitOfWork, keys: PoolKeys, draw_id: int, extra_inputs: Sequence[SeedInput] = ()) -> ExpertDraw:
    """Draw the panel of a committed draw; seal it; notify the members. Returns the draw (no identities)."""
    platform = uow.platform
    row = _draw(uow.session, draw_id, lock=True)
    if row.status != "committed":
        raise Conflict("expert.already_drawn", "该抽取已经完成", "this draw has already run")
    _one_draw_at_a_time(uow.session)
    now = uow.now
    window = timedelta(hours=int(row.policy.get("draw_window_hours", 48)))
    if now >= row.evaluation_starts_at:
        raise Conflict("expert.evaluation_started", "评标已开始，不能再抽取专家", "evaluation has already started")
    if row.evaluation_starts_at - now > window:
        raise Conflict(
            "expert.draw_too_early",
            f"专家抽取须在评标开始前 {window.total_seconds() / 3600:g} 小时内进行",
            f"the draw may run only within {window.total_seconds() / 3600:g} hours before evaluation",
        )
    project = uow.session.get(Project, row.project_id)
    assert project is not None
    ctx = _context(uow.session, project, row, now)
    tree = domain.load_specialty_tree()
    slots = [domain.SlotRequest(r["specialty"], int(r["count"]), int(r["reserves"])) for r in row.requests]
    policy = domain.AvoidancePolicy(
        employment_years=int(row.policy["employment_years"]),
        max_draws=row.policy.get("max_draws"),
        draw_period_days=int(row.policy["draw_period_days"]),
        regions=frozenset(row.policy.get("regions") or ()),
    )
    counted = _sealed_draw_times(uow, row, policy)  # other draws' sealed panels, in memory only
    profiles, ids = load_profiles(
        uow.session, [s.specialty for s in slots], extra_draw_times=counted.times, skip_history_of=counted.draws
    )
    plan = domain.plan_draw(domain.PoolIndex(profiles, tree), slots, ctx, policy)
    digest = candidates_digest(plan.candidates, suite=platform.suite).hex()
    uow.audit(  # the candidate list is fixed (and logged) before the secret enters the seed
        "expert:draw:candidates",
        subject_type="expert_draw",
        subject_id=row.id,
        data={"candidates_digest": digest, "candidates": len(plan.candidates), "eligible": list(plan.eligible_counts)},
    )
    secret = platform.secrets.read(_secret_name(row.id))
    inputs: list[SeedInput] = [SeedInput(OPERATOR_INPUT, secret), *extra_inputs]
    hashes = [
        bytes.fromhex(h)
        for h in uow.session.scalars(
            select(Bid.container_hash).where(Bid.project_id == project.id, Bid.status == "submitted")
        )
    ]
    if hashes:
        inputs.append(sealed_bids_input(hashes))
    if len(inputs) < 2:
        raise Conflict(
            "expert.no_independent_input",
            "没有投标文件哈希或其他公开输入：种子将只由运营方决定",
            "no sealed bids and no other input: the operator alone would choose the seed",
        )
    c = row.commitment
    commitment = Commitment(
        c["purpose"], c["subject"], c["name"], bytes.fromhex(c["value_hash"]), c["committed_at"], c["log_index"]
    )
    deadline = project_facts(project, now).bid_deadline
    record = domain.run_draw(
        plan,
        row.subject,
        suite=platform.suite,
        commitments=[commitment],
        seed_inputs=inputs,
        closes_at=None if deadline is None else _iso(deadline),
    )
    panel = domain.panel_from_record(record)
    seats: list[dict[str, Any]] = []
    for seq, seat in enumerate(panel.seats):
        expert = uow.session.get(Expert, ids[seat.expert_code])
        assert expert is not None
        pii = open_pii(keys.suite, keys.key, expert.code, expert.pii)
        token = secrets.token_hex(6).upper()  # 48 bits; the reply route is rate-limited
        seats.append(
            {
                "seq": seq,
                "code": seat.expert_code,
                "slot": seat.slot,
                "specialty": seat.specialty,
                "rank": seat.rank,
                "reserve": seat.reserve,
                "name": pii.get("name"),
                "phone": pii.get("phone"),
                "email": pii.get("email"),
                "token": token,
            }
        )
        uow.session.add(
            ExpertDrawSeat(
                draw_id=row.id,
                seq=seq,
                slot=seat.slot,
                specialty=seat.specialty,
                rank=seat.rank,
                reserve=seat.reserve,
                state="standby",
                token_digest=_token_digest(token),
            )
        )
    kp = seal_keypair(platform)
    sealed = seal_panel(
        platform.suite,
        kp.public,
        {"seats": seats, "record": json.loads(record.to_json())},
        panel_context(row.id, project.code, _iso(row.evaluation_starts_at)),
    )
    row.sealed_panel, row.wrapped_key = sealed.ciphertext, sealed.wrapped_key
    row.candidates_digest, row.candidates_count = digest, len(plan.candidates)
    row.status = "short" if panel.short else "drawn"
    row.drawn_at = now
    uow.session.flush()
    for seat_row in uow.session.scalars(
        select(ExpertDrawSeat).where(ExpertDrawSeat.draw_id == row.id, ExpertDrawSeat.reserve.is_(False))
    ):
        _call(uow, row, seat_row)
    uow.audit(
        "expert:draw:run",
        subject_type="expert_draw",
        subject_id=row.id,
        data={
            "project": project.code,
            "candidates_digest": digest,
            "seed_inputs": sorted(i.name for i in inputs),
            "seats": len(seats),
            "short": dict(panel.short),
            "sealed_panel_sha256": hashlib.sha256(sealed.ciphertext).hexdigest(),
        },
    )
    return row


def _call(uow: UnitOfWork, draw: ExpertDraw, seat: ExpertDrawSeat) -> None:
    """Notify a seat's expert and schedule the check of his answer (both through the outbox)."""
    seat.state, seat.notified_at = "notified", uow.now
    seat.respond_by = uow.now + timedelta(minutes=draw.response_minutes)
    payload = {"draw_id": draw.id, "seq": seat.seq}
    uow.enqueue(NOTIFY_TOPIC, payload, dedupe_key=f"expert.notify:{draw.id}:{seat.seq}")
    uow.enqueue(DUE_TOPIC, payload, dedupe_key=f"expert.due:{draw.id}:{seat.seq}", available_at=seat.respond_by)


def _promote(uow: UnitOfWork, draw: ExpertDraw, seat: ExpertDrawSeat) -> ExpertDrawSeat | None:
    """Call the next reserve of ``seat``'s specialty; None (and the draw marked short) if none is left."""
    nxt = uow.session.scalar(
        select(ExpertDrawSeat)
        .where(
            ExpertDrawSeat.draw_id == draw.id,
            ExpertDrawSeat.slot == seat.slot,
            ExpertDrawSeat.reserve.is_(True),
            ExpertDrawSeat.state == "standby",
        )
        .order_by(ExpertDrawSeat.rank)
        .limit(1)
    )
    if nxt is None:
        draw.status = "short"
        uow.audit(
            "expert:draw:reserves_exhausted",
            subject_type="expert_draw",
            subject_id=draw.id,
            data={"specialty": seat.specialty},
        )
        return None
    _call(uow, draw, nxt)
    uow.audit(
        "expert:draw:reserve_called",
        subject_type="expert_draw",
        subject_id=draw.id,
        data={"specialty": seat.specialty, "replaces_seq": seat.seq, "seq": nxt.seq},
    )
    return nxt


def respond(uow: UnitOfWork, token: str, accept: bool) -> ExpertDrawSeat:
    """An expert's answer, by the reply code sent to him: confirm, or refuse (the next reserve is called)."""
    seat = uow.session.scalar(
        select(ExpertDrawSeat).where(ExpertDrawSeat.token_digest == _token_digest(token)).with_for_update()
    )
    if seat is None:
        raise NotFound("expert.bad_reply_code", "答复码无效", "the reply code is not valid")
    return _answer(uow, seat, accept, "code")


def answer_by_voice(uow: UnitOfWork, draw_id: int, seq: int, accept: bool) -> ExpertDrawSeat:
    """The key an expert pressed during the automated call (1 confirm, 2 refuse)."""
    seat = uow.session.scalar(
        select(ExpertDrawSeat).where(ExpertDrawSeat.draw_id == draw_id, ExpertDrawSeat.seq == seq).with_for_update()
    )
    if seat is None:
        raise NotFound("expert.seat_not_found", "席位不存在", "no such seat")
    return _answer(uow, seat, accept, "voice")


def _answer(uow: UnitOfWork, seat: ExpertDrawSeat, accept: bool, channel: str) -> ExpertDrawSeat:
    draw = _draw(uow.session, seat.draw_id, lock=True)
    if seat.state != "notified":
        raise Conflict("expert.reply_closed", "该答复码已使用或尚未启用", "this reply code is used or not yet active")
    assert seat.respond_by is not None
    if uow.now > seat.respond_by:
        raise Conflict("expert.reply_too_late", "已超过答复时限", "the time to answer has passed")
    seat.state, seat.answered_at = ("confirmed" if accept else "refused"), uow.now
    uow.audit(
        "expert:draw:confirmed" if accept else "expert:draw:refused",
        subject_type="expert_draw",
        subject_id=draw.id,
        data={"seq": seat.seq, "specialty": seat.specialty, "channel": channel},
    )
    if not accept:
        _promote(uow, draw, seat)
    return seat


def response_due(uow: UnitOfWork, draw_id: int, seq: int) -> bool:
    """The answer time of a seat has come: if still unanswered, it times out and the next reserve is called."""
    draw = _draw(uow.session, draw_id, lock=True)
    seat = uow.session.scalar(
        select(ExpertDrawSeat).where(ExpertDrawSeat.draw_id == draw_id, ExpertDrawSeat.seq == seq).with_for_update()
    )
    if seat is None or seat.state != "notified" or seat.respond_by is None or uow.now < seat.respond_by:
        return False
    seat.state, seat.answered_at = "timed_out", uow.now
    uow.audit("expert:draw:timed_out", subject_type="expert_draw", subject_id=draw.id, data={"seq": seq})
    _promote(uow, draw, seat)
    return True


def _open(platform: Platform, session: Session, draw: ExpertDraw) -> dict[str, Any]:
    if draw.sealed_panel is None or draw.wrapped_key is None:
        raise Conflict("expert.not_drawn", "尚未抽取", "the draw has not run yet")
    project = session.get(Project, draw.project_id)
    assert project is not None
    kp = seal_keypair(platform)
    return open_panel(
        platform.suite,
        kp.private,
        SealedPanel(draw.sealed_panel, draw.wrapped_key),
        panel_context(draw.id, project.code, _iso(draw.evaluation_starts_at)),
    )


@dataclass(frozen=True, slots=True)
class SealedDrawTimes:
    """Drawn times by pool code read from sealed panels (in memory only), and the draws they were read from."""

    times: dict[str, list[datetime]]
    draws: frozenset[int]

    def __repr__(self) -> str:  # never print pool codes by accident
        return f"SealedDrawTimes(draws={sorted(self.draws)}, experts={len(self.times)})"


def _sealed_draw_times(uow: UnitOfWork, row: ExpertDraw, policy: domain.AvoidancePolicy) -> SealedDrawTimes:
    """Pool code → drawn times from the panels of other draws that are still sealed, inside the frequency window.

    The draw history (:class:`ExpertDrawHistory`) is written only when a panel is unsealed, so without this a
    draw whose panel is still sealed would be invisible to the too-many-draws rule and an expert could sit on
    several concurrent panels beyond ``max_draws``. The panels of the draws that ran in ``(now − period, now]``
    and are not unsealed yet are opened here in memory, exactly as :func:`unseal` opens them (sealing key of the
    secret store; the associated data binds each to its release time), and every seat counts once at the draw's
    ``drawn_at`` — the same seats :func:`unseal` writes to the history. A draw is counted either here (sealed)
    or from the history (unsealed), never both: the history rows of the draws read here are left out, in case
    one is unsealed between the two queries. The codes stay in this process (not returned by :func:`run_draw`,
    not logged, not stored); the use is audited (``expert:panel:count``) with the draw ids and the number of
    seats only. Nothing is opened when the draw has no frequency limit. A panel that does not open
    (``expert.seal_broken``) stops the draw: counting without it would let a broken seal lift the limit.
    """
    if policy.max_draws is None:
        return SealedDrawTimes({}, frozenset())
    now = uow.now
    start = now - timedelta(days=policy.draw_period_days)
    found = uow.session.execute(
        select(
            ExpertDraw.id,
            ExpertDraw.drawn_at,
            ExpertDraw.evaluation_starts_at,
            ExpertDraw.sealed_panel,
            ExpertDraw.wrapped_key,
            Project.code,
        )
        .join(Project, Project.id == ExpertDraw.project_id)
        .where(
            ExpertDraw.status.in_(("drawn", "short")),
            ExpertDraw.unsealed_at.is_(None),
            ExpertDraw.drawn_at > start,
            ExpertDraw.drawn_at <= now,
            ExpertDraw.id != row.id,
        )
        .order_by(ExpertDraw.id)
    ).all()
    if not found:
        return SealedDrawTimes({}, frozenset())
    platform = uow.platform
    kp = seal_keypair(platform)
    times: dict[str, list[datetime]] = {}
    read: list[int] = []
    seats = 0
    for draw_id, drawn_at, release_at, ciphertext, wrapped_key, project_code in found:
        if ciphertext is None or wrapped_key is None or drawn_at is None:
            continue
        read.append(int(draw_id))
        try:
            panel = open_panel(
                platform.suite,
                kp.private,
                SealedPanel(ciphertext, wrapped_key),
                panel_context(draw_id, project_code, _iso(release_at)),
            )
        except IntegrityFailure as exc:
            raise IntegrityFailure(
                "expert.seal_broken",
                f"抽取 {draw_id} 的密封名单无法解密或已被篡改，无法统计专家抽取次数",
                f"the sealed panel of draw {draw_id} cannot be decrypted or was altered; draws cannot be counted",
                details={"draw": draw_id},
            ) from exc
        for code in {str(seat["code"]) for seat in panel.get("seats", ())}:
            times.setdefault(code, []).append(drawn_at)
            seats += 1
    if not read:
        return SealedDrawTimes({}, frozenset())
    uow.audit(
        "expert:panel:count",
        subject_type="expert_draw",
        subject_id=row.id,
        data={
            "draws": read,
            "seats": seats,
            "period_days": policy.draw_period_days,
            "max_draws": policy.max_draws,
        },
    )
    return SealedDrawTimes(times, frozenset(read))


def deliver_notification(platform: Platform, draw_id: int, seq: int, message_id: str) -> None:
    """Outbox handler body: open the sealed panel in memory and call/text/e-mail one seat's expert.

    Nothing personal is logged or written to the database by sunbid (the SMS simulator stands in for the
    operator's gateway and keeps what it was sent, as a real gateway would).
    """
    with platform.db.read() as s:
        draw = _draw(s, draw_id)
        seat_row = s.scalar(select(ExpertDrawSeat).where(ExpertDrawSeat.draw_id == draw_id, ExpertDrawSeat.seq == seq))
        if seat_row is None or seat_row.state != "notified":
            return
        project = s.get(Project, draw.project_id)
        assert project is not None
        panel = _open(platform, s, draw)
        respond_by = seat_row.respond_by
    seat = panel["seats"][seq]
    when = draw.evaluation_starts_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    deadline = "" if respond_by is None else respond_by.astimezone(UTC).strftime("%H:%M UTC")
    text = (
        f"您已被抽取为项目 {project.code} 的评标专家（专业 {seat['specialty']}），评标开始时间 {when}。"
        f"请于 {deadline} 前凭答复码 {seat['token']} 确认或拒绝。请勿向他人透露。"
    )
    notifier = platform.notifier
    if seat.get("phone"):
        notifier.sms.send(seat["phone"], f"【{notifier.sms_signature}】{text}", message_id)
    if seat.get("email"):
        notifier.email.send(seat["email"], f"{notifier.centre_name} 评标专家抽取通知", text, message_id)
    if seat.get("phone"):
        script = (
            f"您好，这里是{notifier.centre_name}。您已被抽取为项目 {project.code} 的评标专家，"
            f"评标开始时间 {when}。确认参加请按 {CONFIRM_KEY}，不能参加请按 {REFUSE_KEY}。"
        )
        result = voice_caller(platform).call(seat["phone"], script, message_id)
        if result.pressed in (CONFIRM_KEY, REFUSE_KEY):
            with platform.uow(_WORKER) as uow:
                try:
                    answer_by_voice(uow, draw_id, seq, result.pressed == CONFIRM_KEY)
                    uow.commit()
                except Conflict:  # answered meanwhile by reply code, or too late: the first answer stands
                    uow.rollback()


_voice_callers: weakref.WeakKeyDictionary[Platform, VoiceCaller] = weakref.WeakKeyDictionary()


def voice_caller(platform: Platform) -> VoiceCaller:
    """The platform's voice caller: the simulator (``<data_dir>/voice``) unless one was installed."""
    caller = _voice_callers.get(platform)
    if caller is None:
        caller = _voice_callers[platform] = SimulatedVoiceCaller(platform.settings.data_dir / "voice", platform.clock)
    return caller


def install_voice_caller(platform: Platform, caller: VoiceCaller) -> None:
    """Use ``caller`` (e.g. :class:`~sunbid.experts.voice.HttpVoiceGateway`) for ``platform``'s calls."""
    _voice_callers[platform] = caller


def _release_check(draw: ExpertDraw, now: datetime) -> None:
    if now < draw.evaluation_starts_at:
        raise Forbidden(
            "expert.panel_sealed",
            "评标开始前专家名单保持密封，任何人不得查看",
            "the panel stays sealed until evaluation starts; nobody may see it before",
        )


def unseal(uow: UnitOfWork, draw_id: int) -> dict[str, Any]:
    """Open the panel (from the start of evaluation only); audited every time. Returns members and reserves.

    The first opening publishes the draw record and writes each drawn expert's draw history.
    """
    draw = _draw(uow.session, draw_id, lock=True)
    _release_check(draw, uow.now)
    panel = _open(uow.platform, uow.session, draw)
    states = {
        s.seq: s.state for s in uow.session.scalars(select(ExpertDrawSeat).where(ExpertDrawSeat.draw_id == draw.id))
    }
    first = draw.unsealed_at is None
    if first:
        draw.unsealed_at = uow.now
        draw.record_json = json.dumps(panel["record"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if draw.status in {"drawn", "short"}:
            draw.status = "unsealed"
        drawn_codes = [seat["code"] for seat in panel["seats"]]
        ids = dict(uow.session.execute(select(Expert.code, Expert.id).where(Expert.code.in_(drawn_codes))).all())
        for seat in panel["seats"]:
            if seat["code"] in ids:
                uow.session.add(
                    ExpertDrawHistory(
                        expert_id=ids[seat["code"]],
                        draw_id=draw.id,
                        drawn_at=draw.drawn_at or uow.now,
                        outcome=states.get(seat["seq"], "standby"),
                    )
                )
    uow.audit(
        "expert:panel:unseal",
        subject_type="expert_draw",
        subject_id=draw.id,
        data={"first": first, "seats": len(panel["seats"])},
    )
    return {
        "draw_id": draw.id,
        "seats": [
            {k: seat[k] for k in ("seq", "code", "name", "specialty", "rank", "reserve")}
            | {"state": states.get(seat["seq"])}
            for seat in panel["seats"]
        ],
    }


def committee_contacts(uow: UnitOfWork, draw_id: int) -> list[dict[str, Any]]:
    """The confirmed members' codes, names and contacts (from the start of evaluation only), audited.

    For the evaluation committee: each confirmed expert becomes a platform user and receives a one-time access
    code. Like :func:`unseal`, refused before the evaluation starts (``expert.panel_sealed``).
    """
    draw = _draw(uow.session, draw_id)
    _release_check(draw, uow.now)
    panel = _open(uow.platform, uow.session, draw)
    states = {
        s.seq: s.state for s in uow.session.scalars(select(ExpertDrawSeat).where(ExpertDrawSeat.draw_id == draw.id))
    }
    out = [
        {k: seat.get(k) for k in ("seq", "code", "name", "specialty", "phone", "email")}
        for seat in panel["seats"]
        if states.get(seat["seq"]) == "confirmed"
    ]
    uow.audit(
        "expert:panel:contacts",
        subject_type="expert_draw",
        subject_id=draw.id,
        data={"members": [m["code"] for m in out]},
    )
    return out


def draw_view(session: Session, draw_id: int) -> dict[str, Any]:
    """What anyone permitted may see at any time: counts and states by position, digests — no identity."""
    draw = _draw(session, draw_id)
    project = session.get(Project, draw.project_id)
    seats = list(
        session.scalars(select(ExpertDrawSeat).where(ExpertDrawSeat.draw_id == draw.id).order_by(ExpertDrawSeat.seq))
    )
    return {
        "id": draw.id,
        "project": None if project is None else project.code,
        "status": draw.status,
        "subject": draw.subject,
        "requests": draw.requests,
        "evaluation_starts_at": draw.evaluation_starts_at.isoformat(),
        "commitment": draw.commitment,
        "candidates_digest": draw.candidates_digest,
        "candidates": draw.candidates_count,
        "drawn_at": None if draw.drawn_at is None else draw.drawn_at.isoformat(),
        "sealed": draw.unsealed_at is None,
        "seats": [
            {"seq": s.seq, "specialty": s.specialty, "rank": s.rank, "reserve": s.reserve, "state": s.state}
            for s in seats
        ],
    }


def published_record(session: Session, draw_id: int, now: datetime) -> DrawRecord:
    """The draw record, once the panel has been unsealed (before, ``expert.panel_sealed``)."""
    draw = _draw(session, draw_id)
    _release_check(draw, now)
    if draw.record_json is None:
        raise Conflict("expert.not_unsealed", "名单尚未启封，记录尚未公开", "the panel has not been unsealed yet")
    return parse_record(json.loads(draw.record_json))
