"""A Secret's value given to a task appears nowhere but inside its pod (issue 23 item 2).

Two random values in one Secret reach the executor by reference: one through the template's
`env` (`valueFrom.secretKeyRef`), one through the Task's. The handler
(`kubetask.testing.secret_handler`) prints both to stdout and stderr, in two writes, logs them,
says them in a progress message and fails with a message holding both; with two attempts allowed,
the task retries and dead-letters. Then each value (and its second half, for a mask that let a
piece through) is looked for, and must be missing, in: the Task and TaskTemplate CRs and the
attempts' Jobs and pods (full JSON), every Event of the namespace, every row of every table of the
operator's database (reflected from the database itself, so a table added later is searched too),
the operator's own log, and every API answer about the task (detail, attempts, events, both
attempts' logs, result, the lists, the dead letters, the template) while the Task exists and again
from history once it is deleted, when the logs are the kept ones. The audit trail (issue 23 item 1)
is built apart and left out of this test's claims: a table of it in this database is searched by
the same reflection, but its rows are not written by the operator.

That the values did reach the pod is shown by its log: it has each value's sha256, which the
handler printed, and `[redacted]` where the handler printed the value; the pods' logs are
searched too (the executor masked them at the source). Inside the pod are only its environment
and its process.
"""

from __future__ import annotations

import json
import uuid
import warnings
from typing import Any

from kubernetes.client.exceptions import ApiException
from sqlalchemy import MetaData, select
from sqlalchemy.exc import SAWarning

from kubetask.executor.redaction import MASK
from kubetask.store import make_engine
from kubetask.testing.cluster import (
    GROUP,
    VERSION,
    Cluster,
    OperatorProcess,
    create,
    task,
    template,
    wait_for,
    wait_task,
)
from kubetask.testing.secret_handler import MODULE, fingerprint
from tests.integration.api.conftest import Stack

SECRET = "leaky-creds"
LABEL_TASK_UID = "kubetask.io/task-uid"


def _ref(key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": SECRET, "key": key}}


def _sql_rows(url: str) -> dict[str, str]:
    """Each table of the database at `url` (reflected: all of them) as the text of all its rows."""
    engine = make_engine(url)
    try:
        meta = MetaData()
        with warnings.catch_warnings():  # rows are read, not indexes: an expression index is not reflected
            warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
            meta.reflect(bind=engine)
        with engine.connect() as c:
            return {name: repr(c.execute(select(t)).all()) for name, t in meta.tables.items()}
    finally:
        engine.dispose()


def _answer(stack: Stack, path: str) -> str:
    r = stack.http.get(path)
    assert r.status_code < 500, (path, r.status_code, r.text)
    return f"{path} {r.status_code} {dict(r.headers)}\n{r.text}"


def _api_answers(stack: Stack, ns: str, name: str) -> dict[str, str]:
    base = f"/api/v1/namespaces/{ns}"
    paths = [
        f"{base}/tasks/{name}",
        f"{base}/tasks/{name}/attempts",
        f"{base}/tasks/{name}/events",
        f"{base}/tasks/{name}/attempts/1/logs",
        f"{base}/tasks/{name}/attempts/2/logs",
        f"{base}/tasks/{name}/result",
        f"{base}/tasks",
        "/api/v1/tasks",
        f"{base}/deadletters",
        "/api/v1/deadletters",
        f"{base}/templates/{name}",
    ]
    return {p: _answer(stack, p) for p in paths}


def _objects(cluster: Cluster, ns: str, name: str) -> dict[str, str]:
    """The Task and the template (when they exist), the Jobs and pods, and all Events, as JSON."""
    api: Any = cluster.api()  # its sanitize_for_serialization is untyped
    out: dict[str, str] = {}
    for plural in ("tasks", "tasktemplates"):
        try:
            out[plural] = json.dumps(cluster.custom().get_namespaced_custom_object(GROUP, VERSION, ns, plural, name))
        except ApiException as e:
            assert e.status == 404
    out["jobs"] = json.dumps(api.sanitize_for_serialization(cluster.batch().list_namespaced_job(ns)))
    out["pods"] = json.dumps(api.sanitize_for_serialization(cluster.core().list_namespaced_pod(ns)))
    out["events"] = json.dumps(api.sanitize_for_serialization(cluster.core().list_namespaced_event(ns)))
    return out


def _leaks(values: list[str], places: dict[str, str]) -> list[str]:
    """`where: value` for each place that holds a value, or its second half."""
    pieces = [p for v in values for p in (v, v[len(v) // 2 :])]
    return [f"{where}: {p}" for where, text in places.items() for p in pieces if p in text]


def test_a_secret_given_to_a_task_appears_nowhere_but_in_its_pod(
    stack: Stack, namespace: str, operator: OperatorProcess
) -> None:
    cluster, name = stack.cluster, "leaky"
    values = {"template": f"kt-tpl-{uuid.uuid4().hex}", "task": f"kt-task-{uuid.uuid4().hex}"}
    cluster.core().create_namespaced_secret(namespace, {"metadata": {"name": SECRET}, "stringData": values})
    env = [
        {"name": "KUBETASK_HANDLER_MODULES", "value": MODULE},
        {"name": "TEMPLATE_TOKEN", "valueFrom": _ref("template")},
    ]
    retry = {"maxAttempts": 2, "delaySeconds": 1}
    create(cluster, namespace, "tasktemplates", template(name, handler="leak-secrets", env=env, retry=retry))
    create(
        cluster,
        namespace,
        "tasks",
        task(
            name,
            templateRef={"name": name},
            params={"env": ["TEMPLATE_TOKEN", "TASK_TOKEN"]},
            env=[{"name": "TASK_TOKEN", "valueFrom": _ref("task")}],
        ),
    )
    done = wait_task(cluster, namespace, name, timeout=240)
    status = done["status"]
    assert status["phase"] == "DeadLettered", status
    assert [a["reason"] for a in status["attempts"]] == ["NonZeroExit", "NonZeroExit"], status["attempts"]
    masked = "failed with TEMPLATE_TOKEN=[redacted], TASK_TOKEN=[redacted]"
    assert all(masked in a["message"] for a in status["attempts"]), status["attempts"]
    uid = done["metadata"]["uid"]

    # the pod had the values: its log has their sha256 and the masks where they were printed (the
    # frames' too: a progress message is masked before it is framed), but neither value
    pods = cluster.core().list_namespaced_pod(namespace, label_selector=f"{LABEL_TASK_UID}={uid}").items
    assert len(pods) == 2, [p.metadata.name for p in pods]
    pod_logs: dict[str, str] = {}
    for pod in pods:
        log = cluster.core().read_namespaced_pod_log(pod.metadata.name, namespace, container="main")
        pod_logs[f"pod log {pod.metadata.name}"] = log
        for var, value in (("TEMPLATE_TOKEN", values["template"]), ("TASK_TOKEN", values["task"])):
            assert f"{var} has {fingerprint(value)}" in log, log
            for line in (
                f"stdout: {var}=[redacted]",
                f"stderr: {var}=[redacted]",
                f"split: {var} = [redacted]",
                f"logged: {var}='[redacted]'",
                f'"message":"progress: {var}=[redacted]"',
            ):
                assert line in log, (line, log)
        assert f"RuntimeError: {masked}" in log, log

    def mirrored() -> bool:
        listed = stack.http.get(f"/api/v1/namespaces/{namespace}/tasks").json()["items"]
        dead = stack.http.get(f"/api/v1/namespaces/{namespace}/deadletters").json()["items"]
        logs_kept = _sql_rows(stack.database_url)["attempt_logs"].count(uid) == 2
        return [t["phase"] for t in listed] == ["DeadLettered"] and len(dead) == 1 and logs_kept

    wait_for("the task, its dead letter and both logs in SQL", mirrored, 120)
    live = _api_answers(stack, namespace, name)
    assert masked in live[f"/api/v1/namespaces/{namespace}/tasks/{name}"], live
    assert fingerprint(values["task"]) in live[f"/api/v1/namespaces/{namespace}/tasks/{name}/attempts/2/logs"]
    places = {**_objects(cluster, namespace, name), **live, **pod_logs}

    # once the Task is gone, the API answers from history and the kept logs
    assert stack.http.delete(f"/api/v1/namespaces/{namespace}/tasks/{name}").status_code == 202

    def kept() -> dict[str, str] | None:
        if cluster.core().list_namespaced_pod(namespace, label_selector=f"{LABEL_TASK_UID}={uid}").items:
            return None
        logs = [stack.http.get(f"/api/v1/namespaces/{namespace}/tasks/{name}/attempts/{n}/logs") for n in (1, 2)]
        if not all(r.headers.get("x-kubetask-log-source") == "kept" for r in logs):
            return None
        return _api_answers(stack, namespace, name)

    history = wait_for("the pods gone and the logs served from SQL", kept, 120)
    assert fingerprint(values["template"]) in history[f"/api/v1/namespaces/{namespace}/tasks/{name}/attempts/1/logs"]
    places.update({f"history {p}": a for p, a in history.items()})
    places.update({f"after deletion {k}": v for k, v in _objects(cluster, namespace, name).items()})
    places.update({f"SQL table {t}": rows for t, rows in _sql_rows(stack.database_url).items()})
    places["operator log"] = operator.output()
    # the places the failure message and the log went to hold the mask where the values were: the
    # search below looks where a value would be
    tasks, ns = f"/api/v1/namespaces/{namespace}/tasks", f"/api/v1/namespaces/{namespace}"
    where_masked = {"tasks", "events", "SQL table tasks", "SQL table attempts", "SQL table dead_letters"}
    where_masked |= {"SQL table attempt_logs", "SQL table events"}
    for p in (f"{tasks}/{name}", f"{tasks}/{name}/attempts", f"{tasks}/{name}/events", f"{tasks}/{name}/result"):
        where_masked |= {p, f"history {p}"}
    where_masked |= {f"{h}{tasks}/{name}/attempts/{n}/logs" for h in ("", "history ") for n in (1, 2)}
    where_masked |= {f"{ns}/deadletters", f"history {ns}/deadletters"}
    assert where_masked - {w for w, text in places.items() if MASK in text} == set()

    assert _leaks(list(values.values()), places) == []
