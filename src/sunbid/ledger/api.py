"""Transparency log over HTTP: heads, entries, inclusion and consistency proofs (public, read-only)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from sunbid.ledger.service import head_to_dict
from sunbid.platform.container import Platform
from sunbid.platform.deps import get_platform, read_session

router = APIRouter(prefix="/api/v1/log", tags=["log 透明日志"])

Db = Annotated[Session, Depends(read_session)]
Plat = Annotated[Platform, Depends(get_platform)]


@router.get("/head", summary="最新签名树头 Latest signed tree head")
def latest_head(db: Db, platform: Plat) -> dict[str, Any]:
    head = platform.ledger.latest_head(db)
    return {
        "head": None if head is None else head_to_dict(head),
        "log": platform.public_info(),
    }


@router.get("/heads/{tree_size}", summary="指定大小的签名树头 Signed tree head at a size")
def head_at(tree_size: int, db: Db, platform: Plat) -> dict[str, Any]:
    return head_to_dict(platform.ledger.head_at(db, tree_size))


@router.get("/entries/{index}", summary="日志条目 Log entry")
def entry(index: int, db: Db, platform: Plat) -> dict[str, Any]:
    row = platform.ledger.entry(db, index)
    return {
        "index": row.index,
        "kind": row.kind,
        "body_b64": base64.b64encode(row.body).decode(),
        "leaf_hash": row.leaf_hash.hex(),
    }


@router.get("/proof/inclusion", summary="包含证明 Inclusion proof (RFC 9162)")
def inclusion(
    db: Db,
    platform: Plat,
    index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    size = tree_size if tree_size is not None else platform.ledger.size(db)
    proof = platform.ledger.inclusion_proof(db, index, size)
    row = platform.ledger.entry(db, index)
    return {
        "index": index,
        "tree_size": size,
        "leaf_hash": row.leaf_hash.hex(),
        "root_hash": platform.ledger.root_at(db, size).hex(),
        "proof": [p.hex() for p in proof],
    }


@router.get("/proof/consistency", summary="一致性证明 Consistency proof (RFC 9162)")
def consistency(
    db: Db,
    platform: Plat,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> dict[str, Any]:
    proof = platform.ledger.consistency_proof(db, first, second)
    return {
        "first": first,
        "second": second,
        "first_root": platform.ledger.root_at(db, first).hex(),
        "second_root": platform.ledger.root_at(db, second).hex(),
        "proof": [p.hex() for p in proof],
    }
