"""`kubetask schedules list|get|apply -f|suspend|resume|runs|delete`: TaskSchedules through the API."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="TaskSchedules: list, get, apply -f, suspend, resume, trigger, backfill, preview, runs, delete.",
    no_args_is_help=True,
)
