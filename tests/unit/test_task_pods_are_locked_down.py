"""Task pods are locked down by default (the restricted Pod Security profile plus a read-only root and
no ServiceAccount token), and a template lifts exactly the parts it names in `relax`/`capabilities`."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kubetask.jobs import TASK_UID, build_job, resolve_run
from kubetask.models import TaskTemplateSpec
from kubetask.pod_security import lockdown_violations, pod_specs, restricted_violations
from tests.unit.builders import make_task, make_template


def _job(template: TaskTemplateSpec | None, **spec: Any) -> dict[str, Any]:
    task = make_task(**spec) if spec else make_task()
    run = resolve_run(task.spec, template)
    assert run is not None
    return build_job(run, task="t", namespace="ns", task_uid="u-1", attempt=1, params={"a": 1}, keep_log=True)


def _pod(template: TaskTemplateSpec | None, **spec: Any) -> dict[str, Any]:
    pod: dict[str, Any] = _job(template, **spec)["spec"]["template"]["spec"]
    return pod


# every kind of pod kubetask renders: templates with each optional part, an inline Task, Task overrides
RENDERED: dict[str, tuple[TaskTemplateSpec | None, dict[str, Any]]] = {
    "plain template": (make_template(), {}),
    "handler template": (make_template(handler="echo", command=["kubetask-executor"], args=["--x"]), {}),
    "env and resources": (
        make_template(env=[{"name": "A", "value": "1"}], resources={"limits": {"memory": "64Mi"}}),
        {},
    ),
    "service account and dns": (
        make_template(serviceAccountName="runner", dnsConfig={"nameservers": ["10.22.0.1"]}),
        {},
    ),
    "net bind service": (make_template(capabilities=["NET_BIND_SERVICE"]), {}),
    "inline task": (None, {"image": "img:2", "command": ["python3", "-c", "print(1)"]}),
    "task overrides": (make_template(), {"templateRef": {"name": "tpl"}, "env": [{"name": "B", "value": "2"}]}),
}


@pytest.mark.parametrize("case", RENDERED)
def test_every_rendered_pod_is_locked_down(case: str) -> None:
    template, spec = RENDERED[case]
    for _, pod_spec, pod_annotations in pod_specs(_job(template, **spec)):
        assert lockdown_violations(pod_spec, pod_annotations) == []


def test_the_lockdown_in_full() -> None:
    pod = _pod(make_template())
    (c,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": TASK_UID,
        "runAsGroup": TASK_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]
    assert c["env"][0] == {"name": "HOME", "value": "/tmp"}


def test_a_templates_own_home_comes_after_ours_so_it_wins() -> None:
    env = _pod(make_template(env=[{"name": "HOME", "value": "/work"}]))["containers"][0]["env"]
    homes = [e["value"] for e in env if e["name"] == "HOME"]
    assert homes == ["/tmp", "/work"]  # the kubelet keeps the last of two entries of one name


def _rules(template: TaskTemplateSpec) -> set[str]:
    return {v.rule for v in lockdown_violations(_pod(template))}


@pytest.mark.parametrize(
    ("relax", "rules"),
    [
        ("RunAsRoot", {"run-as-non-root"}),
        ("WritableRootFilesystem", {"read-only-root-filesystem"}),
        ("PrivilegeEscalation", {"allow-privilege-escalation"}),
        ("UnconfinedSeccomp", {"seccomp"}),
        ("ServiceAccountToken", {"service-account-token"}),
    ],
)
def test_each_relaxation_lifts_exactly_its_part(relax: str, rules: set[str]) -> None:
    assert _rules(make_template(relax=[relax])) == rules


def test_run_as_root_leaves_the_images_user_and_home() -> None:
    pod = _pod(make_template(relax=["RunAsRoot"]))
    assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert all(e["name"] != "HOME" for e in pod["containers"][0]["env"])


def test_capabilities_are_added_after_dropping_all() -> None:
    caps = _pod(make_template(capabilities=["NET_BIND_SERVICE", "CHOWN"]))["containers"][0]["securityContext"]
    assert caps["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}
    assert {v.rule for v in restricted_violations(_pod(make_template(capabilities=["CHOWN"])))} == {"capabilities"}


@pytest.mark.parametrize(
    "bad",
    [{"relax": ["RunAsAdmin"]}, {"relax": "RunAsRoot"}, {"capabilities": ["CAP_CHOWN "]}, {"capabilities": ["chown"]}],
)
def test_a_template_names_only_known_relaxations_and_capability_names(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as e:
        make_template(**bad)
    assert e.value.errors()[0]["loc"][0] in {"relax", "capabilities"}
