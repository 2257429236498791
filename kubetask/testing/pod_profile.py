"""The suite-wide check of task pods: the lockdown less what each pod's template relaxed, on the real cluster.

Kubernetes 1.20 has no Pod Security admission, so nothing on the cluster refuses a task pod that runs
as root or keeps its capabilities. The `namespace` fixture (tests/conftest.py) therefore ends every
test by listing the pods kubetask made there (label `kubetask.io/task-uid`, one LIST) and judging each
with `kubetask.pod_security.task_pod_violations`, its template's `relax` and `capabilities` read from
the TaskTemplate its `kubetask.io/template` label names (one more LIST, only when a pod has one). A pod
whose template is gone is judged with nothing relaxed. A pod deleted before the test ended (its Job
deleted with its Task, say) is not seen: the check is of what is left, every test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubetask.labels import LABEL_TASK, LABEL_TASK_UID, LABEL_TEMPLATE, label_value
from kubetask.pod_security import Violation, relaxation_for, task_pod_violations

from .cluster import GROUP, VERSION, Cluster


def _fix(v: Violation) -> str:
    if v.rule == "capabilities" and v.path.endswith(".capabilities.add"):
        return "a template that needs the capability lists it in spec.capabilities"
    relaxation = relaxation_for(v.rule)
    if relaxation is not None:
        return f"kubetask.jobs locks this down; a template that needs it says spec.relax: [{relaxation}]"
    return "kubetask.jobs must not render it: no relaxation allows it"


def problems(pod: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per violation of the raw pod `pod` (its template's spec found by label value in
    `templates`), naming the pod, its Task and template, the rule and the fix."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    template = labels.get(LABEL_TEMPLATE)
    spec = templates.get(template, {}) if template else {}
    found = task_pod_violations(
        pod.get("spec") or {},
        meta.get("annotations") or {},
        relax=spec.get("relax") or (),
        capabilities=spec.get("capabilities") or (),
    )
    if template and template not in templates:
        template += " (gone: nothing relaxed)"
    who = f"pod {meta.get('namespace')}/{meta.get('name')} (Task {labels.get(LABEL_TASK)}, template {template})"
    return [f"{who}: {v}; fix: {_fix(v)}" for v in found]


def task_pod_problems(cluster: Cluster, namespace: str) -> list[str]:
    """Every lockdown violation of the task pods now in `namespace`, less what their templates relaxed."""
    listed = cluster.core().list_namespaced_pod(namespace, label_selector=LABEL_TASK_UID, _preload_content=False)
    pods: list[dict[str, Any]] = json.loads(listed.data)["items"]
    templates: dict[str, Mapping[str, Any]] = {}
    if any(LABEL_TEMPLATE in (p["metadata"].get("labels") or {}) for p in pods):
        items = cluster.custom().list_namespaced_custom_object(GROUP, VERSION, namespace, "tasktemplates")["items"]
        templates = {label_value(t["metadata"]["name"]): t.get("spec") or {} for t in items}
    return [line for p in pods for line in problems(p, templates)]
