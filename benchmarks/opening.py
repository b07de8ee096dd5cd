"""Bid-opening benchmark: open N sealed bids of M MB the way the opening service does, beside the raw
AES-GCM decrypt + SHA-256 throughput measured on the same bytes in the same run.

Setup (not timed): a CA, a section opening key, and N bids of M MB each from N bidders (each with its own
signing certificate and encryption key; one document of random bytes) sealed with ``seal_bid_to`` and stored with
``LocalStorage.put_file``; each bid's content key is unwrapped with the bidder's key, as the bidder tool releases
it during the decryption window.

Timed: opening every bid as :mod:`sunbid.opening.session` does — ``storage.open`` streamed into
``open_bid_from(..., DiscardSink(), content_key=..., expected_hash=..., ca_cert_pem=...)``, which authenticates
and decrypts every frame, checks the container hash and each document's digest against the signed manifest and
verifies the signature and certificate. Baseline: the same frames of the same files read and decrypted with
``cryptography``'s ``AESGCM`` (the suite's own AEAD for ``gm``) plus one SHA-256 (SM3) pass over the bytes,
nothing else. ``--workers`` processes share the bids in both measurements (the machine has 2 cores).

Prints JSON ``{bids, mb_each, seconds, mb_per_s, raw_mb_per_s, ratio, suite, ...}``; target: ratio ≥ 0.5.

    python benchmarks/opening.py [--bids 20] [--mb 1] [--suite intl|gm] [--workers 1]
    python benchmarks/opening.py --bids 500 --mb 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sunbid.bidding.container import (
    BidManifest,
    DiscardSink,
    open_bid_from,
    read_header,
    seal_bid_to,
    unwrap_content_key,
)
from sunbid.bidding.container_format import TRAILER_SIZE, frame_aad, read_header_bytes
from sunbid.crypto.certificates import CertificateAuthority, Subject
from sunbid.crypto.suite import CryptoSuite, get_suite
from sunbid.identity.domain import make_uscc
from sunbid.opening.keys import new_opening_key
from sunbid.platform.storage import LocalStorage

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
CONTEXT = "sunbid:section:bench"
MB = 1024 * 1024


@dataclass(frozen=True)
class Job:
    """One sealed bid to open: where it is stored, its hash and released content key."""

    key: str
    container_hash: str
    content_key: bytes


@dataclass(frozen=True)
class Setup:
    suite_name: str
    storage_root: str
    ca_pem: str
    jobs: tuple[Job, ...]


def seal_all(suite: CryptoSuite, root: Path, bids: int, mb: int) -> Setup:
    """Seal ``bids`` bids of ``mb`` MB into a local storage under ``root`` (not timed)."""
    ca = CertificateAuthority.create(suite, "基准测试 CA", now=NOW, validity_days=3650)
    opening = new_opening_key(suite)
    storage = LocalStorage(root / "files")
    document = root / "document.bin"
    with document.open("wb") as f:
        for _ in range(mb):
            f.write(os.urandom(MB))
    spool = root / "sealed.part"
    jobs: list[Job] = []
    for i in range(bids):  # every bid from another bidder, with its own keys and certificate, as at an opening
        signing = suite.generate_signing_keypair()
        encryption = suite.generate_encryption_keypair()
        uscc = make_uscc(4242 + i, region_code="341700")
        name = f"基准测试第{i}建筑公司"
        cert = ca.issue(
            Subject(common_name=name, organisation_name=name, uscc=uscc), signing.public, "signing", 10 + i, NOW, 3650
        )
        manifest = BidManifest(
            project_code="P-BENCH-0001",
            section_code="01",
            bidder_uscc=uscc,
            bidder_name=name,
            price=f"{10_000_000 + i}.00",
            duration_days=365,
            quality="合格",
            machine_fingerprint=hashlib.sha256(str(i).encode()).hexdigest(),
            tool_version="sunbid-bench",
            created_at=NOW,
        )
        with spool.open("wb") as out, document.open("rb") as doc:
            sealed = seal_bid_to(
                out,
                suite,
                manifest,
                {"技术标.bin": doc},
                signing_private=signing.private,
                signing_cert_pem=cert,
                bidder_encryption_public=encryption.public,
                opening_public=opening.public,
                context=CONTEXT,
            )
        key = f"bids/1/1/{i}-{sealed.container_hash[:16]}.sbid"
        storage.put_file(key, spool)
        with storage.open(key) as f:
            content_key = unwrap_content_key(suite, f, context=CONTEXT, encryption_private=encryption.private)
        jobs.append(Job(key, sealed.container_hash, content_key))
    spool.unlink()
    document.unlink()
    return Setup(suite.name, str(root / "files"), ca.certificate_pem, tuple(jobs))


def open_some(setup: Setup, jobs: tuple[Job, ...]) -> int:
    """Open ``jobs`` as the opening service does; returns the container bytes read."""
    suite = get_suite(setup.suite_name)
    storage = LocalStorage(Path(setup.storage_root))
    total = 0
    for job in jobs:
        sink = DiscardSink()
        with storage.open(job.key) as src:
            opened = open_bid_from(
                suite,
                src,
                sink,
                content_key=job.content_key,
                context=CONTEXT,
                expected_hash=job.container_hash,
                ca_cert_pem=setup.ca_pem,
                now=NOW,
            )
        if not opened.signature_valid or sink.count != 1:
            raise RuntimeError(f"bid {job.key} did not open cleanly: {opened.signature_problem}")
        total += opened.header.total_length
    return total


def raw_some(setup: Setup, jobs: tuple[Job, ...]) -> int:
    """The baseline: read the same frames, AEAD-decrypt each and hash the bytes once; returns the bytes read."""
    suite = get_suite(setup.suite_name)
    storage = LocalStorage(Path(setup.storage_root))
    total = 0
    for job in jobs:
        with storage.open(job.key) as src:
            raw = read_header_bytes(src)
            header = read_header(raw)
            digest = suite.digest(raw)
            last = header.frame_count - 1
            if suite.name == "intl":  # cryptography's AESGCM and hashlib, nothing of ours in the loop
                aead = AESGCM(job.content_key)
                h = hashlib.sha256(raw)
                for index in range(header.frame_count):
                    frame = src.read(header.frame_length(index))
                    h.update(frame)
                    aead.decrypt(frame[:12], frame[12:], frame_aad(digest, index, index == last))
            else:  # SM4-GCM and SM3 through the suite (cryptography underneath)
                hasher = suite.hasher()
                hasher.update(raw)
                for index in range(header.frame_count):
                    frame = src.read(header.frame_length(index))
                    hasher.update(frame)
                    suite.open(job.content_key, frame, frame_aad(digest, index, index == last))
            src.read(TRAILER_SIZE)
            total += header.total_length
    return total


def timed(fn: object, setup: Setup, workers: int) -> tuple[float, int]:
    """Run ``fn`` over all jobs split among ``workers`` processes; (seconds, bytes)."""
    jobs = setup.jobs
    parts = [jobs[i::workers] for i in range(workers)]
    t0 = time.perf_counter()
    if workers == 1:
        total = fn(setup, jobs)  # type: ignore[operator]
    else:
        with ProcessPoolExecutor(workers) as pool:
            total = sum(pool.map(fn, [setup] * workers, parts))  # type: ignore[arg-type]
    return time.perf_counter() - t0, int(total)


def cpu_timed(fn: object, setup: Setup) -> float:
    """CPU seconds of one process running ``fn`` over all jobs (steadier than wall time on a busy machine)."""
    t0 = time.process_time()
    fn(setup, setup.jobs)  # type: ignore[operator]
    return time.process_time() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bids", type=int, default=20)
    ap.add_argument("--mb", type=int, default=1, help="size of each bid's document, MB")
    ap.add_argument("--suite", choices=["intl", "gm"], default="intl")
    ap.add_argument("--workers", type=int, default=1, help="processes opening bids in parallel (both measurements)")
    ap.add_argument("--dir", default=None, help="where to put the sealed bids (default: a temporary directory)")
    args = ap.parse_args()
    suite = get_suite(args.suite)
    with tempfile.TemporaryDirectory(prefix="sunbid-opening-bench-", dir=args.dir) as tmp:
        t0 = time.perf_counter()
        setup = seal_all(suite, Path(tmp), args.bids, args.mb)
        setup_s = time.perf_counter() - t0
        raw_open_bytes = timed(raw_some, setup, args.workers)  # warms the page cache for both runs too
        seconds, total = timed(open_some, setup, args.workers)
        raw_seconds, raw_total = timed(raw_some, setup, args.workers)
        cpu_open, cpu_raw = cpu_timed(open_some, setup), cpu_timed(raw_some, setup)
        if raw_total != total or raw_open_bytes[1] != total:
            raise RuntimeError("the two measurements read different bytes")
    mb_total = total / MB
    result = {
        "bids": args.bids,
        "mb_each": args.mb,
        "suite": suite.name,
        "workers": args.workers,
        "container_mb_total": round(mb_total, 1),
        "seconds": round(seconds, 3),
        "mb_per_s": round(mb_total / seconds, 1),
        "raw_seconds": round(raw_seconds, 3),
        "raw_mb_per_s": round(mb_total / raw_seconds, 1),
        "ratio": round(raw_seconds / seconds, 3),
        "target_ratio": 0.5,
        "cpu_seconds": round(cpu_open, 3),
        "raw_cpu_seconds": round(cpu_raw, 3),
        "cpu_ratio": round(cpu_raw / cpu_open, 3),
        "setup_seconds": round(setup_s, 1),
        "cpu_count": os.cpu_count(),
    }
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
