"""The draw record 抽取记录: a self-contained, canonical-JSON account of one draw, and its strict parser.

A record (format ``sunbid-draw``, version 1, fields in ``docs/draws.md``) carries everything needed to recompute
the draw: the commitments, the revealed secrets and the other seed inputs, the claimed seed, the candidates
(and, for a coefficient draw, the declared range they come from), ``k`` and the result.
:mod:`sunbid.draws.verify` recomputes every step. Pure, like :mod:`sunbid.draws.domain`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sunbid.core.errors import DomainError, ValidationFailed
from sunbid.crypto.suite import CryptoSuite, resolve_suite
from sunbid.draws.domain import MAX_CANDIDATES, Commitment, DecimalRange, SeedInput
from sunbid.ledger.canonical import JsonValue, canonical_json

__all__ = [
    "CANDIDATES_LABEL",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_RECORD_BYTES",
    "MAX_SLOTS",
    "DrawRecord",
    "PanelSelection",
    "PanelSlot",
    "aware_time",
    "candidates_digest",
    "canonical_candidates",
    "parse_record",
    "parse_time",
]

FORMAT = "sunbid-draw"
FORMAT_VERSION = 1
CANDIDATES_LABEL = b"sunbid/draw/v1/candidates"
MAX_RECORD_BYTES = 64 << 20
"""Largest record file a verifier reads."""

_HEX_RE = re.compile(r"(?:[0-9a-f]{2})+")
_FIELDS = frozenset(
    {
        "format",
        "version",
        "purpose",
        "subject",
        "suite",
        "hash",
        "commitments",
        "seed_inputs",
        "seed",
        "candidate_rule",
        "candidates",
        "candidates_digest",
        "k",
        "result_indexes",
        "result",
        "closes_at",
        "selection",
    }
)
_COMMITMENT_FIELDS = frozenset({"purpose", "subject", "name", "value_hash", "committed_at", "log_index"})


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def candidates_digest(candidates: Sequence[str], *, suite: CryptoSuite | str) -> bytes:
    """``H(lp(CANDIDATES_LABEL) ‖ u32be(n) ‖ lp(utf8(c_0)) ‖ … ‖ lp(utf8(c_{n−1})))``, in record order.

    Services publish it (transparency log) when the candidate list is fixed, before the seed can be known.
    """
    body = [_lp(CANDIDATES_LABEL), len(candidates).to_bytes(4, "big")]
    body.extend(_lp(c.encode("utf-8")) for c in candidates)
    return resolve_suite(suite).digest(b"".join(body))


def canonical_candidates(ids: Sequence[str]) -> list[str]:
    """Candidate ids in the canonical order a record requires without a rule: UTF-8 byte order."""
    return sorted(ids, key=lambda c: c.encode("utf-8"))


MAX_SLOTS = 30
"""Most slots (specialties) one panel selection fills; a candidate's slots are a bit mask of this width."""
_SLOT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_SELECTION_FIELDS = frozenset({"kind", "slots", "slot_masks", "groups", "picks"})
_SLOT_FIELDS = frozenset({"name", "count", "reserves"})


@dataclass(frozen=True, slots=True)
class PanelSlot:
    """One specialty of a panel draw: ``count`` members plus ``reserves`` 候补, filled in draw order."""

    name: str
    count: int
    reserves: int = 0

    @property
    def size(self) -> int:
        """Members and reserves together."""
        return self.count + self.reserves

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-ready form."""
        return {"name": self.name, "count": self.count, "reserves": self.reserves}


@dataclass(frozen=True, slots=True)
class PanelSelection:
    """The panel rule of an expert draw (record field ``selection``, kind ``panel``; see docs/experts.md).

    ``slot_masks[i]`` says which slots candidate ``i`` may fill (bit ``s`` for ``slots[s]``); two candidates
    with the same ``groups`` value (the same current employer) are never both picked. The draw walks the
    candidates in the record's ``result_indexes`` order and ``picks`` lists ``(candidate index, slot)`` in
    walk order; in each slot the first ``count`` picks are the panel and the rest its reserves, in order.
    """

    slots: tuple[PanelSlot, ...]
    slot_masks: tuple[int, ...]
    groups: tuple[int, ...]
    picks: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-ready form."""
        return {
            "kind": "panel",
            "slots": [s.to_dict() for s in self.slots],
            "slot_masks": list(self.slot_masks),
            "groups": list(self.groups),
            "picks": [[c, s] for c, s in self.picks],
        }


@dataclass(frozen=True, slots=True)
class DrawRecord:
    """One draw, as published. ``to_json()`` is its canonical byte form (RFC 8785 style)."""

    purpose: str
    subject: Mapping[str, str] = field(hash=False)
    suite: str
    hash_name: str
    commitments: tuple[Commitment, ...]
    seed_inputs: tuple[SeedInput, ...]
    seed: bytes
    candidate_rule: DecimalRange | None
    candidates: tuple[str, ...]
    candidates_digest: bytes
    k: int
    result_indexes: tuple[int, ...]
    result: tuple[str, ...]
    closes_at: str | None = None
    version: int = FORMAT_VERSION
    selection: PanelSelection | None = None

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-ready form (bytes as lower-case hex); ``selection`` appears only when the draw has one."""
        out: dict[str, JsonValue] = {
            "format": FORMAT,
            "version": self.version,
            "purpose": self.purpose,
            "subject": dict(self.subject),
            "suite": self.suite,
            "hash": self.hash_name,
            "commitments": [c.to_dict() for c in self.commitments],
            "seed_inputs": [{"name": i.name, "value": i.value.hex()} for i in self.seed_inputs],
            "seed": self.seed.hex(),
            "candidate_rule": None if self.candidate_rule is None else self.candidate_rule.to_dict(),
            "candidates": list(self.candidates),
            "candidates_digest": self.candidates_digest.hex(),
            "k": self.k,
            "result_indexes": list(self.result_indexes),
            "result": list(self.result),
            "closes_at": self.closes_at,
        }
        if self.selection is not None:
            out["selection"] = self.selection.to_dict()
        return out

    def to_json(self) -> bytes:
        """The canonical JSON bytes of :meth:`to_dict`."""
        return canonical_json(self.to_dict())


# --- parsing --------------------------------------------------------------------------------------------


def _bad(where: str, zh: str, en: str) -> ValidationFailed:
    return ValidationFailed("draw.bad_record", f"抽取记录字段 {where} 不正确：{zh}", f"record field {where}: {en}")


def _get(obj: Mapping[str, object], key: str, where: str) -> object:
    if key not in obj:
        raise _bad(f"{where}{key}", "缺失", "missing")
    return obj[key]


def _str(value: object, where: str, max_len: int = 256) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise _bad(where, f"须为 1–{max_len} 个字符的字符串", f"must be a string of 1-{max_len} characters")
    return value


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(where, f"须为 {low}–{high} 的整数", f"must be an integer in {low}..{high}")
    return value


def _hex(value: object, where: str, length: int | None = None) -> bytes:
    if not isinstance(value, str) or not _HEX_RE.fullmatch(value):
        raise _bad(where, "须为小写十六进制", "must be lower-case hex")
    raw = bytes.fromhex(value)
    if length is not None and len(raw) != length:
        raise _bad(where, f"须为 {length} 字节", f"must be {length} bytes")
    return raw


def _list(value: object, where: str, max_len: int) -> list[object]:
    if not isinstance(value, list) or len(value) > max_len:
        raise _bad(where, f"须为至多 {max_len} 项的数组", f"must be an array of at most {max_len} items")
    return value


def _object(value: object, where: str, allowed: frozenset[str] | None = None) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise _bad(where, "须为对象", "must be an object")
    if allowed is not None:
        extra = sorted(str(k) for k in value if k not in allowed)
        if extra:
            raise _bad(where, f"含未知字段 {', '.join(extra)}", f"has unknown fields {', '.join(extra)}")
    return value


def parse_time(value: object, where: str) -> str | None:
    """An ISO 8601 time with a UTC offset, kept as written; ``draw.bad_record`` otherwise."""
    if value is None:
        return None
    text = _str(value, where, 64)
    if aware_time(text) is None:
        raise _bad(where, "须为带时区的 ISO 8601 时间", "must be an ISO 8601 time with a UTC offset")
    return text


def aware_time(text: str) -> datetime | None:
    """The time ``text`` names, or None if it is not ISO 8601 with an offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


def _subject(value: object, where: str) -> dict[str, str]:
    obj = _object(value, where)
    out: dict[str, str] = {}
    for k, v in obj.items():
        out[_str(k, f"{where}.<key>", 32)] = _str(v, f"{where}.{k}", 200)
    return out


def _commitment(value: object, where: str) -> Commitment:
    obj = _object(value, where, _COMMITMENT_FIELDS)
    log_index = obj.get("log_index")
    return Commitment(
        purpose=_str(_get(obj, "purpose", where + "."), where + ".purpose", 32),
        subject=_subject(_get(obj, "subject", where + "."), where + ".subject"),
        name=_str(_get(obj, "name", where + "."), where + ".name", 128),
        value_hash=_hex(_get(obj, "value_hash", where + "."), where + ".value_hash", 32),
        committed_at=parse_time(obj.get("committed_at"), where + ".committed_at"),
        log_index=None if log_index is None else _int(log_index, where + ".log_index", 0, 2**53 - 1),
    )


def _seed_input(value: object, where: str) -> SeedInput:
    obj = _object(value, where, frozenset({"name", "value"}))
    name = _str(_get(obj, "name", where + "."), where + ".name", 128)
    raw = _hex(_get(obj, "value", where + "."), where + ".value")
    try:
        return SeedInput(name, raw)
    except DomainError as exc:
        raise _bad(where, exc.message_zh, exc.message_en) from exc


def _rule(value: object) -> DecimalRange | None:
    if value is None:
        return None
    obj = _object(value, "candidate_rule", frozenset({"kind", "from", "to", "step"}))
    if _get(obj, "kind", "candidate_rule.") != "decimal_range":
        raise _bad("candidate_rule.kind", "仅支持 decimal_range", "only decimal_range is known")
    return DecimalRange(
        _str(_get(obj, "from", "candidate_rule."), "candidate_rule.from", 40),
        _str(_get(obj, "to", "candidate_rule."), "candidate_rule.to", 40),
        _str(_get(obj, "step", "candidate_rule."), "candidate_rule.step", 40),
    )


def _selection(value: object) -> PanelSelection | None:
    if value is None:
        return None
    where = "selection"
    obj = _object(value, where, _SELECTION_FIELDS)
    if _get(obj, "kind", where + ".") != "panel":
        raise _bad(where + ".kind", "仅支持 panel", "only panel is known")
    slots: list[PanelSlot] = []
    for i, raw in enumerate(_list(_get(obj, "slots", where + "."), where + ".slots", MAX_SLOTS)):
        at = f"{where}.slots[{i}]"
        item = _object(raw, at, _SLOT_FIELDS)
        name = _str(_get(item, "name", at + "."), at + ".name", 64)
        if not _SLOT_NAME_RE.fullmatch(name):
            raise _bad(at + ".name", "格式不正确", "is malformed")
        slots.append(
            PanelSlot(
                name,
                _int(_get(item, "count", at + "."), at + ".count", 1, MAX_CANDIDATES),
                _int(_get(item, "reserves", at + "."), at + ".reserves", 0, MAX_CANDIDATES),
            )
        )
    if not slots:
        raise _bad(where + ".slots", "不能为空", "must not be empty")
    full = (1 << len(slots)) - 1
    masks = _list(_get(obj, "slot_masks", where + "."), where + ".slot_masks", MAX_CANDIDATES)
    groups = _list(_get(obj, "groups", where + "."), where + ".groups", MAX_CANDIDATES)
    picks = _list(_get(obj, "picks", where + "."), where + ".picks", MAX_CANDIDATES)
    parsed_picks: list[tuple[int, int]] = []
    for i, p in enumerate(picks):
        pair = _list(p, f"{where}.picks[{i}]", 2)
        if len(pair) != 2:
            raise _bad(f"{where}.picks[{i}]", "须为 [候选序号, 席位序号]", "must be [candidate index, slot index]")
        parsed_picks.append(
            (
                _int(pair[0], f"{where}.picks[{i}][0]", 0, MAX_CANDIDATES),
                _int(pair[1], f"{where}.picks[{i}][1]", 0, len(slots) - 1),
            )
        )
    return PanelSelection(
        slots=tuple(slots),
        slot_masks=tuple(_int(m, f"{where}.slot_masks[{i}]", 1, full) for i, m in enumerate(masks)),
        groups=tuple(_int(g, f"{where}.groups[{i}]", 0, MAX_CANDIDATES) for i, g in enumerate(groups)),
        picks=tuple(parsed_picks),
    )


def parse_record(data: object) -> DrawRecord:
    """A :class:`DrawRecord` from its JSON form; ``draw.bad_record`` names the first malformed field.

    Unknown fields, floats, upper-case hex and times without an offset are all refused: a record has one
    spelling. Consistency (hashes, seed, result) is not checked here but by :func:`verify_record`.
    """
    obj = _object(data, "(record)", _FIELDS)
    if _get(obj, "format", "") != FORMAT:
        raise _bad("format", f"须为 {FORMAT}", f"must be {FORMAT}")
    version = _get(obj, "version", "")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ValidationFailed(
            "draw.unsupported_version",
            f"不支持的抽取记录版本 {version!r}（支持 {FORMAT_VERSION}）",
            f"unsupported draw record version {version!r} (this verifier knows {FORMAT_VERSION})",
        )
    commitments = _list(_get(obj, "commitments", ""), "commitments", 64)
    inputs = _list(_get(obj, "seed_inputs", ""), "seed_inputs", 64)
    candidates = _list(_get(obj, "candidates", ""), "candidates", MAX_CANDIDATES)
    indexes = _list(_get(obj, "result_indexes", ""), "result_indexes", MAX_CANDIDATES)
    result = _list(_get(obj, "result", ""), "result", MAX_CANDIDATES)
    return DrawRecord(
        purpose=_str(_get(obj, "purpose", ""), "purpose", 32),
        subject=_subject(_get(obj, "subject", ""), "subject"),
        suite=_str(_get(obj, "suite", ""), "suite", 16),
        hash_name=_str(_get(obj, "hash", ""), "hash", 16),
        commitments=tuple(_commitment(c, f"commitments[{i}]") for i, c in enumerate(commitments)),
        seed_inputs=tuple(_seed_input(s, f"seed_inputs[{i}]") for i, s in enumerate(inputs)),
        seed=_hex(_get(obj, "seed", ""), "seed", 32),
        candidate_rule=_rule(obj.get("candidate_rule")),
        candidates=tuple(_str(c, f"candidates[{i}]") for i, c in enumerate(candidates)),
        candidates_digest=_hex(_get(obj, "candidates_digest", ""), "candidates_digest", 32),
        k=_int(_get(obj, "k", ""), "k", 0, MAX_CANDIDATES),
        result_indexes=tuple(_int(x, f"result_indexes[{i}]", 0, MAX_CANDIDATES) for i, x in enumerate(indexes)),
        result=tuple(_str(r, f"result[{i}]") for i, r in enumerate(result)),
        closes_at=parse_time(obj.get("closes_at"), "closes_at"),
        selection=_selection(obj.get("selection")),
    )
