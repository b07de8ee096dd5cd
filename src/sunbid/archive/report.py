"""What ``verify_archive`` found: bilingual problems, each with a stable code and where it was found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_PROBLEMS", "ArchiveReport", "Problem"]

MAX_PROBLEMS = 1000
"""A report keeps at most this many problems (a hostile archive could otherwise make millions)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an archive.

    ``code`` is stable (``archive.hash_mismatch``); ``path_or_index`` names the zip member (a path), the log
    entry (its ledger index) or the manifest field (``"manifest.json#files[2].sha256"``) concerned, or is
    None for the archive as a whole.
    """

    code: str
    message_zh: str
    message_en: str
    path_or_index: str | int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "path_or_index": self.path_or_index,
        }


@dataclass(slots=True)
class ArchiveReport:
    """The result of verifying one archive.

    ``ok`` is True only if no problem was found. ``trusted`` is True only if, in addition, the signed tree
    head verified under a key the *verifier* supplied (``trusted_key`` or ``trusted_fingerprint``); without
    one, an archive proves only that it is internally consistent (it carries its own key).
    """

    ok: bool = True
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    entries_checked: int = 0
    trusted: bool = False
    archive_sha256: str | None = None
    format_version: int | None = None
    subject: dict[str, str] | None = None
    created_at: str | None = None
    log_id: str | None = None
    key_fingerprint: str | None = None
    tree_size: int | None = None
    root_hash: str | None = None
    problems_dropped: int = 0

    def add(self, code: str, message_zh: str, message_en: str, path_or_index: str | int | None = None) -> None:
        """Record a problem (the report is no longer ok)."""
        self.ok = False
        self.trusted = False
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(code, message_zh, message_en, path_or_index))
        else:
            self.problems_dropped += 1

    def codes(self) -> list[str]:
        """The problem codes, in the order found."""
        return [p.code for p in self.problems]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``sunbid archive verify --json`` prints)."""
        return {
            "ok": self.ok,
            "trusted": self.trusted,
            "files_checked": self.files_checked,
            "entries_checked": self.entries_checked,
            "archive_sha256": self.archive_sha256,
            "format_version": self.format_version,
            "subject": self.subject,
            "created_at": self.created_at,
            "log_id": self.log_id,
            "key_fingerprint": self.key_fingerprint,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "problems": [p.as_dict() for p in self.problems],
            "problems_dropped": self.problems_dropped,
        }
