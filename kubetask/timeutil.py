"""Timestamps as Kubernetes writes them (RFC 3339, `Z`), read into aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """A datetime (naive ones are UTC) or an RFC 3339 string; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
