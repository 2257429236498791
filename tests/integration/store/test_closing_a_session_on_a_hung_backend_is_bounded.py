"""A session whose backend hangs (SIGSTOP) after its last statement still closes within the
statement budget: the ROLLBACK that ends its transaction is cut like a statement, closing raises
the lost connection's OperationalError (the API's 503), the connection is dropped, and the engine
works again once the backend is gone.

SQLAlchemy's Connection rolls its transaction back itself on close and then returns the connection
to the pool without the pool's own reset rollback, so bounding the pool's reset alone left this
rollback unbounded: every API request ends with it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kubetask.store import deadlines, make_engine
from kubetask.testing.postgres import PostgresServer, paused

TIMEOUT = 1.0  # the engine's statement timeout, seconds
SLACK = 5.0  # the cut may come this much after the budget on a loaded machine


@pytest.fixture
def engine(postgres: PostgresServer) -> Iterator[Engine]:
    e = make_engine(postgres.new_database(), connect_timeout=2, statement_timeout=TIMEOUT)
    try:
        yield e
    finally:
        e.dispose()


def test_closing_a_session_whose_backend_hangs_returns_within_the_budget(engine: Engine) -> None:
    session = Session(engine)
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    closed = threading.Event()
    raised: list[BaseException] = []

    def close() -> None:
        try:
            session.close()
        except BaseException as e:
            raised.append(e)
        closed.set()

    closer = threading.Thread(target=close, daemon=True)
    with paused([pid]):
        closer.start()
        returned = closed.wait(TIMEOUT + deadlines.GRACE_SECONDS + SLACK)
    closer.join(30)  # resumed: an unbounded rollback returns now, so the thread is never left behind
    assert returned, "closing the session waited for the hung backend"
    # the cut rollback's error, a lost connection (the API's 503)
    assert len(raised) == 1 and isinstance(raised[0], OperationalError), raised
    assert raised[0].connection_invalidated
    with Session(engine) as again:  # the cut connection was dropped: a new one to the same server
        assert again.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
