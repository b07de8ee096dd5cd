"""Imports every feature's ORM tables so that the metadata (and Alembic) sees all of them."""

from __future__ import annotations

import sunbid.calendar.models
import sunbid.identity.models
import sunbid.ledger.models
import sunbid.notifications.models
import sunbid.projects.models
import sunbid.platform.models  # noqa: F401
from sunbid.platform.db import Base

metadata = Base.metadata
