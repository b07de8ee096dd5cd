"""Imports every feature's ORM tables so that the metadata (and Alembic) sees all of them."""

from __future__ import annotations

from sunbid.bidding import models as bidding_models
from sunbid.calendar import models as calendar_models
from sunbid.deposits import models as deposit_models
from sunbid.evaluation import models as evaluation_models
from sunbid.experts import models as expert_models
from sunbid.experts import models_management as expert_management_models
from sunbid.identity import models as identity_models
from sunbid.ledger import models as ledger_models
from sunbid.notifications import models as notification_models
from sunbid.opening import events as opening_events
from sunbid.opening import models as opening_models
from sunbid.platform import models as platform_models
from sunbid.platform.db import Base
from sunbid.projects import models as project_models

#: Every module that declares tables; importing them registers the tables on ``Base.metadata``.
MODEL_MODULES = (
    bidding_models,
    calendar_models,
    deposit_models,
    evaluation_models,
    expert_models,
    expert_management_models,
    identity_models,
    ledger_models,
    notification_models,
    opening_events,
    opening_models,
    platform_models,
    project_models,
)

metadata = Base.metadata
