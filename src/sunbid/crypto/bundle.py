"""Password-protected key bundles for the bidder tool: one PKCS#12 (RFC 7292) file per organisation.

A bundle holds the signing key + certificate, the encryption key + certificate and the CA certificate.
``cryptography``'s PKCS#12 writer takes a single key and refuses X25519 keys, and no PKCS#12 tool takes SM2
keys, so sunbid writes the PFX itself with ``asn1crypto``. The same layout serves both suites; only the
algorithms differ:

=========================  ==================================  =======================================
part                       ``intl``                            ``gm``
=========================  ==================================  =======================================
key bag encryption         PBES2: PBKDF2-HMAC-SHA256 +         PBES2: PBKDF2-HMAC-SM3 (1.2.156.10197.1.401.2)
                           AES-256-CBC                         + SM4-CBC (1.2.156.10197.1.104.2)
integrity                  HMAC-SHA256, PKCS#12 KDF            HMAC-SM3, PKCS#12 KDF
=========================  ==================================  =======================================

The PFX has two unencrypted ``data`` safes: one with two ``pkcs8ShroudedKeyBag`` (signing, encryption),
one with three ``certBag`` (certificates are public). Each key bag and its certificate share a
``localKeyId`` (the suite hash of the certificate DER). The international bundle opens with OpenSSL
(``openssl pkcs12 -info``); both key bags share one PBKDF2 salt, so one derivation unlocks both.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import algos, cms, core, keys, pkcs12
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.base import CipherContext

from sunbid.core.errors import DomainError, ValidationFailed
from sunbid.crypto import errors, sm2
from sunbid.crypto.suite import CryptoSuite, KeyPair, get_suite, resolve_suite
from sunbid.crypto.x509util import (
    EC_PUBLIC_KEY_OID,
    ED25519_OID,
    X25519_OID,
    der_to_pem,
    pem_to_der,
    read_certificate_key,
)

DEFAULT_ITERATIONS = 200_000
MAX_ITERATIONS = 5_000_000
MIN_PASSWORD_LENGTH = 8
_SALT_SIZE = 16


@dataclass(frozen=True, slots=True)
class _Profile:
    suite: str
    digest_oid: str
    prf_oid: str
    cipher_oid: str
    key_length: int
    hash_name: str
    hash_once: Callable[[bytes], bytes]
    cipher: Callable[[bytes], algorithms.AES | algorithms.SM4]


_PROFILES = {
    "intl": _Profile(
        suite="intl",
        digest_oid="2.16.840.1.101.3.4.2.1",
        prf_oid="1.2.840.113549.2.9",
        cipher_oid="2.16.840.1.101.3.4.1.42",
        key_length=32,
        hash_name="sha256",
        hash_once=lambda data: hashlib.sha256(data).digest(),
        cipher=algorithms.AES,
    ),
    "gm": _Profile(
        suite="gm",
        digest_oid=sm2.SM3_OID,
        prf_oid="1.2.156.10197.1.401.2",
        cipher_oid="1.2.156.10197.1.104.2",
        key_length=16,
        hash_name="sm3",
        hash_once=sm2.sm3,
        cipher=algorithms.SM4,
    ),
}


@dataclass(frozen=True, slots=True)
class KeyBundle:
    """What :func:`import_bundle` returns: both key pairs, both certificates and the CA certificate."""

    suite: str
    signing_private: bytes = field(repr=False)
    signing_public: bytes
    signing_cert_pem: str
    encryption_private: bytes = field(repr=False)
    encryption_public: bytes
    encryption_cert_pem: str
    ca_cert_pem: str

    @property
    def signing(self) -> KeyPair:
        """The signing key pair."""
        return KeyPair(self.signing_private, self.signing_public)

    @property
    def encryption(self) -> KeyPair:
        """The encryption key pair."""
        return KeyPair(self.encryption_private, self.encryption_public)


def _bad_bundle(reason: str) -> ValidationFailed:
    return errors.cert_invalid_request(
        "cert.bad_bundle",
        "证书文件已损坏或格式不支持",
        "The key bundle is damaged or not supported",
        {"reason": reason},
    )


def _bad_password() -> ValidationFailed:
    return errors.cert_invalid_request("cert.bad_password", "证书文件口令错误", "Wrong password for the key bundle")


def pkcs12_mac_key(hash_once: Callable[[bytes], bytes], password: str, salt: bytes, iterations: int) -> bytes:
    """The MAC key of RFC 7292 Appendix B.2 (ID = 3) for a 32-byte hash with 64-byte blocks.

    One hash output is the whole key, so the block-adjustment step of the KDF is never needed.
    """
    v = 64
    pw = (password.encode("utf-16-be") + b"\x00\x00") if password else b""

    def stretch(data: bytes) -> bytes:
        if not data:
            return b""
        length = v * -(-len(data) // v)
        return (data * (length // len(data) + 1))[:length]

    digest = hash_once(b"\x03" * v + stretch(salt) + stretch(pw))
    for _ in range(iterations - 1):
        digest = hash_once(digest)
    return digest


def _cbc(profile: _Profile, key: bytes, iv: bytes, decrypt: bool) -> CipherContext:
    cipher = Cipher(profile.cipher(key), modes.CBC(iv))
    return cipher.decryptor() if decrypt else cipher.encryptor()


# --- PKCS#8 ----


def _private_key_info(suite: str, private: bytes, usage: str) -> bytes:
    der = serialization.Encoding.DER
    pkcs8 = serialization.PrivateFormat.PKCS8
    if suite == "intl":
        key = (
            ed25519.Ed25519PrivateKey.from_private_bytes(private)
            if usage == "signing"
            else x25519.X25519PrivateKey.from_private_bytes(private)
        )
        return key.private_bytes(der, pkcs8, serialization.NoEncryption())
    # PKCS#8 around an RFC 5915 ECPrivateKey with [0] curve and [1] public key (GmSSL wants both). Built
    # by hand: asn1crypto refuses to size the key of a curve it does not know.
    curve = core.ObjectIdentifier(sm2.CURVE_OID)
    ec_key = _der_sequence(
        core.Integer(1).dump()
        + core.OctetString(private).dump()
        + core.ObjectIdentifier(sm2.CURVE_OID, explicit=0).dump()
        + core.OctetBitString(b"\x04" + sm2.public_from_private(private), explicit=1).dump()
    )
    algorithm = _der_sequence(core.ObjectIdentifier(EC_PUBLIC_KEY_OID).dump() + curve.dump())
    return _der_sequence(core.Integer(0).dump() + algorithm + core.OctetString(ec_key).dump())


def _der_sequence(body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return b"\x30" + bytes([size]) + body
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(encoded)]) + encoded + body


def _raw_private_key(suite: str, der: bytes) -> bytes:
    info = keys.PrivateKeyInfo.load(der, strict=True)
    algorithm = info["private_key_algorithm"]["algorithm"].dotted
    if suite == "intl":
        if algorithm not in (ED25519_OID, X25519_OID):
            raise _bad_bundle("unexpected key algorithm")
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey):
            raise _bad_bundle("unexpected key type")
        return key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
    params = info["private_key_algorithm"]["parameters"]
    if algorithm != EC_PUBLIC_KEY_OID or params.name != "named" or params.chosen.dotted != sm2.CURVE_OID:
        raise _bad_bundle("not an SM2 key")
    ec_key = keys.ECPrivateKey.load(bytes(info["private_key"].contents), strict=True)
    if ec_key["version"].native != "ecPrivkeyVer1":
        raise _bad_bundle("bad ECPrivateKey version")
    scalar = int(ec_key["private_key"].native)
    if not 0 < scalar < sm2.N:
        raise _bad_bundle("SM2 private key out of range")
    return scalar.to_bytes(32, "big")


# --- export ----


def _attributes(name: str, local_key_id: bytes | None) -> pkcs12.Attributes:
    attrs = [{"type": "friendly_name", "values": [core.BMPString(name)]}]
    if local_key_id is not None:
        attrs.append({"type": "local_key_id", "values": [core.OctetString(local_key_id)]})
    return pkcs12.Attributes(attrs)


def _pbes2_params(profile: _Profile, salt: bytes, iterations: int, iv: bytes) -> algos.EncryptionAlgorithm:
    kdf = {
        "salt": algos.Pbkdf2Salt(name="specified", value=salt),
        "iteration_count": iterations,
        "prf": {"algorithm": profile.prf_oid, "parameters": core.Null()},
    }
    scheme = {"algorithm": profile.cipher_oid, "parameters": core.OctetString(iv)}
    return algos.EncryptionAlgorithm(
        {
            "algorithm": "pbes2",
            "parameters": {
                "key_derivation_func": {"algorithm": "pbkdf2", "parameters": kdf},
                "encryption_scheme": scheme,
            },
        }
    )


def _check_pair(suite: CryptoSuite, usage: str, private: bytes, cert_pem: str) -> bytes:
    found, cert_public = read_certificate_key(suite, cert_pem)
    derive = suite.signing_public_key if usage == "signing" else suite.encryption_public_key
    if found != usage or derive(private) != cert_public:
        raise errors.cert_invalid_request(
            "cert.key_mismatch",
            "私钥与证书不匹配",
            "The private key does not match its certificate",
            {"usage": usage},
        )
    return pem_to_der(cert_pem)


def export_pkcs12(
    suite: CryptoSuite | str,
    *,
    password: str,
    signing_private: bytes,
    signing_cert_pem: str,
    encryption_private: bytes,
    encryption_cert_pem: str,
    ca_cert_pem: str,
    friendly_name: str = "sunbid",
    iterations: int = DEFAULT_ITERATIONS,
) -> bytes:
    """Write both keys and the three certificates as one password-protected PKCS#12 (DER).

    See the module docstring for the format. ``cert.weak_password`` if the password is shorter than 8
    characters; ``cert.key_mismatch`` if a key does not match its certificate (or a certificate has the
    wrong usage); ``cert.bad_bundle`` if ``ca_cert_pem`` is not a CA certificate.
    """
    suite = resolve_suite(suite)
    profile = _PROFILES[suite.name]
    if len(password) < MIN_PASSWORD_LENGTH:
        raise errors.cert_invalid_request(
            "cert.weak_password",
            "证书文件口令至少 8 个字符",
            "The bundle password needs at least 8 characters",
        )
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise errors.bad_input("iterations out of range")
    signing_der = _check_pair(suite, "signing", signing_private, signing_cert_pem)
    encryption_der = _check_pair(suite, "encryption", encryption_private, encryption_cert_pem)
    ca_der = pem_to_der(ca_cert_pem)
    if read_certificate_key(suite, ca_cert_pem)[0] != "ca":
        raise _bad_bundle("the CA certificate is not a CA certificate")

    salt = os.urandom(_SALT_SIZE)
    kek = hashlib.pbkdf2_hmac(profile.hash_name, password.encode("utf-8"), salt, iterations, profile.key_length)
    key_bags = []
    cert_bags = []
    for usage, private, cert_der in (
        ("signing", signing_private, signing_der),
        ("encryption", encryption_private, encryption_der),
    ):
        local_id = suite.digest(cert_der)
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        plain = padder.update(_private_key_info(suite.name, private, usage)) + padder.finalize()
        encryptor = _cbc(profile, kek, iv, decrypt=False)
        encrypted = keys.EncryptedPrivateKeyInfo(
            {
                "encryption_algorithm": _pbes2_params(profile, salt, iterations, iv),
                "encrypted_data": encryptor.update(plain) + encryptor.finalize(),
            }
        )
        attrs = _attributes(f"{friendly_name} {usage}", local_id)
        key_bags.append({"bag_id": "pkcs8_shrouded_key_bag", "bag_value": encrypted, "bag_attributes": attrs})
        cert_bags.append(_cert_bag(cert_der, _attributes(f"{friendly_name} {usage}", local_id)))
    cert_bags.append(_cert_bag(ca_der, _attributes(f"{friendly_name} CA", None)))

    auth_safe = pkcs12.AuthenticatedSafe(
        [
            cms.ContentInfo({"content_type": "data", "content": pkcs12.SafeContents(key_bags).dump()}),
            cms.ContentInfo({"content_type": "data", "content": pkcs12.SafeContents(cert_bags).dump()}),
        ]
    ).dump()
    mac_salt = os.urandom(_SALT_SIZE)
    mac_key = pkcs12_mac_key(profile.hash_once, password, mac_salt, iterations)
    mac = hmac.digest(mac_key, auth_safe, profile.hash_name)
    pfx = pkcs12.Pfx(
        {
            "version": "v3",
            "auth_safe": cms.ContentInfo({"content_type": "data", "content": auth_safe}),
            "mac_data": {
                "mac": {
                    "digest_algorithm": {"algorithm": profile.digest_oid, "parameters": core.Null()},
                    "digest": mac,
                },
                "mac_salt": mac_salt,
                "iterations": iterations,
            },
        }
    )
    return bytes(pfx.dump())


def _cert_bag(der: bytes, attrs: pkcs12.Attributes) -> dict[str, Any]:
    bag = pkcs12.CertBag({"cert_id": "x509", "cert_value": core.ParsableOctetString(der)})
    return {"bag_id": "cert_bag", "bag_value": bag, "bag_attributes": attrs}


# --- import ----


def _attribute(bag: pkcs12.SafeBag, name: str) -> Any:
    for attr in bag["bag_attributes"]:
        if attr["type"].native == name:
            values = attr["values"]
            return values[0].native if len(values) == 1 else None
    return None


def _decrypt_key(profile: _Profile, password: str, encrypted: keys.EncryptedPrivateKeyInfo) -> bytes:
    algorithm = encrypted["encryption_algorithm"]
    if algorithm["algorithm"].native != "pbes2":
        raise _bad_bundle("key bag is not PBES2")
    params = algorithm["parameters"]
    kdf = params["key_derivation_func"]
    scheme = params["encryption_scheme"]
    if kdf["algorithm"].native != "pbkdf2":
        raise _bad_bundle("key bag KDF is not PBKDF2")
    kdf_params = kdf["parameters"]
    if kdf_params["prf"]["algorithm"].dotted != profile.prf_oid or scheme["algorithm"].dotted != profile.cipher_oid:
        raise _bad_bundle("key bag algorithms do not match the suite")
    iterations = int(kdf_params["iteration_count"].native)
    key_length = kdf_params["key_length"].native
    iv = scheme["parameters"].native
    if not 1 <= iterations <= MAX_ITERATIONS or key_length not in (None, profile.key_length):
        raise _bad_bundle("key bag parameters out of range")
    if not isinstance(iv, bytes) or len(iv) != 16:
        raise _bad_bundle("bad IV")
    salt = kdf_params["salt"].chosen.native
    kek = hashlib.pbkdf2_hmac(profile.hash_name, password.encode("utf-8"), salt, iterations, profile.key_length)
    decryptor = _cbc(profile, kek, iv, decrypt=True)
    padded = decryptor.update(bytes(encrypted["encrypted_data"].native)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _verify_mac(pfx: pkcs12.Pfx, password: str) -> tuple[_Profile, bytes]:
    if pfx["version"].native != "v3" or pfx["auth_safe"]["content_type"].native != "data":
        raise _bad_bundle("not a password-integrity PKCS#12")
    auth_safe = bytes(pfx["auth_safe"]["content"].native)
    mac_data = pfx["mac_data"]
    if not mac_data.native:
        raise _bad_bundle("no MAC")
    digest_oid = mac_data["mac"]["digest_algorithm"]["algorithm"].dotted
    profile = next((p for p in _PROFILES.values() if p.digest_oid == digest_oid), None)
    if profile is None:
        raise _bad_bundle(f"unsupported MAC digest {digest_oid}")
    iterations = int(mac_data["iterations"].native)
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise _bad_bundle("MAC iterations out of range")
    mac_key = pkcs12_mac_key(profile.hash_once, password, bytes(mac_data["mac_salt"].native), iterations)
    expected = hmac.digest(mac_key, auth_safe, profile.hash_name)
    if not hmac.compare_digest(expected, bytes(mac_data["mac"]["digest"].native)):
        raise _bad_password()
    return profile, auth_safe


def import_bundle(data: bytes, password: str) -> KeyBundle:
    """Read a bundle written by :func:`export_pkcs12` (either suite; the MAC digest tells which).

    ``cert.bad_password`` on a wrong password, ``cert.bad_bundle`` on damaged or foreign files. The
    certificates are only matched to the keys here: check them with ``verify_certificate`` before use.
    """
    try:
        pfx = pkcs12.Pfx.load(data, strict=True)
        profile, auth_safe = _verify_mac(pfx, password)
        suite = get_suite(profile.suite)
        keys_by_id: dict[bytes, bytes] = {}
        certs_by_id: dict[bytes | None, list[bytes]] = {}
        for content in pkcs12.AuthenticatedSafe.load(auth_safe, strict=True):
            if content["content_type"].native != "data":
                raise _bad_bundle("encrypted safes are not supported")
            for bag in pkcs12.SafeContents.load(bytes(content["content"].native), strict=True):
                local_id = _attribute(bag, "local_key_id")
                kind = bag["bag_id"].native
                if kind == "pkcs8_shrouded_key_bag":
                    if not isinstance(local_id, bytes) or local_id in keys_by_id:
                        raise _bad_bundle("key bag without a unique localKeyId")
                    keys_by_id[local_id] = _decrypt_key(profile, password, bag["bag_value"])
                elif kind == "cert_bag" and bag["bag_value"]["cert_id"].native == "x509":
                    cert_der = bytes(bag["bag_value"]["cert_value"].contents)
                    certs_by_id.setdefault(local_id, []).append(cert_der)
        return _assemble(suite, keys_by_id, certs_by_id)
    except ValidationFailed:
        raise
    except DomainError as exc:  # e.g. cert.malformed from a certificate inside
        raise _bad_bundle(exc.code) from exc
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        raise _bad_bundle(type(exc).__name__) from exc


def _assemble(
    suite: CryptoSuite, keys_by_id: dict[bytes, bytes], certs_by_id: dict[bytes | None, list[bytes]]
) -> KeyBundle:
    pairs: dict[str, tuple[KeyPair, str]] = {}
    for local_id, pkcs8 in keys_by_id.items():
        certs = certs_by_id.get(local_id, [])
        if len(certs) != 1:
            raise _bad_bundle("each key needs exactly one certificate")
        pem = der_to_pem(certs[0])
        usage, public = read_certificate_key(suite, pem)
        private = _raw_private_key(suite.name, pkcs8)
        derive = suite.signing_public_key if usage == "signing" else suite.encryption_public_key
        if usage not in ("signing", "encryption") or usage in pairs or derive(private) != public:
            raise _bad_bundle("key and certificate do not match")
        pairs[usage] = (KeyPair(private, public), pem)
    ca_certs = certs_by_id.get(None, [])
    if set(pairs) != {"signing", "encryption"} or len(ca_certs) != 1:
        raise _bad_bundle("a bundle holds a signing pair, an encryption pair and one CA certificate")
    ca_pem = der_to_pem(ca_certs[0])
    if read_certificate_key(suite, ca_pem)[0] != "ca":
        raise _bad_bundle("the CA certificate is not a CA certificate")
    (signing, signing_pem), (encryption, encryption_pem) = pairs["signing"], pairs["encryption"]
    return KeyBundle(
        suite=suite.name,
        signing_private=signing.private,
        signing_public=signing.public,
        signing_cert_pem=signing_pem,
        encryption_private=encryption.private,
        encryption_public=encryption.public,
        encryption_cert_pem=encryption_pem,
        ca_cert_pem=ca_pem,
    )


export_bundle = export_pkcs12
"""The name the identity CLI uses."""
