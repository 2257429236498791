"""The API's engine bounds every statement: a slow one is cancelled by PostgreSQL itself, one whose
backend hangs (SIGSTOP) is cut client-side; either way the caller gets an OperationalError (the
API's 503) before the backend resumes, and the engine works again afterwards.

The route-level outage test hangs the whole server, which the checkout ping meets first; this one
hangs only the backend of a connection that already passed its ping, so the statement deadline
itself is what answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from kubetask.store import deadlines, make_engine
from kubetask.testing.postgres import PostgresServer, paused, throwaway_postgres

TIMEOUT = 1.0


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    with throwaway_postgres() as server:
        yield server


def test_a_slow_statement_is_cancelled_by_the_server_and_the_connection_kept(own_postgres: PostgresServer) -> None:
    engine = make_engine(own_postgres.new_database(), connect_timeout=2, statement_timeout=TIMEOUT)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with pytest.raises(OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(60)"))
            assert not conn.invalidated
            conn.rollback()
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid  # the same connection
    finally:
        engine.dispose()


def test_a_statement_on_a_hung_backend_is_cut_before_it_resumes(own_postgres: PostgresServer) -> None:
    engine = make_engine(own_postgres.new_database(), connect_timeout=2, statement_timeout=TIMEOUT)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            conn.rollback()
            with paused([pid]):
                start = time.monotonic()
                with pytest.raises(OperationalError) as caught:
                    conn.execute(text("SELECT 1"))
                took = time.monotonic() - start
            assert caught.value.connection_invalidated, caught.value
            assert took < TIMEOUT + deadlines.GRACE_SECONDS + 5
        with engine.connect() as conn:  # a fresh connection to the resumed server
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()
