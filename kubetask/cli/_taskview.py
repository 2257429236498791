"""How tasks look in tables and which phases a `--phase` filter means (pure).

`--phase` takes phase names and `!Phase` exclusions, repeatable. The API filters only by
inclusion (`phase=` repeatable), so exclusions are turned into the inclusion of every other phase
here (the phases are a closed set, `kubetask.models.Phase`): paging and `--limit` stay exact,
with no client-side filtering.

A running task's detail carries `progress` (its handler's last `ctx.progress`, read by the API
from the pod's log): shown as `3/10 30% message`, in a PROGRESS column that `columns_for` adds only
when a row has one (so a finished task's table is as before).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kubetask.models import FINAL_PHASES, Phase

from ._errors import UsageProblem
from ._output import Column, age_of, duration, local_time

PHASES = tuple(p.value for p in Phase)


def phases_for(values: Sequence[str]) -> list[str]:
    """The phases to ask the API for ([] = all): inclusions, minus `!`-exclusions."""
    included: list[str] = []
    excluded: set[str] = set()
    for raw in values:
        for value in (v.strip() for v in raw.split(",")):
            name = value[1:] if value.startswith("!") else value
            match = next((p for p in PHASES if p.lower() == name.lower()), None)
            if match is None:
                raise UsageProblem(f"--phase {value!r}: use one of {', '.join(PHASES)}, or !PHASE to exclude one")
            (excluded.add if value.startswith("!") else included.append)(match)
    if not excluded:
        return included
    kept = [p for p in (included or PHASES) if p not in excluded]
    if not kept:
        raise UsageProblem("--phase: the exclusions leave no phase to list")
    return kept


def is_final(task: dict[str, Any]) -> bool:
    return task.get("phase") in FINAL_PHASES


def _result(task: dict[str, Any]) -> str:
    r = task.get("result")
    return "" if r is None else json.dumps(r, separators=(",", ":"), ensure_ascii=False)


def _labels(task: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((task.get("labels") or {}).items()))


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def progress_text(task: dict[str, Any]) -> str:
    """`current/total pct% message` from a task detail's `progress`; "" when it has none."""
    p = task.get("progress")
    if not p:
        return ""
    current, total = p["current"], p.get("total")
    parts = [_number(current) if total is None else f"{_number(current)}/{_number(total)}"]
    if total:  # a total of 0 (or none) has no percentage
        parts.append(f"{int(100 * current / total)}%")
    if p.get("message"):
        parts.append(p["message"])
    return " ".join(parts)


def columns_for(rows: Sequence[dict[str, Any]], *, namespaces: bool = False) -> tuple[Column, ...]:
    """`task_columns`, with PROGRESS after AGE when one of `rows` reports progress."""
    columns = task_columns(namespaces=namespaces)
    if not any(r.get("progress") for r in rows):
        return columns
    at = next(i for i, c in enumerate(columns) if c.header == "AGE") + 1
    return columns[:at] + (Column("PROGRESS", progress_text),) + columns[at:]


def task_columns(*, namespaces: bool = False) -> tuple[Column, ...]:
    """The columns of a task table; NAMESPACE first when listing several namespaces (-A)."""
    ns = (Column("NAMESPACE", lambda t: t["namespace"]),) if namespaces else ()
    return ns + (
        Column("NAME", lambda t: t["name"]),
        Column("TEMPLATE", lambda t: t.get("template") or ""),
        Column("PHASE", lambda t: t["phase"], styled=True),
        Column("ATTEMPTS", lambda t: str(t.get("attemptCount", 0))),
        Column("DURATION", lambda t: duration(t.get("durationSeconds"))),
        Column("AGE", age_of("createdAt")),
        Column("REASON", lambda t: t.get("reason") or "", wide=True),
        Column("CREATED", lambda t: local_time(t.get("createdAt")), wide=True),
        Column("FINISHED", lambda t: local_time(t.get("finishedAt")), wide=True),
        Column("RESULT", _result, wide=True),
        Column("LABELS", _labels, wide=True),
    )


ATTEMPT_COLUMNS = (
    Column("ATTEMPT", lambda a: str(a["number"])),
    Column("JOB", lambda a: a["jobName"]),
    Column("PHASE", lambda a: a["phase"], styled=True),
    Column("EXIT", lambda a: "" if a.get("exitCode") is None else str(a["exitCode"])),
    Column("REASON", lambda a: a.get("reason") or ""),
    Column("DURATION", lambda a: duration(a.get("durationSeconds"))),
    Column("STARTED", lambda a: local_time(a.get("startedAt"))),
    Column("POD", lambda a: a.get("podName") or "", wide=True),
    Column("MESSAGE", lambda a: a.get("message") or "", wide=True),
)

EVENT_COLUMNS = (
    Column("TIME", lambda e: local_time(e.get("timestamp"))),
    Column("AGE", age_of("timestamp")),
    Column("TYPE", lambda e: e["type"]),
    Column("REASON", lambda e: e["reason"], styled=True),
    Column("MESSAGE", lambda e: e.get("message") or ""),
)
