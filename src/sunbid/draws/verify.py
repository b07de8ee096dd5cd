"""Offline verification of a draw record, and building records by running a draw.

:func:`verify_record` recomputes every step of a :class:`~sunbid.draws.record.DrawRecord` — commitments against
the revealed secrets, the seed from its inputs, the candidates from their rule, the result from the seed — and
names each disagreement as a bilingual :class:`Problem`. :func:`make_record` runs a draw and refuses to return a
record that would not verify. Pure, like :mod:`sunbid.draws.domain`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sunbid.core.errors import DomainError, ValidationFailed
from sunbid.crypto.suite import CryptoSuite, resolve_suite
from sunbid.draws.domain import (
    HASH_OF_SUITE,
    MIN_SECRET_BYTES,
    Commitment,
    DecimalRange,
    SeedInput,
    commitment_hash,
    decimal_text,
    derive_seed,
    invalid,
    sample_indexes,
)
from sunbid.draws.record import (
    MAX_RECORD_BYTES,
    MAX_SLOTS,
    DrawRecord,
    PanelSelection,
    PanelSlot,
    aware_time,
    candidates_digest,
    canonical_candidates,
    parse_record,
    parse_time,
)
from sunbid.ledger.canonical import JsonValue

__all__ = [
    "PanelWalk",
    "Problem",
    "VerifyResult",
    "coefficient_record",
    "make_record",
    "panel_record",
    "verify_record",
    "verify_record_json",
    "walk_panel",
]


# --- verification ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a record: stable ``code`` (``draw.seed_mismatch``), both messages, and where."""

    code: str
    message_zh: str
    message_en: str
    where: str | None = None

    def as_dict(self) -> dict[str, JsonValue]:
        """JSON-ready form."""
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en, "where": self.where}


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What :func:`verify_record` found. ``ok`` only if there is no problem at all.

    ``recomputed_*`` are what the record's own inputs give (None where a problem made recomputing
    impossible), so a reader sees the honest result even when the claimed one is wrong.
    """

    ok: bool
    problems: tuple[Problem, ...]
    record: DrawRecord | None = None
    recomputed_seed: bytes | None = None
    recomputed_indexes: tuple[int, ...] | None = None
    recomputed_result: tuple[str, ...] | None = None
    recomputed_picks: tuple[tuple[int, int], ...] | None = None

    def codes(self) -> list[str]:
        """The problem codes, in the order found."""
        return [p.code for p in self.problems]

    def as_dict(self) -> dict[str, JsonValue]:
        """JSON-ready form (what ``sunbid draw verify --json`` prints)."""
        r = self.record
        out: dict[str, JsonValue] = {
            "ok": self.ok,
            "problems": [p.as_dict() for p in self.problems],
            "purpose": None if r is None else r.purpose,
            "subject": None if r is None else dict(r.subject),
            "suite": None if r is None else r.suite,
            "hash": None if r is None else r.hash_name,
            "k": None if r is None else r.k,
            "candidates": None if r is None else len(r.candidates),
            "claimed_result": None if r is None else list(r.result),
            "recomputed_seed": None if self.recomputed_seed is None else self.recomputed_seed.hex(),
            "recomputed_indexes": None if self.recomputed_indexes is None else list(self.recomputed_indexes),
            "recomputed_result": None if self.recomputed_result is None else list(self.recomputed_result),
        }
        if r is not None and r.selection is not None:
            out["selection"] = {
                "slots": [s.to_dict() for s in r.selection.slots],
                "claimed_picks": [
                    [r.candidates[c] if c < len(r.candidates) else None, s] for c, s in r.selection.picks
                ],
                "recomputed_picks": None
                if self.recomputed_picks is None
                else [[r.candidates[c], s] for c, s in self.recomputed_picks],
            }
        return out


def _check_commitments(rec: DrawRecord, suite: CryptoSuite, problems: list[Problem]) -> None:
    if not rec.commitments:
        problems.append(
            Problem(
                "draw.no_commitment",
                "记录中没有任何事先承诺：种子可能被一方单独控制",
                "the record has no prior commitment, so one party could have chosen the seed",
                "commitments",
            )
        )
    by_name = {i.name: i for i in rec.seed_inputs}
    closes = None if rec.closes_at is None else aware_time(rec.closes_at)
    seen: set[str] = set()
    for n, c in enumerate(rec.commitments):
        where = f"commitments[{n}]"
        if c.name in seen:
            problems.append(
                Problem("draw.duplicate_commitment", f"承诺 {c.name} 重复", f"commitment {c.name} appears twice", where)
            )
        seen.add(c.name)
        if c.purpose != rec.purpose or dict(c.subject) != dict(rec.subject):
            problems.append(
                Problem(
                    "draw.commitment_other_draw",
                    f"承诺 {c.name} 属于另一次抽取（用途或对象不同）",
                    f"commitment {c.name} was made for another draw (purpose or subject differs)",
                    where,
                )
            )
        revealed = by_name.get(c.name)
        if revealed is None:
            problems.append(
                Problem(
                    "draw.secret_not_revealed",
                    f"承诺 {c.name} 的秘密值未在种子输入中公开",
                    f"the secret of commitment {c.name} is not among the seed inputs",
                    where,
                )
            )
            continue
        if len(revealed.value) < MIN_SECRET_BYTES:
            problems.append(
                Problem(
                    "draw.weak_secret",
                    f"{c.name} 的秘密值不足 {MIN_SECRET_BYTES} 字节，承诺可被穷举",
                    f"the secret of {c.name} is shorter than {MIN_SECRET_BYTES} bytes: its commitment can be guessed",
                    where,
                )
            )
        else:
            try:
                expected = commitment_hash(rec.purpose, rec.subject, c.name, revealed.value, suite=suite)
            except DomainError as exc:
                problems.append(Problem(exc.code, exc.message_zh, exc.message_en, where))
                continue
            if expected != c.value_hash:
                problems.append(
                    Problem(
                        "draw.commitment_mismatch",
                        f"公开的秘密值 {c.name} 与事先承诺的哈希不符",
                        f"the revealed secret {c.name} does not match its commitment",
                        where,
                    )
                )
        committed = None if c.committed_at is None else aware_time(c.committed_at)
        if committed is not None and closes is not None and not committed < closes:
            problems.append(
                Problem(
                    "draw.commitment_too_late",
                    f"承诺 {c.name} 的时间 {c.committed_at} 不早于截止时间 {rec.closes_at}",
                    f"commitment {c.name} at {c.committed_at} is not before the close {rec.closes_at}",
                    where,
                )
            )


def _check_candidates(rec: DrawRecord, suite: CryptoSuite, problems: list[Problem]) -> bool:
    """Candidate checks; False if no result can be recomputed from them."""
    cands = list(rec.candidates)
    if len(set(cands)) != len(cands):
        problems.append(Problem("draw.duplicate_candidate", "候选项重复", "a candidate appears twice", "candidates"))
    if rec.candidate_rule is not None:
        try:
            expected = [decimal_text(v) for v in rec.candidate_rule.values()]
        except DomainError as exc:
            problems.append(Problem(exc.code, exc.message_zh, exc.message_en, "candidate_rule"))
        else:
            if cands != expected:
                problems.append(
                    Problem(
                        "draw.candidates_rule_mismatch",
                        "候选项与记录声明的取值范围（起点、终点、步长）展开结果不一致",
                        "the candidates are not the expansion of the declared range (from, to, step)",
                        "candidates",
                    )
                )
    elif cands != canonical_candidates(cands):
        problems.append(
            Problem(
                "draw.candidates_not_canonical",
                "候选项未按 UTF-8 字节序排列：顺序可被挑选",
                "the candidates are not in UTF-8 byte order, so their order could have been chosen",
                "candidates",
            )
        )
    if candidates_digest(cands, suite=suite) != rec.candidates_digest:
        problems.append(
            Problem(
                "draw.candidates_digest_mismatch",
                "候选项摘要与候选项不符",
                "candidates_digest does not match the candidates",
                "candidates_digest",
            )
        )
    if not cands or not 0 <= rec.k <= len(cands):
        problems.append(
            Problem(
                "draw.bad_k",
                f"抽取数 k={rec.k} 须在 0 与候选数 {len(cands)} 之间（候选项不能为空）",
                f"k={rec.k} must be between 0 and the number of candidates ({len(cands)}), which must not be 0",
                "k",
            )
        )
        return False
    return True


def verify_record(record: DrawRecord | Mapping[str, object]) -> VerifyResult:
    """Recompute the whole draw: commitments against reveals, seed from inputs, result from seed.

    Problems (each a stable code): ``draw.bad_record``, ``draw.unsupported_version``, ``draw.unknown_suite``,
    ``draw.suite_hash_mismatch``, ``draw.no_commitment``, ``draw.duplicate_commitment``,
    ``draw.commitment_other_draw``, ``draw.secret_not_revealed``, ``draw.weak_secret``,
    ``draw.commitment_mismatch``, ``draw.commitment_too_late``, ``draw.duplicate_input``,
    ``draw.seed_mismatch``, ``draw.duplicate_candidate``, ``draw.candidates_rule_mismatch``,
    ``draw.candidates_not_canonical``, ``draw.candidates_digest_mismatch``, ``draw.bad_k``,
    ``draw.result_mismatch``.
    """
    if isinstance(record, DrawRecord):
        rec = record
    else:
        try:
            rec = parse_record(record)
        except DomainError as exc:
            return VerifyResult(False, (Problem(exc.code, exc.message_zh, exc.message_en),))
    problems: list[Problem] = []
    expected_hash = HASH_OF_SUITE.get(rec.suite)
    if expected_hash is None:
        problems.append(
            Problem(
                "draw.unknown_suite",
                f"未知密码套件 {rec.suite}（可选 intl、gm）",
                f"unknown crypto suite {rec.suite} (intl or gm)",
                "suite",
            )
        )
        return VerifyResult(False, tuple(problems), rec)
    if rec.hash_name != expected_hash:
        problems.append(
            Problem(
                "draw.suite_hash_mismatch",
                f"套件 {rec.suite} 使用 {expected_hash}，记录却写 {rec.hash_name}",
                f"suite {rec.suite} draws with {expected_hash}, the record says {rec.hash_name}",
                "hash",
            )
        )
    suite = resolve_suite(rec.suite)
    _check_commitments(rec, suite, problems)

    seed: bytes | None = None
    try:
        seed = derive_seed(rec.purpose, rec.seed_inputs, suite=suite, subject=rec.subject)
    except DomainError as exc:
        problems.append(Problem(exc.code, exc.message_zh, exc.message_en, "seed_inputs"))
    if seed is not None and seed != rec.seed:
        problems.append(
            Problem(
                "draw.seed_mismatch",
                "由种子输入重算的种子与记录中的种子不符",
                "the seed recomputed from the seed inputs differs from the recorded seed",
                "seed",
            )
        )

    indexes: tuple[int, ...] | None = None
    result: tuple[str, ...] | None = None
    if _check_candidates(rec, suite, problems) and seed is not None:
        indexes = tuple(sample_indexes(seed, len(rec.candidates), rec.k, suite=suite))
        result = tuple(rec.candidates[i] for i in indexes)
        if indexes != rec.result_indexes or result != rec.result:
            problems.append(
                Problem(
                    "draw.result_mismatch",
                    f"记录的抽取结果 {list(rec.result)} 与重算结果 {list(result)} 不符",
                    f"the recorded result {list(rec.result)} differs from the recomputed {list(result)}",
                    "result",
                )
            )
    picks: tuple[tuple[int, int], ...] | None = None
    if rec.selection is not None and indexes is not None:
        picks = _check_selection(rec, rec.selection, indexes, problems)
    return VerifyResult(not problems, tuple(problems), rec, seed, indexes, result, picks)


# --- panel selection (expert draws) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PanelWalk:
    """What :func:`walk_panel` found: the picks, how many positions it read, and whether every slot is full."""

    picks: tuple[tuple[int, int], ...]
    consumed: int
    complete: bool


def walk_panel(
    order: Iterable[int], slots: Sequence[PanelSlot], slot_masks: Sequence[int], groups: Sequence[int]
) -> PanelWalk:
    """Fill ``slots`` from candidates taken in ``order`` (the draw's Fisher–Yates order).

    A candidate whose group is already picked is skipped (回避: same employer as a drawn expert). Otherwise it
    goes to the first slot it qualifies for whose panel (``count``) is not yet full; failing that, to the first
    such slot whose reserves are not yet full; failing that it is skipped. The walk stops at the position that
    fills the last place, so ``consumed`` is the smallest ``k`` that gives the same picks.
    """
    fill = [0] * len(slots)
    remaining = sum(s.size for s in slots)
    used: set[int] = set()
    picks: list[tuple[int, int]] = []
    if remaining == 0:
        return PanelWalk((), 0, True)
    consumed = 0
    for pos, c in enumerate(order):
        consumed = pos + 1
        group = groups[c]
        if group in used:
            continue
        mask = slot_masks[c]
        chosen = -1
        for s, slot in enumerate(slots):
            if mask >> s & 1 and fill[s] < slot.count:
                chosen = s
                break
        if chosen < 0:
            for s, slot in enumerate(slots):
                if mask >> s & 1 and fill[s] < slot.size:
                    chosen = s
                    break
        if chosen < 0:
            continue
        fill[chosen] += 1
        used.add(group)
        picks.append((c, chosen))
        remaining -= 1
        if remaining == 0:
            return PanelWalk(tuple(picks), consumed, True)
    return PanelWalk(tuple(picks), consumed, False)


def _check_selection(
    rec: DrawRecord, sel: PanelSelection, indexes: tuple[int, ...], problems: list[Problem]
) -> tuple[tuple[int, int], ...] | None:
    n = len(rec.candidates)
    if len(sel.slot_masks) != n or len(sel.groups) != n or not 1 <= len(sel.slots) <= MAX_SLOTS:
        problems.append(
            Problem(
                "draw.selection_bad",
                "席位规则的 slot_masks、groups 须与候选项一一对应",
                "the selection's slot_masks and groups must have one entry per candidate",
                "selection",
            )
        )
        return None
    walk = walk_panel(indexes, sel.slots, sel.slot_masks, sel.groups)
    if walk.picks != sel.picks:
        problems.append(
            Problem(
                "draw.selection_mismatch",
                "记录的入选名单（picks）与按抽取顺序重算的结果不符",
                "the recorded picks differ from those recomputed along the draw order",
                "selection.picks",
            )
        )
    if (walk.complete and walk.consumed != rec.k) or (not walk.complete and rec.k != n):
        problems.append(
            Problem(
                "draw.selection_bad_k",
                f"k={rec.k} 不是补足全部席位所需的抽取数",
                f"k={rec.k} is not the number of positions needed to fill every slot",
                "k",
            )
        )
    return walk.picks


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_float(text: str) -> object:
    raise ValueError(f"number {text} is not an integer")


def verify_record_json(raw: bytes) -> VerifyResult:
    """:func:`verify_record` on JSON bytes; invalid JSON, duplicate keys or non-integer numbers are problems."""
    if len(raw) > MAX_RECORD_BYTES:
        return VerifyResult(
            False, (Problem("draw.bad_json", "抽取记录文件过大", f"record larger than {MAX_RECORD_BYTES} bytes"),)
        )
    try:
        data = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicate_keys,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return VerifyResult(
            False,
            (Problem("draw.bad_json", f"抽取记录不是有效的 JSON：{exc}", f"the record is not valid JSON: {exc}"),),
        )
    if not isinstance(data, Mapping):
        return VerifyResult(
            False, (Problem("draw.bad_record", "抽取记录须为 JSON 对象", "the record must be an object"),)
        )
    return verify_record(data)


# --- building -------------------------------------------------------------------------------------------


def _checked(rec: DrawRecord) -> DrawRecord:
    """``rec`` itself once :func:`verify_record` passes it; else the first problem, raised."""
    check = verify_record(rec)
    if not check.ok:
        p = check.problems[0]
        raise ValidationFailed(p.code, p.message_zh, p.message_en, details={"where": p.where})
    return rec


def make_record(
    purpose: str,
    subject: Mapping[str, str] | None,
    *,
    suite: CryptoSuite | str,
    commitments: Sequence[Commitment],
    seed_inputs: Sequence[SeedInput],
    candidates: Sequence[str],
    k: int,
    candidate_rule: DecimalRange | None = None,
    closes_at: str | None = None,
) -> DrawRecord:
    """Run a draw and return its record; raises the first problem :func:`verify_record` would report.

    Candidates must already be canonical (the rule's expansion, or :func:`canonical_candidates`).
    """
    s = resolve_suite(suite)
    subj = dict(subject or {})
    for n, c in enumerate(commitments):
        parse_time(c.committed_at, f"commitments[{n}].committed_at")
    seed = derive_seed(purpose, seed_inputs, suite=s, subject=subj)
    cands = tuple(candidates)
    n = len(cands)
    if n == 0 or isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n:
        raise invalid("draw.bad_k", f"抽取数 {k} 须在 0 与候选数 {n} 之间", f"k={k} must be 0..{n} (n ≥ 1)")
    indexes = tuple(sample_indexes(seed, n, k, suite=s))
    rec = DrawRecord(
        purpose=purpose,
        subject=subj,
        suite=s.name,
        hash_name=s.hash_name,
        commitments=tuple(commitments),
        seed_inputs=tuple(sorted(seed_inputs, key=lambda i: i.name.encode("ascii"))),
        seed=seed,
        candidate_rule=candidate_rule,
        candidates=cands,
        candidates_digest=candidates_digest(cands, suite=s),
        k=k,
        result_indexes=indexes,
        result=tuple(cands[i] for i in indexes),
        closes_at=parse_time(closes_at, "closes_at"),
    )
    return _checked(rec)


def coefficient_record(
    subject: Mapping[str, str] | None,
    *,
    suite: CryptoSuite | str,
    rule: DecimalRange,
    commitments: Sequence[Commitment],
    seed_inputs: Sequence[SeedInput],
    closes_at: str | None = None,
) -> DrawRecord:
    """The coefficient draw 系数抽取: one value of ``rule`` (e.g. K in 0.95–0.98 step 0.005), ``purpose="coefficient"``.

    The drawn coefficient is ``Decimal(record.result[0])``.
    """
    return make_record(
        "coefficient",
        subject,
        suite=suite,
        commitments=commitments,
        seed_inputs=seed_inputs,
        candidates=[decimal_text(v) for v in rule.values()],
        k=1,
        candidate_rule=rule,
        closes_at=closes_at,
    )


def panel_record(
    purpose: str,
    subject: Mapping[str, str] | None,
    *,
    suite: CryptoSuite | str,
    commitments: Sequence[Commitment],
    seed_inputs: Sequence[SeedInput],
    candidates: Sequence[str],
    slots: Sequence[PanelSlot],
    slot_masks: Sequence[int],
    groups: Sequence[int],
    closes_at: str | None = None,
) -> DrawRecord:
    """Run a panel draw (expert draw 专家抽取) and return its verified record.

    The candidates are walked in the draw's order (:func:`walk_panel`) until every slot has its members and
    reserves, or the candidates run out (then ``k = n`` and the record shows which places stayed empty).
    """
    s = resolve_suite(suite)
    n = len(candidates)
    if not slots or len(slots) > MAX_SLOTS:
        raise invalid("draw.selection_bad", f"席位数须为 1–{MAX_SLOTS}", f"1 to {MAX_SLOTS} slots are needed")
    if len(slot_masks) != n or len(groups) != n:
        raise invalid(
            "draw.selection_bad",
            "席位规则的 slot_masks、groups 须与候选项一一对应",
            "the selection's slot_masks and groups must have one entry per candidate",
        )
    if n == 0:
        raise invalid("draw.bad_k", "没有候选项", "there are no candidates")
    seed = derive_seed(purpose, seed_inputs, suite=s, subject=dict(subject or {}))
    need = sum(x.size for x in slots)
    k = min(n, max(64, 4 * need))
    while True:
        walk = walk_panel(sample_indexes(seed, n, k, suite=s), slots, slot_masks, groups)
        if walk.complete or k == n:
            break
        k = min(n, 2 * k)
    for n_, c in enumerate(commitments):
        parse_time(c.committed_at, f"commitments[{n_}].committed_at")
    cands = tuple(candidates)
    k = walk.consumed if walk.complete else n
    indexes = tuple(sample_indexes(seed, n, k, suite=s))
    rec = DrawRecord(
        purpose=purpose,
        subject=dict(subject or {}),
        suite=s.name,
        hash_name=s.hash_name,
        commitments=tuple(commitments),
        seed_inputs=tuple(sorted(seed_inputs, key=lambda i: i.name.encode("ascii"))),
        seed=seed,
        candidate_rule=None,
        candidates=cands,
        candidates_digest=candidates_digest(cands, suite=s),
        k=k,
        result_indexes=indexes,
        result=tuple(cands[i] for i in indexes),
        closes_at=parse_time(closes_at, "closes_at"),
        selection=PanelSelection(tuple(slots), tuple(slot_masks), tuple(groups), walk.picks),
    )
    return _checked(rec)
