"""Opening keys (SPEC B-2): made on entering bidding, split 2-of-3 among custodians, private key forgotten."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import select

from sunbid.core.clock import FakeClock
from sunbid.core.errors import DomainError
from sunbid.ledger.models import AuditEvent
from sunbid.opening import keys
from sunbid.opening.models import OpeningKey, OpeningKeyShare
from sunbid.opening.service import public_key_info
from tests.integration.opening.conftest import CUSTODIANS, Ow, make_ow
from tests.integration.projects.conftest import Tw


@pytest.fixture(params=["intl", "gm"])
def suite_name(request: pytest.FixtureRequest) -> str:
    """Both crypto suites: X25519 / AES-GCM and SM2 / SM4-GCM opening keys."""
    return str(request.param)


def test_each_section_gets_a_key_split_two_of_three_and_the_shares_rebuild_it(ow: Ow) -> None:
    with ow.platform.uow() as uow:
        info = public_key_info(uow, ow.pid, "01")
    assert info["threshold"] == 2 and info["total"] == 3
    assert info["suite"] == ow.platform.suite.name
    fingerprint = str(info["key_fingerprint"])
    assert info["context"] == f"sunbid:{ow.platform.settings.centre_region_code}:{ow.code}:01:{fingerprint[:16]}"
    public = base64.b64decode(str(info["public_key"]))
    assert ow.platform.suite.public_key_fingerprint(public) == fingerprint
    shares = [keys.Share.from_text(ow.share_text(c)) for c in CUSTODIANS]
    assert sorted(s.index for s in shares) == [1, 2, 3]
    private = keys.combine_shares(shares[1:])
    assert ow.platform.suite.encryption_public_key(private) == public
    with pytest.raises(DomainError) as err:
        keys.combine_shares(shares[:1])
    assert err.value.code == "opening.not_enough_shares"


def test_the_private_key_is_never_stored_and_key_creation_is_logged_with_the_fingerprint(ow: Ow) -> None:
    private = keys.combine_shares([keys.Share.from_text(ow.share_text(c)) for c in CUSTODIANS[:2]])
    with ow.platform.db.read() as s:
        key = s.scalars(select(OpeningKey).where(OpeningKey.project_id == ow.pid)).one()
        shares = s.scalars(select(OpeningKeyShare).where(OpeningKeyShare.key_id == key.id)).all()
        audit = s.scalars(select(AuditEvent).where(AuditEvent.tag.like("%opening:key_create"))).one()
    assert audit.data["key_fingerprint"] == key.fingerprint
    assert audit.data["draw_commitment"]["value_hash"] == key.draw_commitment["value_hash"]  # type: ignore[index]
    assert len(shares) == 3 and all("ENCRYPTED" in sh.encrypted_share for sh in shares)
    url = ow.platform.settings.resolved_database_url
    if url.startswith("sqlite"):
        db_file = Path(url.split("///", 1)[1])
        blob = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
        for form in (private, private.hex().encode(), base64.b64encode(private)):
            assert form not in blob


def test_with_fewer_than_two_custodians_no_share_is_made_and_fallback_cannot_be_chosen(
    tw: Tw, clock: FakeClock, suite_name: str
) -> None:
    ow = make_ow(tw, clock, suite_name, custodians=("custodian_centre",))
    with ow.platform.uow() as uow:
        info = public_key_info(uow, ow.pid, "01")
    assert (info["threshold"], info["total"]) == (0, 0)
    with ow.platform.db.read() as s:
        key = s.scalars(select(OpeningKey).where(OpeningKey.project_id == ow.pid)).one()
        assert key.fallback_possible is False
        assert not s.scalars(select(OpeningKeyShare)).all()
    with pytest.raises(DomainError) as err:
        ow.settings(custodian_fallback=True)
    assert err.value.code == "opening.fallback_impossible"


def test_a_bid_sealed_to_another_opening_key_is_refused_before_anything_is_stored(ow: Ow) -> None:
    with pytest.raises(DomainError) as err:
        ow.submit("bidder_a", stray_key=True)
    assert err.value.code == "bid.wrong_opening_key"
    assert "开标公钥" in err.value.message_zh
    assert ow.platform.storage.list("bids/") == []
    ow.submit("bidder_a")
    assert len(ow.platform.storage.list("bids/")) == 1


def test_values_sealed_at_rest_are_bound_to_their_use_and_the_secret_lives_outside_the_database(ow: Ow) -> None:
    from sunbid.opening.service import SEAL_SECRET, platform_open, platform_seal

    sealed = platform_seal(ow.platform, b"k" * 32, "content-key:1:aa")
    assert b"k" * 32 not in sealed
    assert platform_open(ow.platform, sealed, "content-key:1:aa") == b"k" * 32
    with pytest.raises(DomainError):
        platform_open(ow.platform, sealed, "content-key:2:aa")  # another bid's slot
    assert ow.platform.secrets.exists(SEAL_SECRET)
    assert (ow.platform.secrets.path(SEAL_SECRET).stat().st_mode & 0o077) == 0
