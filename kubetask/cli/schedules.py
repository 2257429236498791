"""`kubetask schedules list|get|apply -f|suspend|resume|runs|delete`: TaskSchedules through the API.

The table has the CRD's printer columns (NAME SCHEDULE TIMEZONE SUSPENDED LAST NEXT ACTIVE AGE;
`-o wide` adds the template, the concurrency policy and the Ready reason). `apply -f` works as
`templates apply` does (see that module): kubectl's words `created|configured|unchanged`, the
whole file checked first, a document's labels and spec sent, nothing else of its metadata.
`runs` lists a schedule's runs from history (NAME SCHEDULED PHASE DURATION RESULT) and ends with
its success rate. The manual runs (`trigger`, `backfill`, `preview`) are `schedule_actions`'
commands on this same `app`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from kubetask.schedules import DEFAULT_TIME_ZONE

from ._applying import apply_file, get_or_none, send
from ._client import Api, NamespaceOpt, with_api
from ._manifests import Manifest, apply_verb, parse_schedules
from ._output import Column, OutputOpt, age_of, duration, emit, local_time, parse_format

app = typer.Typer(
    help="TaskSchedules: list, get, apply -f, suspend, resume, trigger, backfill, preview, runs, delete.",
    no_args_is_help=True,
)

KIND = "taskschedule.kubetask.io"
NameArg = Annotated[str, typer.Argument(help="TaskSchedule name.", show_default=False)]


def _status(key: str) -> Any:
    return lambda s: (s.get("status") or {}).get(key)


def _next(s: dict[str, Any]) -> str:
    times = (s.get("status") or {}).get("nextRunTimes") or []
    return local_time(times[0]) if times else ""


def _last(s: dict[str, Any]) -> str:
    return age_of("lastScheduleTime")(s.get("status") or {})


COLUMNS = (
    Column("NAME", lambda s: str(s["name"])),
    Column("SCHEDULE", lambda s: str(s["spec"].get("schedule", ""))),
    Column("TIMEZONE", lambda s: str(s["spec"].get("timeZone") or DEFAULT_TIME_ZONE)),
    Column("SUSPENDED", lambda s: "true" if s.get("suspended") else "false"),
    Column("LAST", _last),
    Column("NEXT", _next),
    Column("ACTIVE", lambda s: str(_status("activeCount")(s) or 0)),
    Column("AGE", age_of("createdAt")),
    Column(
        "TEMPLATE", lambda s: str(((s["spec"].get("task") or {}).get("templateRef") or {}).get("name", "")), wide=True
    ),
    Column("POLICY", lambda s: str(s["spec"].get("concurrencyPolicy", "")), wide=True),
    Column("READY", lambda s: str((s.get("ready") or {}).get("reason") or ""), wide=True),
)


@app.command("list")
@with_api
def list_schedules(
    output: OutputOpt = None,
    selector: Annotated[
        str | None, typer.Option("--selector", "-l", help="Label selector, e.g. team=ops.", show_default=False)
    ] = None,
    suspended: Annotated[
        bool | None,
        typer.Option("--suspended/--active", help="Only suspended, or only active, schedules.", show_default=False),
    ] = None,
    *,
    api: Api,
) -> None:
    """List the TaskSchedules of a namespace."""
    fmt = parse_format(output)
    params: dict[str, str] = {}
    if selector:
        params["labelSelector"] = selector
    if suspended is not None:
        params["suspended"] = "true" if suspended else "false"
    emit(api.call("GET", api.ns("schedules"), params=params), fmt, COLUMNS, many=True)


@app.command("get")
@with_api
def get_schedule(name: NameArg, output: OutputOpt = None, *, api: Api) -> None:
    """Show one TaskSchedule (`-o yaml` for its whole spec and status)."""
    fmt = parse_format(output)
    emit(api.call("GET", api.ns("schedules", name)), fmt, COLUMNS)


def _apply_one(api: Api, m: Manifest, ns: str) -> tuple[str, dict[str, Any]]:
    current = get_or_none(api, "schedules", m.name, ns)
    verb = apply_verb(None if current is None else current["spec"], m.spec, "TaskSchedule")
    if verb == "unchanged" and current is not None and (current.get("labels") or {}) != m.labels:
        verb = "configured"
    body = {"name": m.name, "labels": m.labels, "spec": m.spec}
    return verb, send(api, "schedules", verb, body, ns, current)


@app.command("apply")
@with_api
def apply_schedules(
    filename: Annotated[str, typer.Option("--filename", "-f", help="YAML or JSON file of TaskSchedules; - for stdin.")],
    output: OutputOpt = None,
    namespace: NamespaceOpt = None,
    *,
    api: Api,
) -> None:
    """Create or update TaskSchedules from a file, like `kubectl apply -f`."""
    apply_file(
        api,
        filename,
        namespace=namespace,
        output=output,
        parse=parse_schedules,
        apply_one=_apply_one,
        kind=KIND,
        columns=COLUMNS,
    )


@app.command("suspend")
@with_api
def suspend_schedule(
    name: NameArg,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (shown in its Ready condition).")] = None,
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """Suspend a schedule: no runs start until it is resumed."""
    fmt = parse_format(output) if output else None
    doc = api.call("POST", api.ns("schedules", name, "suspend"), json={"reason": reason} if reason else None)
    if fmt is None:
        typer.echo(f"{KIND}/{name} suspended")
    else:
        emit(doc, fmt, COLUMNS)


@app.command("resume")
@with_api
def resume_schedule(name: NameArg, output: OutputOpt = None, *, api: Api) -> None:
    """Resume a schedule: runs start from its next instant; nothing from the pause runs."""
    fmt = parse_format(output) if output else None
    doc = api.call("POST", api.ns("schedules", name, "resume"))
    if fmt is None:
        typer.echo(f"{KIND}/{name} resumed")
    else:
        emit(doc, fmt, COLUMNS)


def _result(r: dict[str, Any]) -> str:
    if r.get("result") is not None:
        return json.dumps(r["result"], separators=(",", ":"), ensure_ascii=False)
    return str(r.get("reason") or "")


RUN_COLUMNS = (
    Column("NAME", lambda r: str(r["name"])),
    Column("SCHEDULED", lambda r: local_time(r["scheduledTime"])),
    Column("PHASE", lambda r: str(r["phase"]), styled=True),
    Column("DURATION", lambda r: duration(r.get("durationSeconds"))),
    Column("RESULT", _result),
    Column("ATTEMPTS", lambda r: str(r.get("attemptCount", "")), wide=True),
    Column("DELETED", lambda r: "true" if r.get("deleted") else "false", wide=True),
)


def success_line(doc: dict[str, Any]) -> str:
    """`success rate: 75% (3 of 4 finished); 5 runs in history`, from the runs route's figures."""
    phases = doc.get("byPhase") or {}
    done = sum(phases.get(p, 0) for p in ("Succeeded", "Failed", "DeadLettered"))
    rate = doc.get("successRate")
    shown = "-" if rate is None else f"{rate:.0%}"
    succeeded, total = phases.get("Succeeded", 0), doc.get("total", 0)
    return f"success rate: {shown} ({succeeded} of {done} finished); {total} runs in history"


@app.command("runs")
@with_api
def schedule_runs(
    name: NameArg,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs, newest first.")] = 50,
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """A schedule's runs from history, newest first, with their results and the success rate."""
    fmt = parse_format(output)
    doc = api.call("GET", api.ns("schedules", name, "runs"), params={"limit": limit})
    emit(doc, fmt, RUN_COLUMNS, many=True)
    if fmt.kind in ("table", "wide"):
        typer.echo(success_line(doc))


@app.command("delete")
@with_api
def delete_schedules(
    names: Annotated[list[str], typer.Argument(help="TaskSchedule names.", show_default=False)],
    *,
    api: Api,
) -> None:
    """Delete TaskSchedules; their run Tasks go with them, their history stays."""
    for name in names:
        api.call("DELETE", api.ns("schedules", name))
        typer.echo(f"{KIND}/{name} deleted")
