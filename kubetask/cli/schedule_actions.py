"""`kubetask schedules trigger|backfill|preview`: a schedule's manual runs and its next instants."""

from __future__ import annotations

from .schedules import app

__all__ = ["app"]
