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
from kubetask.models import Task
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
    assert "status" in wire and wire["status"]["attempts"]
    assert [e.message for e in Draft4Validator(schema).iter_errors(wire)] == []
    for part in ("spec", "status"):
        assert _kept(wire[part], schema["properties"][part]) == wire[part], part
    assert Task.model_validate(wire) == r.task
