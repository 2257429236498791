"""Database engine, URL defaults and schema migrations (Alembic, run programmatically)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url() -> str:
    """$KUBETASK_DATABASE_URL, else a SQLite file in the user's data directory."""
    url = os.environ.get("KUBETASK_DATABASE_URL")
    if url:
        return url
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share") / "kubetask"
    data.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data / 'kubetask.db'}"


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the API) do not block the writer (the operator)
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(url: str | None = None, *, pool_size: int = 5) -> Engine:
    """An engine for `url`; `postgresql://` URLs use psycopg 3; SQLite gets WAL and foreign keys."""
    u = make_url(url or default_url())
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() == "sqlite":
        engine = create_engine(u, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(u, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size * 2)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
