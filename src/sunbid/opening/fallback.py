"""Custodian fallback 保管人应急解密 (SPEC B-2): after the window, k custodians' shares rebuild the opening key.

Each posted share is an approval (audited, a ``custodian.approved`` event), held sealed under the platform's opening
secret until k are present; then the key is rebuilt in memory, the section's sealed bids are opened with it, the
key is discarded and the posted shares are wiped. k−1 shares do nothing.
"""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, select

from sunbid.bidding.models import Bid
from sunbid.core.errors import Conflict, Forbidden, ValidationFailed
from sunbid.identity.service import Actor
from sunbid.opening import keys
from sunbid.opening.domain import (
    Action,
    BidStatus,
    SessionState,
    ensure_allowed,
)
from sunbid.opening.events import append_event
from sunbid.opening.models import (
    OpeningKey,
    OpeningKeyShare,
    OpeningSession,
    OpeningSharePost,
)
from sunbid.opening.publish import finalize
from sunbid.opening.service import (
    custodian_org_ids,
    platform_open,
    platform_seal,
    section_by_code,
    section_key,
)
from sunbid.opening.session_base import (
    MAX_SHARE_TEXT,
    accept_opened,
    ensure_not_suspended,
    get_session,
    open_stored,
    opening_bids,
    org_of,
    settings_of,
    state_of,
)
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project, Section
from sunbid.projects.timing import project_facts


def awaiting_fallback(uow: UnitOfWork, s: OpeningSession) -> set[int]:
    """Sections whose sealed bids wait for the custodians."""
    if not settings_of(s).custodian_fallback:
        return set()
    out: set[int] = set()
    for b in opening_bids(uow, s):
        if b.status != BidStatus.SEALED.value or b.section_id in out:
            continue
        key = section_key(uow, b.section_id)
        if key is None or not key.fallback_possible or approvals(uow, key) >= key.threshold:
            continue
        if b.last_problem in ("opening.stored_container_damaged", "bid.signature_invalid", "bid.manifest_other"):
            continue  # the opening key would not help
        out.add(b.section_id)
    return out


def approvals(uow: UnitOfWork, key: OpeningKey) -> int:
    """How many custodians approved (posted a share for) this key."""
    return int(
        uow.session.scalar(select(func.count()).select_from(OpeningSharePost).where(OpeningSharePost.key_id == key.id))
        or 0
    )


def post_share(uow: UnitOfWork, actor: Actor, project_id: int, section_code: str, share_text: str) -> dict[str, Any]:
    """A custodian approves the fallback by posting its decrypted share; with k shares the key is rebuilt and used.

    Refused before the deadline (``opening.before_deadline``), when the tender does not allow the fallback
    (``opening.fallback_not_allowed``), while the window is open, and for a share that is not the actor's.
    """
    project = projects.get_project(uow, project_id, lock=True)
    mine = custodian_org_ids(actor.principal, project.id)
    if not mine:
        raise Forbidden("opening.not_a_custodian", "只有开标密钥保管人可以提交密钥份额。", "Only custodians may post.")
    deadline = project_facts(project, uow.now).bid_deadline
    s = get_session(uow, project.id)
    if deadline is None or uow.now < deadline or s is None or state_of(s) is SessionState.SCHEDULED:
        raise Conflict(
            "opening.before_deadline",
            "投标截止前任何人不得恢复开标密钥。",
            "Nobody may rebuild an opening key before the bid deadline.",
        )
    if not settings_of(s).custodian_fallback:
        raise Conflict(
            "opening.fallback_not_allowed",
            "招标文件未允许开标密钥保管人应急解密。",
            "The tender does not allow the custodian fallback.",
        )
    ensure_allowed(state_of(s), Action.POST_SHARE)
    ensure_not_suspended(project)
    section = section_by_code(uow, project.id, section_code)
    key = section_key(uow, section.id)
    if key is None or not key.fallback_possible:
        raise Conflict("opening.no_shares", "该标段开标密钥未分存。", "This section's opening key was not split.")
    if len(share_text) > MAX_SHARE_TEXT:
        raise ValidationFailed("opening.bad_share_text", "密钥份额文本过长。", "The share text is too long.")
    share = keys.Share.from_text(share_text)
    if share.key_fingerprint != key.fingerprint or share.section != f"{project.code}/{section.code}":
        raise ValidationFailed(
            "opening.share_other_key", "该份额不属于本标段的开标密钥。", "This share is of another opening key."
        )

    held = uow.session.scalar(
        select(OpeningKeyShare).where(OpeningKeyShare.key_id == key.id, OpeningKeyShare.share_index == share.index)
    )
    if held is None or held.custodian_org_id not in mine:
        raise Forbidden("opening.not_your_share", "该份额不是您保管的。", "This share is not in your custody.")
    done = approvals(uow, key)
    if done >= key.threshold:
        raise Conflict("opening.key_already_rebuilt", "该标段开标密钥已恢复。", "This opening key was already rebuilt.")
    exists = uow.session.scalar(
        select(OpeningSharePost).where(OpeningSharePost.key_id == key.id, OpeningSharePost.share_index == share.index)
    )
    if exists is not None:
        raise Conflict("opening.share_already_posted", "该份额已提交。", "This share was already posted.")
    org = org_of(uow, held.custodian_org_id)
    count = done + 1
    event = uow.audit(
        "opening:custodian_approve",
        subject_type="section",
        subject_id=section.id,
        data={
            "project_code": project.code,
            "section": section.code,
            "custodian": org.name,
            "share_index": share.index,
            "approvals": count,
            "threshold": key.threshold,
        },
    )
    post = OpeningSharePost(
        session_id=s.id,
        key_id=key.id,
        share_index=share.index,
        custodian_org_id=org.id,
        user_id=actor.user_id,
        share_sealed=platform_seal(uow.platform, share.to_text().encode(), f"share:{key.id}:{share.index}"),
        posted_at=uow.now,
        ledger_index=event.ledger_index,
    )
    uow.session.add(post)
    uow.session.flush()
    append_event(
        uow,
        project.id,
        "custodian.approved",
        {"section": section.code, "custodian_name": org.name, "approvals": count, "threshold": key.threshold},
    )
    rebuilt = False
    if count >= key.threshold:
        _rebuild_and_open(uow, project, s, section, key)
        rebuilt = True
        if not awaiting_fallback(uow, s):
            finalize(uow, project, s)
    return {"section": section.code, "approvals": count, "threshold": key.threshold, "rebuilt": rebuilt}


def _rebuild_and_open(uow: UnitOfWork, project: Project, s: OpeningSession, section: Section, key: OpeningKey) -> None:
    posts = list(uow.session.scalars(select(OpeningSharePost).where(OpeningSharePost.key_id == key.id)))
    shares = []
    for p in posts:
        assert p.share_sealed is not None
        text = platform_open(uow.platform, p.share_sealed, f"share:{key.id}:{p.share_index}").decode()
        shares.append(keys.Share.from_text(text))
    private = keys.combine_shares(shares, key.threshold, suite=uow.platform.suite)
    del shares
    for p in posts:
        p.share_sealed = None  # the shares are not kept once used
    append_event(uow, project.id, "key.rebuilt", {"section": section.code})
    uow.audit(
        "opening:key_rebuilt",
        subject_type="section",
        subject_id=section.id,
        data={"project_code": project.code, "section": section.code, "key_fingerprint": key.fingerprint},
    )
    try:
        for ob in opening_bids(uow, s):
            if ob.section_id != section.id or ob.status != BidStatus.SEALED.value:
                continue
            bid = uow.session.get(Bid, ob.bid_id)
            assert bid is not None
            opened, problem = open_stored(uow, bid, key, opening_private=private)
            if opened is not None:
                content_key = _content_key_via_opening(uow, bid, key, private)
                problem = accept_opened(uow, project, ob, bid, opened, "custodian", content_key)
            if problem is not None:
                ob.last_problem = problem
    finally:
        del private  # the rebuilt key lives only for this loop


def _content_key_via_opening(uow: UnitOfWork, bid: Bid, key: OpeningKey, private: bytes) -> bytes:
    from sunbid.bidding.container import unwrap_content_key

    with uow.platform.storage.open(bid.storage_key) as f:
        head = f.read(70_000)
    return unwrap_content_key(uow.platform.suite, io.BytesIO(head), context=key.context, opening_private=private)
