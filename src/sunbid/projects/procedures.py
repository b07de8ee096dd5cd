"""The procedures of sunbid, as data (SPEC T-1, T-2; ARCHITECTURE "Lifecycles are tables").

``PROCEDURES`` maps each procedure code to its :class:`Procedure`: states, transitions (who may trigger each,
guards, the legal time rules consulted) and flags. Every table is validated when this module is imported, so
a broken table never reaches a running platform. :mod:`sunbid.projects.engine` runs them.

The tables live in :mod:`.procedures_engineering` (``eng_open``, ``eng_invited``) and
:mod:`.procedures_procurement` (``gp_open``, ``gp_negotiation``, ``gp_consultation``, ``gp_inquiry``,
``gp_single_source``) and :mod:`.procedures_small` (``small``); the names they use in
:mod:`.procedure_vocabulary`, the dataclasses and the validator in :mod:`.procedure_model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from sunbid.core.errors import ValidationFailed
from sunbid.projects.procedure_model import (
    Procedure,
    ProcedureDefinitionError,
    ProcedureFlags,
    StateDef,
    TimeCheck,
    Transition,
    validate,
)
from sunbid.projects.procedure_vocabulary import (
    ACTION_LABELS,
    FACT_LABELS,
    GUARDS,
    NOW,
    RETURN,
    ROLE_LABELS,
    ROLES,
    RULE_IDS,
    STATE_FACT_LABELS,
    SYSTEM,
    Guard,
    Phase,
    Sector,
    Severity,
)
from sunbid.projects.procedures_docs import render_markdown
from sunbid.projects.procedures_engineering import ENG_INVITED, ENG_OPEN
from sunbid.projects.procedures_procurement import (
    GP_CONSULTATION,
    GP_INQUIRY,
    GP_NEGOTIATION,
    GP_OPEN,
    GP_SINGLE_SOURCE,
)
from sunbid.projects.procedures_small import SMALL

__all__ = [
    "ACTION_LABELS",
    "FACT_LABELS",
    "GUARDS",
    "NOW",
    "PROCEDURES",
    "RETURN",
    "ROLES",
    "ROLE_LABELS",
    "RULE_IDS",
    "STATE_FACT_LABELS",
    "SYSTEM",
    "Guard",
    "Phase",
    "Procedure",
    "ProcedureDefinitionError",
    "ProcedureFlags",
    "Sector",
    "Severity",
    "StateDef",
    "TimeCheck",
    "Transition",
    "get_procedure",
    "procedures_markdown",
    "validate",
]


def _register(*procedures: Procedure) -> Mapping[str, Procedure]:
    table: dict[str, Procedure] = {}
    for procedure in procedures:
        validate(procedure)
        if procedure.code in table:
            raise ProcedureDefinitionError(procedure.code, ["declared twice"])
        table[procedure.code] = procedure
    return MappingProxyType(table)


#: Every procedure, by code: ``eng_open``, ``eng_invited``, ``gp_open``, ``gp_negotiation``,
#: ``gp_consultation``, ``gp_inquiry``, ``gp_single_source``, ``small``. Validated at import.
PROCEDURES: Final[Mapping[str, Procedure]] = _register(
    ENG_OPEN, ENG_INVITED, GP_OPEN, GP_NEGOTIATION, GP_CONSULTATION, GP_INQUIRY, GP_SINGLE_SOURCE, SMALL
)


def get_procedure(code: str) -> Procedure:
    """The procedure called ``code``; an unknown code → ``procedure.unknown`` (ValidationFailed)."""
    procedure = PROCEDURES.get(code) if isinstance(code, str) else None
    if procedure is None:
        known = "、".join(PROCEDURES)
        raise ValidationFailed(
            "procedure.unknown",
            f"未知的招标（采购）程序：{code}（可用：{known}）",
            f"Unknown procedure: {code} (known: {', '.join(PROCEDURES)})",
            details={"procedure": str(code), "known": list(PROCEDURES)},
        )
    return procedure


def procedures_markdown() -> str:
    """``docs/procedures.md``: a table of states and one of transitions per procedure, from the data."""
    return render_markdown(PROCEDURES)


if __name__ == "__main__":  # pragma: no cover - regenerates the docs
    print(procedures_markdown(), end="")
