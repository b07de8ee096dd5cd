"""Evaluation over HTTP (``/api/v1``): method, committee, access, sign-in, scoring, interventions, report, candidates.

Every route checks the caller's role in the project in the service (deny by default): committee members of this
project read bids and score; regulators and the centre see interventions; the tender side sees results and the
report once it is submitted; bidders see only the published candidates.

A multi-section project is evaluated section by section: the bids and documents take ``?section=<code>``, each
score and written reason names its ``section`` (both may be left out when the project has one section; otherwise
``evaluation.unknown_section``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from sunbid.core.errors import Conflict, ValidationFailed
from sunbid.evaluation import service, service_objective, service_report, service_scoring
from sunbid.evaluation.methods import load_method_json
from sunbid.identity.auth import CurrentActor
from sunbid.platform.deps import client_ip, request_context
from sunbid.platform.ratelimit import RateLimiter
from sunbid.platform.schemas import StrictModel
from sunbid.projects.api_views import Pid, Plat

router = APIRouter(prefix="/api/v1", tags=["evaluation 评标"])
ACCESS_PER_MINUTE = 10
Bidder = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9A-Z]+$")]
DocName = Annotated[str, Path(min_length=1, max_length=300)]
SectionQ = Annotated[str | None, Query(min_length=1, max_length=64, description="标段编号 section code")]


class CommitteeIn(StrictModel):
    draw_id: int = Field(ge=1, le=2**62)
    representatives: list[str] = Field(default_factory=list, max_length=10)


class AccessIn(StrictModel):
    username: str = Field(min_length=3, max_length=64)
    code: str = Field(min_length=4, max_length=32)
    password: str = Field(min_length=10, max_length=200)


class LeaderIn(StrictModel):
    seq: int = Field(ge=1, le=99)


class ScoreItemIn(StrictModel):
    section: str | None = Field(default=None, min_length=1, max_length=64)
    bidder: str = Field(min_length=1, max_length=32)
    item: str = Field(min_length=1, max_length=64)
    score: str = Field(min_length=1, max_length=16, pattern=r"^[0-9]+(\.[0-9]{1,2})?$")


class ScoresIn(StrictModel):
    scores: list[ScoreItemIn] = Field(min_length=1, max_length=2000)


class ReasonIn(StrictModel):
    section: str | None = Field(default=None, min_length=1, max_length=64)
    bidder: str = Field(min_length=1, max_length=32)
    item: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class SubmitIn(StrictModel):
    reasons: list[ReasonIn] = Field(default_factory=list, max_length=500)


class FactIn(StrictModel):
    """A fact correction: the verified value of one fact of one bid (empty = not provided) and why."""

    bidder: str = Field(min_length=1, max_length=32)
    field: str = Field(min_length=1, max_length=80)
    value: str = Field(default="", max_length=service_objective.MAX_FACT)
    reason: str = Field(min_length=1, max_length=service_objective.MAX_CORRECTION_REASON)
    section: str | None = Field(default=None, min_length=1, max_length=64)


class CertificateIn(StrictModel):
    public_key_hex: str = Field(min_length=2, max_length=4096, pattern=r"^(?:[0-9a-f]{2})+$")


class EmptyIn(StrictModel):
    """No fields (a body, if sent, must be ``{}``)."""


@router.put("/projects/{pid}/evaluation/method", summary="设置评标办法 Attach the evaluation method")
async def attach_method(request: Request, platform: Plat, actor: CurrentActor, pid: Pid) -> dict[str, Any]:
    """The method file (``sunbid.evaluation-method/1``) as the raw body, byte for byte (its hash is kept, and its
    numbers are read as exact decimals); before the bid deadline; published with the tender documents."""
    data = await request.body()
    if len(data) > service.MAX_METHOD_BYTES:
        raise ValidationFailed("evaluation.method_too_large", "评标办法文件过大。", "The method file is too large.")
    load_method_json(data)  # a bad file is refused (422, naming the field) before anything is looked up

    def work() -> dict[str, Any]:
        with platform.uow(request_context(request)) as uow:
            row = service.attach_method(uow, actor, pid, data)
            out = {"method": row.method_id, "sha256": row.sha256, "document_id": row.document_id}
            uow.commit()
        return out

    return await run_in_threadpool(work)


@router.post("/projects/{pid}/evaluation/committee", status_code=201, summary="组建评标委员会 Form the committee")
def form_committee(
    request: Request, platform: Plat, actor: CurrentActor, pid: Pid, body: CommitteeIn
) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        service.form_committee(uow, actor, pid, draw_id=body.draw_id, representatives=body.representatives)
        uow.commit()
    with platform.uow() as uow:
        return service.committee_view(uow, actor, pid)


@router.get("/projects/{pid}/evaluation/committee", summary="评标委员会 The committee")
def committee(platform: Plat, actor: CurrentActor, pid: Pid) -> dict[str, Any]:
    with platform.uow() as uow:
        return service.committee_view(uow, actor, pid)


def access_limiter(request: Request) -> RateLimiter:
    """Per-address brake on guessing access codes, shared by the API and the access page."""
    limiter: RateLimiter | None = getattr(request.app.state, "evaluation_access_limiter", None)
    if limiter is None:
        limiter = RateLimiter(ACCESS_PER_MINUTE, 60.0)
        request.app.state.evaluation_access_limiter = limiter
    return limiter


@router.post("/evaluation/access", summary="专家凭一次性访问码设置密码 Redeem a one-time access code")
def access(request: Request, platform: Plat, body: AccessIn) -> dict[str, Any]:
    access_limiter(request).hit(f"ip:{client_ip(request)}")
    with platform.uow(request_context(request)) as uow:
        user = service.redeem_access(uow, body.username, body.code, body.password)
        out = {"username": user.username}
        uow.commit()
    return out


@router.post("/projects/{pid}/evaluation/sign-in", summary="签到 Check in")
def sign_in(
    request: Request, platform: Plat, actor: CurrentActor, pid: Pid, body: Annotated[EmptyIn | None, Body()] = None
) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        member = service.sign_in(uow, actor, pid)
        out = {"seq": member.seq, "signed_in_at": member.signed_in_at.isoformat() if member.signed_in_at else None}
        uow.commit()
    return out


@router.post("/projects/{pid}/evaluation/leader", summary="登记评标组长 Record the group leader")
def leader(request: Request, platform: Plat, actor: CurrentActor, pid: Pid, body: LeaderIn) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        member = service.record_leader(uow, actor, pid, body.seq)
        out = {"leader": member.seq}
        uow.commit()
    return out


@router.get("/projects/{pid}/evaluation/bids", summary="评标：投标文件 The opened bids (committee)")
def bids(request: Request, platform: Plat, actor: CurrentActor, pid: Pid, section: SectionQ = None) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        out = service_scoring.bids_view(uow, actor, pid, section)
        uow.commit()
    return out


@router.get(
    "/projects/{pid}/evaluation/bids/{bidder}/documents/{name}", summary="下载投标文件 A bid document (committee)"
)
def document(
    request: Request,
    platform: Plat,
    actor: CurrentActor,
    pid: Pid,
    bidder: Bidder,
    name: DocName,
    section: SectionQ = None,
) -> Response:
    with platform.uow(request_context(request)) as uow:
        data = service_scoring.download(uow, actor, pid, bidder, name, section)
        uow.commit()
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.get("/projects/{pid}/evaluation/scores/mine", summary="我的评分 My scores")
def my_scores(platform: Plat, actor: CurrentActor, pid: Pid) -> dict[str, Any]:
    with platform.uow() as uow:
        return service_scoring.my_scores(uow, actor, pid)


@router.put("/projects/{pid}/evaluation/scores", summary="保存评分 Save draft scores")
def save_scores(request: Request, platform: Plat, actor: CurrentActor, pid: Pid, body: ScoresIn) -> dict[str, Any]:
    entries = [service_scoring.ScoreIn(s.bidder, s.item, s.score, s.section) for s in body.scores]
    with platform.uow(request_context(request)) as uow:
        n = service_scoring.save_scores(uow, actor, pid, entries)
        uow.commit()
    return {"saved": n}


@router.post("/projects/{pid}/evaluation/submit", summary="提交评分 Submit my scores")
def submit(request: Request, platform: Plat, actor: CurrentActor, pid: Pid, body: SubmitIn) -> dict[str, Any]:
    """409 ``evaluation.reason_required`` (with the interventions) when a score deviates without a reason."""
    reasons: dict[tuple[str, ...], str] = {
        (r.bidder, r.item) if r.section is None else (r.section, r.bidder, r.item): r.reason for r in body.reasons
    }
    with platform.uow(request_context(request)) as uow:
        out = service_scoring.submit(uow, actor, pid, reasons)
        uow.commit()  # a held submission's interventions stay on record
    if out["status"] == "held":
        raise Conflict(
            "evaluation.reason_required",
            "评分偏离平均值超过规定幅度，须书面说明理由（或修改评分）后才能提交。",
            "A score deviates from the mean beyond the threshold: give a written reason (or revise it) to submit.",
            details={"interventions": out["interventions"]},
        )
    return out


@router.get("/projects/{pid}/evaluation/objective", summary="客观评分项 Objective items computed from facts")
def objective(platform: Plat, actor: CurrentActor, pid: Pid, section: SectionQ = None) -> dict[str, Any]:
    """Per bid of the section and objective item: the declared and verified facts, points and basis; the
    section's corrections."""
    with platform.uow() as uow:
        return service_objective.objective_view(uow, actor, pid, section)


@router.post("/projects/{pid}/evaluation/facts", status_code=201, summary="更正客观评分数据 Correct a fact (leader)")
def correct_fact(request: Request, platform: Plat, actor: CurrentActor, pid: Pid, body: FactIn) -> dict[str, Any]:
    """The group leader records the value verified against the bid documents, with a written reason; the
    objective items reading it are recomputed. Points are never typed in."""
    with platform.uow(request_context(request)) as uow:
        row = service_objective.correct_fact(
            uow, actor, pid, body.bidder, body.field, body.value, body.reason, body.section
        )
        out = {"id": row.id, "declared": row.declared, "value": row.value, "ledger_index": row.ledger_index}
        section = row.section
        uow.commit()
    with platform.uow() as uow:
        return {"correction": out, **service_objective.objective_view(uow, actor, pid, section)}


@router.get("/projects/{pid}/evaluation/interventions", summary="评分偏离干预 Deviation interventions")
def interventions(platform: Plat, actor: CurrentActor, pid: Pid) -> dict[str, Any]:
    with platform.uow() as uow:
        return {"interventions": service_scoring.interventions_view(uow, actor, pid)}


@router.get("/projects/{pid}/evaluation/results", summary="评审结果 Totals and ranking")
def results(platform: Plat, actor: CurrentActor, pid: Pid) -> dict[str, Any]:
    with platform.uow() as uow:
        return service_scoring.results_view(uow, actor, pid)


@router.post("/projects/{pid}/evaluation/certificate", summary="登记签名证书 Certify my signing key")
def certificate(request: Request, platform: Plat, actor: CurrentActor, pid: Pid, body: CertificateIn) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        pem = service_report.register_certificate(uow, actor, pid, bytes.fromhex(body.public_key_hex))
        uow.commit()
    return {"certificate_pem": pem, "ca_certificate_pem": platform.ca().certificate_pem}


@router.post("/projects/{pid}/evaluation/report", summary="生成评标报告 Build the report")
def build_report(
    request: Request, platform: Plat, actor: CurrentActor, pid: Pid, body: Annotated[EmptyIn | None, Body()] = None
) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        out = service_report.build(uow, actor, pid)
        uow.commit()
    return out


@router.get("/projects/{pid}/evaluation/report.pdf", summary="评标报告 The report PDF")
def report_pdf(request: Request, platform: Plat, actor: CurrentActor, pid: Pid) -> Response:
    with platform.uow(request_context(request)) as uow:
        data = service_report.report_pdf(uow, actor, pid)
        uow.commit()
    return Response(data, media_type="application/pdf")


@router.put("/projects/{pid}/evaluation/report.pdf", summary="上传签署后的评标报告 Upload my signed report")
def upload_signed(
    request: Request,
    platform: Plat,
    actor: CurrentActor,
    pid: Pid,
    body: Annotated[bytes, Body(media_type="application/pdf")],
) -> dict[str, Any]:
    """The report with the caller's signature appended (``sunbid calc sign-report``); verified before accepted."""
    if not body.startswith(b"%PDF-"):
        raise ValidationFailed("evaluation.not_a_pdf", "上传的文件不是 PDF。", "The upload is not a PDF.")
    with platform.uow(request_context(request)) as uow:
        out = service_report.upload_signed(uow, actor, pid, body)
        uow.commit()
    return out


@router.post("/projects/{pid}/evaluation/publish", summary="公示中标候选人 Publish the candidates")
def publish(
    request: Request, platform: Plat, actor: CurrentActor, pid: Pid, body: Annotated[EmptyIn | None, Body()] = None
) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        out = service_report.publish(uow, actor, pid)
        uow.commit()
    return {"candidates": out}


@router.get("/projects/{pid}/evaluation/candidates", summary="中标候选人公示 The published candidates (public)")
def candidates(platform: Plat, pid: Pid) -> dict[str, Any]:
    with platform.uow() as uow:
        return service_report.candidates_view(uow, pid)
