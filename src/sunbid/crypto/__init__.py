"""Cryptography for sunbid: two suites (international and 国密), the centre's CA and key bundles.

Import from the submodules: ``suite`` (``get_suite``, ``CryptoSuite``, ``KeyPair``), ``certificates``
(``CertificateAuthority``, ``Subject``, ``verify_certificate``, bundles) and ``bundle``. Formats are in
``docs/crypto.md``.
"""
