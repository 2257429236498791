"""`GET …/tasks/{name}/result` against the real apiserver and SQL: a small result from the Task's
status, a large one from the row the operator keeps (byte for byte), both again from history once
the CR is gone; every missing result a 404 problem saying what is missing.

No operator acts here (the session's one, should earlier tests have started it, is paused for each
test: it would race the status writes): the statuses are written as the operator writes them (the status
subresource), the kept result and the history row through the store's own writers, so that each
case is exactly the state it names (the node test, tests/integration/test_large_results_on_the_node.py,
makes them with real pods)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kubetask.history import snapshot
from kubetask.large_results import Verdict
from kubetask.store import make_engine
from kubetask.store.results import ResultRecord, keep_result
from kubetask.store.writer import upsert
from kubetask.testing.cluster import (
    GROUP,
    VERSION,
    Cluster,
    create,
    list_objects,
    operators_paused,
    python_spec,
    task,
    wait_for,
)

NOW = "2026-12-03T08:00:00Z"
BIG = json.dumps({"rows": ["é" * 100] * 100}, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.fixture(autouse=True)
def _no_operator(cluster: Cluster) -> Iterator[None]:
    """Set up before `namespace`, so resumed only after the test's namespace is deleted."""
    with operators_paused(cluster):
        yield


def _url(ns: str, name: str) -> str:
    return f"/api/v1/namespaces/{ns}/tasks/{name}/result"


def _attempt(number: int, phase: str, **extra: Any) -> dict[str, Any]:
    return {"number": number, "jobName": f"x-{number}", "podName": f"x-{number}-abcde", "phase": phase, **extra}


def _task(cluster: Cluster, ns: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
    """A Task whose status is `status`, as the operator would have written it."""
    create(cluster, ns, "tasks", task(name, **python_spec("pass")))
    cluster.custom().patch_namespaced_custom_object_status(GROUP, VERSION, ns, "tasks", name, {"status": status})
    cr: dict[str, Any] = cluster.custom().get_namespaced_custom_object(GROUP, VERSION, ns, "tasks", name)
    return cr


def _keep(db: Path, cr: dict[str, Any], attempt: int, body: bytes) -> None:
    verdict = Verdict(attempt, len(body), hashlib.sha256(body).hexdigest(), body[:1024].decode(errors="ignore"))
    meta = cr["metadata"]
    record = ResultRecord(meta["uid"], meta["namespace"], meta["name"], verdict, body.decode(), datetime.now(UTC))
    engine = make_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as s:
            assert keep_result(s, record)
    finally:
        engine.dispose()


def _mirror_and_delete(cluster: Cluster, db: Path, cr: dict[str, Any]) -> None:
    """The operator's history row of `cr`, then the CR deleted (as a finished Task expires)."""
    engine = make_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as s:
            upsert(s, snapshot(cr))
            s.commit()
    finally:
        engine.dispose()
    meta = cr["metadata"]
    ns, name = meta["namespace"], meta["name"]
    cluster.custom().delete_namespaced_custom_object(GROUP, VERSION, ns, "tasks", name)
    wait_for(
        f"Task {name} gone", lambda: all(t["metadata"]["name"] != name for t in list_objects(cluster, ns, "tasks"))
    )


def _problem(r: Any, says: str) -> None:
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert says in r.json()["detail"], r.json()


def _served_whole(http: TestClient, ns: str, sha: str) -> None:
    r = http.get(_url(ns, "small"))
    assert (r.status_code, r.headers["content-type"]) == (200, "application/json")
    assert json.loads(r.content) == {"text": "héllo", "n": 1}  # keys in the apiserver's order (sorted)
    assert "\\u" not in r.text and " " not in r.text  # compact UTF-8, as the executor writes JSON
    assert r.headers["x-kubetask-result-attempt"] == "1"
    assert r.headers["x-kubetask-result-source"] == "status"
    assert r.headers["x-kubetask-result-sha256"] == hashlib.sha256(r.content).hexdigest()

    r = http.get(_url(ns, "large"))
    assert (r.status_code, r.headers["x-kubetask-result-source"]) == (200, "kept")
    assert r.content == BIG and hashlib.sha256(r.content).hexdigest() == sha
    assert (r.headers["x-kubetask-result-attempt"], r.headers["x-kubetask-result-sha256"]) == ("2", sha)
    assert http.get(_url(ns, "large"), params={"attempt": 2}).content == BIG
    _problem(http.get(_url(ns, "large"), params={"attempt": 1}), "attempt 1 of Task 'large' in namespace")
    _problem(http.get(_url(ns, "large"), params={"attempt": 3}), "has no attempt 3 (it has 2)")


def test_small_and_large_results_whole_from_the_cr_then_from_history(
    cluster: Cluster, namespace: str, http: TestClient, tmp_path: Path
) -> None:
    db = tmp_path / "kubetask.db"  # the `http` fixture's database
    small = _task(
        cluster,
        namespace,
        "small",
        {"phase": "Succeeded", "attempts": [_attempt(1, "Succeeded")], "result": {"text": "héllo", "n": 1}},
    )
    sha = hashlib.sha256(BIG).hexdigest()
    ref = {"attempt": 2, "size": len(BIG), "sha256": sha, "preview": BIG[:100].decode()}
    large = _task(
        cluster,
        namespace,
        "large",
        {
            "phase": "Succeeded",
            "attempts": [_attempt(1, "Failed", reason="Error"), _attempt(2, "Succeeded", largeResult=ref)],
            "largeResult": ref,
        },
    )
    _keep(db, large, 2, BIG)
    _served_whole(http, namespace, sha)

    _mirror_and_delete(cluster, db, small)
    _mirror_and_delete(cluster, db, large)
    _served_whole(http, namespace, sha)


def test_a_missing_result_is_a_404_naming_what_is_missing(cluster: Cluster, namespace: str, http: TestClient) -> None:
    _problem(http.get(_url(namespace, "nobody")), "Task 'nobody' not found in namespace")
    _task(cluster, namespace, "running", {"phase": "Running", "attempts": [_attempt(1, "Running")]})
    _problem(http.get(_url(namespace, "running")), "has not finished (Running)")
    too_large = "result is 2000000 bytes of JSON; the limit is 1048576 (KUBETASK_OPERATOR_RESULT_MAX_BYTES)"
    failed = [_attempt(1, "Failed", reason="ResultTooLarge", message=too_large)]
    _task(cluster, namespace, "huge", {"phase": "Failed", "reason": "ResultTooLarge", "attempts": failed})
    _problem(
        http.get(_url(namespace, "huge")),
        f"ended Failed without a result (its last attempt: Failed (ResultTooLarge: {too_large}))",
    )
    ref = {"attempt": 1, "size": 5000, "sha256": "ab" * 32, "preview": "{"}
    gone = [_attempt(1, "Succeeded", largeResult=ref)]
    _task(cluster, namespace, "unkept", {"phase": "Succeeded", "attempts": gone, "largeResult": ref})
    _problem(http.get(_url(namespace, "unkept")), "(5000 bytes, sha256 abababababab…) is not in SQL: it was lost")
    r = http.get(_url(namespace, "running"), params={"attempt": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "query:attempt"
