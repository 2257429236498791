"""Routes: a schedule's manual runs — trigger now, backfill a range — and a preview of its next instants."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["schedules"])
