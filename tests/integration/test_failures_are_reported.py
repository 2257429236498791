"""Every way a task can fail ends `Failed` with the right reason and a message that helps."""

from __future__ import annotations

from typing import Any

import pytest

from kubetask.testing.cluster import Cluster, create, get_task, python_spec, task, template, wait_for, wait_task

SCHEMA = {
    "type": "object",
    "required": ["count"],
    "properties": {"count": {"type": "integer", "minimum": 1}, "label": {"type": "string"}},
    "additionalProperties": False,
}

pytestmark = pytest.mark.usefixtures("operator")


def test_exit_code_3_fails_with_the_code_and_the_commands_message(cluster: Cluster, namespace: str) -> None:
    code = "import sys; print('disk quota exceeded on /data', file=sys.stderr); sys.exit(3)"
    create(cluster, namespace, "tasks", task("exit3", **python_spec(code)))

    st = wait_task(cluster, namespace, "exit3")["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "NonZeroExit")
    assert st["attempts"][0]["exitCode"] == 3
    assert "disk quota exceeded on /data" in st["message"]
    assert "exit code 3" in st["message"]


def test_handler_failure_reports_its_one_line_message(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("fail", handler="fail"))
    create(
        cluster,
        namespace,
        "tasks",
        task("f", templateRef={"name": "fail"}, params={"message": "upstream said no", "exitCode": 3}),
    )

    st = wait_task(cluster, namespace, "f")["status"]

    assert (st["phase"], st["reason"], st["attempts"][0]["exitCode"]) == ("Failed", "NonZeroExit", 3)
    assert st["message"] == "exit code 3: TaskFailed: upstream said no"


def test_invalid_params_fail_without_a_job_and_name_every_field(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("count", handler="echo", paramSchema=SCHEMA))
    create(
        cluster,
        namespace,
        "tasks",
        task("bad", templateRef={"name": "count"}, params={"count": 0, "colour": "red"}),
    )

    st = wait_task(cluster, namespace, "bad")["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "InvalidParams")
    assert "/count: 0 is less than the minimum of 1" in st["message"]
    assert "'colour' was unexpected" in st["message"]
    accepted = next(c for c in st["conditions"] if c["type"] == "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "InvalidParams")
    assert cluster.batch().list_namespaced_job(namespace).items == []


def test_invalid_result_fails_naming_the_field(cluster: Cluster, namespace: str) -> None:
    result_schema = {"type": "object", "required": ["total"], "properties": {"total": {"type": "integer"}}}
    create(cluster, namespace, "tasktemplates", template("sum", handler="echo", resultSchema=result_schema))
    create(cluster, namespace, "tasks", task("s", templateRef={"name": "sum"}, params={"total": "twelve"}))

    st = wait_task(cluster, namespace, "s")["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "InvalidResult")
    assert "/total: 'twelve' is not of type 'integer'" in st["message"]
    assert st["attempts"][0]["exitCode"] == 0
    assert "result" not in st


def test_missing_template_waits_and_recovers_when_it_appears(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasks", task("early", templateRef={"name": "later"}, params={"x": 1}))

    def waiting() -> dict[str, Any] | None:
        st = (
            cluster.custom()
            .get_namespaced_custom_object("kubetask.io", "v1alpha1", namespace, "tasks", "early")
            .get("status")
            or {}
        )
        return st if st.get("reason") == "TemplateNotFound" else None

    st = wait_for("TemplateNotFound", waiting)
    assert st["phase"] == "Pending" and "'later' not found" in str(st["message"])

    create(cluster, namespace, "tasktemplates", template("later", handler="echo"))

    done = wait_task(cluster, namespace, "early")["status"]
    assert (done["phase"], done["result"]) == ("Succeeded", {"x": 1})


def test_memory_limit_exceeded_is_oomkilled(cluster: Cluster, namespace: str) -> None:
    body = task(
        "hog",
        **python_spec("b = bytearray(300 * 1024 * 1024); import time; time.sleep(5)"),
        resources={"limits": {"memory": "48Mi"}},
    )
    create(cluster, namespace, "tasks", body)

    st = wait_task(cluster, namespace, "hog")["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "OOMKilled")
    assert st["attempts"][0]["exitCode"] == 137


def test_timeout_ends_with_deadline_exceeded(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasks", task("slow", **python_spec("import time; time.sleep(120)"), timeoutSeconds=3))

    st = wait_task(cluster, namespace, "slow")["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "DeadlineExceeded")
    assert "timeout of 3s" in st["message"]


def test_missing_image_is_reported_not_left_pending(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasks", task("ghost", image="kubetask/does-not-exist:1", command=["true"]))

    st = wait_task(cluster, namespace, "ghost")["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "ImagePullFailed")
    assert "kubetask/does-not-exist:1" in st["message"] or "ErrImage" in st["message"]


def test_spec_without_template_or_image_is_invalid(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasks", task("empty", params={"a": 1}))

    st = wait_task(cluster, namespace, "empty")["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "InvalidSpec")
    assert "spec.templateRef or spec.image" in st["message"]


def test_a_deleted_job_ends_its_attempt_as_pod_lost(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasks", task("lost", **python_spec("import time; time.sleep(300)")))

    def running() -> bool:
        return (get_task(cluster, namespace, "lost").get("status") or {}).get("phase") == "Running"

    wait_for("attempt running", running, timeout=60)
    cluster.kubectl("delete", "job", "lost-1", "-n", namespace, "--wait=false")

    st = wait_task(cluster, namespace, "lost")["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "PodLost")
    assert "lost-1" in st["message"] and "deleted" in st["message"]
