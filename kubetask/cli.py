"""The `kubetask` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.table import Table

from kubetask import crdgen

app = typer.Typer(help="kubetask: typed, validated tasks that run as Kubernetes pods.", no_args_is_help=True)


@app.callback()
def _root() -> None:
    """kubetask command line."""


@app.command()
def crds(
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Where to write the CRD files.")] = Path(
        "crds"
    ),
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if the files on disk differ; write nothing.")] = False,
) -> None:
    """Generate the CustomResourceDefinitions from the API types."""
    stale = []
    for name, text in crdgen.render().items():
        path = output_dir / name
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(str(path))
        if not check:
            output_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if check and stale:
        typer.echo(f"error: CRDs out of date: {', '.join(stale)}; run `kubetask crds`", err=True)
        raise typer.Exit(1)
    if not check:
        typer.echo(f"wrote {len(stale)} file(s) in {output_dir}" if stale else "CRDs up to date")


API_URL = "http://127.0.0.1:8080"
ApiOpt = Annotated[str, typer.Option("--api", envvar="KUBETASK_API_URL", help="Base URL of the kubetask API.")]
NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _call(method: str, url: str, **kwargs: Any) -> Any:
    """One API call; a problem-details answer becomes a one-line error and exit code 1."""
    try:
        r = httpx.request(method, url, timeout=30, **kwargs)
    except httpx.HTTPError as e:
        _fail(f"cannot reach the kubetask API at {url}: {e}")
    if r.status_code >= 400:
        try:
            body = r.json()
            detail = body.get("detail") or body.get("title")
        except ValueError:
            detail = r.text[:200]
        _fail(f"{r.status_code}: {detail}")
    return r.json()


@app.command()
def submit(
    template: Annotated[str, typer.Argument(help="TaskTemplate name.")],
    params: Annotated[str, typer.Option("--params", "-p", help="Params as JSON.")] = "{}",
    namespace: NsOpt = "default",
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="Return the same task on a repeat.")
    ] = None,
    api: ApiOpt = API_URL,
) -> None:
    """Submit a task over the API; prints its name."""
    try:
        body = {"template": template, "params": json.loads(params)}
    except json.JSONDecodeError as e:
        _fail(f"--params is not JSON: {e}")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    task = _call("POST", f"{api}/api/v1/namespaces/{namespace}/tasks", json=body, headers=headers)
    typer.echo(task["name"])


@app.command("list")
def list_tasks(
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace (default: all).")] = None,
    phase: Annotated[list[str] | None, typer.Option("--phase", help="Only this phase (repeatable).")] = None,
    selector: Annotated[str | None, typer.Option("--selector", "-l", help="Label selector.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many.")] = 50,
    api: ApiOpt = API_URL,
) -> None:
    """List tasks from history, newest first."""
    path = f"/api/v1/namespaces/{namespace}/tasks" if namespace else "/api/v1/tasks"
    query: dict[str, Any] = {"limit": limit, "phase": phase or []}
    if selector:
        query["labelSelector"] = selector
    page = _call("GET", api + path, params=query)
    table = Table(box=None, header_style="bold")
    for col in ("NAMESPACE", "NAME", "TEMPLATE", "PHASE", "ATTEMPTS", "DURATION"):
        table.add_column(col, no_wrap=True)
    table.add_column("RESULT", no_wrap=True, overflow="ellipsis", max_width=40)
    for t in page["items"]:
        d = t["durationSeconds"]
        table.add_row(
            t["namespace"],
            t["name"],
            t["template"] or "",
            t["phase"],
            str(t["attemptCount"]),
            "" if d is None else f"{d:.0f}s",
            json.dumps(t["result"])[:60],
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)  # pipes get full rows
