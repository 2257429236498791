"""The audit log reader, on a hand-written log in the apiserver's format (audit.k8s.io/v1, JSON lines):
the fault and leader-election tests count Job creates and status writes with it, so its filters
must pick exactly what they say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubetask.testing.audit import AuditLog, AuditRequest

OP_A = "kubetask-operator/0.1.0 (replica-a)"
OP_B = "kubetask-operator/0.1.0 (replica-b)"
JOBCTL = "kube-controller-manager/v1.20.2 (linux/amd64) kubernetes/faecb19/job-controller"


def _event(stage: str, verb: str, agent: str, code: int, **ref: str) -> dict[str, Any]:
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": "00000000-0000-0000-0000-000000000000",
        "stage": stage,
        "requestURI": "/apis/kubetask.io/v1alpha1/namespaces/ns1/tasks/t/status",
        "verb": verb,
        "user": {"username": "admin", "groups": ["system:masters", "system:authenticated"]},
        "sourceIPs": ["127.0.0.1"],
        "userAgent": agent,
        "objectRef": {"apiVersion": "v1", **ref},
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": "2026-12-01T22:34:17.984795Z",
        "stageTimestamp": "2026-12-01T22:34:17.985002Z",
    }


def _answered(verb: str, agent: str, code: int, **ref: str) -> dict[str, Any]:
    return _event("ResponseComplete", verb, agent, code, **ref)


JOB_T1 = {"resource": "jobs", "namespace": "ns1", "name": "t-1", "apiGroup": "batch"}
TASK_T = {"resource": "tasks", "namespace": "ns1", "name": "t", "apiGroup": "kubetask.io"}
JOB_CREATE = _answered("create", OP_A, 201, **JOB_T1)
JOB_CONFLICT = _answered("create", OP_A, 409, **JOB_T1)
STATUS_PATCH_B = _answered("patch", OP_B, 200, **TASK_T, subresource="status")
TASK_PATCH_B = _answered("patch", OP_B, 200, **TASK_T)
POD_CREATE = {
    **_event("ResponseComplete", "create", JOBCTL, 201, resource="pods", namespace="ns1"),
    "level": "Request",
    "requestObject": {"kind": "Pod", "metadata": {"generateName": "t-1-", "labels": {"job-name": "t-1"}}},
}
OTHER_NS = _answered("create", OP_A, 201, **{**JOB_T1, "namespace": "ns2"})
# the same request at an earlier stage: not an answer, never counted
JOB_CREATE_RECEIVED = {**JOB_CREATE, "stage": "RequestReceived", "responseStatus": None}
WATCH_STARTED = _event("ResponseStarted", "watch", OP_A, 200, resource="jobs")


def _write(path: Path, *events: dict[str, Any], tail: str = "") -> None:
    with path.open("a") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
        f.write(tail)


def _log(tmp_path: Path) -> AuditLog:
    path = tmp_path / "audit.log"
    _write(
        path,
        JOB_CREATE_RECEIVED,
        JOB_CREATE,
        JOB_CONFLICT,
        WATCH_STARTED,
        STATUS_PATCH_B,
        TASK_PATCH_B,
        POD_CREATE,
        OTHER_NS,
    )
    return AuditLog(path)


def test_only_answered_requests_are_read_with_their_fields(tmp_path: Path) -> None:
    got = _log(tmp_path).requests()
    assert [(r.verb, r.resource, r.code) for r in got] == [
        ("create", "jobs", 201),
        ("create", "jobs", 409),
        ("patch", "tasks", 200),
        ("patch", "tasks", 200),
        ("create", "pods", 201),
        ("create", "jobs", 201),
    ]
    assert got[2] == AuditRequest(
        verb="patch",
        resource="tasks",
        subresource="status",
        namespace="ns1",
        name="t",
        user_agent=OP_B,
        code=200,
        received="2026-12-01T22:34:17.984795Z",
        uri="/apis/kubetask.io/v1alpha1/namespaces/ns1/tasks/t/status",
        request_object=None,
    )


def test_filters_by_verb_resource_namespace_name_and_code(tmp_path: Path) -> None:
    log = _log(tmp_path)
    created = log.requests(verb="create", resource="jobs", namespace="ns1", code=201)
    assert [(r.name, r.user_agent) for r in created] == [("t-1", OP_A)]
    assert len(log.requests(verb="create", resource="jobs", name="t-1")) == 3  # both namespaces, 201 and 409
    assert [r.code for r in log.requests(resource="jobs", namespace="ns1", code={201, 409})] == [201, 409]
    assert log.requests(verb={"update", "delete"}) == []


def test_subresource_empty_means_the_object_itself_and_none_means_any(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert [r.subresource for r in log.requests(resource="tasks", subresource="status")] == ["status"]
    assert [r.subresource for r in log.requests(resource="tasks", subresource="")] == [""]
    assert [r.subresource for r in log.requests(resource="tasks")] == ["status", ""]


def test_user_agent_is_a_substring_naming_one_replica(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert [r.verb for r in log.requests(user_agent="(replica-b)")] == ["patch", "patch"]
    assert [r.resource for r in log.requests(user_agent="(replica-a)")] == ["jobs", "jobs", "jobs"]
    assert len(log.requests(user_agent="kubetask-operator/")) == 5


def test_a_pod_create_names_its_job_through_the_body_label(tmp_path: Path) -> None:
    log = _log(tmp_path)
    (pod,) = log.requests(resource="pods")
    assert (pod.name, pod.label("job-name"), pod.label("absent")) == ("", "t-1", None)
    assert log.requests(resource="jobs")[0].label("job-name") is None  # no body at level Metadata


def test_since_a_mark_reads_only_what_came_after(tmp_path: Path) -> None:
    log = _log(tmp_path)
    mark = log.mark()
    assert log.requests(since=mark) == []
    _write(log.path, STATUS_PATCH_B)
    assert [(r.verb, r.subresource) for r in log.requests(since=mark)] == [("patch", "status")]


def test_an_entry_being_written_is_left_for_later(tmp_path: Path) -> None:
    log = _log(tmp_path)
    mark = log.mark()
    line = json.dumps(JOB_CREATE) + "\n"
    _write(log.path, tail=line[:40])
    assert log.requests(since=mark) == []
    _write(log.path, tail=line[40:])
    assert [r.name for r in log.requests(since=mark)] == ["t-1"]


def test_a_mark_taken_mid_entry_counts_that_entry_before_it(tmp_path: Path) -> None:
    log = _log(tmp_path)
    line = json.dumps(STATUS_PATCH_B) + "\n"
    _write(log.path, tail=line[:40])
    mark = log.mark()
    _write(log.path, tail=line[40:])
    assert log.requests(since=mark) == []
    _write(log.path, TASK_PATCH_B)
    assert [(r.resource, r.subresource) for r in log.requests(since=mark)] == [("tasks", "")]


def test_a_missing_log_reads_as_empty(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "nothing-here.log")
    assert (log.mark(), log.requests()) == (0, [])
