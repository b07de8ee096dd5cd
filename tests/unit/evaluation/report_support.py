"""Helpers for the report tests: a whole engineering evaluation (5 bids, 1 rejected, 5 experts, 1 deviation)
and a committee whose members hold signing certificates of a test centre CA."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sunbid.crypto.certificates import CertificateAuthority, Subject, verify_certificate
from sunbid.crypto.suite import get_suite
from sunbid.evaluation.methods import load_packaged_method
from sunbid.evaluation.objective import objective_points, objective_scores
from sunbid.evaluation.pdfsign import Signer
from sunbid.evaluation.price import Bid, compute_prices
from sunbid.evaluation.report import CommitteeMember, DeviationNote, EvaluationReport, OpenedBid, build_report
from sunbid.evaluation.scoring import ExpertScore, detect_deviations, evaluate

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
"""The platform clock's time when the report is issued (10:00 Beijing time)."""
USCC = "91350100M000100Y43"

BIDDERS = {
    "b1": "福建建工集团有限责任公司",
    "b2": "中铁十七局集团第五工程有限公司",
    "b3": "厦门市政建设开发有限公司",
    "b4": "泉州恒达建筑工程有限公司",
    "b5": "漳州龙海路桥工程有限公司",
}
PRICES = {"b1": "9650000", "b2": "9800000", "b3": "9420000", "b4": "9900000", "b5": "10600000"}
MAX_PRICE = Decimal("10000000")
EXPERTS = ("e1", "e2", "e3", "e4", "e5")
NAMES = {"e1": "王建国", "e2": "李秀英", "e3": "张伟", "e4": "刘洋", "e5": "陈静"}
TITLE_TEXT = "评标报告"


@dataclass(frozen=True)
class Committee:
    """A test CA and each member's signer (``e1`` is the group leader)."""

    ca: CertificateAuthority
    signers: dict[str, Signer]
    fingerprints: dict[str, str]


def make_committee(suite: str = "intl", *, members: tuple[str, ...] = EXPERTS) -> Committee:
    s = get_suite(suite)
    ca = CertificateAuthority.create(s, "福建省公共资源交易中心 CA", now=NOW - timedelta(days=30), validity_days=3650)
    signers: dict[str, Signer] = {}
    fingerprints: dict[str, str] = {}
    for serial, member in enumerate(members, start=100):
        pair = s.generate_signing_keypair()
        subject = Subject(common_name=NAMES.get(member, member), organisation_name="福建省综合评标专家库", uscc=USCC)
        pem = ca.issue(subject, pair.public, "signing", serial, NOW - timedelta(days=10), 365)
        signers[member] = Signer(pair.private, pem)
        fingerprints[member] = verify_certificate(s, ca.certificate_pem, pem, now=NOW).fingerprint
    return Committee(ca, signers, fingerprints)


def expert_scores() -> list[ExpertScore]:
    """plan (max 15) and schedule (max 10) for each bidder; e5 scores b3's plan 6 against 13-14 (a deviation)."""
    plan = {
        "b1": ["12", "12.5", "13", "12", "12.5"],
        "b2": ["11", "11", "11.5", "12", "11"],
        "b3": ["13", "14", "13.5", "13", "6"],
        "b4": ["10", "10.5", "10", "11", "10"],
    }
    schedule = {
        "b1": ["8", "8", "8.5", "8", "8"],
        "b2": ["7", "7.5", "7", "7", "7"],
        "b3": ["9", "9", "8.5", "9", "9"],
        "b4": ["7", "7", "7", "7.5", "7"],
    }
    out = []
    for item, table in (("plan", plan), ("schedule", schedule)):
        for bidder, values in table.items():
            out += [ExpertScore(e, bidder, item, Decimal(v)) for e, v in zip(EXPERTS, values, strict=True)]
    return out


#: The facts eng-comprehensive's objective items read (ISO 9001 certificate, credit rating, similar projects).
FACTS: dict[str, dict[str, str | None]] = {
    "b1": {"extra.质量管理体系认证": "有", "extra.信用等级": "AAA", "extra.类似工程业绩": "2"},
    "b2": {"extra.质量管理体系认证": "有", "extra.信用等级": "AA", "extra.类似工程业绩": "3"},
    "b3": {"extra.质量管理体系认证": "有", "extra.信用等级": "AAA", "extra.类似工程业绩": "4"},
    "b4": {"extra.质量管理体系认证": "无", "extra.信用等级": "AA", "extra.类似工程业绩": "2"},
    "b5": {"extra.质量管理体系认证": None, "extra.信用等级": "A", "extra.类似工程业绩": None},
}
#: Their points (quality 有 → 5; credit AAA 6, AA 4; experience 2 per project, at most 4): b1 5 + 6 + 4 = 15,
#: b2 5 + 4 + 4 = 13, b3 5 + 6 + 4 = 15, b4 0 + 4 + 4 = 8.
OBJECTIVE = {
    "b1": {"quality": Decimal(5), "credit": Decimal(6), "experience": Decimal(4)},
    "b2": {"quality": Decimal(5), "credit": Decimal(4), "experience": Decimal(4)},
    "b3": {"quality": Decimal(5), "credit": Decimal(6), "experience": Decimal(4)},
    "b4": {"quality": Decimal(0), "credit": Decimal(4), "experience": Decimal(4)},
}


def sample_report(fingerprints: dict[str, str] | None = None, *, leader: str = "e1") -> EvaluationReport:
    """The whole evaluation of a works tender, with K = 0.97 drawn at the opening; b5 is above the maximum."""
    method = load_packaged_method("eng-comprehensive")
    prices = compute_prices(
        method, [Bid(b, Decimal(p)) for b, p in PRICES.items()], drawn=Decimal("0.97"), max_price=MAX_PRICE
    )
    scores = expert_scores()
    objective = objective_points(objective_scores(method, [ln.bidder for ln in prices.lines], FACTS))
    assert objective == OBJECTIVE  # the facts give the hand-computed points
    result = evaluate(method, prices, scores, objective, experts=EXPERTS)
    assert method.deviation is not None
    deviations = [
        DeviationNote(i, "该投标人施工方案中深基坑支护措施缺少专项论证，故评分较低。")
        for i in detect_deviations(method.deviation, method.items, scores)
    ]
    fps = fingerprints or {}
    committee = [
        CommitteeMember(
            e,
            NAMES[e],
            "representative" if e == "e5" else "expert",
            leader=e == leader,
            employer="招标人" if e == "e5" else "福建省综合评标专家库",
            certificate_fingerprint=fps.get(e, ""),
        )
        for e in EXPERTS
    ]
    return build_report(
        project_code="FJ-2026-0417",
        project_name="福州市滨海新城道路改造工程施工",
        section_code="01",
        section_name="第一标段",
        tenderer="福州市城市建设投资集团有限公司",
        method=method,
        prices=prices,
        evaluation=result,
        scores=scores,
        committee=committee,
        opening=[OpenedBid(b, Decimal(p), "工期 365 日历天") for b, p in PRICES.items()],
        issued_at=NOW,
        bidder_names=BIDDERS,
        deviations=deviations,
        opened_at=NOW - timedelta(hours=26),
        conclusion="评标委员会按招标文件规定的评标办法完成评审，推荐中标候选人如上。",
    )
