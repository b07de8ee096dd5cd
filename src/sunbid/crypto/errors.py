"""The crypto package's user-visible errors, each with a stable code and Chinese + English messages."""

from __future__ import annotations

from typing import Any

from sunbid.core.errors import IntegrityFailure, Unauthenticated, ValidationFailed


def unknown_suite(name: str) -> ValidationFailed:
    return ValidationFailed(
        "crypto.unknown_suite",
        f"不支持的密码套件：{name}（可选 intl、gm）",
        f"Unknown crypto suite: {name} (choose intl or gm)",
        details={"suite": name},
    )


def bad_key(what: str) -> ValidationFailed:
    return ValidationFailed(
        "crypto.bad_key",
        f"密钥格式不正确：{what}",
        f"Malformed key: {what}",
        details={"reason": what},
    )


def bad_input(what: str) -> ValidationFailed:
    return ValidationFailed(
        "crypto.bad_input",
        f"输入不符合要求：{what}",
        f"Invalid input: {what}",
        details={"reason": what},
    )


def unwrap_failed() -> IntegrityFailure:
    return IntegrityFailure(
        "crypto.unwrap_failed",
        "无法解开封装的密钥：私钥不匹配、上下文不符或数据已被篡改",
        "Cannot unwrap the key: wrong private key, wrong context, or the data was tampered with",
    )


def decrypt_failed() -> IntegrityFailure:
    return IntegrityFailure(
        "crypto.decrypt_failed",
        "解密失败：密钥错误、附加数据不符或密文已被篡改",
        "Decryption failed: wrong key, wrong associated data, or the ciphertext was tampered with",
    )


_CERT_MESSAGES: dict[str, tuple[str, str]] = {
    "cert.malformed": ("证书格式不正确", "The certificate is malformed"),
    "cert.bad_signature": ("证书签名无效", "The certificate signature is invalid"),
    "cert.expired": ("证书已过期", "The certificate has expired"),
    "cert.not_yet_valid": ("证书尚未生效", "The certificate is not valid yet"),
    "cert.wrong_issuer": ("证书不是由本中心 CA 签发的", "The certificate was not issued by this centre's CA"),
    "cert.wrong_usage": ("证书用途不符", "The certificate is not meant for this use"),
}


def cert_error(code: str, details: dict[str, Any] | None = None) -> Unauthenticated:
    """A certificate check failure (kind UNAUTHENTICATED: a login with such a certificate is refused)."""
    zh, en = _CERT_MESSAGES[code]
    return Unauthenticated(code, zh, en, details=details)


def cert_invalid_request(code: str, zh: str, en: str, details: dict[str, Any] | None = None) -> ValidationFailed:
    """A bad request to the CA or the bundle code (wrong subject, key, password...)."""
    return ValidationFailed(code, zh, en, details=details)
