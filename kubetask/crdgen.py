"""Generate the CustomResourceDefinitions from the pydantic API types.

Kubernetes wants a *structural* OpenAPI v3 schema: every node has a `type`, no `$ref`, no `anyOf`
with types, no `const`. pydantic emits JSON Schema 2020-12, so this module rewrites it:
`$ref`s are inlined, `X | None` becomes plain `X`, `const` becomes a one-value `enum`, free-form
fields keep `x-kubernetes-preserve-unknown-fields`, and titles/defaults are dropped (defaults stay in
the models, so the apiserver never invents values the operator did not choose).

No field is `nullable`. An unset optional field is omitted, as in Kubernetes' own APIs
(`to_wire()` drops None, and the operator removes status keys with a JSON Patch, not a null), so
null never carries a meaning that omission does not; and the apiserver publishes a `nullable` field
without a type, which leaves `kubectl explain` showing `<>` for it. A client that still sends null
for an optional field loses nothing: the apiserver prunes nulls from non-nullable fields before it
validates.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from kubetask.models import GROUP, VERSION, Task, TaskSchedule, TaskTemplate

_DROP = {"title", "default", "$defs", "discriminator", "examples"}

# Kind → (plural, short names, printer columns)
_TASK_COLUMNS: list[dict[str, Any]] = [
    {"name": "Template", "type": "string", "jsonPath": ".spec.templateRef.name"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Attempts", "type": "integer", "jsonPath": ".status.attemptCount"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Duration", "type": "string", "jsonPath": ".status.duration"},
    {"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1},
]
_TEMPLATE_COLUMNS: list[dict[str, Any]] = [
    {"name": "Image", "type": "string", "jsonPath": ".spec.image"},
    {"name": "Handler", "type": "string", "jsonPath": ".spec.handler"},
    {"name": "Timeout", "type": "integer", "jsonPath": ".spec.timeoutSeconds"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    # what the template lifts of its pods' lockdown (kubetask.jobs), in `kubectl get ktt -o wide`
    {"name": "Relax", "type": "string", "jsonPath": ".spec.relax", "priority": 1},
    {"name": "Capabilities", "type": "string", "jsonPath": ".spec.capabilities", "priority": 1},
]
_SCHEDULE_COLUMNS: list[dict[str, Any]] = [
    {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule"},
    {"name": "TimeZone", "type": "string", "jsonPath": ".spec.timeZone"},
    {"name": "Suspended", "type": "boolean", "jsonPath": ".spec.suspend"},
    {"name": "Last", "type": "date", "jsonPath": ".status.lastScheduleTime"},
    # a printer column shows the first result of its JSONPath only, so Next is nextRunTimes[0] (a string:
    # kubectl shows a future "date" as <invalid>) and Active a count the operator writes
    # (`.status.active[*]` would show one name)
    {"name": "Next", "type": "string", "jsonPath": ".status.nextRunTimes[0]"},
    {"name": "Active", "type": "integer", "jsonPath": ".status.activeCount"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def _free_form(node: dict[str, Any]) -> dict[str, Any]:
    """Free-form JSON: keep it all (typed `object` when pydantic says it is a dict)."""
    out: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}
    if "description" in node:
        out["description"] = node["description"]
    types = {b.get("type") for b in node.get("anyOf", [node])} - {"null", None}
    if types == {"object"}:
        out["type"] = "object"
    return out


def _any_of(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """`X | None` → X (omitted when unset); `int | str` → int-or-string; anything else is not structural."""
    branches = [b for b in node["anyOf"] if b.get("type") != "null"]
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if len(branches) == 1:
        out: dict[str, Any] = structural({**branches[0], **rest}, defs)
    elif {b.get("type") for b in branches} == {"integer", "string"}:
        out = {"x-kubernetes-int-or-string": True, **structural(rest, defs)}
    else:
        raise ValueError(f"cannot make a structural schema of anyOf {node['anyOf']}")
    return out


def structural(node: Any, defs: dict[str, Any]) -> Any:
    """Rewrite one pydantic JSON Schema node into a structural OpenAPI v3 node."""
    if isinstance(node, list):
        return [structural(x, defs) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return structural(merged, defs)
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return _free_form(node)
    if "anyOf" in node:
        return _any_of(node, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out[key] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = structural(value, defs)
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural openAPIV3Schema of a custom resource model."""
    raw = model.model_json_schema(by_alias=True)
    schema: dict[str, Any] = structural(raw, raw.get("$defs", {}))
    schema.pop("required", None)  # apiVersion/kind/metadata are the apiserver's business
    schema["required"] = ["spec"]
    schema["properties"]["metadata"] = {"type": "object"}
    for key in ("apiVersion", "kind"):  # the apiserver owns these; no enum that would block conversion
        schema["properties"][key] = {"type": "string"}
    return schema


def _crd(
    model: type[BaseModel], *, kind: str, plural: str, short: list[str], columns: list[dict[str, Any]]
) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": openapi_schema(model)},
        "additionalPrinterColumns": columns,
    }
    if "status" in model.model_fields:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short,
                "categories": ["kubetask"],
            },
            "versions": [version],
        },
    }


def crds() -> dict[str, dict[str, Any]]:
    """File name → CRD manifest, for every kubetask custom resource."""
    return {
        "kubetask.io_tasktemplates.yaml": _crd(
            TaskTemplate,
            kind="TaskTemplate",
            plural="tasktemplates",
            short=["ktt"],
            columns=_TEMPLATE_COLUMNS,
        ),
        "kubetask.io_tasks.yaml": _crd(Task, kind="Task", plural="tasks", short=["kt"], columns=_TASK_COLUMNS),
        "kubetask.io_taskschedules.yaml": _crd(
            TaskSchedule, kind="TaskSchedule", plural="taskschedules", short=["kts"], columns=_SCHEDULE_COLUMNS
        ),
    }


def render() -> dict[str, str]:
    """File name → YAML text, as checked in under `crds/`."""
    header = "# Generated by `kubetask crds` from kubetask/models; do not edit.\n"
    return {name: header + yaml.safe_dump(body, sort_keys=False) for name, body in crds().items()}
