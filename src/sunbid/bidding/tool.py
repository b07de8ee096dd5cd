"""The bidder tool's local logic (``sunbid bidder seal / submit / decrypt``): no server, no database.

- :func:`collect_documents`: a folder → the documents of a bid. Every regular file directly in the folder is a
  document; a sub-folder, a symbolic link or any other special entry is **refused** (never silently skipped), so
  what the bidder sees in the folder is exactly what gets sealed. Names are normalised to Unicode NFC (macOS
  writes NFD) and then checked by the container rules (``bid.bad_file_name``).
- :func:`parse_opening_key`: the section's opening key as the server publishes it (or as saved in a file), with
  its fingerprint checked against the key itself.
- :func:`seal_folder`: seals the folder into a container file, streaming (a few chunks in memory whatever the
  size), through a temporary file renamed into place only when complete.
- :class:`UploadState` and the file names next to a container: ``BID.sbid.upload.json`` (resume state) and
  ``BID.sbid.receipt.json`` (the signed receipt).

The HTTP side (resumable upload, decrypt) is :mod:`sunbid.bidding.tool_client`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

from sunbid.bidding.container import (
    BidManifest,
    SealedBid,
    format_price,
    seal_bid_to,
)
from sunbid.core.errors import Conflict, ValidationFailed
from sunbid.crypto.bundle import KeyBundle
from sunbid.crypto.suite import get_suite
from sunbid.crypto.x509util import parse_pem
from sunbid.platform.secrets import atomic_write

STATE_SUFFIX = ".upload.json"
RECEIPT_SUFFIX = ".receipt.json"
STATE_FORMAT = "sunbid-bidder-upload"
MAX_COMMITMENTS = 50
_DIGITS = re.compile(r"[1-9][0-9]{0,17}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def tool_version() -> str:
    """``sunbid-bidder <version>``: recorded in every manifest the tool seals."""
    try:
        version = metadata.version("sunbid")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        version = "0.1.0"
    return f"sunbid-bidder {version}"


# --- documents ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    """One document of the bid: its name inside the container and where it is on disk."""

    name: str
    path: Path
    size: int


def collect_documents(folder: Path) -> list[Document]:
    """Every regular file directly in ``folder``, sorted by name; anything else in the folder is refused.

    ``bidder.no_folder`` if ``folder`` is not a directory, ``bidder.empty_folder`` if it holds no file,
    ``bidder.subfolder`` for sub-folders, ``bidder.special_file`` for links, devices, pipes and sockets,
    ``bidder.name_clash`` if two names become equal once normalised to NFC.
    """
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        raise ValidationFailed(
            "bidder.no_folder", f"投标文件夹 {folder} 不存在或不是文件夹。", f"{folder} is not a folder."
        ) from None
    except OSError as exc:
        raise ValidationFailed(
            "bidder.unreadable", f"无法读取 {folder}：{exc.strerror}", f"cannot read {folder}: {exc.strerror}"
        ) from None
    docs: list[Document] = []
    subfolders: list[str] = []
    special: list[str] = []
    seen: dict[str, str] = {}
    for entry in entries:
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            subfolders.append(entry.name)
            continue
        if not stat.S_ISREG(st.st_mode):
            special.append(entry.name)
            continue
        name = unicodedata.normalize("NFC", entry.name)
        if name in seen:
            raise ValidationFailed(
                "bidder.name_clash",
                f"文件名 {seen[name]} 与 {entry.name} 规范化后相同，请改名。",
                f"The names {seen[name]} and {entry.name} are the same once normalised; rename one.",
            )
        seen[name] = entry.name
        docs.append(Document(name, Path(entry.path), st.st_size))
    if subfolders:
        names = "、".join(subfolders[:10])
        raise ValidationFailed(
            "bidder.subfolder",
            f"投标文件夹中不能有子文件夹（{names}）：请把文件直接放在文件夹中，或先压缩为一个文件。",
            f"The bid folder must not contain sub-folders ({', '.join(subfolders[:10])}): put the files directly "
            "in the folder, or archive a sub-folder into one file first.",
            details={"subfolders": subfolders},
        )
    if special:
        raise ValidationFailed(
            "bidder.special_file",
            f"投标文件夹中有链接或特殊文件（{'、'.join(special[:10])}），请替换为普通文件。",
            f"The bid folder holds links or special files ({', '.join(special[:10])}); use regular files.",
            details={"files": special},
        )
    if not docs:
        raise ValidationFailed("bidder.empty_folder", f"投标文件夹 {folder} 中没有文件。", f"{folder} holds no file.")
    return docs


# --- inputs ------------------------------------------------------------------------------------------------


def parse_price(text: str) -> str:
    """The bid price in yuan as the manifest's string (``"123.45"``): at most two decimal places, not negative."""
    cleaned = text.strip().replace(",", "").replace("，", "")
    problem = ValidationFailed(
        "bidder.bad_price",
        f"投标报价 {text!r} 无效：须为以元为单位、最多两位小数的非负金额，例如 12345678.90。",
        f"Invalid price {text!r}: a non-negative amount in yuan with at most two decimals, e.g. 12345678.90.",
    )
    if not re.fullmatch(r"(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?", cleaned):
        raise problem
    try:
        return format_price(Decimal(cleaned).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):  # pragma: no cover - the pattern already excludes these
        raise problem from None
    except ValidationFailed:
        raise problem from None


@dataclass(frozen=True, slots=True)
class ProjectRef:
    """``--project``: a numeric id, a project code, or both as ``ID:CODE`` (the bid page prints this form)."""

    project_id: int | None
    code: str | None


def parse_project_ref(text: str) -> ProjectRef:
    """``"12"`` → id 12; ``"341700-2026-0001"`` → that code; ``"12:341700-2026-0001"`` → both."""
    value = text.strip()
    first, sep, rest = value.partition(":")
    if sep and _DIGITS.fullmatch(first) and rest and ":" not in rest and rest == rest.strip():
        return ProjectRef(int(first), rest)
    if _DIGITS.fullmatch(value):
        return ProjectRef(int(value), None)
    if value and not value.isdigit() and len(value) <= 64 and not any(c.isspace() for c in value) and ":" not in value:
        return ProjectRef(None, value)
    raise ValidationFailed(
        "bidder.bad_project",
        f"项目参数 {text!r} 无效：填写项目 ID、项目编号，或“ID:编号”。",
        f"Invalid --project {text!r}: give the project id, its code, or ID:CODE.",
    )


@dataclass(frozen=True, slots=True)
class OpeningKey:
    """A section's published opening key: seal to ``public_key`` under exactly ``context``."""

    suite: str
    public_key: bytes
    key_fingerprint: str
    context: str
    threshold: int | None = None
    total: int | None = None
    project_code: str | None = None
    section_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The server's JSON form (the file ``--opening-key`` reads)."""
        out: dict[str, Any] = {
            "suite": self.suite,
            "public_key": base64.b64encode(self.public_key).decode("ascii"),
            "key_fingerprint": self.key_fingerprint,
            "context": self.context,
            "threshold": self.threshold,
            "total": self.total,
        }
        if self.project_code is not None:
            out["project_code"] = self.project_code
        if self.section_code is not None:
            out["section_code"] = self.section_code
        return out


def _bad_key(reason_zh: str, reason_en: str) -> ValidationFailed:
    return ValidationFailed(
        "bidder.bad_opening_key", f"开标公钥无效：{reason_zh}。", f"Invalid opening key: {reason_en}."
    )


def _optional_int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise _bad_key(f"{name} 须为非负整数", f"{name} must be a non-negative integer")
    return value


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad_key(f"{name} 须为非空字符串", f"{name} must be a non-empty string")
    return value


def parse_opening_key(data: object) -> OpeningKey:
    """Check the JSON of ``GET .../sections/{code}/opening-key`` (or an ``--opening-key`` file).

    The fingerprint must be the suite's fingerprint of the key itself, so a copy error or a swapped key is
    caught before anything is sealed.
    """
    if not isinstance(data, Mapping):
        raise _bad_key("不是 JSON 对象", "not a JSON object")
    suite_name = data.get("suite")
    if suite_name not in ("intl", "gm"):
        raise _bad_key("未知的密码套件", "unknown crypto suite")
    suite = get_suite(str(suite_name))
    raw = data.get("public_key")
    try:
        public = base64.b64decode(str(raw), validate=True) if isinstance(raw, str) else b""
    except (binascii.Error, ValueError):
        public = b""
    if not public:
        raise _bad_key("public_key 不是合法的 Base64", "public_key is not valid base64")
    fingerprint = data.get("key_fingerprint")
    try:
        actual = suite.public_key_fingerprint(public)
    except Exception:  # any failure to read the key means the key is unusable
        raise _bad_key("公钥无法读取", "the public key cannot be read") from None
    if fingerprint != actual:
        raise _bad_key("指纹与公钥不符", "the fingerprint does not match the key")
    context = data.get("context")
    if not isinstance(context, str) or not context:
        raise _bad_key("缺少 context", "the context is missing")
    return OpeningKey(
        suite=suite.name,
        public_key=public,
        key_fingerprint=actual,
        context=context,
        threshold=_optional_int(data, "threshold"),
        total=_optional_int(data, "total"),
        project_code=_optional_text(data, "project_code"),
        section_code=_optional_text(data, "section_code"),
    )


def read_json_file(path: Path, what_zh: str, what_en: str) -> object:
    """A JSON file, or ``bidder.unreadable`` naming what it should have been."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationFailed(
            "bidder.unreadable", f"无法读取{what_zh} {path}：{exc.strerror}", f"cannot read {what_en} {path}"
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            "bidder.bad_json", f"{what_zh} {path} 不是合法的 JSON。", f"{what_en} {path} is not valid JSON."
        ) from None


@dataclass(frozen=True, slots=True)
class Bidder:
    """Who the bundle's signing certificate names."""

    uscc: str
    name: str


def bundle_bidder(bundle: KeyBundle) -> Bidder:
    """The organisation (USCC and name) of the bundle's signing certificate."""
    subject = parse_pem(bundle.signing_cert_pem, "signing").subject
    uscc = subject.get("uscc")
    name = subject.get("organisation_name") or subject.get("common_name")
    if not uscc or not name:
        raise ValidationFailed(
            "bidder.bad_bundle",
            "证书文件中的签名证书没有投标人的统一社会信用代码或名称。",
            "The bundle's signing certificate names no organisation (USCC and name).",
        )
    return Bidder(str(uscc), str(name))


# --- sealing -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BidInput:
    """What the bidder declares (price as the manifest's string: see :func:`parse_price`)."""

    project_code: str
    section_code: str
    price: str
    duration_days: int
    quality: str
    key_commitments: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)


def build_manifest(bid: BidInput, bidder: Bidder, *, fingerprint: str, now: datetime) -> BidManifest:
    """The manifest to sign (``bid.bad_manifest`` / ``bid.bad_price`` from the container rules)."""
    if len(bid.key_commitments) > MAX_COMMITMENTS:
        raise ValidationFailed(
            "bidder.too_many_commitments",
            f"关键承诺最多 {MAX_COMMITMENTS} 条。",
            f"At most {MAX_COMMITMENTS} key commitments.",
        )
    return BidManifest(
        project_code=bid.project_code,
        section_code=bid.section_code,
        bidder_uscc=bidder.uscc,
        bidder_name=bidder.name,
        price=bid.price,
        duration_days=bid.duration_days,
        quality=bid.quality,
        machine_fingerprint=fingerprint,
        tool_version=tool_version(),
        created_at=now,
        key_commitments=bid.key_commitments,
        extra=dict(bid.extra),
    )


def seal_folder(
    out: Path,
    documents: Sequence[Document],
    manifest: BidManifest,
    bundle: KeyBundle,
    opening_key: OpeningKey,
    *,
    chunk_size: int | None = None,
) -> SealedBid:
    """Seal ``documents`` into the file ``out`` (written to ``out.partial``, renamed when complete).

    The suites of the bundle and the opening key must agree (``bidder.suite_mismatch``). Nothing is left behind
    when sealing fails.
    """
    if bundle.suite != opening_key.suite:
        raise Conflict(
            "bidder.suite_mismatch",
            f"证书文件使用 {bundle.suite} 密码套件，而开标公钥使用 {opening_key.suite}。",
            f"The bundle uses the {bundle.suite} suite but the opening key uses {opening_key.suite}.",
        )
    if out.exists() and out.is_dir():
        raise ValidationFailed("bidder.bad_output", f"{out} 是文件夹。", f"{out} is a folder.")
    partial = out.with_name(out.name + ".partial")
    kwargs: dict[str, Any] = {} if chunk_size is None else {"chunk_size": chunk_size}
    try:
        with ExitStack() as stack:
            files: dict[str, BinaryIO] = {}
            for doc in documents:
                try:
                    files[doc.name] = stack.enter_context(doc.path.open("rb"))
                except OSError as exc:
                    raise ValidationFailed(
                        "bidder.unreadable",
                        f"无法读取 {doc.path}：{exc.strerror}",
                        f"cannot read {doc.path}: {exc.strerror}",
                    ) from None
            with partial.open("wb") as sink:
                sealed = seal_bid_to(
                    sink,
                    bundle.suite,
                    manifest,
                    files,
                    signing_private=bundle.signing_private,
                    signing_cert_pem=bundle.signing_cert_pem,
                    bidder_encryption_public=bundle.encryption_public,
                    opening_public=opening_key.public_key,
                    context=opening_key.context,
                    **kwargs,
                )
                sink.flush()
                os.fsync(sink.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return sealed


# --- files next to the container ---------------------------------------------------------------------------


def state_path(container: Path) -> Path:
    """``BID.sbid.upload.json``: where the upload's progress is kept between runs."""
    return container.with_name(container.name + STATE_SUFFIX)


def receipt_path(container: Path) -> Path:
    """``BID.sbid.receipt.json``: the signed receipt, once the bid is submitted."""
    return container.with_name(container.name + RECEIPT_SUFFIX)


@dataclass(slots=True)
class UploadState:
    """The resume state of one container's upload (no secret in it: ids, hash and offsets only)."""

    server: str
    project_id: int
    section: str
    container_hash: str
    length: int
    upload_id: int
    offset: int = 0
    bid_id: int | None = None
    format: str = STATE_FORMAT

    def matches(self, server: str, project_id: int, section: str, container_hash: str, length: int) -> bool:
        """Whether this state is for the same container going to the same place."""
        return (self.server, self.project_id, self.section, self.container_hash, self.length) == (
            server,
            project_id,
            section,
            container_hash,
            length,
        )


def load_state(path: Path) -> UploadState | None:
    """The saved state, or None when there is none or it is unreadable (then the upload starts afresh)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        return None
    try:
        state = UploadState(
            server=str(data["server"]),
            project_id=int(data["project_id"]),
            section=str(data["section"]),
            container_hash=str(data["container_hash"]),
            length=int(data["length"]),
            upload_id=int(data["upload_id"]),
            offset=int(data.get("offset", 0)),
            bid_id=None if data.get("bid_id") is None else int(data["bid_id"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if not _HEX64.fullmatch(state.container_hash):
        return None
    return state


def save_state(path: Path, state: UploadState) -> None:
    """Keep the state (atomically: a crash leaves the old state or the new one)."""
    atomic_write(path, json.dumps(asdict(state), ensure_ascii=False, indent=2).encode("utf-8"))


def read_chunks(fh: BinaryIO, start: int, size: int, length: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, bytes)`` pieces of at most ``size`` bytes from ``start`` to ``length``."""
    fh.seek(start)
    offset = start
    while offset < length:
        data = fh.read(min(size, length - offset))
        if not data:
            raise Conflict(
                "bidder.container_changed",
                "投标文件在上传过程中变短了，请勿修改已封装的投标文件。",
                "The container got shorter during the upload; do not change a sealed container.",
            )
        yield offset, data
        offset += len(data)
