"""Electronic archive packages (电子档案一键归集, SPEC C-2): one verifiable zip per project.

* :mod:`sunbid.archive.package` — the format: ``build_archive`` and the offline ``verify_archive`` (pure).
* :mod:`sunbid.archive.zipio` — the canonical ZIP container and its safe reader (pure).
* :mod:`sunbid.archive.report` — problems and the verification report (pure).
* :mod:`sunbid.archive.service` — log entries, inclusion proofs and the signed head from the database.
* :mod:`sunbid.archive.cli` — ``sunbid archive verify`` and ``sunbid archive build-log``.

The byte format is documented in ``docs/archive.md``.
"""
