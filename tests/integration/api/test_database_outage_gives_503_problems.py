"""PostgreSQL stopped, then hung (SIGSTOP): every route that needs SQL answers a 503 problem with
Retry-After while the database is still out, the routes that need none keep working, and all of
them work again once it is back.

The database is the test's own throwaway server (never the session's); the requests go out in
parallel, through the app in-process, so a route that hung would hold the whole batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.store import deadlines
from kubetask.testing.cluster import Cluster, create, template
from kubetask.testing.postgres import PostgresServer, paused, throwaway_postgres

TIMEOUT = 3  # connect and statement timeout of the app under test, seconds
# a hung server costs at most the checkout ping plus a new connection's timeout; 5 s of slack on top
BOUND = deadlines.PING_SECONDS + TIMEOUT + deadlines.GRACE_SECONDS + 5


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    up: int  # the status when the database is up (an empty history)
    json: Any = None
    headers: dict[str, str] | None = None


def _calls(ns: str) -> tuple[list[Call], list[Call]]:
    """(routes that read or write SQL, routes that need none) for namespace `ns`."""
    submit = {"template": "echo", "params": {"message": "hi"}}
    sql = [
        Call("GET", "/api/v1/tasks", 200),
        Call("GET", f"/api/v1/namespaces/{ns}/tasks?phase=Failed&sort=name", 200),
        Call("GET", f"/api/v1/namespaces/{ns}/tasks/ghost", 404),  # not in the cluster: history is asked
        Call("GET", f"/api/v1/namespaces/{ns}/tasks/ghost/attempts", 404),
        Call("GET", f"/api/v1/namespaces/{ns}/tasks/ghost/events", 404),
        Call("GET", "/api/v1/stats?window=3600", 200),
        Call("GET", "/api/v1/deadletters", 200),
        Call("GET", f"/api/v1/namespaces/{ns}/deadletters", 200),
        Call("POST", f"/api/v1/namespaces/{ns}/deadletters/ghost/redrive", 404),
        Call("POST", "/api/v1/deadletters/redrive", 200, json={"namespace": ns}),
        Call("DELETE", f"/api/v1/namespaces/{ns}/deadletters/ghost", 404),
        Call("POST", f"/api/v1/namespaces/{ns}/tasks", 201, json=submit, headers={"Idempotency-Key": "outage-1"}),
        Call("GET", "/readyz", 200),
    ]
    no_sql = [
        Call("GET", "/healthz", 200),
        Call("GET", f"/api/v1/namespaces/{ns}/templates", 200),
        Call("POST", f"/api/v1/namespaces/{ns}/tasks", 201, json=submit),  # no key: no history lookup
    ]
    return sql, no_sql


@dataclass(frozen=True)
class Answer:
    call: Call
    status: int
    headers: httpx.Headers
    body: Any
    seconds: float


def _send(app: Any, calls: list[Call]) -> list[Answer]:
    """All calls at once; each answer with the time it took."""

    async def one(client: httpx.AsyncClient, c: Call) -> Answer:
        start = time.monotonic()
        r = await client.request(c.method, c.path, json=c.json, headers=c.headers)
        body = r.json() if r.content else None
        return Answer(c, r.status_code, r.headers, body, time.monotonic() - start)

    async def every() -> list[Answer]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=120) as client:
            return list(await asyncio.gather(*(one(client, c) for c in calls)))

    return asyncio.run(every())


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    with throwaway_postgres() as server:
        yield server


def _unavailable(answers: list[Answer]) -> list[str]:
    """What is wrong with answers that should all be 503 problems with Retry-After, in time."""
    wrong = []
    for a in answers:
        what = f"{a.call.method} {a.call.path}"
        if a.status != 503:
            wrong.append(f"{what}: {a.status} {a.body}")
        elif not a.headers.get("content-type", "").startswith("application/problem+json"):
            wrong.append(f"{what}: content-type {a.headers.get('content-type')}")
        elif not a.headers.get("retry-after", "").isdigit():
            wrong.append(f"{what}: no Retry-After")
        elif a.body.get("status") != 503 or "database" not in a.body.get("detail", ""):
            wrong.append(f"{what}: problem {a.body}")
        elif a.seconds > BOUND:
            wrong.append(f"{what}: answered after {a.seconds:.1f} s (bound {BOUND} s)")
    return wrong


def _as_when_up(answers: list[Answer]) -> list[str]:
    return [f"{a.call.method} {a.call.path}: {a.status} {a.body}" for a in answers if a.status != a.call.up]


def test_database_stopped_or_hung_gives_503_problems_in_time_and_recovers(
    cluster: Cluster, own_postgres: PostgresServer, namespace: str
) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo", paramSchema={"type": "object"}))
    settings = ApiSettings(
        database_url=own_postgres.new_database(),
        database_connect_timeout_seconds=TIMEOUT,
        database_statement_timeout_seconds=TIMEOUT,
    )
    app = create_app(settings, api=cluster.api())
    try:
        _outages(app, own_postgres, namespace)
    finally:
        app.state.sessions.kw["bind"].dispose()  # no lifespan without a server: close the pool here


def _outages(app: Any, own_postgres: PostgresServer, namespace: str) -> None:
    sql, no_sql = _calls(namespace)
    # the idempotent submit answers 200 once its task exists; the keyless one 201 each time
    again = [Call(c.method, c.path, 200 if c.headers else c.up, c.json, c.headers) for c in sql]

    assert _as_when_up(_send(app, sql + no_sql)) == []  # and the pool holds open connections now

    own_postgres.stop()
    answers = _send(app, sql + no_sql)
    assert _unavailable(answers[: len(sql)]) == [], "PostgreSQL stopped"
    assert _as_when_up(answers[len(sql) :]) == []
    own_postgres.start()
    # stale pooled connections are replaced on checkout: the first calls after the restart succeed
    assert _as_when_up(_send(app, again)) == []

    with paused(own_postgres.pids()):
        answers = _send(app, again + no_sql)
    assert _unavailable(answers[: len(again)]) == [], "PostgreSQL hung"
    assert _as_when_up(answers[len(again) :]) == []
    # connections cut while it hung were dropped; the others and fresh ones reach the resumed server
    assert _as_when_up(_send(app, again)) == []
