"""Migrations that move data: what an existing database holds is carried over, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from kubetask.store import make_engine, migrate


def test_0004_fills_redrive_of_from_the_stored_spec(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine, "0003")
        insert = text(
            "INSERT INTO tasks (uid, namespace, name, phase, labels, created_at, attempt_count, resource_version, spec)"
            " VALUES (:uid, 'ns', :name, 'Succeeded', '{}', :at, 1, 1, :spec)"
        )
        at = datetime(2026, 6, 1, tzinfo=UTC)
        with engine.begin() as c:
            c.execute(insert, {"uid": "u-r1", "name": "x-r1", "at": at, "spec": '{"redriveOf": {"uid": "u-x"}}'})
            c.execute(insert, {"uid": "u-y", "name": "y", "at": at, "spec": '{"templateRef": {"name": "t"}}'})
            c.execute(insert, {"uid": "u-z", "name": "z", "at": at, "spec": None})
        migrate(engine)
        with engine.connect() as c:
            rows = c.execute(text("SELECT uid, redrive_of_uid FROM tasks ORDER BY uid"))
            got = {str(uid): of for uid, of in rows}
        assert got == {"u-r1": "u-x", "u-y": None, "u-z": None}
    finally:
        engine.dispose()
