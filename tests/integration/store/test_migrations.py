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


def test_0005_links_existing_runs_by_label_and_name_and_has_live_ones_written_again(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine, "0004")
        insert = text(
            "INSERT INTO tasks (uid, namespace, name, phase, labels, created_at, attempt_count, resource_version,"
            " deleted_at) VALUES (:uid, 'ns', :name, 'Succeeded', :labels, :at, 1, 7, :gone)"
        )
        at = datetime(2026, 6, 1, tzinfo=UTC)
        run = '{"kubetask.io/schedule": "nightly"}'
        with engine.begin() as c:
            c.execute(
                insert, {"uid": "u-live", "name": "nightly-20260601020000", "labels": run, "at": at, "gone": None}
            )
            c.execute(insert, {"uid": "u-gone", "name": "nightly-20260531020000", "labels": run, "at": at, "gone": at})
            c.execute(insert, {"uid": "u-odd", "name": "nightly-by-hand", "labels": run, "at": at, "gone": at})
            c.execute(insert, {"uid": "u-task", "name": "plain", "labels": '{"team": "a"}', "at": at, "gone": None})
        migrate(engine)
        with engine.connect() as c:
            rows = c.execute(text("SELECT uid, schedule, scheduled_time, resource_version FROM tasks ORDER BY uid"))
            got = {str(uid): (sched, when, int(rv)) for uid, sched, when, rv in rows}
    finally:
        engine.dispose()

    def utc(value: object) -> datetime | None:
        if value is None:
            return None
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

    assert {uid: (s, utc(w), rv) for uid, (s, w, rv) in got.items()} == {
        "u-live": ("nightly", datetime(2026, 6, 1, 2, tzinfo=UTC), 0),  # written again, whole, by the next resync
        "u-gone": ("nightly", datetime(2026, 5, 31, 2, tzinfo=UTC), 7),
        "u-odd": ("nightly", None, 7),
        "u-task": (None, None, 7),
    }
