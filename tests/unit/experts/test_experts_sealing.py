"""Sealing the panel and the pool's personal data: opens only with the right key and the same context."""

from __future__ import annotations

import pytest

from sunbid.core.errors import IntegrityFailure
from sunbid.crypto.suite import get_suite
from sunbid.experts.sealing import open_panel, open_pii, panel_context, person_digest, seal_panel, seal_pii


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_panel_opens_only_with_its_key_and_release_time(suite_name: str) -> None:
    suite = get_suite(suite_name)
    kp, other = suite.generate_encryption_keypair(), suite.generate_encryption_keypair()
    panel = {"seats": [{"code": "EX00001", "name": "张三", "phone": "13900000001"}]}
    ctx = panel_context(7, "SB-2026-0001", "2026-03-24T01:00:00+00:00")
    sealed = seal_panel(suite, kp.public, panel, ctx)
    assert b"EX00001" not in sealed.ciphertext and "张三".encode() not in sealed.ciphertext
    assert open_panel(suite, kp.private, sealed, ctx) == panel
    earlier = panel_context(7, "SB-2026-0001", "2026-03-23T01:00:00+00:00")
    for private, context in (
        (other.private, ctx),
        (kp.private, earlier),
        (kp.private, panel_context(8, "SB-2026-0001", "2026-03-24T01:00:00+00:00")),
    ):
        with pytest.raises(IntegrityFailure) as exc:
            open_panel(suite, private, sealed, context)
        assert exc.value.code == "expert.seal_broken"


def test_personal_data_is_bound_to_its_expert() -> None:
    suite = get_suite("intl")
    key = suite.new_key()
    blob = seal_pii(suite, key, "EX00001", {"name": "李四", "phone": "13900000002", "email": None})
    assert open_pii(suite, key, "EX00001", blob) == {"name": "李四", "phone": "13900000002", "email": None}
    with pytest.raises(IntegrityFailure):
        open_pii(suite, key, "EX00002", blob)  # copied onto another expert's row


def test_person_digest_is_keyed_and_normalised() -> None:
    a, b = b"k" * 32, b"j" * 32
    assert person_digest(a, " 34170219800101001x ") == person_digest(a, "34170219800101001X")
    assert person_digest(a, "王五") != person_digest(b, "王五")
    assert len(person_digest(a, "王五")) == 64
