"""`kubetask logs NAME`: an attempt's log, live from its pod or kept after it (the API decides which).

The default attempt is the latest (the task's `attemptCount`, read first); `--attempt N` names one.
The log is written to stdout as it arrives, bytes unchanged; with `-f` the command ends when the
server ends the stream (the container exited, or the log was a kept one). Ctrl-C exits 130 with
nothing on stderr, as `kubectl logs -f` does. Which source answered goes to stderr with `-v`.
"""

from __future__ import annotations

import math
import sys
from typing import Annotated, Any

import typer

from ._client import Api, with_api
from ._complete import complete_task_names
from ._errors import ApiError
from ._params import duration_seconds

app = typer.Typer()

SOURCE_HEADER = "X-Kubetask-Log-Source"
INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it


def query(*, follow: bool, tail: int | None, since: str | None) -> dict[str, Any]:
    """The API's query parameters for the flags."""
    out: dict[str, Any] = {}
    if follow:
        out["follow"] = "true"
    if tail is not None:
        out["tail"] = tail
    if since is not None:
        out["sinceSeconds"] = max(1, math.ceil(duration_seconds(since, "--since")))
    return out


def _latest(api: Api, name: str) -> int:
    task = api.call("GET", api.ns("tasks", name))
    attempts = [int(a["number"]) for a in task.get("attempts") or []]
    if not attempts:
        raise ApiError(f"task {api.namespace}/{name} has no attempt yet ({task.get('phase')})")
    return max(attempts)


@app.command()
@with_api
def logs(
    name: Annotated[str, typer.Argument(help="Task name.", show_default=False, autocompletion=complete_task_names)],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream until the attempt's container ends.")] = False,
    attempt: Annotated[
        int | None, typer.Option("--attempt", min=1, help="Attempt number (default: the latest).", show_default=False)
    ] = None,
    tail: Annotated[
        int | None, typer.Option("--tail", min=0, help="Only the last N lines.", show_default=False)
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only lines of the last DURATION (5m, 1h; live logs only).", show_default=False),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say on stderr which source answered.")] = False,
    *,
    api: Api,
) -> None:
    """Print an attempt's log: live from its pod while it exists, else the one kept when it ended."""
    params = query(follow=follow, tail=tail, since=since)
    number = attempt if attempt is not None else _latest(api, name)
    try:
        with api.stream(api.ns("tasks", name, "attempts", str(number), "logs"), params=params) as r:
            if verbose:
                typer.echo(f"attempt {number}: {r.headers.get(SOURCE_HEADER, '?')} log", err=True)
            out = sys.stdout.buffer
            for chunk in r.iter_raw():
                out.write(chunk)
                out.flush()
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None
