"""Database errors map to problems once (503 + Retry-After when unreachable or hung), and a call
blocked on a hung server's socket is cut by its deadline."""

from __future__ import annotations

import socket
import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc

from kubetask.api.problems import database_problem, install
from kubetask.store import deadlines


class _Orig(Exception):
    pass


def _op(message: str) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, _Orig(message))


CASES = [
    pytest.param(_op("connection refused\nIs the server running?"), 503, "connection refused", id="refused"),
    pytest.param(_op("canceling statement due to statement timeout"), 503, "statement timeout", id="timeout"),
    pytest.param(sa_exc.InterfaceError("SELECT 1", {}, _Orig("closed")), 503, "closed", id="interface"),
    pytest.param(sa_exc.TimeoutError("QueuePool limit reached"), 503, "no connection free", id="pool"),
    pytest.param(
        sa_exc.DBAPIError("SELECT 1", {}, _Orig("server closed"), connection_invalidated=True),
        503,
        "server closed",
        id="invalidated",
    ),
    pytest.param(sa_exc.ResourceClosedError("This Connection is closed"), 503, "connection was lost", id="closed"),
    pytest.param(
        sa_exc.InvalidRequestError("This connection is closed"), 503, "connection was lost", id="checkout-spent"
    ),
    pytest.param(
        sa_exc.PendingRollbackError("Can't reconnect until invalid transaction is rolled back"),
        503,
        "lost",
        id="rollback",
    ),
    pytest.param(sa_exc.IntegrityError("INSERT", {}, _Orig("duplicate key")), 500, "IntegrityError", id="bug"),
    pytest.param(
        sa_exc.ResourceClosedError("This result object is closed."), 500, "ResourceClosedError", id="closed-result"
    ),
    pytest.param(sa_exc.InvalidRequestError("no such attribute"), 500, "InvalidRequestError", id="misuse"),
]


@pytest.mark.parametrize(("error", "status", "said"), CASES)
def test_database_errors_become_problems(error: sa_exc.SQLAlchemyError, status: int, said: str) -> None:
    p = database_problem(error)
    assert p.status == status
    assert said in p.detail
    assert "\n" not in p.detail  # one line: libpq's hints stay in the log
    assert p.body()["type"].endswith("unavailable" if status == 503 else "internal")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        pytest.param(sa_exc.ResourceClosedError("This Connection is closed"), 503, id="closed-connection"),
        pytest.param(sa_exc.InvalidRequestError("no such attribute"), 500, id="misuse"),
    ],
)
def test_sqlalchemy_errors_outside_the_dbapi_are_problems_too(error: sa_exc.SQLAlchemyError, status: int) -> None:
    app = FastAPI()
    install(app, retry_after=7)

    @app.get("/boom")
    def boom() -> None:
        raise error

    r = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert (r.status_code, r.headers["content-type"]) == (status, "application/problem+json")
    assert r.json()["status"] == status
    assert r.headers.get("retry-after") == ("7" if status == 503 else None)


class _Conn:
    """What the deadline needs of a DBAPI connection: its socket's file descriptor."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()


def test_a_read_blocked_past_its_deadline_returns_end_of_file() -> None:
    client, server = socket.socketpair()
    with client, server:
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(client.recv(1)))
        reader.start()
        conn = _Conn(client)  # held: a timer keeps only a weak reference to its connection
        deadlines._Timer(conn).arm(0.1)
        reader.join(timeout=30)
        assert not reader.is_alive(), "the blocked read was not cut"
        assert got == [b""]


def test_a_disarmed_deadline_leaves_the_connection_working() -> None:
    client, server = socket.socketpair()
    with client, server:
        t = deadlines._Timer(_Conn(client))
        t.arm(60)
        stale = t.generation
        t.disarm()
        t._fire(stale, 60)  # a firing that raced the disarm
        assert t.timer is None
        server.sendall(b"x")
        assert client.recv(1) == b"x"
        client.sendall(b"y")
        assert server.recv(1) == b"y"
