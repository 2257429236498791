"""The CRDs are generated from the models, structural, and checked in without drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from jsonschema import Draft4Validator
from typer.testing import CliRunner

from kubetask import crdgen
from kubetask.cli import app
from kubetask.models import Task, TaskSchedule
from tests.unit.builders import SCHEDULE_SPEC, SCHEDULE_STATUS
from tests.unit.strategies import Run, runs

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_crds_match_the_models() -> None:
    for name, text in crdgen.render().items():
        assert (ROOT / "crds" / name).read_text() == text, f"crds/{name} drifted: run `kubetask crds`"


def test_crds_check_command_fails_on_drift(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["crds", "-o", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["crds", "-o", str(tmp_path), "--check"]).exit_code == 0
    (tmp_path / "kubetask.io_tasks.yaml").write_text("stale\n")
    r = runner.invoke(app, ["crds", "-o", str(tmp_path), "--check"])
    assert r.exit_code == 1 and "out of date" in r.output


def _walk(node: Any, path: str = "") -> list[str]:
    """Paths of schema nodes that break the structural rules Kubernetes enforces."""
    bad: list[str] = []
    if node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string"):
        return bad
    if "type" not in node:
        bad.append(path or "/")
    for key in ("$ref", "anyOf", "oneOf", "allOf", "const", "$defs", "title"):
        if key in node:
            bad.append(f"{path}:{key}")
    for name, sub in (node.get("properties") or {}).items():
        bad += _walk(sub, f"{path}/{name}")
    if isinstance(node.get("items"), dict):
        bad += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        bad += _walk(node["additionalProperties"], f"{path}{{}}")
    return bad


@pytest.mark.parametrize("name", sorted(crdgen.crds()))
def test_schema_is_structural(name: str) -> None:
    schema = crdgen.crds()[name]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _walk(schema) == []


def test_task_crd_has_status_subresource_columns_short_names_and_category() -> None:
    crd = crdgen.crds()["kubetask.io_tasks.yaml"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]][:5] == [
        "Template",
        "Phase",
        "Attempts",
        "Age",
        "Duration",
    ]
    assert crd["spec"]["names"]["shortNames"] == ["kt"]
    assert crd["spec"]["names"]["categories"] == ["kubetask"]


def test_schedule_crd_has_status_subresource_columns_short_name_and_category() -> None:
    crd = crdgen.crds()["kubetask.io_taskschedules.yaml"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Schedule",
        "TimeZone",
        "Suspended",
        "Last",
        "Next",
        "Active",
        "Age",
    ]
    assert crd["spec"]["names"]["shortNames"] == ["kts"]
    assert crd["spec"]["names"]["categories"] == ["kubetask"]
    assert version["schema"]["openAPIV3Schema"]["properties"]["spec"]["required"] == ["schedule", "task"]


SCHEDULE: dict[str, Any] = {
    "apiVersion": "kubetask.io/v1alpha1",
    "kind": "TaskSchedule",
    "metadata": {"name": "nightly", "namespace": "ns"},
    "spec": SCHEDULE_SPEC,
    "status": SCHEDULE_STATUS,
}


def test_a_full_schedule_validates_survives_pruning_round_trips_and_holds_no_null() -> None:
    schema = _crd_schema("kubetask.io_taskschedules.yaml")
    assert [e.message for e in Draft4Validator(schema).iter_errors(SCHEDULE)] == []
    model = TaskSchedule.model_validate(SCHEDULE)
    wire = model.to_wire()
    for part in ("spec", "status"):
        assert _kept(wire[part], schema["properties"][part]) == wire[part], part
    assert TaskSchedule.model_validate(wire) == model
    assert _nulls(wire, schema) == []  # the null inside params is the user's data


def test_example_objects_validate_against_the_generated_schema_and_round_trip() -> None:
    docs = list(yaml.safe_load_all((ROOT / "examples/echo.yaml").read_text()))
    for doc in docs:
        plural = {"Task": "tasks", "TaskTemplate": "tasktemplates"}[doc["kind"]]
        schema = crdgen.crds()[f"kubetask.io_{plural}.yaml"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert list(Draft4Validator(schema).iter_errors(doc)) == []
    task = Task.model_validate(docs[1])
    assert Task.model_validate(task.to_wire()) == task


def _kept(value: Any, schema: dict[str, Any]) -> Any:
    """What the apiserver keeps of `value` under a structural schema: fields it does not declare are pruned."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return value
    if isinstance(value, dict):
        props, extra = schema.get("properties") or {}, schema.get("additionalProperties")
        if isinstance(extra, dict):
            return {k: _kept(v, extra) for k, v in value.items()}
        return {k: _kept(v, props[k]) for k, v in value.items() if k in props}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_kept(v, schema["items"]) for v in value]
    return value


@settings(max_examples=100, deadline=None)
@given(r=runs())
def test_reachable_tasks_with_their_status_validate_against_the_crd_and_survive_pruning(r: Run) -> None:
    # statuses as decide() writes them (attempts, conditions, policy, result), not hand-picked ones
    schema = crdgen.crds()["kubetask.io_tasks.yaml"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    wire = r.task.to_wire()
    assert "status" in wire and (wire["status"]["attempts"] or r.task.spec.run_at)  # none: never left Scheduled
    assert [e.message for e in Draft4Validator(schema).iter_errors(wire)] == []
    for part in ("spec", "status"):
        assert _kept(wire[part], schema["properties"][part]) == wire[part], part
    assert Task.model_validate(wire) == r.task


def _schemas(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node under `node` with its path (`/spec/retry/maxAttempts`, `[]` for items)."""
    out = [(path or "/", node)]
    for name, sub in (node.get("properties") or {}).items():
        out += _schemas(sub, f"{path}/{name}")
    if isinstance(node.get("items"), dict):
        out += _schemas(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out += _schemas(node["additionalProperties"], f"{path}{{}}")
    return out


def _crd_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = crdgen.crds()[name]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("name", sorted(crdgen.crds()))
def test_no_field_is_nullable_so_unset_fields_are_omitted(name: str) -> None:
    # null carries no meaning anywhere in kubetask's API: an unset field is omitted; the apiserver
    # publishes a nullable field without its type (kubectl explain shows `<>`)
    assert "nullable" not in (ROOT / "crds" / name).read_text()
    assert [path for path, node in _schemas(_crd_schema(name)) if "nullable" in node] == []


@pytest.mark.parametrize(
    ("name", "any_json"),
    [
        ("kubetask.io_tasks.yaml", ["/spec/params", "/status/result"]),
        ("kubetask.io_tasktemplates.yaml", []),
        ("kubetask.io_taskschedules.yaml", ["/spec/task/params"]),
    ],
)
def test_every_field_has_a_type_but_the_free_form_json_values(name: str, any_json: list[str]) -> None:
    # params and result may be any JSON value (a string, a list, an object); quantities and retryOn
    # entries are int-or-string, which Kubernetes publishes as such
    nodes = _schemas(_crd_schema(name))
    untyped = [path for path, node in nodes if "type" not in node and not node.get("x-kubernetes-int-or-string")]
    assert untyped == any_json
    assert all(dict(nodes)[path].get("x-kubernetes-preserve-unknown-fields") for path in any_json)


def _nulls(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths of nulls in `value` outside free-form JSON (whose nulls are the user's data)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if value is None:
        return [path or "/"]
    if isinstance(value, dict):
        props, extra = schema.get("properties") or {}, schema.get("additionalProperties")
        subs = {k: extra if isinstance(extra, dict) else props.get(k, {}) for k in value}
        return [p for k, v in value.items() for p in _nulls(v, subs[k], f"{path}/{k}")]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [p for i, v in enumerate(value) for p in _nulls(v, schema["items"], f"{path}/{i}")]
    return []


@settings(max_examples=100, deadline=None)
@given(r=runs())
def test_reachable_tasks_on_the_wire_hold_no_null(r: Run) -> None:
    # the spec and the status the operator writes, in every phase decide() reaches
    assert _nulls(r.task.to_wire(), _crd_schema("kubetask.io_tasks.yaml")) == []
