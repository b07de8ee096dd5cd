"""The transparency log over HTTP: heads, entries and RFC 9162 proofs checked by independent code."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from sunbid.ledger.heads import SignedTreeHead, TreeHead, verify_tree_head
from sunbid.platform.container import Platform
from tests.support import rfc9162


def _fill(platform: Platform, n: int) -> None:
    for i in range(n):
        with platform.uow() as uow:
            uow.audit("test:http", data={"i": i})
            uow.commit()


def test_head_is_signed_by_the_published_log_key(platform: Platform, client: TestClient) -> None:
    _fill(platform, 5)
    body = client.get("/api/v1/log/head").json()
    head, log = body["head"], body["log"]
    assert head["tree_size"] == 5
    sth = SignedTreeHead(
        head=TreeHead(head["tree_size"], bytes.fromhex(head["root_hash"]), head["timestamp_ms"], head["log_id"]),
        signature=bytes.fromhex(head["signature"]),
        key_fingerprint=head["key_fingerprint"],
        suite=head["suite"],
    )
    public = bytes.fromhex(log["log_public_key"])
    assert verify_tree_head(sth, lambda data, sig: platform.suite.verify(public, data, sig))
    forged = SignedTreeHead(
        head=TreeHead(6, sth.head.root_hash, sth.head.timestamp_ms, sth.head.log_id),
        signature=sth.signature,
        key_fingerprint=sth.key_fingerprint,
        suite=sth.suite,
    )
    assert not verify_tree_head(forged, lambda data, sig: platform.suite.verify(public, data, sig))


def test_entries_and_proofs_verify_independently(platform: Platform, client: TestClient) -> None:
    _fill(platform, 10)
    root = bytes.fromhex(client.get("/api/v1/log/head").json()["head"]["root_hash"])
    for i in (0, 3, 9):
        entry = client.get(f"/api/v1/log/entries/{i}").json()
        leaf = rfc9162.leaf(base64.b64decode(entry["body_b64"]))
        assert leaf.hex() == entry["leaf_hash"]
        p = client.get("/api/v1/log/proof/inclusion", params={"index": i, "tree_size": 10}).json()
        assert rfc9162.verify_inclusion(i, 10, leaf, [bytes.fromhex(x) for x in p["proof"]], root)
    for m in (1, 4, 7):
        c = client.get("/api/v1/log/proof/consistency", params={"first": m, "second": 10}).json()
        assert bytes.fromhex(c["second_root"]) == root
        old = bytes.fromhex(client.get(f"/api/v1/log/heads/{m}").json()["root_hash"])
        assert rfc9162.verify_consistency(m, 10, old, root, [bytes.fromhex(x) for x in c["proof"]])


def test_out_of_range_proof_requests_are_problems(platform: Platform, client: TestClient) -> None:
    _fill(platform, 3)
    r = client.get("/api/v1/log/proof/inclusion", params={"index": 5, "tree_size": 3})
    assert r.status_code == 422 and r.json()["code"] == "log.bad_index"
    r = client.get("/api/v1/log/proof/consistency", params={"first": 2, "second": 9})
    assert r.status_code == 422 and r.json()["code"] == "log.bad_size"
    r = client.get("/api/v1/log/entries/99")
    assert r.status_code == 404 and r.json()["code"] == "log.entry_not_found"
