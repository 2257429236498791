"""RFC 3339 text from the apiserver (or the mirror's ISO text) as aware datetimes, for the tests.

Tests compare the product's timestamps with what they expect, so they parse with this code of their
own rather than with the product's parser (`kubetask.timeutil`): a bug there would agree with itself.
"""

from __future__ import annotations

from datetime import UTC, datetime


def parse_instant(text: str) -> datetime:
    """`text` as an aware datetime; naive text (no offset) is read as UTC."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)
