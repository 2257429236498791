"""Every operation of the OpenAPI document, sent in parallel while PostgreSQL is stopped, while it
is hung (SIGSTOP) and while the apiserver is hung (SIGSTOP): each one that needs the missing
dependency answers a 503 problem with Retry-After, no sooner than that dependency's timeout and
within it plus 5 s; the others keep their usual answers; all of them work again once it is back.
The operator's calls and its leader election are bounded the same way.

The dependencies are the module's own, never the session's: a control plane without a node
(etcd, kube-apiserver, controller-manager) started for these three scenarios and a throwaway
PostgreSQL. The app runs in-process with 2-second timeouts; a request that hung would hold its
whole batch, and the batch has a bound.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.operator.kube import Apiserver
from kubetask.operator.leader import LeaderElector
from kubetask.store import deadlines
from kubetask.testing.cluster import Cluster, OperatorProcess, control_plane, create, task, template, wait_for
from kubetask.testing.postgres import PostgresServer, paused, throwaway_postgres

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]
NS = "outage"
K, S = "kubernetes", "database"
TIMEOUT = 2  # every timeout of the app under test, seconds (2: libpq's least connect timeout)
SLACK = 5  # an answer may come this much later than its dependency's timeout
# Earliest and latest 503 for a call that needs a hung dependency. A hung database costs the checkout
# ping of a pooled connection, then a new connection's connect timeout (deadlines.py, README); a
# timed-out apiserver call is never retried (kubetask.kubeapi).
HUNG = {
    S: (TIMEOUT - 0.25, deadlines.PING_SECONDS + TIMEOUT + deadlines.GRACE_SECONDS + SLACK),
    K: (TIMEOUT - 0.25, TIMEOUT + SLACK),
}
STOPPED_DATABASE_BOUND = TIMEOUT + SLACK  # refused at once; the bound only says nothing waited long
BATCH_SECONDS = max(bound for _, bound in HUNG.values()) + 10
ACTIONS = {"schedule": "0 * * * *", "suspend": True, "task": {"templateRef": {"name": "echo"}}}  # schedule `actions`


@dataclass(frozen=True)
class Call:
    operation: str  # "METHOD /path/{template}" as in the OpenAPI document
    path: str
    up: tuple[int, ...]  # its status with every dependency up
    needs: frozenset[str]
    json: Any = None
    headers: dict[str, str] | None = None

    @property
    def method(self) -> str:
        return self.operation.split()[0]


def _call(operation: str, path: str, up: int | tuple[int, ...], *needs: str, **kw: Any) -> Call:
    return Call(operation, path, up if isinstance(up, tuple) else (up,), frozenset(needs), **kw)


def _calls() -> list[Call]:
    """At least one call per operation, with what it needs: a live Task `live` and a template `echo`
    exist in namespace NS, `ghost` exists nowhere (so history is asked), no dead letters. Every
    mutating call needs the database: its audit row is written before it acts (fail closed)."""
    v1, ns = "/api/v1", f"/api/v1/namespaces/{NS}"
    task_op, tmpl_op, dl_op = (f"{v1}/namespaces/{{ns}}/{kind}" for kind in ("tasks", "templates", "deadletters"))
    submit = {"template": "echo", "params": {"message": "hi"}}
    echo = {"name": "echo", "spec": {"image": "kubetask/executor:dev", "handler": "echo"}}
    sch_op = f"{v1}/namespaces/{{ns}}/schedules"
    schedule = {"name": "actions", "spec": ACTIONS}
    hours = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T02:00:00Z"}  # of schedule `actions`: in the past
    return [
        _call("GET /healthz", "/healthz", 200),
        _call("GET /readyz", "/readyz", 200, S, K),
        _call(f"POST {task_op}", f"{ns}/tasks", 201, K, S, json=submit),  # no key: no history lookup
        _call(f"POST {task_op}", f"{ns}/tasks", (200, 201), S, K, json=submit, headers={"Idempotency-Key": "outage"}),
        _call(f"GET {task_op}", f"{ns}/tasks?phase=Failed&sort=name", 200, S),
        _call(f"GET {v1}/tasks", f"{v1}/tasks", 200, S),
        _call(f"GET {task_op}/{{name}}", f"{ns}/tasks/live", 200, K),
        _call(f"GET {task_op}/{{name}}", f"{ns}/tasks/ghost", 404, K, S),  # not in the cluster: history is asked
        _call(f"GET {task_op}/{{name}}/attempts", f"{ns}/tasks/live/attempts", 200, K),
        _call(f"GET {task_op}/{{name}}/attempts", f"{ns}/tasks/ghost/attempts", 404, K, S),
        _call(f"GET {task_op}/{{name}}/events", f"{ns}/tasks/live/events", 200, K),
        _call(f"GET {task_op}/{{name}}/events", f"{ns}/tasks/ghost/events", 404, K, S),
        _call(f"GET {task_op}/{{name}}/attempts/{{n}}/logs", f"{ns}/tasks/ghost/attempts/1/logs", 404, K, S),
        _call(f"GET {task_op}/{{name}}/result", f"{ns}/tasks/live/result", 404, K),  # not finished: the CR says so
        _call(f"GET {task_op}/{{name}}/result", f"{ns}/tasks/ghost/result", 404, K, S),
        _call(f"POST {task_op}/{{name}}/cancel", f"{ns}/tasks/live/cancel", 202, K, S),
        _call(f"DELETE {task_op}/{{name}}", f"{ns}/tasks/ghost", 404, K, S),
        _call(f"POST {tmpl_op}", f"{ns}/templates", 409, K, S, json=echo),  # 409: it exists
        _call(f"GET {tmpl_op}", f"{ns}/templates", 200, K),
        _call(f"GET {tmpl_op}/{{name}}", f"{ns}/templates/echo", 200, K),
        _call(f"PUT {tmpl_op}/{{name}}", f"{ns}/templates/echo", 200, K, S, json=echo),
        _call(f"DELETE {tmpl_op}/{{name}}", f"{ns}/templates/ghost", 404, K, S),
        _call(f"GET {v1}/stats", f"{v1}/stats?window=3600", 200, S),
        _call(f"GET {v1}/deadletters", f"{v1}/deadletters", 200, S),
        _call(f"GET {dl_op}", f"{ns}/deadletters", 200, S),
        _call(f"POST {dl_op}/{{name}}/redrive", f"{ns}/deadletters/ghost/redrive", 404, S),
        _call(f"POST {v1}/deadletters/redrive", f"{v1}/deadletters/redrive", 200, S, json={"namespace": NS}),
        _call(f"DELETE {dl_op}/{{name}}", f"{ns}/deadletters/ghost", 404, S),
        _call(f"POST {sch_op}", f"{ns}/schedules", 409, K, S, json=schedule),  # 409: it exists
        _call(f"GET {sch_op}", f"{ns}/schedules?suspended=true", 200, K),
        _call(f"GET {sch_op}/{{name}}", f"{ns}/schedules/actions", 200, K),
        _call(f"PUT {sch_op}/{{name}}", f"{ns}/schedules/actions", 200, K, S, json=schedule),  # the same spec
        _call(f"DELETE {sch_op}/{{name}}", f"{ns}/schedules/ghost", 404, K, S),
        _call(f"POST {sch_op}/{{name}}/suspend", f"{ns}/schedules/ghost/suspend", 404, K, S, json={"reason": "x"}),
        _call(f"POST {sch_op}/{{name}}/resume", f"{ns}/schedules/ghost/resume", 404, K, S),
        _call(f"GET {v1}/namespaces/{{ns}}/schedules/{{name}}/runs", f"{ns}/schedules/ghost/runs", 404, S),
        _call(f"POST {v1}/namespaces/{{ns}}/schedules/{{name}}/trigger", f"{ns}/schedules/ghost/trigger", 404, K, S),
        _call(
            f"POST {v1}/namespaces/{{ns}}/schedules/{{name}}/backfill",
            f"{ns}/schedules/actions/backfill",
            (200, 201),
            K,
            S,
            json=hours,
        ),
        _call(f"GET {v1}/namespaces/{{ns}}/schedules/{{name}}/preview", f"{ns}/schedules/ghost/preview", 404, K),
        _call(f"GET {v1}/audit", f"{v1}/audit?namespace={NS}", 200, S),
    ]


@dataclass(frozen=True)
class Answer:
    call: Call
    status: int
    headers: httpx.Headers
    body: Any
    seconds: float

    def __str__(self) -> str:
        return f"{self.call.method} {self.call.path}: {self.status} after {self.seconds:.1f} s {self.body}"


def _in_time(fn: Callable[[], T], seconds: float) -> T:
    """fn() in a thread of its own; fails when it has not returned after `seconds` (the thread is left
    blocked, so the test goes on to resume the dependency instead of hanging with it)."""
    out: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if errors:
        raise errors[0]
    if not out:
        raise AssertionError(f"no answer within {seconds} s")
    return out[0]


def _send(app: FastAPI, calls: list[Call]) -> list[Answer]:
    """All calls at once, through the app in-process; each answer with the time it took."""

    async def one(client: httpx.AsyncClient, c: Call) -> Answer:
        start = time.monotonic()
        r = await client.request(c.method, c.path, json=c.json, headers=c.headers)
        body = r.json() if r.content else None
        return Answer(c, r.status_code, r.headers, body, time.monotonic() - start)

    async def every() -> list[Answer]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return list(await asyncio.gather(*(one(client, c) for c in calls)))

    return _in_time(lambda: asyncio.run(every()), BATCH_SECONDS)


def _documented(app: FastAPI, a: Answer) -> bool:
    method, path = a.call.operation.split()
    return str(a.status) in app.openapi()["paths"][path][method.lower()]["responses"]


def _wrong(app: FastAPI, answers: list[Answer], out: str | None, bounds: tuple[float, float]) -> list[str]:
    """What is wrong with `answers` while dependency `out` (None: none) is out: a call that needs it
    must be a 503 problem with Retry-After naming it, answered within `bounds` seconds; any other
    must answer as with everything up, in time too; every status must be one its operation documents."""
    wrong = []
    for a in answers:
        if not _documented(app, a):
            wrong.append(f"{a}: status not among the operation's documented responses")
        if out in a.call.needs:
            problem = a.body if isinstance(a.body, dict) else {}
            if a.status != 503:
                wrong.append(f"{a}: not a 503")
            elif not a.headers.get("content-type", "").startswith("application/problem+json"):
                wrong.append(f"{a}: content-type {a.headers.get('content-type')}")
            elif not a.headers.get("retry-after", "").isdigit():
                wrong.append(f"{a}: no Retry-After")
            elif problem.get("status") != 503 or out not in problem.get("detail", "").lower():
                wrong.append(f"{a}: the problem does not name the {out}")
            elif not bounds[0] <= a.seconds <= bounds[1]:
                wrong.append(f"{a}: outside {bounds[0]:.1f}..{bounds[1]:.1f} s")
        elif a.status not in a.call.up or a.seconds > SLACK:
            wrong.append(f"{a}: needs no {out}, yet not {a.call.up} in time")
    return wrong


@pytest.fixture(scope="module")
def own_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with control_plane(tmp_path_factory.mktemp("outage-k8s"), ROOT / "crds") as cp:
        cp.core().create_namespace({"metadata": {"name": NS}})
        create(cp, NS, "tasktemplates", template("echo", handler="echo", paramSchema={"type": "object"}))
        create(cp, NS, "tasks", task("live", templateRef={"name": "echo"}, params={"message": "hi"}))
        create(
            cp,
            NS,
            "taskschedules",
            {
                "apiVersion": "kubetask.io/v1alpha1",
                "kind": "TaskSchedule",
                "metadata": {"name": "actions"},
                "spec": ACTIONS,
            },
        )
        yield cp


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    with throwaway_postgres() as server:
        yield server


def _settings(postgres: PostgresServer) -> ApiSettings:
    return ApiSettings(
        database_url=postgres.new_database(),
        database_connect_timeout_seconds=TIMEOUT,
        database_statement_timeout_seconds=TIMEOUT,
        kubernetes_timeout_seconds=TIMEOUT,
        # the routes' own dependencies are under test here; a TokenReview's outage is a 503 of every
        # /api/v1 operation alike (tests/integration/api/test_auth_reviews.py)
        auth="none",
    )


def _details_without(answers: list[Answer], out: str, words: str) -> list[str]:
    """The 503s for a missing `out` whose detail does not say `words` (which way it is missing)."""
    return [str(a) for a in answers if out in a.call.needs and words not in str((a.body or {}).get("detail"))]


def _close(application: FastAPI) -> None:
    """What the lifespan does on shutdown (no lifespan runs without a server): the audit trail writes
    what it queued, then the pool closes."""
    application.state.audit.close()
    application.state.sessions.kw["bind"].dispose()


@pytest.fixture
def app(own_control_plane: Cluster, own_postgres: PostgresServer) -> Iterator[FastAPI]:
    """The API on the module's dependencies, every timeout TIMEOUT, its pool warmed by one batch."""
    application = create_app(_settings(own_postgres), api=own_control_plane.api())
    try:
        assert _wrong(application, _send(application, _calls()), None, (0, SLACK)) == []
        yield application
    finally:
        _close(application)


def test_every_operation_is_covered(app: FastAPI) -> None:
    ops = {f"{m.upper()} {p}" for p, methods in app.openapi()["paths"].items() for m in methods}
    assert ops == {c.operation for c in _calls()}


def test_database_stopped_gives_503_problems_at_once_and_recovers(app: FastAPI, own_postgres: PostgresServer) -> None:
    own_postgres.stop()
    try:
        answers = _send(app, _calls())
    finally:
        own_postgres.start()
    assert _wrong(app, answers, S, (0, STOPPED_DATABASE_BOUND)) == []
    # pooled connections that died with the server are replaced on checkout
    assert _wrong(app, _send(app, _calls()), None, (0, SLACK)) == []


def test_database_hung_gives_503_problems_in_time_and_recovers(app: FastAPI, own_postgres: PostgresServer) -> None:
    with paused(own_postgres.pids()):
        answers = _send(app, _calls())
    assert _wrong(app, answers, S, HUNG[S]) == []
    assert _wrong(app, _send(app, _calls()), None, (0, SLACK)) == []


def test_apiserver_hung_gives_503_problems_in_time_and_recovers(app: FastAPI, own_control_plane: Cluster) -> None:
    operator = Apiserver(own_control_plane.api(), timeout=TIMEOUT, list_timeout=TIMEOUT + 1)
    operator_calls: dict[str, tuple[Callable[[], object], float]] = {
        "get_task": (lambda: operator.get_task(NS, "live"), TIMEOUT),
        "list_tasks": (operator.list_tasks, TIMEOUT + 1),
    }
    slow_or_wrong = []
    with paused([own_control_plane.apiserver_pid()]):
        answers = _send(app, _calls())
        # the operator's calls are bounded too: a per-Task read by its timeout, a listing by the longer one
        for what, (call, seconds) in operator_calls.items():
            start = time.monotonic()
            try:
                _in_time(call, BATCH_SECONDS)
            except Urllib3Timeout:
                if not seconds - 0.25 <= time.monotonic() - start <= seconds + SLACK:
                    slow_or_wrong.append(f"operator {what}: timed out after {time.monotonic() - start:.1f} s")
            except Exception as e:
                slow_or_wrong.append(f"operator {what}: {e!r} after {time.monotonic() - start:.1f} s, not a timeout")
            else:
                slow_or_wrong.append(f"operator {what}: answered")
    assert _wrong(app, answers, K, HUNG[K]) + slow_or_wrong == []
    assert _details_without(answers, K, f"did not answer within {TIMEOUT} s") == []
    assert _wrong(app, _send(app, _calls()), None, (0, SLACK)) == []


def test_apiserver_unreachable_gives_503_problems_at_once(
    own_control_plane: Cluster, own_postgres: PostgresServer
) -> None:
    api = own_control_plane.api()
    api.configuration.refresh_api_key_hook = None  # the kubeconfig loader's hook sets the host back on each call
    with socket.socket() as port:  # bound, never listening: a connect to it is refused
        port.bind(("127.0.0.1", 0))
        api.configuration.host = f"https://127.0.0.1:{port.getsockname()[1]}"
        application = create_app(_settings(own_postgres), api=api)
        try:
            answers = _send(application, _calls())
        finally:
            _close(application)
    assert _wrong(application, answers, K, (0, SLACK)) == []
    assert _details_without(answers, K, "Kubernetes is unreachable") == []


def test_the_leader_steps_down_while_the_apiserver_hangs(own_control_plane: Cluster) -> None:
    # renewed every 2 s, each Lease call timing out after 1 s; it must stop acting 4 s after its last renewal
    leader = LeaderElector(
        own_control_plane.api(), namespace="default", name="outage", identity="a", duration=6, renew=2
    )
    leader.start()
    try:
        wait_for("the lead", leader.leading.is_set, 60)
        with paused([own_control_plane.apiserver_pid()]):
            wait_for("stepping down", lambda: not leader.leading.is_set(), 6 + SLACK)
        wait_for("the lead again", leader.leading.is_set, 60)
    finally:
        leader.stop()


def test_a_start_up_resync_that_timed_out_is_tried_again(own_control_plane: Cluster, tmp_path: Path) -> None:
    env = {
        "KUBETASK_OPERATOR_LEADER_ELECTION": "false",  # resync at once, not after winning a Lease
        "KUBETASK_OPERATOR_MIRROR": "false",
        "KUBETASK_OPERATOR_LIST_TIMEOUT_SECONDS": str(TIMEOUT),
    }
    op = OperatorProcess(own_control_plane, tmp_path / "operator.log", f"sqlite:///{tmp_path / 'm.db'}", env=env)
    try:
        with paused([own_control_plane.apiserver_pid()]):
            op.start()
            wait_for("a failed resync", lambda: "resync failed" in op.output(), 60)
        wait_for("the resync, once the apiserver answers", op.resynced, 60)
    finally:
        op.stop()
