"""`kubetask watch`: a live task table, redrawn in place until every task shown is final (or Ctrl-C).

With names it follows those tasks (`GET .../tasks/NAME`, live from the cluster); without, the
first page of the list filters, as `kubetask list` would show it; a named task that reports
progress (its detail's `progress`) gets a PROGRESS column while it runs. rich's `Live` redraws the
table in place on a terminal (cursor up, erase line: no new line per poll); when stdout is not a
terminal it prints the final table once. Ctrl-C stops it with exit 0, as `kubectl get -w`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from ._client import Api, with_api
from ._complete import complete_task_names
from ._output import console, table
from ._taskview import columns_for, is_final
from .tasks import list_params

app = typer.Typer()


def _rows(api: Api, names: list[str], path: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    if names:
        return [api.call("GET", api.ns("tasks", n)) for n in names]
    items: list[dict[str, Any]] = api.call("GET", path, params=query)["items"]
    return items


def _table(rows: list[dict[str, Any]], *, all_namespaces: bool, wide: bool) -> Table:
    """The table as drawn now: a PROGRESS column while a named task reports progress."""
    return table(rows, columns_for(rows, namespaces=all_namespaces), wide=wide)


@app.command()
@with_api
def watch(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Tasks to follow (default: the list filters).", autocompletion=complete_task_names),
    ] = None,
    phase: Annotated[list[str] | None, typer.Option("--phase", help="Phase, or !Phase to exclude; repeatable.")] = None,
    template: Annotated[list[str] | None, typer.Option("--template", help="Only this template; repeatable.")] = None,
    selector: Annotated[str | None, typer.Option("--selector", "-l", help="Label selector.")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Every namespace.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many tasks to show.")] = 20,
    interval: Annotated[float, typer.Option("--interval", min=0.2, help="Seconds between polls.")] = 1.0,
    wide: Annotated[bool, typer.Option("--wide", help="The -o wide columns.")] = False,
    *,
    api: Api,
) -> None:
    """A live table of tasks, until every one shown is final."""
    query = list_params(
        phase=phase or [], template=template or [], selector=None, since=None, limit=limit, sort="-created"
    )
    if selector:
        query["labelSelector"] = selector
    path = "/api/v1/tasks" if all_namespaces else api.ns("tasks")
    rows = _rows(api, names or [], path, query)
    with Live(_table(rows, all_namespaces=all_namespaces, wide=wide), console=console(), auto_refresh=False) as live:
        try:
            while not (rows and all(is_final(t) for t in rows)):
                time.sleep(interval)
                rows = _rows(api, names or [], path, query)
                live.update(_table(rows, all_namespaces=all_namespaces, wide=wide), refresh=True)
        except KeyboardInterrupt:
            pass
