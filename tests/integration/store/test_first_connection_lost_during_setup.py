"""The first connection of a bounded engine is lost while SQLAlchemy sets the dialect up on it (the
API started, or its pool was emptied, just as PostgreSQL went away): the caller gets the driver's
error as an invalidated-connection `OperationalError` (a 503 in the API), never SQLAlchemy's
"This Connection is closed", and the next connection sets the dialect up and works. A backend that
hangs there instead is cut within the statement budget, as any statement is.

SQLAlchemy runs the dialect's set-up queries (server version, schema, isolation level, ...) on an
ad-hoc `Connection` around the new DBAPI connection. The fault is injected on cue with the real
thing: a pool `connect` listener placed before that set-up has the backend terminated by the server
(`pg_terminate_backend`), so the set-up's first query finds the connection gone.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from kubernetes import client
from sqlalchemy import Engine, event, text
from sqlalchemy import exc as sa_exc

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.store import deadlines, make_engine, migrate
from kubetask.testing.postgres import PostgresServer

TIMEOUT = 2  # connect and statement timeout of the engine under test, seconds
SLACK = 5.0  # a deadline's cut may come this much after its budget on a loaded machine


def _terminate_on_first_connect(engine: Engine, admin_url: str) -> list[int]:
    """Have the server end the backend of the engine's first new connection, before the dialect's
    set-up queries run on it; returns the list of the pids ended (one once it has happened)."""
    ended: list[int] = []

    @event.listens_for(engine.pool, "connect", insert=True)  # insert: ahead of SQLAlchemy's own set-up
    def _end(dbapi_conn: Any, _record: Any) -> None:
        if ended:
            return
        pid = dbapi_conn.info.backend_pid
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            deadline = time.monotonic() + 10
            while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                assert time.monotonic() < deadline, f"backend {pid} still there 10 s after its termination"
                time.sleep(0.05)
        ended.append(pid)

    return ended


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    database = postgres.new_database()
    schema = make_engine(database, pool_size=1)
    try:
        migrate(schema)
    finally:
        schema.dispose()
    return database


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    e = make_engine(url, connect_timeout=TIMEOUT, statement_timeout=TIMEOUT)
    try:
        yield e
    finally:
        e.dispose()


def test_a_first_connection_lost_during_the_dialect_setup_is_a_disconnect_and_the_next_one_works(
    engine: Engine, postgres: PostgresServer
) -> None:
    ended = _terminate_on_first_connect(engine, postgres.url())
    with pytest.raises(sa_exc.DBAPIError) as lost, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert ended, "the fault was not injected"
    assert isinstance(lost.value, sa_exc.OperationalError), repr(lost.value)
    assert lost.value.connection_invalidated
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    assert engine.dialect.server_version_info is not None
    assert engine.dialect.server_version_info >= (15,)


def test_the_api_answers_a_503_naming_the_lost_connection_then_recovers(
    engine: Engine, postgres: PostgresServer
) -> None:
    ended = _terminate_on_first_connect(engine, postgres.url())
    refused = client.ApiClient(client.Configuration(host="http://127.0.0.1:9"))  # the route needs no Kubernetes
    app = create_app(ApiSettings(migrate=False, auth="none"), engine=engine, api=refused)  # no apiserver to review
    http = TestClient(app, raise_server_exceptions=False)  # an unmapped error is a 500, not raised here
    first = http.get("/api/v1/tasks")
    second = http.get("/api/v1/tasks")
    assert ended, "the fault was not injected"
    assert first.status_code == 503, first.text
    detail = first.json()["detail"]
    # the server's own word for the ended backend (or libpq's, should its FATAL message go unread)
    assert detail.startswith("database unavailable: "), detail
    assert "terminating connection" in detail or "server closed the connection" in detail, detail
    assert (second.status_code, second.json()["items"]) == (200, [])


def test_a_first_connection_whose_backend_hangs_during_the_dialect_setup_is_cut_in_time(engine: Engine) -> None:
    hung: list[int] = []

    @event.listens_for(engine.pool, "connect", insert=True)  # ahead of the set-up and of the deadlines
    def _hang(dbapi_conn: Any, _record: Any) -> None:
        if not hung:
            hung.append(dbapi_conn.info.backend_pid)
            os.kill(hung[0], signal.SIGSTOP)

    errors: list[BaseException] = []

    def connect() -> None:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except BaseException as e:
            errors.append(e)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(TIMEOUT + deadlines.GRACE_SECONDS + SLACK)
    answered = not worker.is_alive()
    while not hung:  # the listener runs first thing in the worker; resume whatever it stopped
        time.sleep(0.05)
    os.kill(hung[0], signal.SIGCONT)
    worker.join(30)
    assert answered, "the dialect set-up waited for the hung backend"
    assert len(errors) == 1 and isinstance(errors[0], sa_exc.OperationalError), errors
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != hung[0]
