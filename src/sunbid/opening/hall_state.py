"""What the live opening hall 开标大厅 shows, folded from the session's events (SPEC B-6). Pure: no I/O.

The hall is a projection of ``opening_events``: :func:`fold` applies the events in ``seq`` order to an empty
:class:`HallState`; the page renders the result, so the state after any prefix of the events is exactly what a
visitor saw at that moment (replay). The browser applies the same events one by one (``opening_hall.js``).

Events come from another feature and may gain fields or kinds later: a missing or malformed field never breaks
the hall, an unknown kind only appears in the session log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TERMINAL_KINDS = frozenset({"session.closed", "session.failed", "session.cancelled"})
FAILED_OUTCOMES = frozenset({"revoked", "withdrawn"})

#: The session's stages, in order; ``failed`` can follow any of the first ones.
STAGES = ("waiting", "checking_in", "decrypting", "decrypted", "published", "closed", "failed")


@dataclass(frozen=True)
class HallEvent:
    """One event of the stream as the hall reads it."""

    seq: int
    kind: str
    data: Mapping[str, Any]
    at: datetime | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> HallEvent:
        """From ``OpeningEvent.to_json()`` (``seq``, ``kind``, ``data``, ``at`` as ISO 8601)."""
        data = raw.get("data")
        return cls(
            seq=int(raw["seq"]),
            kind=str(raw["kind"]),
            data=data if isinstance(data, Mapping) else {},
            at=parse_time(raw.get("at")),
        )


@dataclass
class HallBidder:
    """A bidder of a section as the hall sees it: check-in, decryption, confirmation of the record."""

    section: str
    name: str
    checked_in_at: datetime | None = None
    decryption: str = "pending"  # pending | decrypted | revoked | withdrawn
    decrypted_by: str = ""
    reason_zh: str = ""
    reason_en: str = ""
    confirmed_at: datetime | None = None

    @property
    def key(self) -> str:
        """The bidder's key in the page (section and name; a name is unique within a section)."""
        return bidder_key(self.section, self.name)


@dataclass(frozen=True)
class RecordRow:
    """A row of the opening record 开标记录 (唱标)."""

    bidder_name: str
    price: str
    duration_days: str
    quality: str
    deposit_status: str
    decryption_status: str
    extra: tuple[tuple[str, str], ...] = ()  # the other declared items read out (name, value), by name


@dataclass(frozen=True)
class RecordSection:
    """The opening record of one section."""

    section: str
    rows: tuple[RecordRow, ...]


@dataclass(frozen=True)
class Draw:
    """A coefficient draw 系数抽取 with the record that lets anyone recompute it."""

    section: str
    value: str
    record: Mapping[str, Any]


@dataclass
class Custody:
    """Custodian approvals to rebuild a section's opening key (fallback decryption)."""

    section: str
    approvals: list[str] = field(default_factory=list)
    threshold: int = 0
    rebuilt: bool = False


@dataclass
class HallObjection:
    """An objection raised at the opening 开标异议 and the operator's answer on record."""

    id: str
    section: str
    bidder_name: str
    text: str
    raised_at: datetime | None = None
    answer: str | None = None
    answered_at: datetime | None = None


@dataclass
class HallState:
    """Everything the hall shows after the events applied so far."""

    stage: str = "waiting"
    project_code: str = ""
    sections: list[str] = field(default_factory=list)
    bids: int = 0
    window_minutes: int | None = None
    started_at: datetime | None = None
    closes_at: datetime | None = None
    decryption_closed: bool = False
    closed_decrypted: int | None = None
    closed_failed: int | None = None
    failure_zh: str = ""
    failure_en: str = ""
    bidders: dict[str, HallBidder] = field(default_factory=dict)
    custody: dict[str, Custody] = field(default_factory=dict)
    draws: dict[str, Draw] = field(default_factory=dict)
    record: list[RecordSection] = field(default_factory=list)
    record_hash: str = ""
    record_url: str = ""
    objections: dict[str, HallObjection] = field(default_factory=dict)
    valid_bids: int | None = None
    log: list[HallEvent] = field(default_factory=list)
    last_seq: int = 0

    @property
    def finished(self) -> bool:
        """Whether the session has ended (closed or failed)."""
        return self.stage in ("closed", "failed")

    @property
    def decrypted(self) -> int:
        """Bids decrypted so far (the final count once decryption has closed)."""
        if self.closed_decrypted is not None:
            return self.closed_decrypted
        return sum(1 for b in self.bidders.values() if b.decryption == "decrypted")

    @property
    def failed(self) -> int:
        """Bids whose decryption failed (revoked or withdrawn)."""
        if self.closed_failed is not None:
            return self.closed_failed
        return sum(1 for b in self.bidders.values() if b.decryption in FAILED_OUTCOMES)

    @property
    def total(self) -> int:
        """Bids to decrypt: as announced at the start, or more if more bidders showed up."""
        return max(self.bids, self.decrypted + self.failed, len(self.bidders))

    @property
    def percent(self) -> int:
        """Decryption progress in whole percent (decrypted or failed, of all bids)."""
        total = self.total
        return 0 if total == 0 else min(100, (self.decrypted + self.failed) * 100 // total)

    @property
    def checked_in(self) -> int:
        """Bidders who have checked in."""
        return sum(1 for b in self.bidders.values() if b.checked_in_at is not None)


def bidder_key(section: str, name: str) -> str:
    """The key of a bidder row: section and name joined by a unit separator (never in either)."""
    return f"{section}\x1f{name}"


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (naive means UTC), or None when absent or malformed."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and value:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)


def _int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)):  # a list of bids counts as its length
        return len(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def display_value(value: Any) -> str:
    """A record cell as text: labels of a ``{code, label_zh, label_en}`` object are left to the page."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return str(value.get("code") or value.get("label_zh") or "")
    return str(value)


def declared_items(value: Any) -> tuple[tuple[str, str], ...]:
    """A row's ``extra`` as (name, value) pairs sorted by name; only string values (as the manifest allows)."""
    if not isinstance(value, Mapping):
        return ()
    return tuple(sorted((str(k), v) for k, v in value.items() if isinstance(v, str)))


def _bidder(state: HallState, data: Mapping[str, Any]) -> HallBidder | None:
    """The row of the event's bidder: found, placed in its section (if listed at the start), or added."""
    name = _text(data, "bidder_name")
    if not name:
        return None
    section = _text(data, "section")
    key = bidder_key(section, name)
    found = state.bidders.get(key)
    if found is not None:
        return found
    if section and section not in state.sections:
        state.sections.append(section)
    listed = state.bidders.get(bidder_key("", name))
    if section and listed is not None:  # named by session.started without a section: it keeps its place
        listed.section = section
        state.bidders = {(key if v is listed else k): v for k, v in state.bidders.items()}
        return listed
    found = state.bidders[key] = HallBidder(section=section, name=name)
    return found


def _custody(state: HallState, section: str) -> Custody:
    found = state.custody.get(section)
    if found is None:
        found = state.custody[section] = Custody(section=section)
    return found


def _advance(state: HallState, stage: str) -> None:
    """Move forward to ``stage`` (never back, never out of an ended session)."""
    if state.finished:
        return
    if STAGES.index(stage) > STAGES.index(state.stage):
        state.stage = stage


def _record(data: Mapping[str, Any]) -> list[RecordSection]:
    sections = data.get("sections")
    out: list[RecordSection] = []
    if not isinstance(sections, list):
        return out
    for sec in sections:
        if not isinstance(sec, Mapping):
            continue
        rows = sec.get("rows")
        out.append(
            RecordSection(
                section=_text(sec, "section"),
                rows=tuple(
                    RecordRow(
                        bidder_name=_text(r, "bidder_name"),
                        price=display_value(r.get("price")),
                        duration_days=display_value(r.get("duration_days")),
                        quality=display_value(r.get("quality")),
                        deposit_status=display_value(r.get("deposit_status")),
                        decryption_status=display_value(r.get("decryption_status")),
                        extra=declared_items(r.get("extra")),
                    )
                    for r in (rows if isinstance(rows, list) else [])
                    if isinstance(r, Mapping)
                ),
            )
        )
    return out


def apply(state: HallState, event: HallEvent) -> HallState:
    """Apply one event (in ``seq`` order; an event already applied is ignored) and return ``state``."""
    if event.seq <= state.last_seq:
        return state
    state.last_seq = event.seq
    state.log.append(event)
    d, kind = event.data, event.kind
    if kind == "session.started":
        state.project_code = _text(d, "project_code") or state.project_code
        sections = d.get("sections")
        if isinstance(sections, list):
            state.sections = [str(s) for s in sections] + [s for s in state.sections if s not in sections]
        state.bids = _int(d, "bids") or 0
        names = d.get("bidders")
        known = {b.name for b in state.bidders.values()}
        for name in names if isinstance(names, list) else []:
            if isinstance(name, str) and name and name not in known:
                known.add(name)
                state.bidders[bidder_key("", name)] = HallBidder(section="", name=name)
        state.window_minutes = _int(d, "window_minutes")
        state.started_at = event.at
        _advance(state, "checking_in")
    elif kind in ("session.failed", "session.cancelled"):  # cancelled: the project was terminated
        state.failure_zh, state.failure_en = _text(d, "reason_zh"), _text(d, "reason_en")
        state.stage = "failed"
    elif kind in ("decryption.extended", "session.resumed"):
        if (closes_at := parse_time(d.get("closes_at"))) is not None:
            state.closes_at = closes_at
    elif kind == "bidder.checked_in":
        if (b := _bidder(state, d)) is not None and b.checked_in_at is None:
            b.checked_in_at = event.at or datetime.min.replace(tzinfo=UTC)
        _advance(state, "checking_in")
    elif kind == "decryption.opened":
        state.closes_at = parse_time(d.get("closes_at"))
        _advance(state, "decrypting")
    elif kind == "bid.decrypted":
        if (b := _bidder(state, d)) is not None:
            b.decryption, b.decrypted_by = "decrypted", _text(d, "by")
    elif kind == "bid.decryption_failed":
        if (b := _bidder(state, d)) is not None:
            outcome = _text(d, "outcome")
            b.decryption = outcome if outcome in FAILED_OUTCOMES else "revoked"
            b.reason_zh, b.reason_en = _text(d, "reason_zh"), _text(d, "reason_en")
    elif kind == "decryption.closed":
        state.decryption_closed = True
        state.closed_decrypted, state.closed_failed = _int(d, "decrypted"), _int(d, "failed")
        _advance(state, "decrypted")
    elif kind == "custodian.approved":
        c = _custody(state, _text(d, "section"))
        name = _text(d, "custodian_name")
        if name and name not in c.approvals:
            c.approvals.append(name)
        c.threshold = _int(d, "threshold") or c.threshold
    elif kind == "key.rebuilt":
        _custody(state, _text(d, "section")).rebuilt = True
    elif kind == "coefficient.drawn":
        record = d.get("draw_record")
        section = _text(d, "section")
        state.draws[section] = Draw(
            section, display_value(d.get("value")), record if isinstance(record, Mapping) else {}
        )
    elif kind == "record.published":
        state.record = _record(d)
        state.record_hash, state.record_url = _text(d, "record_hash"), safe_url(_text(d, "url"))
        _advance(state, "published")
    elif kind == "bidder.confirmed":
        if (b := _bidder(state, d)) is not None and b.confirmed_at is None:
            b.confirmed_at = event.at or datetime.min.replace(tzinfo=UTC)
    elif kind == "objection.raised":
        oid = _text(d, "id") or f"seq-{event.seq}"
        state.objections[oid] = HallObjection(
            id=oid,
            section=_text(d, "section"),
            bidder_name=_text(d, "bidder_name"),
            text=_text(d, "text"),
            raised_at=event.at,
        )
    elif kind == "objection.answered":
        oid = _text(d, "id")
        obj = state.objections.get(oid)
        if obj is None:  # an answer to an objection the stream never showed: keep it visible anyway
            obj = state.objections[oid] = HallObjection(id=oid, section="", bidder_name="", text="")
        obj.answer, obj.answered_at = _text(d, "answer"), event.at
    elif kind == "session.closed":
        state.valid_bids = _int(d, "valid_bids")
        state.stage = "closed"
    return state


def fold(events: Iterable[HallEvent], state: HallState | None = None) -> HallState:
    """The hall after ``events`` (oldest first), starting from ``state`` or an empty hall."""
    result = state if state is not None else HallState()
    for event in sorted(events, key=lambda e: e.seq):
        apply(result, event)
    return result


def safe_url(url: str) -> str:
    """A link the page may show: a local path or an http(s) URL; anything else (``javascript:`` …) is dropped."""
    u = url.strip()
    if u.startswith("/") and not u.startswith("//"):
        return u
    if u.lower().startswith(("https://", "http://")) and not any(c in u for c in "\r\n\t "):
        return u
    return ""
