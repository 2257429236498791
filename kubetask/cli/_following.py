"""Following one task to its end (`--wait`, `--watch`) and reporting the outcome as an exit code.

Polls `GET .../tasks/NAME` every `POLL_SECONDS` (the API has no watch stream); `--watch` writes
one line per change of phase or progress to stderr (`ns/name Running 3/10 30% message`), so stdout
keeps only the final document. The outcome: Succeeded exits 0, any other final phase raises
TaskFailed (exit 1), the timeout WaitTimedOut (4).
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from ._client import Api
from ._errors import TaskFailed, WaitTimedOut
from ._output import Format, emit
from ._taskview import is_final, progress_text, task_columns

POLL_SECONDS = 1.0


def _line(task: dict[str, Any]) -> str:
    why = ": ".join(x for x in (task.get("reason"), task.get("message")) if x)
    done = progress_text(task)
    return (
        f"{task['namespace']}/{task['name']} {task['phase']}"
        + (f" {done}" if done else "")
        + (f" ({why})" if why else "")
    )


def follow(api: Api, task: dict[str, Any], *, timeout: float | None, progress: bool) -> dict[str, Any]:
    """The task once final; WaitTimedOut if `timeout` seconds pass first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    seen: tuple[str, str] | None = None
    path = api.ns("tasks", task["name"], namespace=task["namespace"])
    while True:
        now = (task["phase"], progress_text(task))
        if progress and now != seen:
            typer.echo(_line(task), err=True)
            seen = now
        if is_final(task):
            return task
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimedOut(f"task {task['namespace']}/{task['name']} still {task['phase']} after --timeout")
        time.sleep(POLL_SECONDS if deadline is None else max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))
        task = api.call("GET", path)


def report(task: dict[str, Any], fmt: Format | None) -> None:
    """Print the result (or the task in `fmt`); TaskFailed unless it Succeeded."""
    if fmt is not None:
        emit(task, fmt, task_columns())
    elif task.get("result") is not None:
        typer.echo(json.dumps(task["result"], indent=2, ensure_ascii=False))
    if task["phase"] != "Succeeded":
        raise TaskFailed(f"task {_line(task)}")
