"""`kubetask dlq list|redrive|purge`: dead-lettered tasks, re-run or removed, never by surprise.

`redrive` and `purge` act on the names given or, with `--all`, on every dead letter matching the
filters the API offers (`--template`, `--reason`; redrive only those not redriven yet). What they
would act on is listed first and acted on exactly (by name, so a dead letter arriving meanwhile
is not swept in). `--dry-run` prints that list and stops. Acting on more than one prints the count
on stderr and asks on a terminal; without one it refuses (exit 2) unless `--yes` was given, so a
script never purges by accident. A redrive that fails for some items prints the others and exits 3.
"""

from __future__ import annotations

import enum
import sys
from typing import Annotated, Any

import typer

from ._client import Api, with_api
from ._complete import complete_dead_letter_names
from ._errors import ApiError, UsageProblem
from ._output import Column, Format, OutputOpt, age_of, emit, parse_format
from .tasks import fetch_pages

app = typer.Typer(help="Dead letters: list, redrive, purge.", no_args_is_help=True)

PAGE = 500  # the API's largest page by default (KUBETASK_API_MAX_PAGE_SIZE)
REDRIVE_BATCH = 1000  # the most names one POST /deadletters/redrive takes


class Bulk(enum.Enum):
    """What a redrive or purge does with the dead letters it matched."""

    NOTHING = "nothing"  # none matched
    DRY_RUN = "dry-run"  # list them, act on none
    ACT = "act"
    ASK = "ask"  # more than one, on a terminal: confirm first
    REFUSE = "refuse"  # more than one, no terminal, no --yes


def bulk_action(count: int, *, dry_run: bool, yes: bool, interactive: bool) -> Bulk:
    """The rule of the module docstring, on plain values."""
    if count == 0:
        return Bulk.NOTHING
    if dry_run:
        return Bulk.DRY_RUN
    if count == 1 or yes:
        return Bulk.ACT
    return Bulk.ASK if interactive else Bulk.REFUSE


COLUMNS = (
    Column("NAMESPACE", lambda d: str(d["namespace"])),
    Column("NAME", lambda d: str(d["name"])),
    Column("TEMPLATE", lambda d: d.get("template") or ""),
    Column("REASON", lambda d: d.get("reason") or ""),
    Column("ATTEMPTS", lambda d: str(d["attemptCount"])),
    Column("REDRIVES", lambda d: str(d["redriveCount"])),
    Column("AGE", age_of("deadLetteredAt")),
    Column("LAST-REDRIVE", lambda d: d.get("lastRedrive") or "", wide=True),
    Column("MESSAGE", lambda d: d.get("message") or "", wide=True),
)
RESULT_COLUMNS = (
    Column("NAMESPACE", lambda r: str(r["namespace"])),
    Column("ORIGINAL", lambda r: str(r["original"])),
    Column("TASK", lambda r: r.get("task") or ""),
    Column("ERROR", lambda r: r.get("error") or ""),
)

AllNamespacesOpt = Annotated[bool, typer.Option("--all-namespaces", "-A", help="Every namespace.")]
TemplateOpt = Annotated[list[str] | None, typer.Option("--template", help="Only this template (repeatable).")]
ReasonOpt = Annotated[list[str] | None, typer.Option("--reason", help="Only this failure reason (repeatable).")]
NamesArg = Annotated[
    list[str] | None, typer.Argument(help="Dead-lettered task names.", autocompletion=complete_dead_letter_names)
]
AllOpt = Annotated[bool, typer.Option("--all", help="Every dead letter matching the filters.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print what would be acted on; act on nothing.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Act on more than one without asking.")]


def _path(api: Api, all_namespaces: bool) -> str:
    return "/api/v1/deadletters" if all_namespaces else api.ns("deadletters")


def _list(
    api: Api, path: str, *, templates: list[str], reasons: list[str], pending: bool, limit: int, every_page: bool
) -> dict[str, Any]:
    query: dict[str, Any] = {"template": templates, "reason": reasons, "pending": pending, "limit": limit}
    return fetch_pages(api, path, query, every_page=every_page)


@app.command("list")
@with_api
def list_dead_letters(
    output: OutputOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    template: TemplateOpt = None,
    reason: ReasonOpt = None,
    pending: Annotated[bool, typer.Option("--pending", help="Hide the ones already redriven.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Page size.")] = 50,
    every_page: Annotated[bool, typer.Option("--all", help="Follow the cursor through every page.")] = False,
    *,
    api: Api,
) -> None:
    """List dead-lettered tasks, newest first."""
    fmt = parse_format(output)
    doc = _list(
        api,
        _path(api, all_namespaces),
        templates=template or [],
        reasons=reason or [],
        pending=pending,
        limit=limit,
        every_page=every_page,
    )
    emit(doc, fmt, COLUMNS, many=True)


def _targets(
    api: Api, names: list[str], every: bool, templates: list[str], reasons: list[str], *, pending: bool
) -> list[dict[str, Any]]:
    """The dead letters a redrive/purge acts on: the named ones (each must exist) or all that match."""
    if bool(names) == every:
        raise UsageProblem("name the dead letters or pass --all, not both" if every else "name a dead letter or --all")
    if names and (templates or reasons):
        raise UsageProblem("--template and --reason filter --all; with names, leave them out")
    path = api.ns("deadletters")
    if every:
        doc = _list(api, path, templates=templates, reasons=reasons, pending=pending, limit=PAGE, every_page=True)
        matched: list[dict[str, Any]] = doc["items"]
        return matched
    everything = _list(api, path, templates=[], reasons=[], pending=False, limit=PAGE, every_page=True)
    known = {d["name"]: d for d in everything["items"]}
    missing = [n for n in names if n not in known]
    if missing:
        raise ApiError(f"no dead letter {', '.join(missing)} in namespace {api.namespace!r}", status=404)
    return [known[n] for n in dict.fromkeys(names)]


def _go_ahead(verb: str, found: list[dict[str, Any]], *, dry_run: bool, yes: bool, fmt: Format) -> bool:
    """Print the count (and the list on a dry run), ask or refuse; True when the action should run."""
    action = bulk_action(len(found), dry_run=dry_run, yes=yes, interactive=sys.stdin.isatty())
    if action is Bulk.NOTHING:
        typer.echo(f"no dead letters to {verb}", err=True)
        return False
    if len(found) > 1 or action is Bulk.DRY_RUN:
        typer.echo(f"{len(found)} dead letter(s) to {verb}" + (" (dry run: nothing done)" if dry_run else ""), err=True)
    if action is Bulk.DRY_RUN:
        emit({"items": found}, fmt, COLUMNS, many=True)
        return False
    if action is Bulk.REFUSE:
        raise UsageProblem(f"refusing to {verb} {len(found)} dead letters without confirmation: pass --yes")
    if action is Bulk.ASK and not typer.confirm(f"{verb} {len(found)} dead letters?", err=True):
        typer.echo("nothing done", err=True)
        return False
    return True


@app.command("redrive")
@with_api
def redrive(
    names: NamesArg = None,
    every: AllOpt = False,
    template: TemplateOpt = None,
    reason: ReasonOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """Re-run dead letters as new Tasks `<name>-r<n>` (repeats return the same task)."""
    fmt = parse_format(output)
    found = _targets(api, names or [], every, template or [], reason or [], pending=True)
    if not _go_ahead("redrive", found, dry_run=dry_run, yes=yes, fmt=fmt):
        return
    results: list[dict[str, Any]] = []
    for i in range(0, len(found), REDRIVE_BATCH):
        items = [{"namespace": d["namespace"], "name": d["name"]} for d in found[i : i + REDRIVE_BATCH]]
        results += api.call("POST", "/api/v1/deadletters/redrive", json={"items": items})
    _emit_results(results, fmt)
    failed = [r for r in results if r.get("error")]
    if failed:
        first = failed[0]
        raise ApiError(f"{len(failed)} of {len(results)} redrives failed; first: {first['original']}: {first['error']}")


def _emit_results(results: list[dict[str, Any]], fmt: Format) -> None:
    if fmt.kind == "name":  # the new tasks, ready for `kubetask get` or `watch`
        typer.echo("".join(f"{r['task']}\n" for r in results if r.get("task")), nl=False)
    else:
        emit({"items": results}, fmt, RESULT_COLUMNS, many=True)


@app.command("purge")
@with_api
def purge(
    names: NamesArg = None,
    every: AllOpt = False,
    template: TemplateOpt = None,
    reason: ReasonOpt = None,
    pending: Annotated[bool, typer.Option("--pending", help="With --all: only those never redriven.")] = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """Delete dead letters and their history (and their Task, if it still exists)."""
    fmt = parse_format(output)
    found = _targets(api, names or [], every, template or [], reason or [], pending=pending)
    if not _go_ahead("purge", found, dry_run=dry_run, yes=yes, fmt=fmt):
        return
    for d in found:
        api.call("DELETE", api.ns("deadletters", d["name"], namespace=d["namespace"]))
        if fmt.kind == "table":
            typer.echo(f"deadletter {d['namespace']}/{d['name']} purged")
    if fmt.kind != "table":
        emit({"items": found}, fmt, COLUMNS, many=True)
