"""`kubetask stats`: tasks per phase, success rate, durations and throughput over a window.

The API's `/stats` computes everything from history (`window`, optionally one namespace); this
command only lays it out: one row per template plus `(all)`, the phase counts the old CLI showed
as columns, then success rate and p95 run time (`-o wide` adds the average and tasks per minute).
`-o json|yaml|jsonpath` print the API's document unchanged; `-o name` prints the template names.
The window defaults to an hour and reaches 90 days (the API's bounds, 1m..90d).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kubetask.models import Phase

from ._client import Api, with_api
from ._errors import UsageProblem
from ._output import Column, OutputOpt, duration, emit, local_time, parse_format
from ._params import duration_seconds

ALL = "(all)"
MIN_WINDOW, MAX_WINDOW = 60, 90 * 86400  # what the API accepts


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def _seconds(key: str) -> Any:
    def value(row: dict[str, Any]) -> str:
        v = row.get(key)
        return "" if v is None else (f"{v:.1f}s" if v < 120 else duration(v))

    return value


def _phase(phase: str) -> Any:
    return lambda row: str(row["byPhase"].get(phase, 0))


COLUMNS = (
    Column("TEMPLATE", lambda row: str(row["name"])),
    Column("TOTAL", lambda row: str(row["total"])),
    *(Column(p.value.upper(), _phase(p.value)) for p in Phase),
    Column("SUCCESS", lambda row: _percent(row.get("successRate"))),
    Column("P95", _seconds("p95DurationSeconds")),
    Column("AVG", _seconds("avgDurationSeconds"), wide=True),
    Column("PER-MIN", lambda row: f"{row['tasksPerMinute']:.2f}", wide=True),
)


def rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's rows: each template by name, then the overall figures."""
    per = [{"name": name, **figures} for name, figures in sorted(doc["perTemplate"].items())]
    return [*per, {"name": ALL, **doc["overall"]}]


@with_api
def stats(
    window: Annotated[str, typer.Option("--window", "-w", help="How far back: 30m, 1h, 7d (1m to 90d).")] = "1h",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Every namespace.")] = False,
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """Task counts per phase, success rate, durations and throughput; overall and per template."""
    fmt = parse_format(output)
    seconds = round(duration_seconds(window, "--window"))
    if not MIN_WINDOW <= seconds <= MAX_WINDOW:
        raise UsageProblem(f"--window {window!r}: give 1m to 90d")
    query: dict[str, Any] = {"window": seconds}
    if not all_namespaces:
        query["namespace"] = api.namespace
    doc = api.call("GET", "/api/v1/stats", params=query)
    if fmt.kind in ("table", "wide"):
        scope = "all namespaces" if all_namespaces else f"namespace {api.namespace}"
        start, end = local_time(doc["windowStart"]), local_time(doc["windowEnd"])
        typer.echo(f"{scope}, {start} to {end}")
        emit({"items": rows(doc)}, fmt, COLUMNS, many=True)
    elif fmt.kind == "name":
        typer.echo("".join(f"{name}\n" for name in sorted(doc["perTemplate"])), nl=False)
    else:
        emit(doc, fmt, COLUMNS)
