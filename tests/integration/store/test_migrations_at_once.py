"""The API's replicas and the operator start together and each migrates the same fresh database:
on both backends every one of them succeeds and the schema ends at head, recorded once."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, inspect, text

from kubetask.store import make_engine, migrate

PROCESSES = 6


def test_six_migrations_at_once_all_succeed(database_url: str) -> None:
    engines: list[Engine] = [make_engine(database_url, pool_size=1) for _ in range(PROCESSES)]
    start = threading.Barrier(PROCESSES)
    errors: list[BaseException] = []

    def one(engine: Engine) -> None:
        start.wait()
        try:
            migrate(engine)
        except BaseException as e:  # the assertion below names it
            errors.append(e)

    threads = [threading.Thread(target=one, args=(e,), daemon=True) for e in engines]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        assert [t.name for t in threads if t.is_alive()] == [], "migrations still running after 120 s (deadlocked?)"
        assert [repr(e)[:300] for e in errors] == []
        with engines[0].connect() as c:
            assert c.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert "tasks" in inspect(engines[0]).get_table_names()
    finally:
        for e in engines:
            e.dispose()
