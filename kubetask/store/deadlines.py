"""A client-side deadline on every PostgreSQL call, so a hung server fails a request instead of hanging it.

PostgreSQL's `statement_timeout` is enforced by the server: a server that is stopped (SIGSTOP, a
frozen VM, a partition that still ACKs) never sends the cancellation, and TCP keepalives or
`tcp_user_timeout` do not help because the kernel keeps acknowledging. libpq and psycopg have no
client-side timeout for a query. So each blocking call (a statement, the checkout ping, the
rollback that returns a connection to the pool) arms a timer; when it outlasts its budget the timer
shuts the connection's socket down. The blocked read then returns end-of-file, libpq reports
"server closed the connection unexpectedly", psycopg marks the connection broken and SQLAlchemy
raises `OperationalError` and drops the connection from the pool: the caller gets an error it can
map (a 503 in the API) within the budget, and a resumed server is reached through fresh connections.

The budget is the server's statement timeout plus a grace second, so a live server that is merely
slow cancels the statement itself (`QueryCanceled`, connection kept) before the socket is cut.
Rejected: running each request in a thread with a deadline (the thread stays blocked, so a hang
still ties up the pool); overriding psycopg's private wait loop (changes between releases).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from sqlalchemy import Engine, event, exc

log = logging.getLogger(__name__)

# A ping is one round trip to a live server; past this the server is taken as hung and the pool
# opens a new connection (bounded by the connect timeout) instead.
PING_SECONDS = 2.0
GRACE_SECONDS = 1.0
_KEY = "kubetask.deadline"


class _Timer:
    """At most one armed timer per DBAPI connection; a stale firing (after disarm) does nothing."""

    def __init__(self, dbapi_conn: Any) -> None:
        self.conn = dbapi_conn
        self.lock = threading.Lock()
        self.generation = 0
        self.timer: threading.Timer | None = None

    def arm(self, seconds: float) -> None:
        with self.lock:
            self._cancel()
            self.generation += 1
            self.timer = threading.Timer(seconds, self._fire, args=(self.generation, seconds))
            self.timer.daemon = True
            self.timer.start()

    def disarm(self) -> None:
        with self.lock:
            self._cancel()
            self.generation += 1

    def _cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fire(self, generation: int, seconds: float) -> None:
        with self.lock:
            if generation != self.generation:
                return
            self.timer = None
        log.warning("a database call did not return within %.1f s: closing its connection", seconds)
        cut_socket(self.conn)


def cut_socket(dbapi_conn: Any) -> None:
    """Shut the connection's socket down (both ways), so a read blocked on it returns at once."""
    try:
        fd = os.dup(dbapi_conn.fileno())
    except Exception:  # already closed: nothing is blocked on it
        return
    with socket.socket(fileno=fd) as sock:  # closes the duplicate only; shutdown acts on the shared socket
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _timer(info: dict[str, Any], dbapi_conn: Any) -> _Timer:
    t = info.get(_KEY)
    if t is None or t.conn is not dbapi_conn:
        t = info[_KEY] = _Timer(dbapi_conn)
    return t


def install(engine: Engine, *, seconds: float) -> None:
    """Bound each call on `engine`'s connections by `seconds` (plus grace); ping on checkout within PING_SECONDS."""
    budget = seconds + GRACE_SECONDS

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, _stmt: Any, _params: Any, _context: Any, _many: Any) -> None:
        _timer(conn.info, conn.connection.dbapi_connection).arm(budget)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, _cursor: Any, _stmt: Any, _params: Any, _context: Any, _many: Any) -> None:
        _timer(conn.info, conn.connection.dbapi_connection).disarm()

    @event.listens_for(engine, "handle_error")
    def _error(ctx: Any) -> None:
        if ctx.connection is not None and not ctx.connection.invalidated:
            t = ctx.connection.info.get(_KEY)
            if t is not None:
                t.disarm()

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        # no event follows a commit: the timer runs on until the next statement re-arms it or the
        # connection goes back to the pool; the API commits only as the last step of a request
        _timer(conn.info, conn.connection.dbapi_connection).arm(budget)

    @event.listens_for(engine.pool, "reset")
    def _reset(dbapi_conn: Any, record: Any, _state: Any) -> None:
        _timer(record.info, dbapi_conn).arm(budget)

    @event.listens_for(engine.pool, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        t = record.info.get(_KEY) if record is not None else None
        if t is not None:
            t.disarm()

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        # SQLAlchemy's own pool_pre_ping cannot be bounded: it runs before any event fires
        t = _timer(record.info, dbapi_conn)
        t.arm(PING_SECONDS)
        try:
            cur = dbapi_conn.cursor()
            try:
                cur.execute("SELECT 1")
            finally:
                cur.close()
        except Exception as e:
            t.disarm()
            raise exc.DisconnectionError(f"ping failed: {e}") from e
        t.disarm()
