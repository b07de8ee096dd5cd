"""Markdown tables of the procedure tables, so that ``docs/procedures.md`` is generated and stays true."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sunbid.projects.procedure_model import Procedure, TimeCheck, Transition
from sunbid.projects.procedure_vocabulary import (
    ACTION_LABELS,
    FACT_LABELS,
    GUARDS,
    RETURN,
    ROLE_LABELS,
    STATE_FACT_LABELS,
)

__all__ = ["render_markdown"]

_INTRO = """\
# Procedures (招标/采购程序): states and transitions

<!-- Generated from the tables in src/sunbid/projects/procedures_*.py by procedures_markdown().
     Do not edit by hand; regenerate with:
     .venv/bin/python -m sunbid.projects.procedures > docs/procedures.md -->

Each procedure (SPEC T-1) is a table of states and transitions run by one generic engine
(`sunbid.projects.engine`). A transition names the action, the states it leaves from, the state it goes to,
the roles that may trigger it, the guards (conditions on the project's facts) that must all hold, and the
legal time rules it consults (ids of `sunbid.projects.rules`, values in `shared/RULES.md`).

How to read the transition tables:

- **timed** transitions are fired by the scheduler (role `system`) when `now` reaches the named fact; no
  person can trigger them (`engine.timed_transitions_due` tells the scheduler what is due);
- an action listed twice from the same state (`close_bidding` → `opening` or `failed`) goes where its
  guards hold; the guards are complementary, so exactly one applies;
- `↩ return` goes back to the state the project was in before it was suspended (`Facts.suspended_from`);
- a time rule `rule(start → end)` is checked with those two facts (`now` is the time of the attempt).
  **refuse**: a violation refuses the action with the rule's own error (`rules.<id>`); **warn**: the action
  goes ahead and the violation is reported with the outcome (a late contract is still signed, and the
  regulator is told); *if recorded*: skipped when a fact is not recorded; *when g*: applies only when
  guard g holds;
- green channel (绿色通道) and acceptance on a credit promise (容缺受理) are recorded on acceptance
  (SPEC T-6); they never shorten a legal time limit, so no rule depends on them.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _sources(procedure: Procedure, sources: frozenset[str]) -> str:
    order = [s.code for s in procedure.states]
    open_states = [s.code for s in procedure.states if not s.final]
    if set(open_states) == sources:
        return "every non-final state"
    missing = [s for s in open_states if s not in sources]
    if sources <= set(open_states) and len(sources) > 6 and len(missing) <= 3:
        return "every non-final state except " + ", ".join(f"`{s}`" for s in missing)
    return ", ".join(f"`{s}`" for s in order if s in sources)


def _check(c: TimeCheck) -> str:
    text = f"`{c.rule_id}`({c.start_fact} → {c.end_fact}) {c.severity.value}"
    if not c.required:
        text += ", if recorded"
    if c.when:
        text += f", when {c.when}"
    return text


def _transition_row(procedure: Procedure, t: Transition) -> list[str]:
    label_zh = ACTION_LABELS[t.action][0]
    roles = "system ⏱ at " + f"`{t.due_fact}`" if t.timed else ", ".join(sorted(t.roles))
    target = "↩ return" if t.target == RETURN else f"`{t.target}`"
    return [
        f"`{t.action}` {label_zh}",
        _sources(procedure, t.sources),
        target,
        roles,
        ", ".join(t.guard_codes) or "—",
        "; ".join(_check(c) for c in t.time_rules) or "—",
        f"`{t.event}`",
        t.description_zh,
    ]


def _procedure_section(procedure: Procedure) -> list[str]:
    flags = procedure.flags
    flag_names = [name for name in type(flags).__slots__ if name != "min_bids" and getattr(flags, name) is True]
    lines = [
        f"## `{procedure.code}`: {procedure.name_zh} ({procedure.name_en})",
        "",
        procedure.description_zh,
        "",
        f"Sector: {procedure.sector}. Minimum bids: {flags.min_bids}. Flags: {', '.join(flag_names) or 'none'}.",
        "",
        "### States",
        "",
    ]
    rows = []
    for s in procedure.states:
        kind = "initial" if s.initial else "final" if s.final else ""
        watches = "; ".join(_check(c) for c in s.watches) or "—"
        rows.append([f"`{s.code}`", s.name_zh, s.name_en, f"{s.phase.value} ({s.phase.label_zh})", kind, watches])
    lines += _table(["state", "名称", "name", "phase", "", "running limits (reminders)"], rows)
    lines += ["", "### Transitions", ""]
    lines += _table(
        ["action", "from", "to", "roles", "guards", "time rules", "event", "说明"],
        (_transition_row(procedure, t) for t in procedure.transitions),
    )
    lines.append("")
    return lines


def _labels(rows: Mapping[str, tuple[str, str]]) -> list[list[str]]:
    return [[f"`{code}`", zh, en] for code, (zh, en) in rows.items()]


def render_markdown(procedures: Mapping[str, Procedure]) -> str:
    """The whole ``docs/procedures.md`` for ``procedures``."""
    lines = [_INTRO, "## Summary", ""]
    lines += _table(
        ["code", "名称", "name", "sector", "states", "transitions", "min bids"],
        (
            [
                f"`{p.code}`",
                p.name_zh,
                p.name_en,
                p.sector,
                str(len(p.states)),
                str(len(p.transitions)),
                str(p.flags.min_bids),
            ]
            for p in procedures.values()
        ),
    )
    lines += ["", "## Roles", ""]
    lines += _table(["role", "角色", "role (en)"], _labels(ROLE_LABELS))
    lines += ["", "## Actions", ""]
    lines += _table(["action", "操作", "action (en)"], _labels(ACTION_LABELS))
    lines += ["", "## Guards", ""]
    lines += _table(
        ["guard", "条件", "condition"],
        ([f"`{g.code}`", g.description_zh, g.description_en] for g in GUARDS.values()),
    )
    lines += ["", "## Facts the service supplies", "", "Times (aware, UTC):", ""]
    lines += _table(["fact", "事实", "fact (en)"], _labels(FACT_LABELS))
    lines += ["", "Counts, flags and the state before a suspension:", ""]
    lines += _table(["fact", "事实", "fact (en)"], _labels(STATE_FACT_LABELS))
    lines.append("")
    for procedure in procedures.values():
        lines += _procedure_section(procedure)
    return "\n".join(lines).rstrip("\n") + "\n"
