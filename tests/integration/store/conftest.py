"""The store tests' engine: on `database_url` (SQLite and PostgreSQL), migrated to head, disposed after.

A test module that needs another engine (unmigrated, other timeouts) defines its own `engine`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from kubetask.store import make_engine, migrate


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = make_engine(database_url)
    migrate(e)
    yield e
    e.dispose()
