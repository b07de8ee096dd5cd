"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sunbid.core.errors import ValidationFailed

_hasher = PasswordHasher()
# A hash of a random password, verified when the user does not exist so that timing reveals nothing.
_DUMMY = _hasher.hash("sunbid-dummy-password-0")

MIN_LENGTH = 8


def check_policy(password: str) -> None:
    """At least 8 characters with letters and digits."""
    if len(password) < MIN_LENGTH or not any(c.isdigit() for c in password) or not any(c.isalpha() for c in password):
        raise ValidationFailed(
            "identity.weak_password",
            f"密码至少 {MIN_LENGTH} 位，且须同时包含字母和数字。",
            f"A password needs at least {MIN_LENGTH} characters with both letters and digits.",
        )


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches; constant-time-ish when there is no stored hash."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
