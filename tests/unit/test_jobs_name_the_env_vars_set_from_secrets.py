"""The Job names the env vars its container takes from Secrets (KUBETASK_SECRET_ENV), those of the
template and of the Task alike, and carries only their references, never a value."""

from __future__ import annotations

from typing import Any

import pytest

from kubetask.executor.redaction import SECRET_ENV
from kubetask.jobs import build_job, resolve_run, secret_env_names
from kubetask.models import TaskSpec, TaskTemplateSpec


def _secret(key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": "creds", "key": key}}


@pytest.mark.parametrize(
    ("env", "names"),
    [
        pytest.param([{"name": "A", "valueFrom": _secret("a")}], ["A"], id="from-a-secret"),
        pytest.param([{"name": "A", "value": "x"}], [], id="a-literal"),
        pytest.param([{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "a"}}}], [], id="config-map"),
        pytest.param(
            [{"name": "A", "valueFrom": _secret("a")}, {"name": "A", "value": "x"}], [], id="overridden-by-a-literal"
        ),
        pytest.param(
            [{"name": "A", "value": "x"}, {"name": "A", "valueFrom": _secret("a")}], ["A"], id="a-literal-overridden"
        ),
    ],
)
def test_the_names_are_those_whose_last_entry_is_a_secret(env: list[dict[str, Any]], names: list[str]) -> None:
    assert secret_env_names(env) == names


def test_the_job_names_the_secret_vars_of_template_and_task_and_holds_only_references() -> None:
    tpl = TaskTemplateSpec.model_validate(
        {"image": "img:1", "handler": "h", "env": [{"name": "DB_PASSWORD", "valueFrom": _secret("db")}]}
    )
    spec = TaskSpec.model_validate(
        {"templateRef": {"name": "t"}, "env": [{"name": "API_TOKEN", "valueFrom": _secret("api")}]}
    )
    r = resolve_run(spec, tpl)
    assert r is not None
    job = build_job(r, task="t1", namespace="ns", task_uid="u", attempt=1, params={})
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[-1] == {"name": SECRET_ENV, "value": "DB_PASSWORD,API_TOKEN"}
    by_name = {e["name"]: e for e in env}
    assert by_name["DB_PASSWORD"] == {"name": "DB_PASSWORD", "valueFrom": _secret("db")}
    assert by_name["API_TOKEN"] == {"name": "API_TOKEN", "valueFrom": _secret("api")}
    plain = resolve_run(TaskSpec.model_validate({"templateRef": {"name": "t"}}), TaskTemplateSpec(image="img:1"))
    assert plain is not None
    job = build_job(plain, task="t1", namespace="ns", task_uid="u", attempt=1, params={})
    assert SECRET_ENV not in {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
