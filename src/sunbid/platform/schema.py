"""Imports every feature's ORM tables so that the metadata (and Alembic) sees all of them."""

from __future__ import annotations

from sunbid.platform.db import Base

metadata = Base.metadata
