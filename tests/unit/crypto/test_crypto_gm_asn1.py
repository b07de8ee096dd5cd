"""sunbid.crypto.gm_asn1: asn1crypto learns the SM3 / SM2 names, and nothing else changes."""

from __future__ import annotations

from asn1crypto import algos

from sunbid.crypto import gm_asn1, sm2


def test_sm3_and_sm2_have_names_both_ways_and_the_der_is_the_oid() -> None:
    gm_asn1.register()
    gm_asn1.register()  # idempotent
    digest = algos.DigestAlgorithm({"algorithm": "sm3"})
    assert digest["algorithm"].dotted == sm2.SM3_OID
    assert algos.DigestAlgorithm.load(digest.dump())["algorithm"].native == "sm3"
    dotted = algos.DigestAlgorithm({"algorithm": sm2.SM3_OID})
    assert dotted.dump() == digest.dump()
    for name, oid in (("sm2_sm3", sm2.SM2_SM3_SIGNATURE_OID), ("sm2_1", gm_asn1.SM2_1_SIGNATURE_OID)):
        mech = algos.SignedDigestAlgorithm({"algorithm": name})
        assert mech["algorithm"].dotted == oid
        assert algos.SignedDigestAlgorithm.load(mech.dump())["algorithm"].native == name


def test_names_asn1crypto_already_knew_are_untouched() -> None:
    gm_asn1.register()
    assert algos.DigestAlgorithm({"algorithm": "sha256"})["algorithm"].dotted == "2.16.840.1.101.3.4.2.1"
    assert algos.SignedDigestAlgorithm({"algorithm": "ed25519"})["algorithm"].dotted == "1.3.101.112"
    assert list(algos.DigestAlgorithmId._map.values()).count("sm3") == 1
