"""Routes: TaskSchedules — create, list (with filters), get, replace, delete, suspend and resume."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["schedules"])
