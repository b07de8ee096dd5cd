"""The remote opening session 不见面开标 (SPEC B-4): start, check-in, decryption, fallback, record, objections.

Flow (states in :mod:`sunbid.opening.domain`): the lifecycle enters ``opening`` at the bid deadline and
:func:`start_session` takes every sealed bid, runs the coefficient draws the tender asks for and opens the
decryption window (``window_minutes``; closed by an outbox job at ``closes_at``, by the operator, or as soon as
every bid is decrypted). Each bidder releases the content key of its own bid (:func:`decrypt`); the server opens
the stored container with it, checks the signature against the centre's CA at the receipt time and that the
manifest names this bidder, project and section, and keeps price, duration, quality and the document list. The
content key is kept sealed under the platform's opening secret so that evaluation can re-open the bid.

When the window closes, bids still sealed either wait for the custodians (tender allows the fallback, the key was
split): k custodians post their shares (:func:`post_share`), the key is rebuilt in memory, the section's sealed
bids are opened with it and the key is discarded — or they fail at once: bidder's fault → revoked 撤销,
platform's fault → withdrawn 撤回. Then the opening record is signed, logged and published; bidders confirm or
object, the operator answers on record and finishes the opening (the lifecycle's ``finish_opening``).

Every step is audited and written to the hall's event stream (``opening.events``) in the same transaction. No
event and no answer shows a price before the record is published.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import select

from sunbid.bidding import service as bidding
from sunbid.bidding.models import Bid
from sunbid.core.errors import Conflict, DomainError, Forbidden, IntegrityFailure, NotFound, ValidationFailed
from sunbid.draws.domain import Commitment, SeedInput, sealed_bids_input
from sunbid.draws.verify import coefficient_record
from sunbid.identity.service import Actor
from sunbid.opening import window
from sunbid.opening.domain import (
    Action,
    BidStatus,
    OpeningSettings,
    SessionState,
    attempts_exhausted,
    ensure_allowed,
    window_is_open,
)
from sunbid.opening.events import append_event
from sunbid.opening.fallback import awaiting_fallback, post_share
from sunbid.opening.hearing import answer_objection, confirm, finish, raise_objection, record_view, status_view
from sunbid.opening.models import (
    OpeningBid,
    OpeningKey,
    OpeningSession,
)
from sunbid.opening.publish import finalize
from sunbid.opening.service import (
    ensure_opening_keys,
    iso,
    renew_draw_commitments,
    reveal_draw_secret,
    section_by_code,
    section_key,
)
from sunbid.opening.session_base import (
    CLOSE_TOPIC,
    MAX_OBJECTION,
    MAX_SHARE_TEXT,
    accept_opened,
    content_key_of,
    ensure_not_suspended,
    ensure_session,
    get_session,
    mark_checked_in,
    my_bids,
    open_stored,
    opening_bids,
    org_of,
    require_role,
    require_session,
    schedule_close,
    section_of,
    settings_of,
    state_of,
    touch,
)
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project, Section
from sunbid.projects.timing import project_facts

__all__ = [
    "CLOSE_TOPIC",
    "MAX_OBJECTION",
    "MAX_SHARE_TEXT",
    "answer_objection",
    "check_in",
    "close_window",
    "configure",
    "confirm",
    "content_key_of",
    "decrypt",
    "ensure_session",
    "finish",
    "get_session",
    "on_transition",
    "operator_close",
    "post_share",
    "raise_objection",
    "record_view",
    "start_session",
    "status_view",
]


def configure(uow: UnitOfWork, actor: Actor, project_id: int, wanted: OpeningSettings) -> OpeningSession:
    """Set the opening settings of the tender (agency, tenderer or operator; before the bid deadline only)."""
    project = projects.get_project(uow, project_id, lock=True)
    role = require_role(uow, actor, project, {"agency", "tenderer", "operator"}, "修改开标设置")
    deadline = project_facts(project, uow.now).bid_deadline
    if project.state in ("failed", "terminated", "archived") or (deadline is not None and uow.now >= deadline):
        raise Conflict(
            "opening.settings_locked",
            "投标截止后不能修改开标设置。",
            "The opening settings cannot change after the bid deadline.",
        )
    s = ensure_session(uow, project)
    ensure_allowed(state_of(s), Action.CONFIGURE)
    if wanted.custodian_fallback:
        made = list(uow.session.scalars(select(OpeningKey).where(OpeningKey.project_id == project.id)))
        if any(not k.fallback_possible for k in made):
            raise ValidationFailed(
                "opening.fallback_impossible",
                "开标密钥未分存给至少两名保管人，不能选择保管人应急解密。",
                "The opening key was not split among at least two custodians: the custodian fallback is impossible.",
            )
    s.settings = wanted.to_dict()
    touch(uow, s)
    uow.audit(
        "opening:settings",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "role": role, "settings": s.settings},
    )
    return s


def on_transition(uow: UnitOfWork, project: Project, from_state: str, to_state: str, action: str) -> None:
    """The lifecycle hook: keys on entering bidding, the session at the deadline, failure and finish.

    Every way out of ``bidding`` and ``opening`` is handled: the deadline (start), ``failed``, ``opened``
    (finish), ``suspended`` (the session is frozen, :mod:`sunbid.opening.window`), the resume (the window gets back
    its time left) and ``terminated`` (the session is cancelled).
    """
    if from_state == to_state:
        return
    if to_state == "terminated":
        window.on_terminate(uow, project)
    elif to_state == "suspended":
        window.on_suspend(uow, project)
    elif from_state == "suspended":
        if to_state == "bidding":
            ensure_opening_keys(uow, project)
        window.on_resume(uow, project)
    elif to_state == "bidding":
        ensure_opening_keys(uow, project)
        _begin_round(uow, project)
    elif to_state == "opening":
        start_session(uow, project)
    elif to_state == "failed" and from_state in ("bidding", "opening"):
        _fail_session(uow, project, from_state)
    elif from_state == "opening" and to_state == "opened":
        _close_session(uow, project)


def _begin_round(uow: UnitOfWork, project: Project) -> OpeningSession:
    """The session bids of this bidding period will be opened in: a new round after a failed or closed one."""
    s = get_session(uow, project.id)
    if s is None:
        return ensure_session(uow, project)
    if state_of(s) not in (SessionState.FAILED, SessionState.CLOSED, SessionState.CANCELLED):
        return s
    renew_draw_commitments(uow, project)
    fresh = OpeningSession(
        project_id=project.id,
        round=s.round + 1,
        state=SessionState.SCHEDULED.value,
        settings=dict(s.settings),
        created_at=uow.now,
        updated_at=uow.now,
    )
    uow.session.add(fresh)
    uow.session.flush()
    uow.audit(
        "opening:new_round",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "round": fresh.round},
    )
    return fresh


def _sealed_bids(uow: UnitOfWork, project: Project, s: OpeningSession) -> list[Bid]:
    """The bids sealed for this round (a re-tender's round ignores the bids of earlier rounds)."""
    stmt = (
        select(Bid)
        .where(Bid.project_id == project.id, Bid.status == "submitted", Bid.received_at >= s.created_at)
        .order_by(Bid.received_at, Bid.id)
    )
    return list(uow.session.scalars(stmt))


def start_session(uow: UnitOfWork, project: Project) -> OpeningSession | None:
    """Start the opening at the deadline: take the sealed bids, draw coefficients, open the decryption window.

    A project with no sealed bid in the platform (facts set by hand) has no session: this does nothing.
    """
    s = ensure_session(uow, project)
    sealed = _sealed_bids(uow, project, s)
    if not sealed:
        return None
    ensure_allowed(state_of(s), Action.START)
    conf = settings_of(s)
    now = uow.now
    sections: dict[int, Section] = {}
    for bid in sealed:
        section = sections.setdefault(bid.section_id, section_of(uow, bid.section_id))
        org = org_of(uow, bid.org_id)
        code, zh, en = bidding.deposit_status(uow, project, section, org)
        uow.session.add(
            OpeningBid(
                session_id=s.id,
                bid_id=bid.id,
                section_id=section.id,
                org_id=org.id,
                status=BidStatus.SEALED.value,
                attempts=0,
                deposit_status={"code": code, "zh": zh, "en": en},
            )
        )
    uow.session.flush()
    s.started_at = now
    s.closes_at = now + conf.window()
    touch(uow, s, SessionState.DECRYPTING)
    codes = sorted(sec.code for sec in sections.values())
    append_event(
        uow,
        project.id,
        "session.started",
        {
            "project_code": project.code,
            "sections": codes,
            "bids": len(sealed),
            "window_minutes": conf.window_minutes,
            "bidders": sorted({org_of(uow, b.org_id).name for b in sealed}),
            "custodian_fallback": conf.custodian_fallback,
        },
    )
    uow.audit(
        "opening:start",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "sections": codes, "bids": len(sealed), "closes_at": iso(s.closes_at)},
    )
    if conf.coefficient is not None:
        _draw_coefficients(uow, project, s, sealed, sections)
    append_event(uow, project.id, "decryption.opened", {"closes_at": iso(s.closes_at)})
    schedule_close(uow, project, s)
    return s


def _draw_coefficients(
    uow: UnitOfWork, project: Project, s: OpeningSession, sealed: list[Bid], sections: dict[int, Section]
) -> None:
    conf = settings_of(s)
    assert conf.coefficient is not None
    deadline = project_facts(project, uow.now).bid_deadline
    draws: dict[str, Any] = {}
    for section in sorted(sections.values(), key=lambda x: x.code):
        key = section_key(uow, section.id)
        if key is None or key.draw_commitment is None:
            raise IntegrityFailure(
                "opening.no_draw_commitment",
                f"标段 {section.code} 没有事先的抽取承诺，不能抽取系数。",
                f"Section {section.code} has no prior draw commitment: no coefficient can be drawn.",
            )
        c = key.draw_commitment
        commitment = Commitment(
            str(c["purpose"]),
            dict(c["subject"]),
            str(c["name"]),
            bytes.fromhex(str(c["value_hash"])),
            c.get("committed_at"),
            c.get("log_index"),
        )
        secret = reveal_draw_secret(uow, key)
        hashes = [bytes.fromhex(b.container_hash) for b in sealed if b.section_id == section.id]
        rec = coefficient_record(
            dict(c["subject"]),
            suite=uow.platform.suite,
            rule=conf.coefficient,
            commitments=[commitment],
            seed_inputs=[sealed_bids_input(hashes), SeedInput(str(c["name"]), secret)],
            closes_at=None if deadline is None else deadline.isoformat(timespec="microseconds"),
        )
        value = rec.result[0]
        draws[section.code] = {"value": value, "draw_record": rec.to_dict()}
        event = uow.audit(
            "opening:coefficient_draw",
            subject_type="section",
            subject_id=section.id,
            data={"project_code": project.code, "section": section.code, "value": value, "seed": rec.seed.hex()},
        )
        append_event(
            uow,
            project.id,
            "coefficient.drawn",
            {"section": section.code, "value": value, "draw_record": rec.to_dict(), "log_index": event.ledger_index},
        )
    s.draws = draws


def _fail_session(uow: UnitOfWork, project: Project, from_state: str) -> None:
    s = get_session(uow, project.id)
    if from_state == "opening":
        if s is None or state_of(s) in (SessionState.SCHEDULED, SessionState.CLOSED, SessionState.FAILED):
            return  # no sealed bid in the platform: the session stays out of the way
        _check_valid_bids(uow, project, s)
    if s is None:
        s = ensure_session(uow, project)
    if state_of(s) in (SessionState.CLOSED, SessionState.FAILED):
        return
    facts = project_facts(project, uow.now)
    if from_state == "bidding":
        zh = f"投标人少于法定数量（收到 {facts.bids_received} 个），不予开标，依法重新招标"
        en = f"Fewer bidders than the legal minimum ({facts.bids_received} received): no opening, re-tender"
    else:
        zh = f"有效投标不足（{facts.valid_bids} 个），开标失败"
        en = f"Too few valid bids ({facts.valid_bids}): the opening failed"
    touch(uow, s, SessionState.FAILED)
    s.closed_at = uow.now
    append_event(uow, project.id, "session.failed", {"reason_zh": zh, "reason_en": en})
    uow.audit("opening:failed", subject_type="project", subject_id=project.id, data={"project_code": project.code})


def _check_valid_bids(uow: UnitOfWork, project: Project, s: OpeningSession) -> int:
    """Leaving ``opening`` needs the published record and ``valid_bids`` equal to the decrypted bids."""
    if state_of(s) is not SessionState.RECORDED:
        raise Conflict(
            "opening.not_recorded",
            "开标记录尚未公布，不能结束开标。",
            "The opening record is not published yet: the opening cannot finish.",
        )
    decrypted = sum(1 for b in opening_bids(uow, s) if b.status == BidStatus.DECRYPTED.value)
    valid = project_facts(project, uow.now).valid_bids
    if valid != decrypted:
        raise Conflict(
            "opening.valid_bids_mismatch",
            f"有效投标数应为解密成功的 {decrypted} 个，而不是 {valid} 个。",
            f"valid_bids must be the {decrypted} decrypted bids, not {valid}.",
            details={"decrypted": decrypted, "valid_bids": valid},
        )
    return decrypted


def _close_session(uow: UnitOfWork, project: Project) -> None:
    s = get_session(uow, project.id)
    if s is None or state_of(s) is SessionState.SCHEDULED:
        return  # no sealed bid in the platform: the session stays out of the way
    decrypted = _check_valid_bids(uow, project, s)
    s.valid_bids = decrypted
    s.closed_at = uow.now
    touch(uow, s, SessionState.CLOSED)
    append_event(uow, project.id, "session.closed", {"valid_bids": decrypted})
    uow.audit(
        "opening:close",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "valid_bids": decrypted},
    )


def check_in(uow: UnitOfWork, actor: Actor, project_id: int, section_code: str) -> list[OpeningBid]:
    """A bidder signs in to the opening for one section (idempotent)."""
    project = projects.get_project(uow, project_id, lock=True)
    s = require_session(uow, project.id)
    ensure_not_suspended(project)
    ensure_allowed(state_of(s), Action.CHECK_IN)
    section = section_by_code(uow, project.id, section_code)
    mine = [b for b in my_bids(uow, actor, project, s) if b.section_id == section.id]
    if not mine:
        raise Forbidden(
            "opening.not_a_bidder", "您在本标段没有投标文件，不能签到。", "You have no bid on this section to check in."
        )
    for b in mine:
        mark_checked_in(uow, project, b)
    return mine


def _decode_key(content_key: str) -> bytes:
    try:
        raw = base64.b64decode(content_key, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed(
            "opening.bad_content_key", "内容密钥须为 base64 编码。", "The content key must be base64."
        ) from exc
    if not raw or len(raw) > 64:
        raise ValidationFailed("opening.bad_content_key", "内容密钥长度无效。", "The content key has a wrong length.")
    return raw


def _wrong(problem: str) -> DomainError:
    if problem in ("opening.stored_container_damaged", "opening.server_error"):
        return IntegrityFailure(
            problem,
            "平台无法打开该投标文件（非投标人原因），已记录。",
            "The platform could not open this bid (not the bidder's fault); this is recorded.",
        )
    if problem == "bid.wrong_key":
        return ValidationFailed(
            "opening.wrong_key",
            "解密失败：内容密钥不正确，请确认使用的是本投标文件和您的加密证书。",
            "Decryption failed: wrong content key. Check the bid file and your encryption certificate.",
        )
    return ValidationFailed(
        "opening.bid_invalid",
        f"投标文件已解开但不能接受（{problem}）。",
        f"The bid opened but cannot be accepted ({problem}).",
        details={"problem": problem},
    )


def _refuse_attempt(uow: UnitOfWork, project: Project, ob: OpeningBid, cap: int) -> None:
    """A further attempt past the cap: logged (committed) and refused; the bid stays sealed until the window ends."""
    uow.audit(
        "opening:decrypt_refused",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "bid_id": ob.bid_id, "attempts": ob.attempts, "cap": cap},
    )
    uow.commit()
    raise Conflict(
        "opening.too_many_attempts",
        f"该投标文件已 {ob.attempts} 次解密失败，达到上限 {cap} 次，不再受理；解密时间结束时视为投标人原因解密失败。",
        f"This bid failed to decrypt {ob.attempts} times, the limit of {cap}: no further attempt is accepted; "
        "when the window ends it counts as the bidder's failure.",
        details={"attempts": ob.attempts, "cap": cap},
    )


def decrypt(uow: UnitOfWork, actor: Actor, project_id: int, bid_id: int, content_key: str) -> OpeningBid:
    """A bidder releases its bid's content key during the window; the server opens and reads the bid.

    Idempotent for a decrypted bid. A failure is counted, audited and committed before the error is raised.
    """
    project = projects.get_project(uow, project_id, lock=True)
    s = require_session(uow, project.id)
    if state_of(s) is SessionState.SCHEDULED:  # before the deadline nothing can be decrypted
        ensure_allowed(state_of(s), Action.DECRYPT)
    ob = next((b for b in my_bids(uow, actor, project, s) if b.bid_id == bid_id), None)
    if ob is None:
        raise NotFound("opening.bid_not_found", f"投标 {bid_id} 不存在。", f"Bid {bid_id} not found.")
    if ob.status == BidStatus.DECRYPTED.value:
        return ob
    ensure_allowed(state_of(s), Action.DECRYPT)
    ensure_not_suspended(project)
    if not window_is_open(state_of(s), s.closes_at, uow.now):
        raise Conflict("opening.window_closed", "解密时间已结束。", "The decryption window has closed.")
    if ob.status != BidStatus.SEALED.value:
        raise Conflict("opening.bid_closed", "该投标文件的解密已结束。", "This bid's decryption has ended.")
    cap = settings_of(s).max_key_attempts
    if attempts_exhausted(ob.attempts, cap, ob.last_problem):
        _refuse_attempt(uow, project, ob, cap)
    raw = _decode_key(content_key)
    bid = uow.session.get(Bid, ob.bid_id)
    key = section_key(uow, ob.section_id)
    assert bid is not None
    assert key is not None
    ob.attempts += 1
    mark_checked_in(uow, project, ob)  # releasing a key is signing in
    opened, problem = open_stored(uow, bid, key, content_key=raw)
    if opened is not None:
        problem = accept_opened(uow, project, ob, bid, opened, "bidder", raw)
    if problem is not None:
        ob.last_problem = problem
        uow.audit(
            "opening:decrypt_failed",
            subject_type="project",
            subject_id=project.id,
            data={"project_code": project.code, "bid_id": bid.id, "problem": problem, "attempts": ob.attempts},
        )
        uow.commit()
        raise _wrong(problem)
    if not any(b.status == BidStatus.SEALED.value for b in opening_bids(uow, s)):
        _end_window(uow, project, s)
    return ob


def close_window(uow: UnitOfWork, project_id: int, *, actor: Actor | None = None) -> bool:
    """Close the decryption window when due (timer) or now (operator); or, in fallback, give up on it (operator).

    Idempotent: a timer for a session that moved on, or that comes early, does nothing. Returns whether it acted.
    """
    project = projects.get_project(uow, project_id, lock=True)
    s = get_session(uow, project.id)
    if actor is not None:
        require_role(uow, actor, project, {"operator"}, "结束解密")
        if s is None:
            raise NotFound("opening.no_session", "本项目没有开标会议。", "This project has no opening session.")
    if s is None:
        return False
    if project.state == "suspended":
        if actor is None:
            return False  # frozen: the resume queues a new timer for the time left
        ensure_not_suspended(project)
    state = state_of(s)
    if state is SessionState.DECRYPTING:
        if actor is None and (s.closes_at is None or uow.now < s.closes_at):
            return False
        _end_window(uow, project, s)
        return True
    if state is SessionState.FALLBACK and actor is not None:
        uow.audit("opening:end_fallback", subject_type="project", subject_id=project.id, data={"code": project.code})
        finalize(uow, project, s)
        return True
    if actor is not None:
        ensure_allowed(state, Action.CLOSE_WINDOW)
    return False


def operator_close(uow: UnitOfWork, actor: Actor, project_id: int) -> bool:
    """The operator closes the decryption window now, or ends a pending custodian fallback."""
    return close_window(uow, project_id, actor=actor)


def _end_window(uow: UnitOfWork, project: Project, s: OpeningSession) -> None:
    bids = opening_bids(uow, s)
    decrypted = sum(1 for b in bids if b.status == BidStatus.DECRYPTED.value)
    s.decryption_closed_at = uow.now
    append_event(uow, project.id, "decryption.closed", {"decrypted": decrypted, "failed": len(bids) - decrypted})
    uow.audit(
        "opening:window_closed",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "decrypted": decrypted, "sealed": len(bids) - decrypted},
    )
    if awaiting_fallback(uow, s):
        touch(uow, s, SessionState.FALLBACK)
        return
    finalize(uow, project, s)
