"""A cursor is the server's own; a forged one (valid base64 JSON with values no page could give) is a
CursorError, never a database error: ids beyond a 64-bit column, booleans, times that are not
instants, durations that are not numbers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubetask.store import schedule_runs
from kubetask.store.queries import CursorError, _decode


def _cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "data"),
    [
        ("-created", {"s": "-created", "v": "2026-01-01T00:00:00+00:00", "id": 2**63}),
        ("-created", {"s": "-created", "v": "2026-01-01T00:00:00+00:00", "id": -1}),
        ("-created", {"s": "-created", "v": "2026-01-01T00:00:00+00:00", "id": True}),
        ("-created", {"s": "-created", "v": "2026-01-01T00:00:00+00:00", "id": "7"}),
        ("-created", {"s": "-created", "v": "yesterday", "id": 1}),
        ("-time", {"s": "-time", "v": 12, "id": 1}),
        ("-deadLettered", {"s": "-deadLettered", "v": ["x"], "id": 1}),
        ("duration", {"s": "duration", "v": "long", "id": 1}),
    ],
)
def test_a_forged_cursor_is_a_cursor_error(sort: str, data: dict[str, Any]) -> None:
    with pytest.raises(CursorError, match="cursor is not valid"):
        _decode(_cursor(data), sort)


def test_a_real_cursor_decodes() -> None:
    value, rid = _decode(_cursor({"s": "-created", "v": "2026-01-01T00:00:00+00:00", "id": 2**63 - 1}), "-created")
    assert (value.year, rid) == (2026, 2**63 - 1)
    assert _decode(_cursor({"s": "name", "v": "a", "id": 3}), "name") == ("a", 3)


@pytest.mark.parametrize("rid", [2**64, True, None, 1.5])
def test_a_forged_schedule_runs_cursor_is_a_cursor_error(rid: Any) -> None:
    cursor = _cursor({"s": schedule_runs._ORDER, "v": "2026-01-01T00:00:00+00:00", "id": rid})
    with pytest.raises(CursorError):
        schedule_runs._decode(cursor)
