"""A schema upgrade that stops half-way (a statement fails; on cue here, a SIGKILL in real life)
leaves the schema and its recorded version as they were, so the next start simply runs it again:
on SQLite too, whose Python driver runs DDL outside transactions unless told otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, text

from kubetask.store import make_engine, migrate


class Refused(Exception):
    pass


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = make_engine(database_url)
    yield e
    e.dispose()


def _fail_on(fragment: str) -> Any:
    def before(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if fragment in statement:
            raise Refused(statement)

    return before


def test_an_upgrade_that_fails_half_way_changes_nothing_and_runs_whole_next_time(engine: Engine) -> None:
    migrate(engine, "0001")
    # 0002 creates the dead_letters table first, then adds tasks.spec: fail at the second step
    fail = _fail_on("ADD COLUMN spec")
    event.listen(Engine, "before_cursor_execute", fail)
    try:
        with pytest.raises(Refused):
            migrate(engine)
    finally:
        event.remove(Engine, "before_cursor_execute", fail)
    engine.dispose()  # nothing cached from before
    schema = inspect(engine)
    assert "dead_letters" not in schema.get_table_names()
    assert "spec" not in {c["name"] for c in schema.get_columns("tasks")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
    migrate(engine)  # the next start
    schema = inspect(engine)
    assert {"dead_letters", "schedules", "attempt_logs"} <= set(schema.get_table_names())
    assert "spec" in {c["name"] for c in schema.get_columns("tasks")}
