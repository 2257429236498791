"""The attempt's Job: the Task's uid in the env (an idempotency key), the template's dnsConfig on the pod."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kubetask.jobs import build_job, resolve_run
from kubetask.models import TaskTemplateSpec
from tests.unit.builders import make_task, make_template


def _pod(template: TaskTemplateSpec, attempt: int = 1) -> dict[str, Any]:
    run = resolve_run(make_task().spec, template)
    assert run is not None
    job = build_job(run, task="t", namespace="ns", task_uid="uid-1", attempt=attempt, params={})
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def test_every_attempt_gets_the_same_task_uid() -> None:
    for attempt in (1, 2):
        env = {e["name"]: e.get("value") for e in _pod(make_template(), attempt)["containers"][0]["env"]}
        assert env["KUBETASK_TASK_UID"] == "uid-1"


def test_a_template_without_dns_config_leaves_the_pods_resolver_alone() -> None:
    pod = _pod(make_template())
    assert "dnsConfig" not in pod and "dnsPolicy" not in pod


def test_nameservers_make_the_pod_use_only_them() -> None:
    dns = {"nameservers": ["10.22.0.1"], "searches": ["test"], "options": [{"name": "ndots", "value": "1"}]}
    pod = _pod(make_template(dnsConfig=dns))
    assert pod["dnsPolicy"] == "None" and pod["dnsConfig"] == dns


def test_options_alone_keep_the_default_policy() -> None:
    pod = _pod(make_template(dnsConfig={"options": [{"name": "timeout", "value": "1"}]}))
    assert "dnsPolicy" not in pod and pod["dnsConfig"] == {"options": [{"name": "timeout", "value": "1"}]}


def test_more_than_three_nameservers_are_refused() -> None:
    with pytest.raises(ValidationError, match="nameservers"):
        make_template(dnsConfig={"nameservers": ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]})
