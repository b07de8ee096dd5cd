"""Verifiable random draws 可验证随机抽取 (SPEC B-5): one mechanism for the coefficient draw and every other draw.

* :mod:`sunbid.draws.domain` — commit–reveal, seed derivation, the HMAC DRBG, unbiased selection, exact
  coefficient sets (pure).
* :mod:`sunbid.draws.record` — the self-contained draw record (canonical JSON) and its strict parser (pure).
* :mod:`sunbid.draws.verify` — offline verification of a record; building records by running a draw (pure).
* :mod:`sunbid.draws.cli` — ``sunbid draw verify``, ``sunbid draw coefficient``, ``sunbid draw commit``.

The byte-level algorithm is documented in ``docs/draws.md``.
"""
