"""Task commands: submit, get, list, history, cancel, resubmit, delete (top level, as kubectl's verbs).

Every one talks only to the REST API (`kubetask.cli._client`). Only the commands that wait for a
task (`submit/resubmit --wait|--watch`) exit 1 when it failed; the others report, exit 0.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from . import _following
from ._client import Api, with_api
from ._complete import complete_task_names, complete_template_names
from ._errors import UsageProblem
from ._output import Format, OutputOpt, emit, parse_format
from ._params import check_params, duration_seconds, labels_from, params_from, run_at_from
from ._taskview import ATTEMPT_COLUMNS, EVENT_COLUMNS, columns_for, phases_for, task_columns

app = typer.Typer()

NameArg = Annotated[str, typer.Argument(help="Task name.", show_default=False, autocompletion=complete_task_names)]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE (YAML value); repeatable.")]
LabelOpt = Annotated[list[str] | None, typer.Option("--label", "-l", help="Label KEY=VALUE; repeatable.")]
WaitOpt = Annotated[bool, typer.Option("--wait", help="Block until the task is final; print its result.")]
WatchOpt = Annotated[bool, typer.Option("--watch", "-w", help="Like --wait, showing each phase change on stderr.")]
TimeoutOpt = Annotated[
    str | None, typer.Option("--timeout", help="Give up waiting after this long (e.g. 5m): exit 4.", show_default=False)
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Check and print the request; send nothing.")]


def _post_task(
    api: Api,
    body: dict[str, Any],
    *,
    idempotency_key: str | None,
    dry_run: bool,
    wait: bool,
    watch: bool,
    timeout: str | None,
    output: str | None,
) -> None:
    """Check params against the template, then create (or print, with --dry-run) and maybe follow."""
    limit = duration_seconds(timeout, "--timeout") if timeout else None
    if timeout and not (wait or watch):
        raise UsageProblem("--timeout applies to --wait or --watch; add one of them")
    fmt = parse_format(output, default="yaml" if dry_run else "name")
    template = api.call("GET", api.ns("templates", body["template"]))
    check_params(body["params"], (template.get("spec") or {}).get("paramSchema"), template=body["template"])
    if dry_run:
        emit(body, fmt, ())
        return
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    task = api.call("POST", api.ns("tasks"), json=body, headers=headers)
    if not (wait or watch):
        emit(task, fmt, task_columns())
        return
    final = _following.follow(api, task, timeout=limit, progress=watch)
    _following.report(final, parse_format(output) if output else None)


def read_file(path: Path | None) -> str | None:
    """The text of a `-f` file (`-` for stdin), None without one; a usage error when it cannot be read."""
    if path is None:
        return None
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text()
    except OSError as e:
        raise UsageProblem(f"-f {path}: {e.strerror or e}") from e


@app.command()
@with_api
def submit(
    template: Annotated[
        str, typer.Argument(help="TaskTemplate name.", show_default=False, autocompletion=complete_template_names)
    ],
    param: ParamOpt = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Params as a YAML/JSON mapping ('-': stdin).")
    ] = None,
    label: LabelOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Task name (default: generated).")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="A repeat with this key returns the same task.")
    ] = None,
    run_at: Annotated[
        str | None,
        typer.Option(
            "--run-at",
            help="Start then, not before: RFC 3339 (2026-03-01T09:00:00Z) or +10m from now; Scheduled until then.",
            show_default=False,
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    wait: WaitOpt = False,
    watch: WatchOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """Submit a task; prints its name (with --wait, its result)."""
    params = params_from(param or [], read_file(file), source=f"-f {file}")
    body: dict[str, Any] = {"template": template, "params": params, "labels": labels_from(label or [])}
    if name:
        body["name"] = name
    if run_at:
        body["runAt"] = run_at_from(run_at, now=datetime.now(UTC)).isoformat()
    _post_task(
        api,
        body,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
        wait=wait,
        watch=watch,
        timeout=timeout,
        output=output,
    )


@app.command()
@with_api
def resubmit(
    name: NameArg,
    param: ParamOpt = None,
    label: LabelOpt = None,
    new_name: Annotated[str | None, typer.Option("--name", help="The new task's name (default: generated).")] = None,
    dry_run: DryRunOpt = False,
    wait: WaitOpt = False,
    watch: WatchOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """A new task from an old one's template, params and labels; -p and -l override them."""
    old = api.call("GET", api.ns("tasks", name))
    if not old.get("template"):
        raise UsageProblem(f"task {name!r} has no template (an inline image); resubmit works on template tasks")
    params = {**(old.get("params") or {}), **params_from(param or [], None)}
    labels = {**(old.get("labels") or {}), **labels_from(label or [])}
    body: dict[str, Any] = {"template": old["template"], "params": params, "labels": labels}
    body["name" if new_name else "generateName"] = new_name or f"{old['template'][:52]}-"
    _post_task(api, body, idempotency_key=None, dry_run=dry_run, wait=wait, watch=watch, timeout=timeout, output=output)


@app.command()
@with_api
def get(name: NameArg, output: OutputOpt = None, *, api: Api) -> None:
    """One task: live status while its Task exists, history afterwards."""
    fmt = parse_format(output)
    task = api.call("GET", api.ns("tasks", name))
    emit(task, fmt, columns_for([task]))


def list_params(
    *, phase: list[str], template: list[str], selector: str | None, since: str | None, limit: int, sort: str
) -> dict[str, Any]:
    """The API's query parameters for the list filters (pure but for the clock of --since)."""
    query: dict[str, Any] = {"limit": limit, "sort": sort, "phase": phases_for(phase), "template": template}
    if selector:
        query["labelSelector"] = selector
    if since:
        after = datetime.now(UTC) - timedelta(seconds=duration_seconds(since, "--since"))
        query["createdAfter"] = after.isoformat()
    return query


def fetch_pages(api: Api, path: str, query: dict[str, Any], *, every_page: bool) -> dict[str, Any]:
    """One page as the API sent it, or with every_page all pages merged into one `items`."""
    page: dict[str, Any] = api.call("GET", path, params=query)
    if not every_page:
        return page
    items = list(page["items"])
    while page.get("nextCursor"):
        page = api.call("GET", path, params={**query, "cursor": page["nextCursor"]})
        items += page["items"]
    return {"items": items}


@app.command("list")
@with_api
def list_tasks(
    phase: Annotated[list[str] | None, typer.Option("--phase", help="Phase, or !Phase to exclude; repeatable.")] = None,
    template: Annotated[list[str] | None, typer.Option("--template", help="Only this template; repeatable.")] = None,
    selector: Annotated[str | None, typer.Option("--selector", "-l", help="Label selector (a=b,c!=d).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Created within this long (e.g. 1h).")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Every namespace.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Page size.")] = 50,
    every_page: Annotated[bool, typer.Option("--all", help="Follow the cursor through every page.")] = False,
    sort: Annotated[
        str, typer.Option("--sort", help="created, name, finished, duration; '-' descending.")
    ] = "-created",
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """List tasks from history, newest first."""
    fmt = parse_format(output)
    query = list_params(
        phase=phase or [], template=template or [], selector=selector, since=since, limit=limit, sort=sort
    )
    path = "/api/v1/tasks" if all_namespaces else api.ns("tasks")
    emit(
        fetch_pages(api, path, query, every_page=every_page),
        fmt,
        task_columns(namespaces=all_namespaces),
        many=True,
    )


@app.command()
@with_api
def history(name: NameArg, output: OutputOpt = None, *, api: Api) -> None:
    """A task's attempts and events, oldest first (json/yaml: `{"attempts": [...], "events": [...]}`)."""
    fmt = parse_format(output)
    if fmt.kind == "name":
        raise UsageProblem("-o name: history has no names; use table, wide, json, yaml or jsonpath")
    doc = {
        "attempts": api.call("GET", api.ns("tasks", name, "attempts")),
        "events": api.call("GET", api.ns("tasks", name, "events")),
    }
    if fmt.kind not in ("table", "wide"):
        emit(doc, fmt, ())
        return
    emit({"items": doc["attempts"]}, fmt, ATTEMPT_COLUMNS, many=True)
    typer.echo("")
    emit({"items": doc["events"]}, fmt, EVENT_COLUMNS, many=True)


def _act(verb: str, method: str, name: str, output: str | None, api: Api, *parts: str) -> None:
    fmt: Format = parse_format(output, default="name")
    answer = api.call(method, api.ns("tasks", name, *parts))
    if output is None:
        typer.echo(f"task/{name} {verb}")
    else:
        emit(answer, fmt, task_columns())


@app.command()
@with_api
def cancel(name: NameArg, output: OutputOpt = None, *, api: Api) -> None:
    """Cancel a task: its running attempt is stopped, the phase becomes Cancelled."""
    _act("cancelled", "POST", name, output, api, "cancel")


@app.command()
@with_api
def delete(name: NameArg, *, api: Api) -> None:
    """Delete a task (its Jobs and pods go with it; its history stays)."""
    _act("deleted", "DELETE", name, None, api)
