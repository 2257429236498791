"""A client-side deadline on every PostgreSQL call, so a hung server fails a request instead of hanging it.

PostgreSQL's `statement_timeout` is enforced by the server: a server that is stopped (SIGSTOP, a
frozen VM, a partition that still ACKs) never sends the cancellation, and TCP keepalives or
`tcp_user_timeout` do not help because the kernel keeps acknowledging. libpq and psycopg have no
client-side timeout for a query. So each blocking call (a statement, the dialect's set-up on a new
connection, the checkout ping, a commit, the rollback that ends a transaction when its Connection
closes, the pool's reset rollback) arms a timer; when it outlasts its budget the timer shuts the
connection's socket down. The blocked read then returns end-of-file, libpq reports "server closed
the connection unexpectedly", psycopg marks the connection broken and SQLAlchemy raises
`OperationalError` and drops the connection from the pool: the caller gets an error it can map (a
503 in the API) within the budget, and a resumed server is reached through fresh connections.

The budget is the server's statement timeout plus a grace second, so a live server that is merely
slow cancels the statement itself (`QueryCanceled`, connection kept) before the socket is cut.
Rejected: running each request in a thread with a deadline (the thread stays blocked, so a hang
still ties up the pool); overriding psycopg's private wait loop (changes between releases).

Each timer is found from the DBAPI connection an event names (a statement's cursor's connection, the
pool's own argument), never through SQLAlchemy's `Connection.info` or `.connection`: those
properties act on the Connection's state. For the ad-hoc Connection on which SQLAlchemy sets the
dialect up over an engine's first connection, `.info` raises NotImplementedError, which the
dialect's set-up takes for "not supported here": a `handle_error` hook that read it turned a lost
first connection into "This Connection is closed" (tests/integration/store/
test_first_connection_lost_during_setup.py). On an invalidated Connection `.connection` checks a
new connection out of the pool.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import weakref
from typing import Any

from sqlalchemy import Engine, event, exc

log = logging.getLogger(__name__)

# A ping is one round trip to a live server; past this the server is taken as hung and the pool
# opens a new connection (bounded by the connect timeout) instead.
PING_SECONDS = 2.0
GRACE_SECONDS = 1.0


class _Timer:
    """At most one armed timer per DBAPI connection; a stale firing (after disarm) does nothing."""

    def __init__(self, dbapi_conn: Any) -> None:
        self.conn = weakref.ref(dbapi_conn)  # weak: the registry of timers is keyed by the connection
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
        conn = self.conn()
        if conn is None:  # closed and collected meanwhile: nothing is blocked on it
            return
        log.warning("a database call did not return within %.1f s: closing its connection", seconds)
        cut_socket(conn)


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


class _Timers:
    """One engine's timers by DBAPI connection, weakly: a connection closed and collected drops its own."""

    def __init__(self) -> None:
        self._by_conn: weakref.WeakKeyDictionary[Any, _Timer] = weakref.WeakKeyDictionary()

    def arm(self, dbapi_conn: Any, seconds: float) -> None:
        if dbapi_conn is None:  # nothing to bound (see _pooled_connection)
            return
        t = self._by_conn.get(dbapi_conn)
        if t is None:
            t = self._by_conn[dbapi_conn] = _Timer(dbapi_conn)
        t.arm(seconds)

    def disarm(self, dbapi_conn: Any) -> None:
        t = self._by_conn.get(dbapi_conn) if dbapi_conn is not None else None
        if t is not None:
            t.disarm()


def _failed_statement_connection(ctx: Any) -> Any:
    """The DBAPI connection of the statement a handle_error context is about, else None. Plain attributes
    only: the context's own `cursor` is declared but never set (SQLAlchemy 2.1.9), so its execution
    context's is read."""
    cursor = getattr(ctx.execution_context, "cursor", None)
    return getattr(cursor, "connection", None)


def _pooled_connection(conn: Any) -> Any:
    """The DBAPI connection under a SQLAlchemy Connection, None once it is invalidated or closed: then
    its `.connection` would raise (PendingRollbackError, ResourceClosedError) or check a new one out,
    and SQLAlchemy sends nothing on it anyway."""
    if conn.invalidated or conn.closed:
        return None
    return conn.connection.dbapi_connection


def install(engine: Engine, *, seconds: float) -> None:
    """Bound each call on `engine`'s connections by `seconds` (plus grace); ping on checkout within PING_SECONDS."""
    budget = seconds + GRACE_SECONDS
    timers = _Timers()

    @event.listens_for(engine, "before_cursor_execute")
    def _before(_conn: Any, cursor: Any, _stmt: Any, _params: Any, _context: Any, _many: Any) -> None:
        timers.arm(cursor.connection, budget)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(_conn: Any, cursor: Any, _stmt: Any, _params: Any, _context: Any, _many: Any) -> None:
        timers.disarm(cursor.connection)

    @event.listens_for(engine, "handle_error")
    def _error(ctx: Any) -> None:
        # what a handle_error hook raises replaces the error it was called for: this one cannot raise.
        # Errors without a statement (commit, connect) leave their timer to the next statement or the
        # return to the pool.
        timers.disarm(_failed_statement_connection(ctx))

    # No event follows a commit or a rollback: the timer runs on until the next statement re-arms it
    # or the connection goes back to the pool. The API commits or rolls back only as the last step of
    # a request: closing a Connection rolls its transaction back itself (no pool reset follows).
    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        timers.arm(_pooled_connection(conn), budget)

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Any) -> None:
        timers.arm(_pooled_connection(conn), budget)

    # SQLAlchemy sets the dialect up over an engine's first connection (server version, schema, ...)
    # on an ad-hoc Connection that joins none of the engine's events: the pool's connect listeners,
    # that set-up among them, are bounded as one call. A set-up that raised leaves its timer to the
    # pool's close of the connection.
    @event.listens_for(engine.pool, "connect", insert=True)
    def _connecting(dbapi_conn: Any, _record: Any) -> None:
        timers.arm(dbapi_conn, budget)

    @event.listens_for(engine.pool, "connect")
    def _connected(dbapi_conn: Any, _record: Any) -> None:
        timers.disarm(dbapi_conn)

    @event.listens_for(engine.pool, "close")
    def _close(dbapi_conn: Any, _record: Any) -> None:
        timers.disarm(dbapi_conn)

    @event.listens_for(engine.pool, "reset")
    def _reset(dbapi_conn: Any, _record: Any, _state: Any) -> None:
        timers.arm(dbapi_conn, budget)

    @event.listens_for(engine.pool, "checkin")
    def _checkin(dbapi_conn: Any, _record: Any) -> None:
        timers.disarm(dbapi_conn)  # None once invalidated

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # SQLAlchemy's own pool_pre_ping cannot be bounded: it runs before any event fires
        timers.arm(dbapi_conn, PING_SECONDS)
        try:
            cur = dbapi_conn.cursor()
            try:
                cur.execute("SELECT 1")
            finally:
                cur.close()
        except Exception as e:
            raise exc.DisconnectionError(f"ping failed: {e}") from e
        finally:
            timers.disarm(dbapi_conn)
