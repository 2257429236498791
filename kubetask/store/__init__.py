"""The SQL mirror of Tasks: history, listing, search, stats (SQLite by default, PostgreSQL in production)."""

from kubetask.store.engine import default_url, make_engine, migrate

__all__ = ["default_url", "make_engine", "migrate"]
