"""Results over 4 KiB on the real node (issue 18 item 3): framed in the pod's log by the executor,
read, checked against the resultSchema and kept in SQL by the operator, served whole by
`GET …/tasks/{name}/result` and `kubetask result`.

A 600 KiB result round-trips exactly (the served body's sha256 is the pod's, and it parses to
what the handler returned) and is still served after its Task, Job and pod are deleted; one that
breaks the resultSchema fails InvalidResult; one over the limit (1 MiB) fails ResultTooLarge
saying its size and the limit. An operator killed while the attempt runs, so before any verdict,
keeps the verdict once after its restart (one row, not rewritten by a second restart).

The handler is defined in the pod's own command (`python3 -c`), registered with the SDK's
`@handler` and run by the executor's runtime (`kubetask.executor.runtime.run`), as
`kubetask-executor` would: the result leaves the pod only through the runtime's frames.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import Result

from kubetask.store import make_engine
from kubetask.store.tables import AttemptResultRow
from kubetask.testing.cluster import Cluster, OperatorProcess, create, get_task, task, template, wait_for, wait_task
from kubetask.testing.tokens import admin_headers

# rows of 1 KiB until `bytes`; `bad` makes `n` a string, against the resultSchema; `sleep` waits first
MAKE = """
def make(p):
    rows = ["%06d" % i + "r" * 1018 for i in range(int(p["bytes"]) // 1027)]
    return {"rows": rows, "n": "many" if p.get("bad") else len(rows)}
"""
HANDLER = (
    "import os, sys, time\n"
    "from kubetask.executor import handler\n"
    "from kubetask.executor.runtime import run\n" + MAKE + "@handler('big')\n"
    "def big(p):\n"
    "    time.sleep(float(p.get('sleep', 0)))\n"
    "    return make(p)\n"
    "sys.exit(run(sys.argv[1:], os.environ))\n"
)
SCHEMA = {
    "type": "object",
    "required": ["rows", "n"],
    "properties": {"rows": {"type": "array", "items": {"type": "string"}}, "n": {"type": "integer"}},
}
KIB = 1024
LIMIT = 1024 * KIB  # the operator's default KUBETASK_OPERATOR_RESULT_MAX_BYTES


def _expected(params: dict[str, Any]) -> bytes:
    """The result's JSON text as the pod's runtime writes it (compact, UTF-8)."""
    scope: dict[str, Any] = {}
    exec(MAKE, scope)  # the pod's own generator: one source for both sides
    return json.dumps(scope["make"](params), separators=(",", ":"), ensure_ascii=False).encode()


def _template(cluster: Cluster, ns: str) -> None:
    spec = {"command": ["python3", "-c", HANDLER], "handler": "big", "resultSchema": SCHEMA}
    create(cluster, ns, "tasktemplates", template("big", **spec, retry={"maxAttempts": 1}))


def _run(cluster: Cluster, ns: str, name: str, **params: Any) -> dict[str, Any]:
    create(cluster, ns, "tasks", task(name, templateRef={"name": "big"}, params=params))
    status: dict[str, Any] = wait_task(cluster, ns, name, timeout=180)["status"]
    return status


def _get(cluster: Cluster, api_url: str, ns: str, name: str, **params: Any) -> httpx.Response:
    with httpx.Client(base_url=api_url, timeout=60, headers=admin_headers(cluster)) as http:
        return http.get(f"/api/v1/namespaces/{ns}/tasks/{name}/result", params=params)


def _rows(operator: OperatorProcess, ns: str, name: str) -> list[tuple[int, str | None, Any]]:
    """(attempt, reason, kept_at) of every verdict the operator kept on Task `name`."""
    engine = make_engine(operator.database_url)
    try:
        with Session(engine) as s:
            stmt = select(AttemptResultRow.attempt, AttemptResultRow.reason, AttemptResultRow.kept_at).where(
                AttemptResultRow.namespace == ns, AttemptResultRow.task_name == name
            )
            return [(r.attempt, r.reason, r.kept_at) for r in s.execute(stmt)]
    finally:
        engine.dispose()


def test_a_600_kib_result_round_trips_exactly_and_outlives_its_task_job_and_pod(
    cluster: Cluster, namespace: str, api_url: str, kt: Callable[..., Result]
) -> None:
    _template(cluster, namespace)
    params = {"bytes": 600 * KIB}
    want = _expected(params)
    sha = hashlib.sha256(want).hexdigest()
    assert 600 * KIB - 1100 < len(want) < LIMIT

    st = _run(cluster, namespace, "big", **params)
    assert (st["phase"], st["reason"]) == ("Succeeded", "Completed"), st
    assert "result" not in st
    large = st["largeResult"]
    assert (large["attempt"], large["size"], large["sha256"]) == (1, len(want), sha)
    assert want.decode().startswith(large["preview"]) and 0 < len(large["preview"].encode()) <= 1024

    def served() -> None:
        r = _get(cluster, api_url, namespace, "big")
        assert r.status_code == 200, r.text
        assert r.content == want and hashlib.sha256(r.content).hexdigest() == sha
        assert (r.headers["x-kubetask-result-sha256"], r.headers["x-kubetask-result-source"]) == (sha, "kept")
        raw = kt("result", "big", "-o", "raw")
        assert (raw.exit_code, raw.stdout_bytes) == (0, want), raw.stderr
        pretty = kt("result", "big", "--attempt", "1", "-v")
        assert pretty.exit_code == 0 and json.loads(pretty.stdout) == json.loads(want)
        assert pretty.stderr == f"attempt 1: {len(want)} bytes, sha256 {sha} (kept)\n"

    served()
    cluster.kubectl("delete", "task", "big", "-n", namespace)
    wait_for(
        "the Task, its Job and its pod gone",
        lambda: (
            not (
                cluster.batch().list_namespaced_job(namespace).items
                or cluster.core().list_namespaced_pod(namespace).items
                or _task_exists(cluster, namespace, "big")
            )
        ),
        timeout=120,
    )
    served()  # from history and the kept row


def _task_exists(cluster: Cluster, ns: str, name: str) -> bool:
    try:
        get_task(cluster, ns, name)
    except Exception:  # the apiserver's 404
        return False
    return True


def test_a_large_result_breaking_the_schema_fails_invalid_result(
    cluster: Cluster, namespace: str, api_url: str, kt: Callable[..., Result]
) -> None:
    _template(cluster, namespace)
    st = _run(cluster, namespace, "bad", bytes=20 * KIB, bad=True)
    assert (st["phase"], st["reason"]) == ("Failed", "InvalidResult"), st
    assert "resultSchema" in st["message"] and "/n: 'many' is not of type 'integer'" in st["message"]
    r = _get(cluster, api_url, namespace, "bad")
    assert r.status_code == 404 and "ended Failed without a result" in r.json()["detail"]
    assert "InvalidResult" in r.json()["detail"]
    cli = kt("result", "bad")
    assert cli.exit_code == 3 and "InvalidResult" in cli.stderr and cli.stdout == ""


def test_a_result_over_the_limit_fails_result_too_large_saying_size_and_limit(
    cluster: Cluster, namespace: str, api_url: str
) -> None:
    _template(cluster, namespace)
    params = {"bytes": LIMIT + 100 * KIB}
    size = len(_expected(params))
    st = _run(cluster, namespace, "huge", **params)
    assert (st["phase"], st["reason"]) == ("Failed", "ResultTooLarge"), st
    assert f"result is {size} bytes of JSON" in st["message"]
    assert f"limit is {LIMIT} (KUBETASK_OPERATOR_RESULT_MAX_BYTES)" in st["message"]
    assert st["attempts"][0]["reason"] == "ResultTooLarge" and "largeResult" not in st
    detail = _get(cluster, api_url, namespace, "huge").json()["detail"]
    assert "ResultTooLarge" in detail and f"result is {size} bytes of JSON" in detail


@pytest.mark.own_cluster  # kills the session operator
def test_an_operator_killed_before_the_verdict_keeps_it_once_after_restart(
    cluster: Cluster, operator: OperatorProcess, namespace: str, api_url: str
) -> None:
    _template(cluster, namespace)
    params = {"bytes": 64 * KIB, "sleep": 8}
    want = _expected(params)
    create(cluster, namespace, "tasks", task("late", templateRef={"name": "big"}, params=params))
    wait_task(cluster, namespace, "late", {"Running"}, timeout=120)

    operator.kill()
    wait_for(
        "the pod's container ended",
        lambda: [p for p in cluster.core().list_namespaced_pod(namespace).items if p.status.phase == "Succeeded"],
        timeout=120,
    )
    assert _rows(operator, namespace, "late") == []  # no verdict: the operator was down when the attempt ended
    assert get_task(cluster, namespace, "late")["status"]["phase"] == "Running"

    operator.start()
    st = wait_task(cluster, namespace, "late", timeout=120)["status"]
    assert (st["phase"], st["largeResult"]["sha256"]) == ("Succeeded", hashlib.sha256(want).hexdigest())
    kept = _rows(operator, namespace, "late")
    assert [(a, reason) for a, reason, _ in kept] == [(1, None)]

    operator.kill()  # a restart after the verdict re-reads the pod if it is still there: nothing new
    assert operator.start_and_resync(timeout=120)
    operator.sweep_now()
    assert _rows(operator, namespace, "late") == kept
    assert _get(cluster, api_url, namespace, "late").content == want
