"""Wiring: the deposit system of a platform (rules and adapters), its outbox handlers, hook and provider.

The rules are the defaults of :class:`~sunbid.deposits.domain.DepositRules` overridden by the centre's
``settings["deposits"]`` (a JSON object on the centre row, see :func:`~sunbid.deposits.domain.rules_from_mapping`).
The bank and the guarantee issuer are simulators until a real adapter is configured (no bank speaks to a
test machine); a deployment replaces them with :func:`install_system`.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from sunbid.deposits import domain
from sunbid.deposits.bank import BankSimulator
from sunbid.deposits.guarantees import IssuerSimulator
from sunbid.deposits.refunds import REFUND_TOPIC, SETTLE_TOPIC, WORKER_CONTEXT, execute_refund, settle, transition_hook
from sunbid.deposits.service import DepositSystem, opening_deposit_status
from sunbid.identity.models import Centre, Organisation
from sunbid.platform.uow import UnitOfWork
from sunbid.projects.models import Project, Section

if TYPE_CHECKING:
    from sunbid.platform.container import Platform

_SYSTEMS: weakref.WeakKeyDictionary[Platform, DepositSystem] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _centre_rules(platform: Platform) -> domain.DepositRules:
    try:
        with platform.db.read() as s:
            values = s.scalar(select(Centre.settings).order_by(Centre.id).limit(1)) or {}
    except Exception:  # no tables yet (before migrations): defaults
        return domain.DEFAULT_RULES
    local = values.get("deposits") if isinstance(values, dict) else None
    return domain.rules_from_mapping(local) if isinstance(local, dict) else domain.DEFAULT_RULES


def system(platform: Platform) -> DepositSystem:
    """The platform's deposit system, built on first use."""
    with _LOCK:
        found = _SYSTEMS.get(platform)
        if found is None:
            found = DepositSystem(
                rules=_centre_rules(platform),
                bank=BankSimulator(platform.clock),
                issuer=IssuerSimulator(),
                virtual_prefix=platform.settings.centre_region_code[:4],
            )
            _SYSTEMS[platform] = found
        return found


def install_system(platform: Platform, deposit_system: DepositSystem) -> None:
    """Use ``deposit_system`` (real adapters, other rules) for ``platform``."""
    with _LOCK:
        _SYSTEMS[platform] = deposit_system


def handle_settle(platform: Platform, mid: int, payload: dict[str, Any]) -> None:
    with platform.uow(WORKER_CONTEXT) as uow:
        settle(uow, system(platform), int(payload["project_id"]), str(payload["trigger"]))
        uow.commit()


def handle_refund(platform: Platform, mid: int, payload: dict[str, Any]) -> None:
    execute_refund(platform, system(platform), int(payload["refund_id"]))


def register_handlers(platform: Platform) -> None:
    """Outbox handlers, the lifecycle hook and the opening's deposit status provider."""
    from sunbid.bidding.service import DEPOSIT_STATUS_PROVIDERS
    from sunbid.projects.service import register_transition_hook

    platform.worker.register(SETTLE_TOPIC, lambda mid, p: handle_settle(platform, mid, p))
    platform.worker.register(REFUND_TOPIC, lambda mid, p: handle_refund(platform, mid, p))
    register_transition_hook(transition_hook)
    if _status_provider not in DEPOSIT_STATUS_PROVIDERS:
        DEPOSIT_STATUS_PROVIDERS.append(_status_provider)


def _status_provider(
    uow: UnitOfWork, project: Project, section: Section, org: Organisation
) -> tuple[str, str, str] | None:
    return opening_deposit_status(uow, system(uow.platform), project, section, org)
