"""Must show (issue 4): before the deadline no byte of any bid's manifest or documents is in plaintext anywhere
the server writes.

Bids whose manifests and documents carry unique values (the shared MARKER, and per bid a price, a quality
statement, a key commitment, a machine fingerprint, a document name and a document phrase) are sealed the way
the bidder tool does and submitted through the real HTTP API: uploads in chunks, a replacement, a withdrawal and
an upload left half-way. Then every file under the test's directory (SQLite database and its WAL, the storage
directory, the upload spool, the secrets, the JSON log the server wrote, SQL statements included) is searched
for each value in UTF-8, UTF-16 (both byte orders), JSON ``\\u`` escapes, hex and base64 (each alignment), and
every row of every table is dumped from the database (SQLite or PostgreSQL) and searched the same way.

The search must have looked at something (it fails on an empty directory, a log without lines or tables
without rows), and a control run shows it finds each form: the marker written once to the log, a price in
base64 in an audit row, a quality statement in UTF-16 in storage are all reported.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text

from sunbid.bidding.container import seal_bid
from sunbid.core.clock import FakeClock
from sunbid.identity import service as identity
from sunbid.identity.models import User
from sunbid.platform.container import Platform
from sunbid.platform.logging import JsonFormatter
from tests.e2e.test_api_bids import Bidding
from tests.e2e.test_api_projects import make_api
from tests.integration.bidding import bidtools
from tests.integration.bidding.bidtools import MARKER, chunks, make_sealer

# --- what must never appear ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BidSecrets:
    """Values only the sealed manifest and documents of one bid hold."""

    price: str
    quality: str
    commitment: str
    fingerprint: str
    filename: str
    phrase: str

    @classmethod
    def fresh(cls, n: int) -> BidSecrets:
        tag = secrets.token_hex(4)
        return cls(
            price=f"{secrets.randbelow(10**8) + 10**8}.{secrets.randbelow(90) + 10}",
            quality=f"优良工程·质量承诺{tag}",
            commitment=f"承诺-{tag}-{n}",
            fingerprint=secrets.token_hex(32),
            filename=f"技术标-机密{tag}.pdf",
            phrase=f"施工组织设计机密段落{tag}",
        )

    def values(self) -> list[str]:
        return [self.price, self.quality, self.commitment, self.fingerprint, self.filename, self.phrase]


def _b64_forms(raw: bytes) -> list[tuple[str, bytes]]:
    """Base64 (standard and URL-safe) of ``raw`` at each of the three byte alignments, edges cut off."""
    out: list[tuple[str, bytes]] = []
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + raw)
        core = enc[4 if pad else 0 : len(enc) - 4]
        if len(core) >= 8:
            out.append((f"base64@{pad}", core))
            out.append((f"base64url@{pad}", core.translate(bytes.maketrans(b"+/", b"-_"))))
    return out


def needles(values: list[str]) -> dict[bytes, str]:
    """Every encoding of every value worth searching for, mapped to a description."""
    out: dict[bytes, str] = {}
    for v in values:
        raw = v.encode("utf-8")
        forms = [
            ("utf-8", raw),
            ("utf-16-le", v.encode("utf-16-le")),
            ("utf-16-be", v.encode("utf-16-be")),
            ("hex", raw.hex().encode()),
            ("HEX", raw.hex().upper().encode()),
            *_b64_forms(raw),
        ]
        if not v.isascii():
            forms.append(("json-escaped", json.dumps(v)[1:-1].encode()))
        for name, form in forms:
            out.setdefault(form, f"{v!r} as {name}")
    return out


# --- where the server wrote ------------------------------------------------------------------------------------


def scan_files(root: Path, wanted: dict[bytes, str]) -> tuple[list[Path], list[str]]:
    """All files under ``root`` and the needles found in them (``"<file>: <needle>"``)."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    found: list[str] = []
    for path in files:
        data = path.read_bytes()
        found += [f"{path.relative_to(root)}: {what}" for needle, what in wanted.items() if needle in data]
    return files, found


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str).encode()
    return str(value).encode()


def dump_tables(platform: Platform) -> dict[str, bytes]:
    """Every row of every table of the deployment's database, each value as bytes, per table."""
    out: dict[str, bytes] = {}
    with platform.db.engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()
            out[name] = b"\x1e".join(b"\x1f".join(_as_bytes(v) for v in row) for row in rows)
    return out


def scan_tables(tables: dict[str, bytes], wanted: dict[bytes, str]) -> list[str]:
    return [f"table {t}: {what}" for t, blob in tables.items() for needle, what in wanted.items() if needle in blob]


# --- the world ---------------------------------------------------------------------------------------------


@pytest.fixture
def json_log(tmp_path: Path) -> Iterator[Path]:
    """Everything the process logs, as the server's JSON lines, into a file (SQL statements too)."""
    path = tmp_path / "logs" / "sunbid.jsonl"
    path.parent.mkdir(parents=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    root, sql = logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    saved = root.level, sql.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    sql.setLevel(logging.INFO)  # every SQL statement with its parameters
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        sql.setLevel(saved[1])
        handler.close()


@pytest.fixture
def bidding(platform: Platform, client: TestClient, clock: FakeClock, suite_name: str) -> Bidding:
    api = make_api(platform, client, clock)
    with platform.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == "bidder_c")).one()
        api.tokens["bidder_c"] = identity.create_api_token(uow, user, "t").raw
        uow.commit()
    return Bidding(api, make_sealer(suite_name, platform))


class SecretSealing:
    """Makes the test Sealer put one bid's secrets into the manifest and documents it seals."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.used: list[BidSecrets] = []
        self._next: BidSecrets | None = None
        real = seal_bid

        def seal_with_secrets(suite: Any, manifest: Any, files: Any, **kw: Any) -> bytes:
            s = self._next
            assert s is not None, "seal() called without secrets"
            self._next = None
            manifest = replace(
                manifest,
                price=s.price,
                quality=s.quality,
                machine_fingerprint=s.fingerprint,
                key_commitments=(*manifest.key_commitments, s.commitment),
                extra={"质量承诺": s.quality},
            )
            docs = {**files, s.filename: (MARKER + s.phrase).encode() * 2000}
            self.used.append(s)
            return bytes(real(suite, manifest, docs, **kw))

        monkeypatch.setattr(bidtools, "seal_bid", seal_with_secrets)

    def seal(self, bidding: Bidding, who: str) -> bytes:
        self._next = BidSecrets.fresh(len(self.used))
        data = bidding.seal(who)
        assert self._next is None and self.used, "the Sealer no longer seals through bidtools.seal_bid"
        return data


def submit(bidding: Bidding, who: str, data: bytes) -> dict[str, Any]:
    r = bidding.complete(who, bidding.upload(who, data))
    assert r.status_code == 200, r.text
    bid: dict[str, Any] = r.json()["bid"]
    return bid


def test_no_byte_of_any_manifest_or_document_is_written_in_plaintext_before_the_deadline(
    bidding: Bidding, json_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealing = SecretSealing(monkeypatch)
    api = bidding.api
    # bidder A submits, then replaces its bid; bidder B submits and withdraws; bidder C submits;
    # bidder B starts another upload and leaves it half-way (its spool file holds ciphertext at rest)
    first_a = submit(bidding, "bidder_a", sealing.seal(bidding, "bidder_a"))
    second_a = submit(bidding, "bidder_a", sealing.seal(bidding, "bidder_a"))
    assert api.get("bidder_a", f"/bids/{first_a['id']}").json()["status"] == "replaced"
    b = submit(bidding, "bidder_b", sealing.seal(bidding, "bidder_b"))
    assert api.post("bidder_b", f"/bids/{b['id']}/withdraw").json()["status"] == "withdrawn"
    submit(bidding, "bidder_c", sealing.seal(bidding, "bidder_c"))
    partial = sealing.seal(bidding, "bidder_b")
    r = bidding.open("bidder_b", partial)
    uid = int(r.json()["id"])
    for at, piece in chunks(partial)[:3]:
        assert bidding.patch("bidder_b", uid, at, piece).status_code == 204
    assert api.get("bidder_a", f"/bids/{second_a['id']}/receipt").status_code == 200
    assert bidding.bids_received() == 2
    assert api.clock.now() < bidding.deadline
    assert len(sealing.used) == 5

    for h in logging.getLogger().handlers:
        h.flush()
    values = [MARKER] + [v for s in sealing.used for v in s.values()]
    wanted = needles(values)
    assert len(wanted) > 5 * 6 * 5

    # -- the files: nothing found, and the search really looked at the server's files
    files, found = scan_files(tmp_path, wanted)
    assert found == []
    names = {str(p.relative_to(tmp_path)) for p in files}
    containers = [p for p in files if p.suffix == ".sbid"]
    assert len(containers) == 4  # every submitted container is in the storage directory, sealed
    spools = [p for p in files if p.parent.name == "uploads" and p.stat().st_size > 0]
    assert len(spools) == 1  # the half-way upload; the completed ones' spools were cleaned up
    assert json_log.stat().st_size > 0 and "logs/sunbid.jsonl" in names
    log_lines = json_log.read_text(encoding="utf-8").splitlines()
    assert any('"path": "/api/v1/uploads/' in line for line in log_lines)  # the access log
    assert any("INSERT INTO bids" in line for line in log_lines)  # SQL with its parameters
    assert any(n.startswith("data/secrets/") for n in names)
    if api.platform.db.engine.dialect.name == "sqlite":
        assert "sunbid.db" in names and ("sunbid.db-wal" in names or (tmp_path / "sunbid.db").stat().st_size > 0)
    assert sum(p.stat().st_size for p in files) > sum(p.stat().st_size for p in containers)

    # -- the database, row by row
    tables = dump_tables(api.platform)
    assert scan_tables(tables, wanted) == []
    for t in ("bids", "bid_uploads", "audit_events", "ledger_entries", "projects"):
        assert tables[t], f"table {t} is empty: the dump looked at nothing"

    # -- control: each form, in each place, is found
    price, quality = sealing.used[0].price, sealing.used[1].quality
    logging.getLogger("sunbid.control").warning("control line %s", MARKER)
    for h in logging.getLogger().handlers:
        h.flush()
    with api.platform.uow() as uow:
        uow.audit("test:control", data={"note": base64.b64encode(b"xx" + price.encode()).decode()})
        uow.commit()
    api.platform.storage.put("control/utf16.bin", b"\xff\xfe" + quality.encode("utf-16-le"))
    _, found = scan_files(tmp_path, wanted)
    assert f"logs/sunbid.jsonl: {MARKER!r} as utf-8" in found
    assert f"data/files/control/utf16.bin: {quality!r} as utf-16-le" in found
    assert any(f.endswith(f"{price!r} as base64@2") for f in found), found
    tables_found = scan_tables(dump_tables(api.platform), wanted)
    assert f"table audit_events: {price!r} as base64@2" in tables_found
