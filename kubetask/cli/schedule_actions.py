"""`kubetask schedules trigger|backfill|preview`: a schedule's manual runs and its next instants.

`trigger` prints the run Task's name (`-o` for the task); `backfill` prints one line per instant
(`created`, `skipped … exists`, `skipped … in history`, `not started …`), and `-o json|yaml` the
API's answer; `preview` prints a table of the next instants. A refusal (409, 422) is one line
on stderr and exit code 3, as for every command.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from ._client import Api, with_api
from ._errors import UsageProblem
from ._output import Column, OutputOpt, emit, parse_format
from ._params import duration_seconds, run_at_from
from ._taskview import task_columns
from .schedules import app

__all__ = ["app"]

NameArg = Annotated[str, typer.Argument(help="TaskSchedule name.", show_default=False)]
_AGO = re.compile(r"^-\s*(\S+)$")


def instant_from(text: str, *, now: datetime, flag: str) -> datetime:
    """`--from`/`--to`: RFC 3339 with an offset, `now`, or `-DURATION` before now (`-6h`, `-1d12h`)."""
    value = text.strip()
    if value == "now":
        return now
    ago = _AGO.match(value)
    if ago:
        return now - timedelta(seconds=duration_seconds(ago.group(1), flag))
    return run_at_from(value, now=now, flag=flag)


@app.command("trigger")
@with_api
def trigger(name: NameArg, output: OutputOpt = None, *, api: Api) -> None:
    """Run the schedule now (a suspended one too), as its concurrencyPolicy allows; prints the run's name."""
    fmt = parse_format(output, default="name")
    emit(api.call("POST", api.ns("schedules", name, "trigger")), fmt, task_columns())


OUTCOMES = (
    ("created", "created"),
    ("skippedExisting", "skipped: its run Task exists"),
    ("skippedHistory", "skipped: ran before (in history)"),
    ("notStarted", "not started: concurrency Forbid, run backfill again to continue"),
)
BACKFILL_COLUMNS = (
    Column("NAME", lambda r: str(r["name"])),
    Column("SCHEDULED", lambda r: str(r["scheduledTime"])),
    Column("OUTCOME", lambda r: str(r["outcome"])),
)


def backfill_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every instant of a backfill's answer, oldest first, with what happened to it."""
    rows = [{**run, "outcome": outcome} for key, outcome in OUTCOMES for run in doc.get(key) or []]
    return sorted(rows, key=lambda r: str(r["scheduledTime"]))


@app.command("backfill")
@with_api
def backfill(
    name: NameArg,
    start: Annotated[
        str, typer.Option("--from", help="First instant: RFC 3339, or -6h (before now).", show_default=False)
    ],
    end: Annotated[
        str, typer.Option("--to", help="Last instant: RFC 3339, -1h, or now (at most now).", show_default=False)
    ] = "now",
    concurrency: Annotated[
        str | None,
        typer.Option(
            "--concurrency",
            help="Allow (create all) or Forbid (oldest only, while none runs); default: per the schedule's policy.",
            show_default=False,
        ),
    ] = None,
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """Run the schedule's instants in a range that have not run (at most 100; running it again is safe)."""
    fmt = parse_format(output) if output else None
    if concurrency is not None and concurrency not in ("Allow", "Forbid"):
        raise UsageProblem(f"--concurrency {concurrency!r}: give Allow or Forbid")
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "from": instant_from(start, now=now, flag="--from").isoformat(),
        "to": instant_from(end, now=now, flag="--to").isoformat(),
    }
    if concurrency:
        body["concurrency"] = concurrency
    doc = api.call("POST", api.ns("schedules", name, "backfill"), json=body)
    rows = backfill_rows(doc)
    if fmt is None:
        for r in rows:
            typer.echo(f"{r['name']} ({r['scheduledTime']}) {r['outcome']}")
        if not rows:
            typer.echo("no instants of the schedule in the range", err=True)
    elif fmt.kind in ("json", "yaml", "jsonpath"):
        emit(doc, fmt, ())
    else:
        emit({"items": rows}, fmt, BACKFILL_COLUMNS, many=True)


PREVIEW_COLUMNS = (
    Column("TIME", lambda i: str(i["time"])),
    Column("LOCAL-TIME", lambda i: str(i["localTime"])),
    Column("START", lambda i: str(i["startTime"]), wide=True),
)


@app.command("preview")
@with_api
def preview(
    name: NameArg,
    count: Annotated[int, typer.Option("--count", help="How many instants (1 to 100).")] = 10,
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """The schedule's next instants, in UTC and in its zone (-o wide: with their jitter-delayed starts)."""
    fmt = parse_format(output)
    if fmt.kind == "name":
        raise UsageProblem("-o name: instants have no names; use table, wide, json, yaml or jsonpath")
    doc = api.call("GET", api.ns("schedules", name, "preview"), params={"count": count})
    if fmt.kind in ("json", "yaml", "jsonpath"):
        emit(doc, fmt, ())
    else:
        emit(doc, fmt, PREVIEW_COLUMNS, many=True)
