"""The Job of an attempt: deterministic name, owner, labels, params, limits."""

from __future__ import annotations

import json
from typing import Any

from kubetask.jobs import ENV_PARAMS_MAX, build_job, job_name, resolve_run
from kubetask.models import TaskSpec, TaskTemplateSpec


def _job(params: object = None, **spec: object) -> dict[str, Any]:
    tpl = TaskTemplateSpec(image="img:1", handler="echo", timeout_seconds=30, result_schema={"type": "object"})
    r = resolve_run(TaskSpec.model_validate({"templateRef": {"name": "tpl"}, **spec}), tpl)
    assert r is not None
    return build_job(
        r,
        task="report",
        namespace="ns",
        task_uid="uid-1",
        attempt=2,
        params=params or {"a": 1},
        labels={"team": "data"},
    )


def test_job_is_named_after_task_and_attempt_and_owned_by_the_task() -> None:
    j = _job()
    assert j["metadata"]["name"] == "report-2"
    owner = j["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Task",
        "report",
        "uid-1",
        True,
    )
    assert j["spec"]["backoffLimit"] == 0 and j["spec"]["activeDeadlineSeconds"] == 30


def test_labels_link_job_and_pod_to_the_task_and_pass_user_labels_through() -> None:
    j = _job()
    for labels in (j["metadata"]["labels"], j["spec"]["template"]["metadata"]["labels"]):
        assert labels["kubetask.io/task-uid"] == "uid-1" and labels["kubetask.io/attempt"] == "2"
        assert labels["team"] == "data" and labels["kubetask.io/template"] == "tpl"


def test_params_go_to_a_file_and_small_ones_to_env_too() -> None:
    j = _job({"x": [1, 2]})
    pod = j["spec"]["template"]
    assert json.loads(pod["metadata"]["annotations"]["kubetask.io/params"]) == {"x": [1, 2]}
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert json.loads(env["KUBETASK_PARAMS"]) == {"x": [1, 2]} and env["KUBETASK_HANDLER"] == "echo"
    big = _job({"blob": "x" * (ENV_PARAMS_MAX + 1)})
    assert "KUBETASK_PARAMS" not in {e["name"] for e in big["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_task_overrides_template() -> None:
    j = _job(image="other:2", timeoutSeconds=5, command=["run"])
    c = j["spec"]["template"]["spec"]["containers"][0]
    assert (c["image"], c["command"], j["spec"]["activeDeadlineSeconds"]) == ("other:2", ["run"], 5)


def test_long_task_names_give_valid_stable_job_names() -> None:
    long = "a" * 80
    n = job_name(long, 12)
    assert len(n) <= 63 and n.endswith("-12") and n == job_name(long, 12) and n != job_name("a" * 81, 12)
    assert job_name("short", 1) == "short-1"
