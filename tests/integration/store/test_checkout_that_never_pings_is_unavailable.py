"""A checkout whose ping keeps failing on fresh connections too (a server that accepts connections
but answers none of them in time) ends in the pool's own "This connection is closed" once its
reconnect attempts are spent; the API answers that with a 503 problem, as any lost connection.

The pings' failure is injected on cue: a pool `checkout` listener that raises what the bounded
ping raises (`DisconnectionError`), ahead of it; the pool's reconnects and its final error are
SQLAlchemy's own, against a real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy import exc as sa_exc

from kubetask.api.problems import database_problem
from kubetask.store import make_engine
from kubetask.testing.postgres import PostgresServer


@pytest.fixture
def engine(postgres: PostgresServer) -> Iterator[Engine]:
    e = make_engine(postgres.new_database(), connect_timeout=2, statement_timeout=2)
    try:
        yield e
    finally:
        e.dispose()


def test_a_checkout_whose_every_ping_fails_is_a_503(engine: Engine) -> None:
    pinged: list[int] = []

    @event.listens_for(engine.pool, "checkout", insert=True)
    def _unanswered(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        pinged.append(dbapi_conn.info.backend_pid)
        raise sa_exc.DisconnectionError("ping failed: no answer")

    with pytest.raises(sa_exc.InvalidRequestError) as spent, engine.connect():
        pass
    assert len(set(pinged)) == len(pinged) > 1, pinged  # fresh connections were tried, each pinged once
    problem = database_problem(spent.value)
    assert (problem.status, problem.detail) == (
        503,
        "database unavailable: the connection was lost (This connection is closed)",
    ), spent.value
    event.remove(engine.pool, "checkout", _unanswered)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
