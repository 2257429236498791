"""No body the operator or the API sends to the apiserver holds a JSON null, and kubectl explains
every field of the CRDs with its type.

Reading the CRs back cannot show a null that was sent: the apiserver prunes nulls from
non-nullable fields before it stores anything. The request bodies are in its audit log (level
Request for kubetask.io resources, Jobs and Events; scripts/cluster/cluster.sh), so that is what is
read, over tasks that reach every phase.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.testing.cluster import (
    Cluster,
    OperatorProcess,
    create,
    get_task,
    python_spec,
    task,
    template,
    wait_for,
    wait_task,
)
from kubetask.testing.tokens import admin_headers

API_AGENT = "kubetask-api-audit-test"
# The audit log holds a create's or update's body as the apiserver decoded it, encoded again: a
# zero metav1.Time comes out as null although nobody sent it (neither jobs.build_job nor
# events.event_body sets these fields). Patches are logged as sent.
RE_ENCODED = frozenset({"/metadata/creationTimestamp", "/spec/template/metadata/creationTimestamp", "/eventTime"})
OPERATOR_AGENT = "kubetask-operator/"


@pytest.fixture
def http(cluster: Cluster, operator: OperatorProcess, tmp_path: Path) -> Iterator[TestClient]:
    """The API in-process, mirroring to the operator's database, with a User-Agent the audit log shows."""
    url = f"sqlite:///{tmp_path / 'kubetask.db'}"
    operator.use_database(url)
    api = cluster.api()
    api.user_agent = API_AGENT
    with TestClient(create_app(ApiSettings(database_url=url), api=api), headers=admin_headers(cluster)) as client:
        yield client


def _null_paths(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path or "/"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _null_paths(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _null_paths(v, f"{path}/{i}")]
    return []


def _sent(cluster: Cluster, since: int, namespace: str) -> list[dict[str, Any]]:
    """Answered requests with a body, in `namespace`, from the operator or the API."""
    with cluster.audit().path.open("rb") as f:
        f.seek(max(since - 1, 0))
        mid_line = since > 0 and f.read(1) != b"\n"  # an entry being written at the mark came before it
        lines = f.read().decode().split("\n")[int(mid_line) : -1]  # the last piece: "" or an entry being written
    events = [json.loads(line) for line in lines if line.strip()]
    return [
        e
        for e in events
        if e.get("stage") == "ResponseComplete"
        and (e.get("objectRef") or {}).get("namespace") == namespace
        and "requestObject" in e
        and (OPERATOR_AGENT in e.get("userAgent", "") or API_AGENT in e.get("userAgent", ""))
    ]


def _kind(e: dict[str, Any]) -> tuple[str, str, str]:
    ref = e["objectRef"]
    who = "api" if API_AGENT in e["userAgent"] else "operator"
    return who, e["verb"], ref["resource"] + ("/" + ref["subresource"] if ref.get("subresource") else "")


def test_no_request_of_the_operator_or_the_api_holds_a_null(cluster: Cluster, http: TestClient, namespace: str) -> None:
    mark = cluster.audit().mark()
    base = f"/api/v1/namespaces/{namespace}"
    failing: dict[str, Any] = {"handler": "fail", "retry": {"maxAttempts": 2, "delaySeconds": 1, "jitter": "none"}}
    specs: list[tuple[str, dict[str, Any]]] = [
        ("echo", {"handler": "echo"}),
        ("sleep", {"handler": "sleep"}),
        ("flaky", failing),
    ]
    for name, spec in specs:
        r = http.post(f"{base}/templates", json={"name": name, "spec": template(name, **spec)["spec"]})
        assert r.status_code == 201, r.text
    submitted = {"template": "echo", "name": "ok", "params": {"message": "hi"}}
    assert http.post(f"{base}/tasks", json=submitted, headers={"Idempotency-Key": "k-1"}).status_code == 201
    for name, tpl, params in [("doomed", "flaky", {"message": "bad"}), ("nap", "sleep", {"seconds": 300})]:
        r = http.post(f"{base}/tasks", json={"template": tpl, "name": name, "params": params})
        assert r.status_code == 201, r.text
    create(cluster, namespace, "tasks", task("exit3", **python_spec("raise SystemExit(3)")))
    create(cluster, namespace, "tasks", task("nothing-to-run"))
    create(cluster, namespace, "tasks", task("early", templateRef={"name": "late"}, params={"message": "x"}))

    wait_task(cluster, namespace, "nap", {"Running"})
    assert http.post(f"{base}/tasks/nap/cancel").status_code == 202
    wait_for(
        "TemplateNotFound",
        lambda: (get_task(cluster, namespace, "early").get("status") or {}).get("reason") == "TemplateNotFound",
    )
    create(cluster, namespace, "tasktemplates", template("late", handler="echo"))
    phases = {n: wait_task(cluster, namespace, n)["status"]["phase"] for n in ("ok", "doomed", "nap", "exit3", "early")}
    reason = wait_task(cluster, namespace, "nothing-to-run")["status"]["reason"]
    assert phases == {
        "ok": "Succeeded",
        "doomed": "DeadLettered",
        "nap": "Cancelled",
        "exit3": "Failed",
        "early": "Succeeded",
    }
    assert reason == "InvalidSpec"
    wait_for("dead letter mirrored", lambda: http.get(f"{base}/deadletters").json()["items"])
    fixed = {"name": "flaky", "spec": template("flaky", handler="echo")["spec"]}
    assert http.put(f"{base}/templates/flaky", json=fixed).status_code == 200
    r = http.post(f"{base}/deadletters/doomed/redrive")
    assert r.status_code == 201, r.text
    assert wait_task(cluster, namespace, "doomed-r1")["status"]["phase"] == "Succeeded"
    cluster.audit_sync()

    sent = _sent(cluster, mark, namespace)

    with_nulls = {(*_kind(e), p) for e in sent for p in _null_paths(e["requestObject"]) if p not in RE_ENCODED}
    assert with_nulls == set(), sorted(with_nulls)
    kinds = {_kind(e) for e in sent}
    expected = {
        ("api", "create", "tasktemplates"),
        ("api", "update", "tasktemplates"),
        ("api", "create", "tasks"),
        ("api", "patch", "tasks"),  # the cancel
        ("operator", "create", "jobs"),
        ("operator", "delete", "jobs"),  # the cancelled attempt's
        ("operator", "patch", "tasks/status"),
        ("operator", "create", "events"),
    }
    assert expected <= kinds, expected - kinds
    # one `add` of the whole status per write; it removes keys too (Retrying -> Running drops
    # nextAttemptTime, which a merge patch could only do by sending it as null)
    writes = [e for e in sent if _kind(e) == ("operator", "patch", "tasks/status")]
    assert all([op["op"] for op in e["requestObject"]] == ["add"] for e in writes), writes[:3]
    doomed = [e["requestObject"][0]["value"] for e in writes if e["objectRef"]["name"] == "doomed"]
    retrying = [i for i, st in enumerate(doomed) if "nextAttemptTime" in st]
    assert retrying and "nextAttemptTime" not in doomed[-1], doomed


_FIELD = re.compile(r"^   (\S+)\t<(.*)>$")


@pytest.mark.parametrize(
    ("what", "untyped"),
    [
        # free-form JSON (preserve-unknown-fields) only: the apiserver's OpenAPI v2, which kubectl
        # reads, publishes it without a type even when the CRD gives one (paramSchema: object)
        ("task.spec", {"params"}),
        ("task.spec.retry", set()),
        ("task.status", {"result"}),
        ("task.status.attempts", set()),
        ("tasktemplate.spec", {"paramSchema", "resultSchema"}),
    ],
)
def test_kubectl_explain_shows_the_type_of_every_field(cluster: Cluster, what: str, untyped: set[str]) -> None:
    out = cluster.kubectl("explain", what).stdout
    fields = {m[1]: m[2] for line in out.splitlines() if (m := _FIELD.match(line))}
    assert len(fields) >= 3, out
    assert {name for name, kind in fields.items() if not kind} == untyped, out


def test_a_null_sent_for_an_optional_field_is_dropped_not_refused(cluster: Cluster, namespace: str) -> None:
    # clients written against the nullable CRDs keep working: the apiserver prunes the nulls
    body = task("legacy", **python_spec("print('{}')", retry=None, timeoutSeconds=None, args=None))
    created = create(cluster, namespace, "tasks", body)
    assert {"retry", "timeoutSeconds", "args"}.isdisjoint(created["spec"]), created["spec"]
