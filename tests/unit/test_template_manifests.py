"""`templates apply -f`'s pure part: which documents a file holds, every bad one named at once, and
when an apply changes nothing."""

from __future__ import annotations

import json

import pytest
import yaml

from kubetask.cli._manifests import ManifestError, apply_verb, parse_templates


def _doc(name: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "TaskTemplate",
        "metadata": {"name": name},
        "spec": {"image": "img", **spec},
    }


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (yaml.safe_dump(_doc("one")), ["one"]),
        (yaml.safe_dump_all([_doc("a"), None, _doc("b")]), ["a", "b"]),
        (json.dumps([_doc("a"), _doc("b")]), ["a", "b"]),
        (yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [_doc("x")]}), ["x"]),
    ],
    ids=["one document", "several documents", "a JSON list", "a kind List"],
)
def test_a_file_holds_templates_in_the_shapes_kubectl_reads(text: str, names: list[str]) -> None:
    assert [m.name for m in parse_templates(text, "f.yaml")] == names


def test_every_bad_document_is_named_in_one_message() -> None:
    docs = [
        _doc("fine"),
        {"apiVersion": "kubetask.io/v1alpha1", "kind": "Task", "metadata": {"name": "t"}},
        {"apiVersion": "kubetask.io/v1", "kind": "TaskTemplate", "metadata": {"name": "old"}, "spec": {}},
        {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskTemplate", "spec": {}},
        {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskTemplate", "metadata": {"name": "s"}, "spec": [1]},
        "just text",
    ]
    with pytest.raises(ManifestError) as e:
        parse_templates(yaml.safe_dump_all(docs), "f.yaml")
    assert str(e.value).split("; ") == [
        "f.yaml#2: /kind is 'Task', not TaskTemplate (the only kind `templates apply` takes)",
        "f.yaml#3: /apiVersion is 'kubetask.io/v1', expected kubetask.io/v1alpha1",
        "f.yaml#4: /metadata/name is missing",
        "f.yaml#5 (s): /spec must be a mapping",
        "f.yaml#6: expected a TaskTemplate mapping, got str",
    ]


@pytest.mark.parametrize(("text", "message"), [("", "no TaskTemplate in it"), ("a: [", "not valid YAML or JSON")])
def test_an_empty_or_unreadable_file_is_refused(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_templates(text, "f.yaml")


def test_a_document_keeps_its_namespace() -> None:
    doc = _doc("n")
    doc["metadata"] = {"name": "n", "namespace": "team-a"}
    assert parse_templates(yaml.safe_dump(doc), "f")[0].namespace == "team-a"


@pytest.mark.parametrize(
    ("current", "desired", "verb"),
    [
        (None, {"image": "img"}, "created"),
        ({"image": "img", "handler": "echo"}, {"image": "img", "handler": "echo"}, "unchanged"),
        ({"image": "img", "timeoutSeconds": 30}, {"image": "img", "timeoutSeconds": 30, "command": None}, "unchanged"),
        ({"image": "img", "timeoutSeconds": 30}, {"image": "img", "timeoutSeconds": 45}, "configured"),
        ({"image": "img"}, {"image": "img", "description": "now described"}, "configured"),
        ({"image": "img"}, {"image": ""}, "configured"),  # invalid: sent, so the API names the field
    ],
    ids=["absent", "equal", "an explicit null is no change", "a changed value", "a new field", "invalid"],
)
def test_apply_verb(current: dict[str, object] | None, desired: dict[str, object], verb: str) -> None:
    assert apply_verb(current, desired) == verb
