"""Texts and view models of the opening hall page: :class:`~sunbid.opening.hall_state.HallState` in the page
language. The same message templates go to the browser (``opening_hall.js``) so that an event applied live
reads exactly as it does after a reload.

Messages are English msgids with ``%(name)s`` placeholders (translated by the page catalogue); the names are the
event's data fields plus a few derived ones (:func:`log_params`). A placeholder without a value renders empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sunbid.core.clock import ensure_utc
from sunbid.opening.hall_state import HallEvent, HallState, parse_time
from sunbid.web.i18n import N_, Translator
from sunbid.web.render import local_time

#: The session log line of each event kind; ``*`` for kinds this page does not know yet.
LOG_MESSAGES: dict[str, str] = {
    "session.started": N_(
        "Opening session started: sections %(sections)s, %(bids)s bids, decryption window %(window_minutes)s minutes"
    ),
    "session.failed": N_("The opening failed: %(reason)s"),
    "bidder.checked_in": N_("%(bidder_name)s checked in (section %(section)s)"),
    "decryption.opened": N_("The decryption window opened; it closes at %(closes_at)s"),
    "bid.decrypted": N_("The bid of %(bidder_name)s was decrypted (section %(section)s)"),
    "bid.decryption_failed": N_(
        "The bid of %(bidder_name)s could not be decrypted (section %(section)s): %(outcome)s. %(reason)s"
    ),
    "decryption.closed": N_("The decryption window closed: %(decrypted)s decrypted, %(failed)s failed"),
    "custodian.approved": N_(
        "Custodian %(custodian_name)s approved rebuilding the opening key of section %(section)s"
        " (%(approvals)s of %(threshold)s)"
    ),
    "key.rebuilt": N_("The custodians rebuilt the opening key of section %(section)s"),
    "coefficient.drawn": N_("Coefficient drawn for section %(section)s: %(value)s"),
    "record.published": N_("The opening record was published (SHA-256 %(record_hash)s)"),
    "bidder.confirmed": N_("%(bidder_name)s confirmed the opening record (section %(section)s)"),
    "objection.raised": N_("%(bidder_name)s raised an objection (section %(section)s): %(text)s"),
    "objection.answered": N_("Answer to objection %(id)s: %(answer)s"),
    "session.closed": N_("The opening session closed: %(valid_bids)s valid bids"),
    "session.cancelled": N_("The opening was cancelled: %(reason)s"),
    "session.suspended": N_("The project was suspended: the opening is paused"),
    "session.resumed": N_("The project resumed: the opening goes on"),
    "decryption.extended": N_(
        "The decryption window was extended by %(minutes)s minutes; it now closes at %(closes_at)s (%(reason)s)"
    ),
    "*": N_("Event %(kind)s"),
}

STAGE_LABELS: dict[str, str] = {
    "waiting": N_("Waiting for the opening"),
    "checking_in": N_("Bidders checking in"),
    "decrypting": N_("Decrypting bids"),
    "decrypted": N_("Decryption finished"),
    "published": N_("Opening record published"),
    "closed": N_("Opening closed"),
    "failed": N_("Opening failed"),
}

DECRYPTION_LABELS: dict[str, str] = {
    "pending": N_("Not decrypted yet"),
    "sealed": N_("Not decrypted yet"),
    "decrypted": N_("Decrypted"),
    "revoked": N_("Revoked (bidder's fault)"),
    "withdrawn": N_("Withdrawn (not the bidder's fault)"),
}

DEPOSIT_LABELS: dict[str, str] = {
    "paid": N_("Paid"),
    "guarantee": N_("Electronic guarantee"),
    "missing": N_("Not paid"),
    "not_checked": N_("Not checked"),
}

#: Other texts the script needs (countdown, connection, progress), in the page language.
SCRIPT_TEXTS: dict[str, str] = {
    "left": N_("%(m)s min %(s)s s left"),
    "window_closed": N_("The decryption window has closed"),
    "progress": N_("%(done)s of %(total)s bids opened (%(decrypted)s decrypted, %(failed)s failed)"),
    "checked_in": N_("Checked in %(time)s"),
    "not_checked_in": N_("Not checked in"),
    "confirmed": N_("Confirmed %(time)s"),
    "not_confirmed": N_("Not confirmed"),
    "awaiting_answer": N_("Awaiting the operator's answer"),
    "answer": N_("Answer: %(answer)s"),
    "minutes": N_("%(n)s minutes"),
    "live": N_("Live"),
    "reconnecting": N_("Connection lost, reconnecting…"),
    "ended": N_("The session has ended"),
    "play": N_("Play"),
    "pause": N_("Pause"),
    "step": N_("Event %(step)s of %(total)s"),
    "approvals": N_("%(approvals)s of %(threshold)s custodians approved"),
    "key_rebuilt": N_("Opening key rebuilt"),
    "valid_bids": N_("Valid bids: %(valid_bids)s"),
    "custodian_decrypted": N_("by the custodians"),
}

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TIME_FORMAT = "%H:%M:%S"


def fill(template: str, params: Mapping[str, Any]) -> str:
    """``template`` with each ``%(name)s`` replaced by ``params[name]`` (empty when missing); the script's twin."""
    return _PLACEHOLDER.sub(lambda m: _param_text(params.get(m.group(1))), template)


def _param_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(_param_text(v) for v in value)
    if isinstance(value, Mapping):
        return str(value.get("code") or value.get("label_zh") or "")
    return str(value)


def log_params(event: HallEvent, tr: Translator) -> dict[str, Any]:
    """The event's data plus derived names: ``kind``, ``reason`` (page language), ``outcome`` label, local times."""
    params: dict[str, Any] = dict(event.data)
    params["kind"] = event.kind
    zh, en = params.get("reason_zh"), params.get("reason_en")
    if zh is not None or en is not None or "reason" not in params:  # an operator's own reason stays as written
        params["reason"] = (en or zh) if tr.english else (zh or en)
    if event.kind == "bid.decryption_failed":
        outcome = str(params.get("outcome") or "")
        params["outcome"] = tr.gettext(DECRYPTION_LABELS[outcome]) if outcome in DECRYPTION_LABELS else outcome
    if event.kind in ("decryption.opened", "decryption.extended"):
        params["closes_at"] = local_time(parse_time(params.get("closes_at")))
    return params


def log_text(event: HallEvent, tr: Translator) -> str:
    """The session log line of ``event`` in the page language."""
    template = tr.gettext(LOG_MESSAGES.get(event.kind, LOG_MESSAGES["*"]))
    return fill(template, log_params(event, tr)).strip()


def label(mapping: Mapping[str, str], code: str, tr: Translator) -> str:
    """A code's label in the page language (the code itself when unknown)."""
    return tr.gettext(mapping[code]) if code in mapping else code


def clock_time(value: datetime | None) -> str:
    """A time of day in China time, to the second (empty when unknown)."""
    return local_time(value, TIME_FORMAT) if value is not None and value.year > 1 else ""


def remaining(closes_at: datetime | None, now: datetime) -> tuple[int, int] | None:
    """Minutes and seconds left until ``closes_at`` (None when unknown or past)."""
    if closes_at is None:
        return None
    seconds = int((ensure_utc(closes_at) - ensure_utc(now)).total_seconds())
    if seconds <= 0:
        return None
    return seconds // 60, seconds % 60


def script_texts(tr: Translator) -> dict[str, Any]:
    """Everything the script shows, translated: log messages, labels and other texts (embedded as JSON)."""
    return {
        "lang": tr.lang,
        "log": {k: tr.gettext(v) for k, v in LOG_MESSAGES.items()},
        "stages": {k: tr.gettext(v) for k, v in STAGE_LABELS.items()},
        "decryption": {k: tr.gettext(v) for k, v in DECRYPTION_LABELS.items()},
        "deposit": {k: tr.gettext(v) for k, v in DEPOSIT_LABELS.items()},
        "text": {k: tr.gettext(v) for k, v in SCRIPT_TEXTS.items()},
    }


@dataclass(frozen=True)
class LogLine:
    """A line of the session log."""

    seq: int
    kind: str
    time: str
    text: str


def hall_context(state: HallState, tr: Translator, now: datetime) -> dict[str, Any]:
    """The template variables of the hall's live part."""
    left = remaining(state.closes_at, now)
    texts = {k: tr.gettext(v) for k, v in SCRIPT_TEXTS.items()}
    return {
        "state": state,
        "stage_label": label(STAGE_LABELS, state.stage, tr),
        "failure": (state.failure_en or state.failure_zh) if tr.english else (state.failure_zh or state.failure_en),
        "closes_at_iso": ensure_utc(state.closes_at).isoformat() if state.closes_at else "",
        "closes_at_text": local_time(state.closes_at),
        "left_text": fill(texts["left"], {"m": left[0], "s": f"{left[1]:02d}"}) if left else "",
        "window_over": state.closes_at is not None and (left is None or state.decryption_closed),
        "progress_text": fill(
            texts["progress"],
            {
                "done": state.decrypted + state.failed,
                "total": state.total,
                "decrypted": state.decrypted,
                "failed": state.failed,
            },
        ),
        "log": [LogLine(e.seq, e.kind, clock_time(e.at), log_text(e, tr)) for e in state.log],
        "decryption_labels": {k: tr.gettext(v) for k, v in DECRYPTION_LABELS.items()},
        "deposit_labels": {k: tr.gettext(v) for k, v in DEPOSIT_LABELS.items()},
        "texts": texts,
        "clock_time": clock_time,
        "fill": fill,
        "draw_json": lambda record: json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True, default=str),
    }
