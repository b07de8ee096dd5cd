"""Electronic guarantees (电子保函) and guarantee insurance (保证保险): the issuer adapter and its simulator (M-3).

A bidder hands in a guarantee instead of cash: the platform asks the issuer whether the guarantee it names
exists and says what the bidder claims — number, issuer, beneficiary, amount, validity and the hash of the
policy file (the fields Fujian's ``LETTER_OF_GUARANTEE`` records, RULES.md §6; we hash with SHA-256 where
Fujian keeps an MD5). When the deposit would be forfeited, the platform claims (索赔) on the guarantee.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class GuaranteeRecord:
    """A guarantee as its issuer knows it."""

    number: str
    issuer: str
    form: str  # letter | insurance
    beneficiary: str
    applicant_uscc: str
    amount: Decimal
    valid_from: datetime
    valid_until: datetime
    file_sha256: str
    status: str = "valid"  # valid | revoked | claimed


@dataclass(frozen=True)
class Verification:
    ok: bool
    mismatches: tuple[str, ...]


@dataclass(frozen=True)
class ClaimResult:
    claim_ref: str
    amount: Decimal


class GuaranteeIssuer(Protocol):
    """The issuers' platform (banks, guarantors, insurers) the centre is connected to."""

    def verify(self, claimed: GuaranteeRecord) -> Verification:
        """Compare ``claimed`` with the issuer's record; ``mismatches`` names each differing field."""
        ...

    def claim(self, number: str, amount: Decimal, reason: str, key: str) -> ClaimResult:
        """Claim ``amount`` under the guarantee (idempotent for ``key``)."""
        ...


class GuaranteeError(Exception):
    """The issuer refused a claim."""


FIELDS = ("issuer", "form", "beneficiary", "applicant_uscc", "amount", "valid_from", "valid_until", "file_sha256")


@dataclass
class IssuerSimulator:
    """Issuers in memory: tests and the demo register guarantees, the platform verifies and claims."""

    records: dict[str, GuaranteeRecord] = field(default_factory=dict)
    claims: dict[str, ClaimResult] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, record: GuaranteeRecord) -> None:
        with self._lock:
            self.records[record.number] = record

    def revoke(self, number: str) -> None:
        with self._lock:
            rec = self.records[number]
            self.records[number] = GuaranteeRecord(**{**rec.__dict__, "status": "revoked"})

    def verify(self, claimed: GuaranteeRecord) -> Verification:
        with self._lock:
            rec = self.records.get(claimed.number)
        if rec is None:
            return Verification(False, ("number",))
        bad = tuple(f for f in FIELDS if getattr(rec, f) != getattr(claimed, f))
        if rec.status != "valid":
            bad = (*bad, "status")
        return Verification(not bad, bad)

    def claim(self, number: str, amount: Decimal, reason: str, key: str) -> ClaimResult:
        with self._lock:
            if key in self.claims:
                return self.claims[key]
            rec = self.records.get(number)
            if rec is None or rec.status != "valid":
                raise GuaranteeError(f"guarantee {number} cannot be claimed")
            if amount > rec.amount:
                raise GuaranteeError("claim above the guaranteed amount")
            result = ClaimResult(claim_ref=f"CL-{number}-{len(self.claims) + 1}", amount=amount)
            self.claims[key] = result
            self.records[number] = GuaranteeRecord(**{**rec.__dict__, "status": "claimed"})
            return result
