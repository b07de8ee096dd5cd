"""The bid container's user-visible errors: stable ``bid.*`` codes with Chinese and English messages.

Codes and what they mean to the opening session (RULES.md §3 — whose fault a failed decryption is):

* ``bid.wrong_key`` — the key offered is not one the bid was sealed to (the bidder's own key or the section's
  opening key); nothing about the container is wrong.
* ``bid.tampered``, ``bid.truncated`` — the bytes are not those the sealing tool wrote (storage, transport or a
  deliberate change).
* ``bid.bad_payload``, ``bid.manifest_mismatch`` — the container is authentic (it decrypts) but its content is
  inconsistent: only the holder of the content key, i.e. the bidder's tool, could have written it.
* ``bid.malformed``, ``bid.unsupported_version``, ``bid.suite_mismatch``, ``bid.context_mismatch``,
  ``bid.too_large`` — the container is not one this platform can open here.
* ``bid.bad_manifest``, ``bid.bad_price``, ``bid.bad_file_name``, ``bid.signer_mismatch``, ``bid.file_changed``,
  ``bid.bad_request`` — refused while sealing (or calling with the wrong arguments).
"""

from __future__ import annotations

from typing import Any

from sunbid.core.errors import IntegrityFailure, ValidationFailed


def _details(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


def malformed(reason: str) -> ValidationFailed:
    """Not a sunbid bid container, or its plaintext header cannot be read."""
    return ValidationFailed(
        "bid.malformed",
        f"不是有效的投标文件封装（{reason}）",
        f"Not a valid sealed bid container ({reason})",
        details={"reason": reason},
    )


def unsupported_version(version: int) -> ValidationFailed:
    """A container format version this code does not know."""
    return ValidationFailed(
        "bid.unsupported_version",
        f"不支持的投标文件封装版本：{version}",
        f"Unsupported sealed bid format version: {version}",
        details={"version": version},
    )


def suite_mismatch(container_suite: str, expected: str) -> ValidationFailed:
    """The container was sealed with another crypto suite than the one asked to open it."""
    return ValidationFailed(
        "bid.suite_mismatch",
        f"投标文件使用的密码套件（{container_suite}）与本平台（{expected}）不一致",
        f"The bid was sealed with suite {container_suite}, not {expected}",
        details={"container_suite": container_suite, "expected": expected},
    )


def context_mismatch() -> ValidationFailed:
    """The container was sealed for another context (another section, round or platform)."""
    return ValidationFailed(
        "bid.context_mismatch",
        "投标文件不是为本标段（本次招标）封装的",
        "The bid was sealed for another context (section, round or platform)",
    )


def wrong_key(role: str) -> ValidationFailed:
    """The private key offered is not the one the content key was wrapped to."""
    who = "投标人加密证书" if role == "bidder" else "标段开标密钥"
    return ValidationFailed(
        "bid.wrong_key",
        f"解密密钥不正确：该投标文件不是用此{who}封装的",
        f"Wrong key: the bid was not sealed to this {role} key",
        details={"role": role},
    )


def tampered(reason: str, **details: Any) -> IntegrityFailure:
    """Some byte of the container differs from what the sealing tool wrote."""
    return IntegrityFailure(
        "bid.tampered",
        f"投标文件已被篡改或损坏（{reason}）",
        f"The sealed bid was tampered with or damaged ({reason})",
        details=_details(reason=reason, **details),
    )


def truncated(expected: int, found: int | None = None) -> IntegrityFailure:
    """The container ends before its header says it should."""
    return IntegrityFailure(
        "bid.truncated",
        "投标文件不完整（被截断）",
        "The sealed bid is incomplete (truncated)",
        details=_details(expected_length=expected, found_length=found),
    )


def bad_payload(reason: str, **details: Any) -> IntegrityFailure:
    """The decrypted content is not a well-formed bid (written so by whoever held the content key)."""
    return IntegrityFailure(
        "bid.bad_payload",
        f"投标文件内容结构错误（{reason}）",
        f"The decrypted bid is not well formed ({reason})",
        details=_details(reason=reason, **details),
    )


def manifest_mismatch(field: str) -> IntegrityFailure:
    """The signed manifest names another project, section, bidder or suite than the outer header."""
    return IntegrityFailure(
        "bid.manifest_mismatch",
        f"投标清单与封装信息不一致：{field}",
        f"The signed manifest disagrees with the container header: {field}",
        details={"field": field},
    )


def too_large(what: str, limit: int, found: int) -> ValidationFailed:
    """A size limit was exceeded."""
    return ValidationFailed(
        "bid.too_large",
        f"{what}超过上限（{found} > {limit}）",
        f"{what} exceeds the limit ({found} > {limit})",
        details={"what": what, "limit": limit, "found": found},
    )


def bad_manifest(field: str, reason_zh: str, reason_en: str) -> ValidationFailed:
    """A manifest field is missing or malformed."""
    return ValidationFailed(
        "bid.bad_manifest",
        f"投标清单字段 {field} 不正确：{reason_zh}",
        f"Manifest field {field} is invalid: {reason_en}",
        details={"field": field},
    )


def bad_price(value: object) -> ValidationFailed:
    """The price is not a decimal string in yuan with two places."""
    return ValidationFailed(
        "bid.bad_price",
        '投标报价须为以元为单位、保留两位小数的十进制字符串（如 "1234567.89"），不得为浮点数',
        'The price must be a decimal string in yuan with two places (e.g. "1234567.89"), never a float',
        details={"type": type(value).__name__},
    )


def bad_file_name(name: str, reason: str) -> ValidationFailed:
    """A document name is not a safe plain file name."""
    return ValidationFailed(
        "bid.bad_file_name",
        f"文件名不合规：{name!r}（{reason}）",
        f"Unsafe or invalid file name: {name!r} ({reason})",
        details={"name": name, "reason": reason},
    )


def signer_mismatch(reason_zh: str, reason_en: str) -> ValidationFailed:
    """The signing key, its certificate and the manifest's bidder do not belong together."""
    return ValidationFailed("bid.signer_mismatch", f"签名证书不符：{reason_zh}", f"Signer mismatch: {reason_en}")


def file_changed(name: str) -> ValidationFailed:
    """A document changed while it was being sealed (read twice, different bytes)."""
    return ValidationFailed(
        "bid.file_changed",
        f"封装过程中文件 {name} 发生了变化，请重新封装",
        f"The file {name} changed while it was being sealed; seal again",
        details={"name": name},
    )


def bad_request(reason_zh: str, reason_en: str) -> ValidationFailed:
    """The call itself is wrong (say, two keys or none offered)."""
    return ValidationFailed("bid.bad_request", reason_zh, reason_en)
