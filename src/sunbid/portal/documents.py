"""Documents of projects on pages: which are public, how they are listed, and how their files are served.

A file is served only if it still matches the SHA-256 recorded in the transparency log. PDFs may open in the
browser (``Content-Disposition: inline``); anything else is a download, so no uploaded page ever runs on the
platform's origin.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from sunbid.core.errors import IntegrityFailure
from sunbid.platform.container import Platform
from sunbid.portal.views import Lang, minutes, proof_url
from sunbid.projects.engine import Facts
from sunbid.projects.models import Project, ProjectDocument
from sunbid.projects.timing import project_facts

#: Kinds of document that can be public; evaluation reports, award notices and objection replies never are.
PUBLIC_KINDS: Final = frozenset({"announcement", "tender_documents", "amendment", "contract", "other"})
#: Kinds that become public when the documents are issued (not when they are uploaded).
ISSUED_KINDS: Final = frozenset({"tender_documents", "amendment"})
PDF: Final = "application/pdf"


@dataclass(frozen=True)
class DocumentView:
    """A document of a project with its fingerprint, its log entry and its links."""

    id: int
    title: str
    kind: str
    filename: str
    size: str
    sha256: str
    uploaded_at: str
    public: bool
    ledger_index: int | None
    proof_url: str
    download_url: str
    preview_url: str


def is_public_document(doc: ProjectDocument, facts: Facts) -> bool:
    """Whether anyone may read ``doc``: a public kind marked public, once the step that publishes it is done."""
    if not doc.public or doc.kind not in PUBLIC_KINDS or facts.announcement_at is None:
        return False
    if doc.kind in ISSUED_KINDS:
        return facts.documents_issued_at is not None
    if doc.kind == "contract":
        return facts.contract_published_at is not None
    return True


def previewable(doc: ProjectDocument) -> bool:
    """Whether the document may open in the browser: PDFs only."""
    return doc.content_type == PDF


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def project_documents(session: Session, project: Project, now: datetime, *, public: bool) -> list[ProjectDocument]:
    """The documents of the project, oldest first (only the public ones when ``public``)."""
    docs = list(
        session.scalars(
            select(ProjectDocument)
            .where(ProjectDocument.project_id == project.id)
            .order_by(ProjectDocument.uploaded_at, ProjectDocument.id)
        )
    )
    if not public:
        return docs
    facts = project_facts(project, now)
    return [d for d in docs if is_public_document(d, facts)]


def document_views(docs: Sequence[ProjectDocument], lang: Lang, base_url: str) -> list[DocumentView]:
    """Views of documents whose files are served under ``base_url`` (``<base_url>/<id>`` and ``…/preview``)."""
    return [
        DocumentView(
            id=d.id,
            title=d.title,
            kind=lang.kind(d.kind),
            filename=d.filename,
            size=_size(d.size),
            sha256=d.sha256,
            uploaded_at=minutes(d.uploaded_at),
            public=d.public,
            ledger_index=d.ledger_index,
            proof_url=proof_url(d.ledger_index),
            download_url=f"{base_url}/{d.id}",
            preview_url=f"{base_url}/{d.id}/preview" if previewable(d) else "",
        )
        for d in docs
    ]


def _ascii_name(filename: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("._")
    return name or "document"


def document_response(platform: Platform, doc: ProjectDocument, *, inline: bool) -> Response:
    """The file, checked against its logged SHA-256; a PDF inline when asked, anything else as a download."""
    data = platform.storage.get(doc.storage_key)
    digest = hashlib.sha256(data).digest()
    if digest.hex() != doc.sha256:
        raise IntegrityFailure(
            "document.hash_mismatch",
            "文件内容与登记的 SHA-256 不符，已拒绝提供。",
            "The stored file does not match its recorded SHA-256; it is not served.",
        )
    pdf = previewable(doc) and data.startswith(b"%PDF-")
    disposition = "inline" if inline and pdf else "attachment"
    return Response(
        data,
        media_type=PDF if pdf else "application/octet-stream",
        headers={
            "Content-Disposition": (
                f"{disposition}; filename=\"{_ascii_name(doc.filename)}\"; filename*=UTF-8''{quote(doc.filename)}"
            ),
            "Repr-Digest": f"sha-256=:{base64.b64encode(digest).decode()}:",
            "Cache-Control": "private, no-store",
        },
    )
