"""Teach ``asn1crypto`` the 国密 algorithm identifiers it lacks (imported for this side effect).

``asn1crypto`` (and pyHanko, which names algorithms through it) knows no SM2 or SM3. Importing this module adds,
once per process, to asn1crypto's OID name maps:

* ``sm3`` — SM3 digest, 1.2.156.10197.1.401 (GM/T 0006, GB/T 35275 §5) in ``DigestAlgorithmId``;
* ``sm2_sm3`` — SM2 signature with SM3, 1.2.156.10197.1.501, and ``sm2_1`` — the bare SM2-1 signature
  algorithm, 1.2.156.10197.1.301.1 (which some GM/T 0010 implementations write in ``SignerInfo``), in
  ``SignedDigestAlgorithmId``.

Only names are added: DER encodings are unchanged, an OID asn1crypto already knew keeps its name, and nothing
else in asn1crypto's behaviour changes. With ``sm3`` known, pyHanko can digest a PDF ``/ByteRange`` with SM3
(through ``cryptography``'s ``hashes.SM3``) and write or read an SM3 ``DigestAlgorithmIdentifier``; the SM2
arithmetic itself stays in :mod:`sunbid.crypto.sm2` (GmSSL).
"""

from __future__ import annotations

from typing import Final

from asn1crypto import algos, core

from sunbid.crypto import sm2

SM3_NAME: Final = "sm3"
SM2_SM3_NAME: Final = "sm2_sm3"
SM2_1_NAME: Final = "sm2_1"
SM2_1_SIGNATURE_OID: Final = "1.2.156.10197.1.301.1"

_REGISTRATIONS: Final[tuple[tuple[type[core.ObjectIdentifier], str, str], ...]] = (
    (algos.DigestAlgorithmId, sm2.SM3_OID, SM3_NAME),
    (algos.SignedDigestAlgorithmId, sm2.SM2_SM3_SIGNATURE_OID, SM2_SM3_NAME),
    (algos.SignedDigestAlgorithmId, SM2_1_SIGNATURE_OID, SM2_1_NAME),
)


def register() -> None:
    """Add the names (idempotent; a name or OID asn1crypto already maps is left alone)."""
    for cls, oid, name in _REGISTRATIONS:
        mapping: dict[str, str] = cls._map
        if oid in mapping or name in mapping.values():
            continue
        mapping[oid] = name
        reverse: dict[str, str] | None = cls._reverse_map
        if reverse is not None:
            reverse[name] = oid


register()
