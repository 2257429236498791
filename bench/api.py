"""Figure 3, API submissions: N `POST /api/v1/namespaces/{ns}/tasks` through `kubetask-api` (uvicorn) at
concurrency 16, against a floor of the same N Task CRs created with the Python client plus one SQL
insert each, for SQLite and PostgreSQL.

The operator is stopped for the whole figure: it would otherwise dispatch the floor's Tasks while the
API pass runs and bill the API for them. A submission counts as done only when its Task is found in
the namespace afterwards (and, for the floor, its SQL row too); rates use that count.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
from sqlalchemy import Engine, text

from bench.context import EXECUTOR, Context, log
from bench.harness import counted, parallel, pct
from kubetask.store import make_engine, migrate
from kubetask.testing.cluster import GROUP, VERSION

CONCURRENCY = 16


def run(ctx: Context, record: dict[str, Any], _figures: dict[str, dict[str, Any]]) -> None:
    rows: list[dict[str, Any]] = record.setdefault("rows", [])
    ctx.op.stop()
    try:
        for backend, url in (("sqlite", f"sqlite:///{ctx.tmp / 'api.db'}"), ("postgresql", ctx.pg.new_database())):
            row: dict[str, Any] = {"backend": backend, "concurrency": CONCURRENCY}
            rows.append(row)
            row.update(_backend(ctx, url, backend, ctx.sizes.api_n))
    finally:
        # Gone before the operator starts again, or it would dispatch 2N Tasks into the next figure.
        ctx.clear(("api",))
        ctx.restart_operator()


def _backend(ctx: Context, db_url: str, backend: str, n: int) -> dict[str, Any]:
    log(f"api ({backend}): {n} submissions at concurrency {CONCURRENCY}, and the floor")
    ns = ctx.namespace(f"api-{backend}")
    spec = {"image": EXECUTOR, "handler": "echo", "paramSchema": {"type": "object"}}
    echo = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskTemplate", "metadata": {"name": "echo"}, "spec": spec}
    ctx.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasktemplates", echo)
    engine = make_engine(db_url)
    migrate(engine)
    try:
        floor = _floor(ctx, engine, ns, n)
        api = through_api(ctx, db_url, ns, n)
    finally:
        engine.dispose()
    return {"floor": floor, "api": api}


def _floor(ctx: Context, engine: Engine, ns: str, n: int) -> dict[str, Any]:
    with engine.begin() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY, name TEXT, body TEXT)"))

    def floor_one(i: int) -> float:
        t0 = time.monotonic()
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Task",
            "metadata": {"name": f"f{i}"},
            "spec": {"templateRef": {"name": "echo"}, "params": {"i": i}},
        }
        ctx.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasks", body)
        with engine.begin() as c:
            insert = text("INSERT INTO bench_floor (id, name, body) VALUES (:i, :n, :b)")
            c.execute(insert, {"i": i, "n": f"f{i}", "b": json.dumps(body)})
        return time.monotonic() - t0

    t0 = time.monotonic()
    lat = parallel(_tolerant(floor_one), range(n), workers=CONCURRENCY)
    seconds = time.monotonic() - t0
    in_cluster = {t["metadata"]["name"] for t in ctx.tasks(ns)}
    with engine.connect() as c:
        in_sql = {str(x) for x in c.execute(text("SELECT name FROM bench_floor")).scalars()}
    done = sum(1 for i in range(n) if f"f{i}" in in_cluster and f"f{i}" in in_sql)
    return {**counted(f"{n} Task CRs + SQL rows found", n=n, seen=done, seconds=seconds), **_p99(lat)}


def through_api(
    ctx: Context, db_url: str, ns: str, n: int, *, env: dict[str, str] | None = None, token: str | None = None
) -> dict[str, Any]:
    """N submissions through a `kubetask-api` started for the pass (with `env` added to its environment,
    sending `token` as a bearer token when given), counted when answered and found in the cluster."""
    port = _free_port()
    env = {
        **os.environ,
        # figure 3 measures the API without authentication (no token to send); figure 9 compares the two
        "KUBETASK_API_AUTH": "none",
        **(env or {}),
        "KUBECONFIG": str(ctx.cluster.kubeconfig),
        "KUBETASK_DATABASE_URL": db_url,
        "KUBETASK_API_PORT": str(port),
    }
    serve = [sys.executable, "-c", "from kubetask.api.main import main; main()"]
    api = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(api, base)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        limits = httpx.Limits(max_connections=CONCURRENCY)
        client = httpx.Client(base_url=base, timeout=60, limits=limits, headers=headers)
        answers: dict[int, tuple[str, str]] = {}

        def submit(i: int) -> float:
            t = time.monotonic()
            r = client.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "echo", "params": {"i": i}})
            r.raise_for_status()
            answers[i] = (r.json()["name"], r.json()["uid"])
            return time.monotonic() - t

        t0 = time.monotonic()
        lat = parallel(_tolerant(submit), range(n), workers=CONCURRENCY)
        seconds = time.monotonic() - t0
    finally:
        api.terminate()
        api.wait(10)
    # Answered 201 *and* the Task it named is in the cluster with the uid it gave.
    in_cluster = {(t["metadata"]["name"], t["metadata"]["uid"]) for t in ctx.tasks(ns)}
    done = sum(1 for x in answers.values() if x in in_cluster)
    return {**counted(f"{n} submissions answered and found", n=n, seen=done, seconds=seconds), **_p99(lat)}


def _tolerant(fn: Any) -> Any:
    """`fn`, with a failed call recorded as None (and logged once) instead of ending the pass."""
    logged: list[bool] = []

    def call(i: int) -> float | None:
        try:
            return float(fn(i))
        except Exception as e:
            if not logged:
                logged.append(True)
                log(f"api: a call failed (counted as not done): {e!r}")
            return None

    return call


def _p99(lat: list[float | None]) -> dict[str, Any]:
    ok = [x for x in lat if x is not None]
    return {"p99_ms": (pct(ok, 99) or 0) * 1000 if ok else None}


def _wait_healthy(api: subprocess.Popen[bytes], base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise RuntimeError(f"kubetask-api exited with {api.returncode} before answering /healthz")
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"kubetask-api did not answer /healthz within {timeout:.0f} s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
