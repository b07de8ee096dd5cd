"""Sealed bids and the remote opening 不见面开标 in ``sunbid demo``, done as the bidders and custodians would.

Every step goes through the same public functions as the bidder tool, the API and the opening hall:

* a bidder seals its bid locally (:mod:`sunbid.bidding.tool`: manifest signed with the key of its demo bundle,
  small generated documents in Chinese, content key wrapped to its own encryption key and to the section's
  published opening key and context), uploads it in chunks (:func:`sunbid.bidding.service.append_chunk`),
  completes the upload and keeps the signed receipt, which it verifies against the log key;
* in the decryption window it unwraps the content key on its own machine with its encryption key
  (:func:`sunbid.bidding.container.unwrap_content_key`) and releases only that key (``session.decrypt``);
* a custodian fetches its encrypted share of the opening key, decrypts it with its own encryption key and posts it
  (``session.post_share``); k of them rebuild the key after the window;
* bidders confirm the published record and the operator finishes the opening (``session.finish``, which sets
  ``valid_bids`` to the decrypted bids).

:func:`opening_summary` reads back what happened for the ``sunbid demo`` summary.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sunbid.bidding import service as bidding
from sunbid.bidding.container import machine_fingerprint, seal_bid, unwrap_content_key
from sunbid.bidding.models import Bid
from sunbid.bidding.receipts import ensure_receipt, verify_receipt
from sunbid.bidding.tool import BidInput, build_manifest, bundle_bidder, parse_opening_key
from sunbid.core.errors import DomainError
from sunbid.identity.service import Actor
from sunbid.ledger.models import AuditEvent
from sunbid.opening import keys, session
from sunbid.opening.domain import BidStatus, OpeningSettings, SessionState
from sunbid.opening.events import OpeningEvent
from sunbid.opening.models import OpeningBid, OpeningSession
from sunbid.opening.service import custodian_org_ids, my_encrypted_shares, public_key_info
from sunbid.platform.uow import UnitOfWork
from sunbid.projects.models import Project

if TYPE_CHECKING:
    from sunbid.platform.demo_tenders import DemoWorld

SECTION = "01"
#: Project states in which a scheduled opening is still ahead.
OPENING_AHEAD = frozenset({"bidding", "suspended"})
#: Bytes per upload request (the bidder tool sends larger ones; small here so that every bid takes several).
CHUNK = 1024


class DemoBidError(RuntimeError):
    """A demo bid or opening step did not go as scripted (a bug in the demo or in the services)."""


@dataclass(frozen=True)
class DemoBid:
    """What a demo bidder offers: price in yuan (the manifest's string), duration, quality and its documents.

    ``items`` splits the price into the lines of the priced bill (name, share of the price); the last line takes
    the remainder, so the lines always add up to the price to the fen. ``facts`` are the manifest's ``extra``
    (key, value): what the method's objective items are computed from (e.g. 类似工程业绩).
    """

    bidder: str  # organisation key (also the demo user's name)
    price: str
    duration_days: int
    quality: str
    kind: Literal["works", "goods"]  # which documents are generated
    items: tuple[tuple[str, str], ...]
    commitments: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()


def bill(price: str, items: Sequence[tuple[str, str]]) -> list[tuple[str, Decimal]]:
    """The priced bill: each item's share of ``price`` rounded to the fen, the last one taking the remainder."""
    total = Decimal(price)
    lines: list[tuple[str, Decimal]] = []
    for name, share in items[:-1]:
        lines.append((name, (total * Decimal(share)).quantize(Decimal("0.01"))))
    lines.append((items[-1][0], total - sum((amount for _, amount in lines), Decimal(0))))
    return lines


def _yuan(amount: Decimal | str) -> str:
    return f"{Decimal(amount):,.2f}"


def documents(bid: DemoBid, *, bidder_name: str, project_name: str, tenderer_name: str) -> dict[str, bytes]:
    """The bid's documents: a bid letter, the priced bill (CSV) and a technical part, in Chinese (UTF-8)."""
    letter = "\n".join(
        [
            "投标函",
            f"致：{tenderer_name}",
            f"根据贵方“{project_name}”招标文件，我方{bidder_name}经研究上述招标文件的全部内容，愿以人民币"
            f" {_yuan(bid.price)} 元的投标总报价，按合同约定实施和完成承包工作或供货。",
            f"工期（交货期）：{bid.duration_days} 日历天；质量标准：{bid.quality}。",
            "我方承诺在投标有效期内不修改、撤销投标文件。",
            *[f"承诺：{c}" for c in bid.commitments],
            *[f"{key}：{value}" for key, value in bid.facts],
            f"投标人：{bidder_name}（电子签章）",
        ]
    )
    rows = ["序号,项目名称,金额（元）"]
    lines = bill(bid.price, bid.items)
    rows += [f"{n},{name},{amount:.2f}" for n, (name, amount) in enumerate(lines, start=1)]
    rows.append(f",合计,{sum((a for _, a in lines), Decimal(0)):.2f}")
    if bid.kind == "works":
        tech_name, tech = (
            "施工组织设计.txt",
            [
                "施工组织设计",
                f"一、工期安排：总工期 {bid.duration_days} 日历天，分四个阶段组织流水施工。",
                f"二、质量目标：{bid.quality}，实行三检制度。",
                "三、安全文明施工：封闭施工、分段导改交通，扬尘在线监测。",
            ],
        )
        bill_name = "已标价工程量清单.csv"
    else:
        tech_name, tech = (
            "技术响应表.txt",
            [
                "技术参数响应及偏离表",
                f"交货期：合同签订后 {bid.duration_days} 日内交货并安装调试完毕；质量：{bid.quality}。",
                "★ 平板探测器有效像素 ≥ 3000×3000：满足。",
                "★ 售后服务：整机保修三年，4 小时响应、24 小时到场：满足。",
            ],
        )
        bill_name = "分项报价表.csv"
    return {
        "投标函.txt": letter.encode("utf-8"),
        bill_name: ("\n".join(rows) + "\n").encode("utf-8"),
        tech_name: "\n".join(tech).encode("utf-8"),
    }


# --- bidders ---------------------------------------------------------------------------------------------------


def seal(w: DemoWorld, pid: int, bid: DemoBid) -> bytes:
    """Seal ``bid`` as its bidder's tool does, to the section's published opening key and context."""
    bundle = w.bundle(bid.bidder)
    with w.platform.uow() as uow:
        info = public_key_info(uow, pid, SECTION)
        project = uow.session.get(Project, pid)
        assert project is not None
        code, project_name = project.code, project.name
        tenderer = project.tenderer_org_id
    opening_key = parse_opening_key(info)
    bidder = bundle_bidder(bundle)
    suite = w.platform.suite
    fingerprint = machine_fingerprint(suite, {"cpu": f"demo-cpu-{bid.bidder}", "disk": f"demo-disk-{bid.bidder}"})
    manifest = build_manifest(
        BidInput(
            code,
            SECTION,
            bid.price,
            bid.duration_days,
            bid.quality,
            key_commitments=bid.commitments,
            extra=dict(bid.facts),
        ),
        bidder,
        fingerprint=fingerprint,
        now=w.now,
    )
    files = documents(bid, bidder_name=bidder.name, project_name=project_name, tenderer_name=w.org_name(tenderer))
    return seal_bid(
        suite,
        manifest,
        files,
        signing_private=bundle.signing_private,
        signing_cert_pem=bundle.signing_cert_pem,
        bidder_encryption_public=bundle.encryption_public,
        opening_public=opening_key.public_key,
        context=opening_key.context,
    )


def upload(w: DemoWorld, pid: int, who: str, data: bytes, *, hold_last: bool = False) -> int:
    """Open an upload for ``data`` and send it in chunks; returns the upload id (not yet completed).

    With ``hold_last`` the last chunk is kept back (see :func:`send_late`).
    """
    digest = w.platform.suite.digest(data).hex()
    upload_id = w.act(
        who,
        lambda uow, a: bidding.create_upload(uow, a, pid, SECTION, length=len(data), container_hash=digest).id,
    )
    offsets = list(range(0, len(data), CHUNK))
    for at in offsets[:-1] if hold_last else offsets:
        w.act(who, _chunk(int(upload_id), data, at))
    return int(upload_id)


def _chunk(upload_id: int, data: bytes, at: int) -> Callable[[UnitOfWork, Actor], int]:
    return lambda uow, a: bidding.append_chunk(uow, a, upload_id, at, data[at : at + CHUNK])


def complete(w: DemoWorld, who: str, upload_id: int) -> int:
    """Complete the upload: the bid is committed, its receipt is signed and checked against the log key."""
    bid_id = int(w.act(who, lambda uow, a: bidding.complete_upload(uow, a, upload_id).id))
    with w.platform.uow() as uow:
        bidding.cleanup_spool(uow, upload_id)
    receipt = ensure_receipt(w.platform, bid_id)
    problems = verify_receipt(receipt, w.platform.log_keypair.public)
    if problems:
        raise DemoBidError(f"the receipt of demo bid {bid_id} does not verify: {problems}")
    return bid_id


def submit(w: DemoWorld, pid: int, who: str, data: bytes) -> int:
    """Upload and complete a sealed bid; returns the bid id."""
    return complete(w, who, upload(w, pid, who, data))


def send_late(w: DemoWorld, who: str, upload_id: int, data: bytes) -> None:
    """The last chunk of ``data`` arrives at or after the deadline: it must be refused (``bid.deadline_passed``,
    logged ``bid:late``), so the upload is never whole and the bid never completes."""
    last = (len(data) - 1) // CHUNK * CHUNK
    try:
        w.act(who, _chunk(upload_id, data, last))
    except DomainError as exc:
        if exc.code != "bid.deadline_passed":
            raise
        return
    raise DemoBidError(f"the late chunk of upload {upload_id} was accepted")


def content_key(w: DemoWorld, pid: int, who: str, data: bytes) -> str:
    """On the bidder's machine: unwrap the container's content key with its encryption key (base64)."""
    with w.platform.uow() as uow:
        context = str(public_key_info(uow, pid, SECTION)["context"])
    raw = unwrap_content_key(
        w.platform.suite, data, context=context, encryption_private=w.bundle(who).encryption_private
    )
    return base64.b64encode(raw).decode("ascii")


def check_in(w: DemoWorld, pid: int, who: str) -> None:
    """The bidder signs in to the remote opening."""
    w.act(who, lambda uow, a: session.check_in(uow, a, pid, SECTION))


def decrypt(w: DemoWorld, pid: int, who: str, bid_id: int, data: bytes) -> None:
    """The bidder releases the content key of ``data`` for its bid ``bid_id``; it must decrypt."""
    key = content_key(w, pid, who, data)
    ob = w.act(who, lambda uow, a: session.decrypt(uow, a, pid, bid_id, key))
    if ob.status != BidStatus.DECRYPTED.value:
        raise DemoBidError(f"demo bid {bid_id} did not decrypt")


def release_wrong_key(w: DemoWorld, pid: int, who: str, bid_id: int, other: bytes) -> None:
    """The bidder releases the content key of another container (``other``) for ``bid_id``: refused, counted."""
    key = content_key(w, pid, who, other)
    try:
        w.act(who, lambda uow, a: session.decrypt(uow, a, pid, bid_id, key))
    except DomainError as exc:
        if exc.code != "opening.wrong_key":
            raise
        return
    raise DemoBidError(f"demo bid {bid_id} opened with another container's key")


def post_share(w: DemoWorld, pid: int, custodian: str, org_key: str) -> dict[str, Any]:
    """A custodian fetches its encrypted share, decrypts it with its own key (offline) and posts it."""

    def mine(uow: UnitOfWork, actor: Actor) -> list[dict[str, object]]:
        # the service puts every fetch of a share on record (opening:share_fetch)
        return my_encrypted_shares(uow, custodian_org_ids(actor.principal, pid), pid, section=SECTION)

    shares = w.act(custodian, mine)
    if len(shares) != 1:
        raise DemoBidError(f"custodian {custodian} holds {len(shares)} shares of project {pid}")
    private = w.bundle(org_key).encryption_private
    text = keys.decrypt_share(w.platform.suite, str(shares[0]["encrypted_share"]), private).to_text()
    result: dict[str, Any] = w.act(custodian, lambda uow, a: session.post_share(uow, a, pid, SECTION, text))
    return result


def confirm(w: DemoWorld, pid: int, who: str) -> None:
    """The bidder confirms the published opening record 无异议."""
    w.act(who, lambda uow, a: session.confirm(uow, a, pid, SECTION))


def configure(w: DemoWorld, pid: int, settings: OpeningSettings, who: str = "agency") -> None:
    """The agency sets what the tender documents say about the opening (before the deadline)."""
    w.act(who, lambda uow, a: session.configure(uow, a, pid, settings))


def finish(w: DemoWorld, pid: int, expected_valid: int) -> None:
    """The operator finishes the opening (``valid_bids`` = decrypted bids); it must go on to evaluation."""
    valid, outcome = w.act("operator", lambda uow, a: session.finish(uow, a, pid))
    if (valid, outcome) != (expected_valid, "opened"):
        raise DemoBidError(f"demo project {pid}: the opening ended {outcome} with {valid} valid bids")


def opened_price(w: DemoWorld, pid: int, who: str) -> str:
    """The price read from ``who``'s opened bid (what the award must equal)."""
    with w.platform.db.read() as s:
        price = s.scalar(
            select(OpeningBid.price)
            .join(OpeningSession, OpeningSession.id == OpeningBid.session_id)
            .where(
                OpeningSession.project_id == pid,
                OpeningBid.org_id == w.orgs[who],
                OpeningBid.status == BidStatus.DECRYPTED.value,
            )
        )
    if price is None:
        raise DemoBidError(f"demo project {pid}: {who} has no opened bid")
    return str(price)


# --- the summary -----------------------------------------------------------------------------------------------


def opening_summary(s: Session, project: Project) -> dict[str, Any] | None:
    """What the project's opening received and how it ended; None when no opening is ahead or took place (no
    session, or a session never started of a project that left bidding without reaching its deadline)."""
    row = s.scalar(select(OpeningSession).where(OpeningSession.project_id == project.id))
    if row is None or (row.state == SessionState.SCHEDULED.value and project.state not in OPENING_AHEAD):
        return None
    bids = list(s.scalars(select(OpeningBid).where(OpeningBid.session_id == row.id)))
    if row.state == SessionState.CANCELLED.value and not bids:
        return None  # the project was terminated before its deadline: no opening took place
    statuses = [b.status for b in bids]
    submitted = s.scalar(
        select(func.count()).select_from(Bid).where(Bid.project_id == project.id, Bid.status == "submitted")
    )
    replaced = s.scalar(
        select(func.count()).select_from(Bid).where(Bid.project_id == project.id, Bid.status == "replaced")
    )
    late = s.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.tag.like("%:bid:late"),
            AuditEvent.subject_type == "project",
            AuditEvent.subject_id == str(project.id),
        )
    )
    events = s.scalar(select(func.count()).select_from(OpeningEvent).where(OpeningEvent.project_id == project.id))
    state = SessionState(row.state)
    return {
        "state": state.value,
        "state_zh": state.label_zh,
        "bids_received": int(submitted or 0),
        "replaced": int(replaced or 0),
        "late_refused": int(late or 0),
        "opened": len(bids),
        "decrypted": statuses.count(BidStatus.DECRYPTED.value),
        "by_custodians": sum(1 for b in bids if b.opened_by == "custodian"),
        "revoked": statuses.count(BidStatus.REVOKED.value),
        "withdrawn": statuses.count(BidStatus.WITHDRAWN.value),
        "valid_bids": row.valid_bids,
        "custodian_fallback": bool(OpeningSettings.from_dict(row.settings).custodian_fallback),
        "coefficients": {code: d["value"] for code, d in sorted((row.draws or {}).items())},
        "record_hash": row.record_hash,
        "record_ledger_index": row.record_ledger_index,
        "record_url": f"/api/projects/{project.id}/opening/record" if row.record_hash else None,
        "hall_url": f"/projects/{project.id}/opening",
        "events": int(events or 0),
    }


def opening_line(o: dict[str, Any]) -> str:
    """One line of the ``sunbid demo`` console summary for an :func:`opening_summary`."""
    parts = [f"{o['state_zh']} ({o['state']})", f"收到 received {o['bids_received']}"]
    if o["replaced"]:
        parts.append(f"替换 replaced {o['replaced']}")
    if o["late_refused"]:
        parts.append(f"逾期拒收 late refused {o['late_refused']}")
    if o["opened"]:
        parts.append(f"解密 decrypted {o['decrypted']}/{o['opened']}")
    if o["by_custodians"]:
        parts.append(f"保管人应急解密 by custodians {o['by_custodians']}")
    if o["revoked"]:
        parts.append(f"撤销 revoked {o['revoked']}")
    if o["withdrawn"]:
        parts.append(f"撤回 withdrawn {o['withdrawn']}")
    if o["coefficients"]:
        parts.append("系数 K " + ", ".join(f"{code}: {k}" for code, k in o["coefficients"].items()))
    if o["record_hash"]:
        parts.append(f"记录 record {o['record_hash'][:16]}…")
    parts.append(f"开标大厅 hall {o['hall_url']}")
    return "，".join(parts)
