"""Database engine, URL defaults and schema migrations (Alembic, run programmatically)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from . import deadlines

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x6B75626574736B  # "kubetsk": PostgreSQL's advisory lock of schema migrations
MIGRATION_LOCK_WAIT_MS = 30_000  # SQLite: how long a migration waits for another process's write lock


def default_url() -> str:
    """$KUBETASK_DATABASE_URL, else a SQLite file in the user's data directory."""
    url = os.environ.get("KUBETASK_DATABASE_URL")
    if url:
        return url
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share") / "kubetask"
    data.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data / 'kubetask.db'}"


def _sqlite_pragmas(busy_ms: int) -> Callable[[object, object], None]:
    def pragmas(dbapi_conn: object, _record: object) -> None:
        cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")  # readers (the API) do not block the writer (the operator)
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.close()

    return pragmas


def make_engine(
    url: str | None = None,
    *,
    pool_size: int = 5,
    connect_timeout: int | None = None,
    statement_timeout: float | None = None,
) -> Engine:
    """An engine for `url`; `postgresql://` URLs use psycopg 3; SQLite gets WAL and foreign keys.

    With `connect_timeout` (seconds, at least 2: libpq's minimum) a new PostgreSQL connection
    gives up after that long, and waiting for a pooled one too. With `statement_timeout` (seconds)
    the server cancels longer statements and a server that does not answer at all is cut off
    client-side (kubetask.store.deadlines); on SQLite it is how long a statement waits for a lock.
    Without them (the operator) nothing is bounded beyond the defaults below.
    """
    u = make_url(url or default_url())
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() == "sqlite":
        wait = statement_timeout if statement_timeout is not None else 5.0
        engine = create_engine(u, connect_args={"check_same_thread": False, "timeout": wait})
        event.listen(engine, "connect", _sqlite_pragmas(int(wait * 1000)))
        return engine
    connect_args: dict[str, Any] = {}
    if connect_timeout is not None:
        connect_args["connect_timeout"] = max(2, connect_timeout)
    if statement_timeout is not None:
        connect_args["options"] = f"-c statement_timeout={int(statement_timeout * 1000)}"
    engine = create_engine(
        u,
        # the bounded ping of deadlines.install replaces SQLAlchemy's, which no timeout covers
        pool_pre_ping=statement_timeout is None,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_timeout=connect_timeout if connect_timeout is not None else 30,
        connect_args=connect_args,
    )
    if statement_timeout is not None:
        deadlines.install(engine, seconds=statement_timeout)
    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent), all or nothing: a process killed (or a statement
    failing) mid-way leaves the schema and its recorded version as they were, so the next start
    simply runs the upgrade again.

    PostgreSQL's DDL is transactional as it is. SQLite's is too, but Python's sqlite3 module runs
    DDL outside any transaction (it only opens one before DML), so a half-done upgrade would stay
    half-done, recorded at its old version, and fail on every later start ("table … already
    exists"). For SQLite the upgrade therefore runs on a connection of its own whose transaction
    SQLAlchemy begins explicitly (`BEGIN IMMEDIATE`: one migrating process at a time), as the
    SQLAlchemy and Alembic documentation recommend. On PostgreSQL a transaction-level advisory lock
    does the same: the API's replicas and the operator start together and each migrates, and two
    upgrades at once would both create `alembic_version` (one fails on its unique type name); the
    second waits, then finds the schema at head and does nothing. A SQLite upgrade that finds the
    file locked without waiting is tried again, for up to MIGRATION_LOCK_WAIT_MS.
    """
    deadline = time.monotonic() + MIGRATION_LOCK_WAIT_MS / 1000
    pause = 0.05
    while True:
        try:
            _upgrade(engine, revision)
            return
        except exc.OperationalError as e:
            # SQLite answers "database is locked" at once, without waiting, where waiting could
            # deadlock (a fresh file switched to WAL by several connections at once): the upgrade
            # is all or nothing, so it is simply tried again
            locked = engine.dialect.name == "sqlite" and "database is locked" in str(e)
            if not locked or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


def _upgrade(engine: Engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    target = _transactional_sqlite(engine) if engine.dialect.name == "sqlite" else engine
    try:
        with target.begin() as conn:
            if engine.dialect.name == "postgresql":  # one migrating process at a time, released at commit
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        if target is not engine:
            target.dispose()


def _transactional_sqlite(engine: Engine) -> Engine:
    """A one-connection engine on the same SQLite file in which DDL is part of the transaction."""
    migrating = create_engine(engine.url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(migrating, "connect", _sqlite_pragmas(MIGRATION_LOCK_WAIT_MS))

    def own_transactions(dbapi_conn: Any, _record: object) -> None:
        dbapi_conn.isolation_level = None  # sqlite3 opens no transaction of its own

    def begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(migrating, "connect", own_transactions)
    event.listen(migrating, "begin", begin)
    return migrating
