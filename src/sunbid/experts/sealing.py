"""Sealing the drawn panel 密封专家名单 and the pool's personal data (pure: no database, no clock).

**The sealed panel.** A draw's panel (who sits in which seat, how to reach them, the reply codes and the draw
record, whose result names them) is serialised to canonical JSON and encrypted with a fresh content key
(AES-256-GCM for ``intl``, SM4-GCM for ``gm``). The content key is wrapped to the **panel sealing key**, an
encryption key pair whose private half lives in the secret store (``<data_dir>/secrets``, 0600), never in the
database. The associated data binds the ciphertext to its draw, project and **release time** (the start of
evaluation): a database administrator who moves the release time earlier breaks the authentication tag, and
the service opens the panel for a person only after the release time (every opening audited).

**Personal data.** Names, identity numbers, phones and e-mails of the pool are encrypted the same way under a
symmetric pool key from the secret store (associated data: the expert's code); identity numbers and declared
conflict persons are matched through a keyed digest (HMAC) that reveals nothing without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sunbid.core.errors import IntegrityFailure
from sunbid.crypto.suite import CryptoSuite
from sunbid.ledger.canonical import canonical_json

__all__ = [
    "SealedPanel",
    "open_panel",
    "open_pii",
    "panel_context",
    "person_digest",
    "seal_panel",
    "seal_pii",
]

_PANEL_LABEL = b"sunbid/expert-panel/v1"
_PII_LABEL = b"sunbid/expert-pii/v1"


def _tampered(what_zh: str, what_en: str) -> IntegrityFailure:
    return IntegrityFailure(
        "expert.seal_broken",
        f"{what_zh}无法解密或已被篡改",
        f"{what_en} cannot be decrypted or has been tampered with",
    )


def panel_context(draw_id: int, project_code: str, release_at_iso: str) -> bytes:
    """The associated data of a sealed panel: label, draw, project and release time (canonical JSON)."""
    return (
        _PANEL_LABEL
        + b"\x00"
        + canonical_json({"draw": draw_id, "project": project_code, "release_at": release_at_iso})
    )


@dataclass(frozen=True, slots=True)
class SealedPanel:
    """Ciphertext of the panel and its content key wrapped to the sealing public key."""

    ciphertext: bytes
    wrapped_key: bytes


def seal_panel(suite: CryptoSuite, recipient_public: bytes, panel: Mapping[str, Any], context: bytes) -> SealedPanel:
    """Encrypt ``panel`` (JSON-ready) under a fresh key wrapped to ``recipient_public``, bound to ``context``."""
    key = suite.new_key()
    return SealedPanel(
        ciphertext=suite.seal(key, canonical_json(dict(panel)), context),
        wrapped_key=suite.wrap_key(recipient_public, key, context),
    )


def open_panel(suite: CryptoSuite, private: bytes, sealed: SealedPanel, context: bytes) -> dict[str, Any]:
    """Decrypt a sealed panel; ``expert.seal_broken`` if the key, the ciphertext or the context do not match."""
    try:
        key = suite.unwrap_key(private, sealed.wrapped_key, context)
        data = json.loads(suite.open(key, sealed.ciphertext, context))
    except Exception as exc:  # any failure of unwrap or tag check means the same thing to the caller
        raise _tampered("密封的专家名单", "the sealed panel") from exc
    if not isinstance(data, dict):
        raise _tampered("密封的专家名单", "the sealed panel")
    return data


def seal_pii(suite: CryptoSuite, key: bytes, code: str, pii: Mapping[str, str | None]) -> bytes:
    """Encrypt an expert's personal data under the pool key, bound to his code."""
    return suite.seal(key, canonical_json(dict(pii)), _PII_LABEL + b"\x00" + code.encode())


def open_pii(suite: CryptoSuite, key: bytes, code: str, blob: bytes) -> dict[str, str | None]:
    """Decrypt an expert's personal data; ``expert.seal_broken`` if it was moved to another expert or altered."""
    try:
        data = json.loads(suite.open(key, blob, _PII_LABEL + b"\x00" + code.encode()))
    except Exception as exc:
        raise _tampered("专家个人信息", "the expert's personal data") from exc
    return {str(k): (None if v is None else str(v)) for k, v in data.items()}


def person_digest(key: bytes, value: str) -> str:
    """Keyed digest (HMAC-SHA256, hex) of an identity number or a person's name, normalised (NFKC, upper)."""
    norm = unicodedata.normalize("NFKC", value).strip().upper()
    return hmac.new(key, b"person\x00" + norm.encode(), hashlib.sha256).hexdigest()
