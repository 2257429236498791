"""A task pod is judged by the lockdown less what its template relaxed (kubetask.pod_security.RELAXED_RULES,
the suite-wide check of kubetask/testing/pod_profile.py): each relaxation allows exactly its rule, a
capability only when the template names it, and a pod that breaks a rule fails with pod, rule and fix."""

from __future__ import annotations

import copy
from typing import Any, get_args

import pytest

from kubetask.jobs import build_job, resolve_run
from kubetask.labels import LABEL_TEMPLATE
from kubetask.models import Relaxation, TaskTemplateSpec
from kubetask.pod_security import RELAXED_RULES, relaxation_for, task_pod_violations
from kubetask.testing.pod_profile import problems
from tests.unit.builders import make_task, make_template


def _pod(template: TaskTemplateSpec) -> dict[str, Any]:
    run = resolve_run(make_task().spec, template)
    assert run is not None
    job = build_job(run, task="t", namespace="ns", task_uid="u-1", attempt=1, params={})
    pod: dict[str, Any] = {
        "metadata": {"name": "t-1-abcde", "namespace": "ns", **job["spec"]["template"]["metadata"]},
        "spec": job["spec"]["template"]["spec"],
    }
    return pod


def _rules(pod: dict[str, Any], **relaxed: Any) -> set[str]:
    return {v.rule for v in task_pod_violations(pod["spec"], **relaxed)}


def test_every_relaxation_has_a_rule_and_each_rule_one_relaxation() -> None:
    assert set(RELAXED_RULES) == set(get_args(Relaxation))
    assert len(set(RELAXED_RULES.values())) == len(RELAXED_RULES)
    assert all(relaxation_for(rule) == r for r, rule in RELAXED_RULES.items())
    assert relaxation_for("host-namespaces") is None


@pytest.mark.parametrize("relax", sorted(RELAXED_RULES))
def test_a_relaxed_pod_passes_with_its_relaxation_and_fails_without(relax: Relaxation) -> None:
    pod = _pod(make_template(relax=[relax]))
    assert _rules(pod, relax=[relax]) == set()
    assert _rules(pod) == {RELAXED_RULES[relax]}


def test_a_locked_down_pod_passes_with_nothing_relaxed() -> None:
    assert _rules(_pod(make_template())) == set()
    assert _rules(_pod(make_template(capabilities=["NET_BIND_SERVICE"]))) == set()


def test_an_added_capability_passes_only_when_the_template_names_it() -> None:
    pod = _pod(make_template(capabilities=["CHOWN"]))
    assert _rules(pod, capabilities=["CHOWN"]) == set()
    assert _rules(pod) == {"capabilities"}
    assert _rules(pod, capabilities=["KILL"]) == {"capabilities"}


def test_a_named_capability_does_not_excuse_keeping_the_others() -> None:
    pod = _pod(make_template(capabilities=["CHOWN"]))
    del pod["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"]
    found = task_pod_violations(pod["spec"], capabilities=["CHOWN"])
    assert [(v.path, v.rule) for v in found] == [
        ("spec.containers[0].securityContext.capabilities.drop", "capabilities")
    ]


def test_a_relaxation_lifts_only_its_own_rule() -> None:
    pod = _pod(make_template())
    pod["spec"]["hostNetwork"] = True
    pod["spec"]["securityContext"]["runAsNonRoot"] = False
    everything = list(RELAXED_RULES)
    assert _rules(pod, relax=everything) == {"host-namespaces"}


def test_a_pod_that_breaks_a_rule_fails_naming_pod_rule_and_fix() -> None:
    pod = _pod(make_template(relax=["RunAsRoot"]))
    assert pod["metadata"]["labels"][LABEL_TEMPLATE] == "tpl"
    relaxed = {"tpl": {"relax": ["RunAsRoot"]}}
    assert problems(pod, relaxed) == []

    lines = problems(pod, {"tpl": {}})
    assert len(lines) == 1, lines
    assert lines[0].startswith("pod ns/t-1-abcde (Task t, template tpl): ")
    assert "runAsNonRoot must be true" in lines[0] and "(run-as-non-root)" in lines[0]
    assert lines[0].endswith(
        "fix: kubetask.jobs locks this down; a template that needs it says spec.relax: [RunAsRoot]"
    )

    gone = problems(pod, {})  # the template was deleted: nothing relaxed, and said so
    assert len(gone) == 1 and "template tpl (gone: nothing relaxed)" in gone[0]


def test_a_rule_no_relaxation_allows_says_so() -> None:
    pod = copy.deepcopy(_pod(make_template()))
    pod["spec"]["hostPID"] = True
    (line,) = problems(pod, {"tpl": {}})
    assert "spec.hostPID" in line and "(host-namespaces)" in line
    assert line.endswith("fix: kubetask.jobs must not render it: no relaxation allows it")
