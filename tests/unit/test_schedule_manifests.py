"""`schedules apply -f`'s pure part: TaskSchedule documents with their labels, every bad one named
at once, when an apply changes nothing; and the success-rate line of `schedules runs`."""

from __future__ import annotations

import pytest
import yaml

from kubetask.cli._manifests import ManifestError, apply_verb, parse_schedules, parse_templates
from kubetask.cli.schedules import success_line


def _doc(name: str, labels: object = None, **spec: object) -> dict[str, object]:
    meta: dict[str, object] = {"name": name} if labels is None else {"name": name, "labels": labels}
    body = {"schedule": "0 3 * * *", "task": {"templateRef": {"name": "echo"}}, **spec}
    return {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskSchedule", "metadata": meta, "spec": body}


def test_schedules_are_read_with_their_labels() -> None:
    text = yaml.safe_dump_all([_doc("a", {"team": "ops"}), _doc("b")])
    assert [(m.name, m.labels) for m in parse_schedules(text, "f.yaml")] == [("a", {"team": "ops"}), ("b", {})]


def test_every_bad_schedule_document_is_named_in_one_message() -> None:
    template = {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskTemplate", "metadata": {"name": "t"}, "spec": {}}
    docs = [_doc("fine"), template, _doc("numbers", {"n": 1})]
    with pytest.raises(ManifestError) as e:
        parse_schedules(yaml.safe_dump_all(docs), "f.yaml")
    assert str(e.value).split("; ") == [
        "f.yaml#2: /kind is 'TaskTemplate', not TaskSchedule (the only kind `schedules apply` takes)",
        "f.yaml#3 (numbers): /metadata/labels must map names to strings",
    ]


def test_a_template_is_still_refused_by_schedules_and_a_schedule_by_templates() -> None:
    with pytest.raises(ManifestError, match="not TaskTemplate"):
        parse_templates(yaml.safe_dump(_doc("s")), "f.yaml")


@pytest.mark.parametrize(
    ("current", "desired", "verb"),
    [
        (None, {"schedule": "0 3 * * *", "task": {"templateRef": {"name": "echo"}}}, "created"),
        (
            {"schedule": "0 3 * * *", "task": {"templateRef": {"name": "echo"}}, "concurrencyPolicy": "Allow"},
            {"schedule": "0 3 * * *", "task": {"templateRef": {"name": "echo"}}},
            "unchanged",
        ),
        (
            {"schedule": "0 3 * * *", "task": {"templateRef": {"name": "echo"}}},
            {"schedule": "0 4 * * *", "task": {"templateRef": {"name": "echo"}}},
            "configured",
        ),
        (
            {"schedule": "0 3 * * *", "task": {"templateRef": {"name": "echo"}}},
            {"schedule": "0 0 31 2 *", "task": {"templateRef": {"name": "echo"}}},
            "configured",  # the model refuses it: sent, for the API to name the field
        ),
    ],
    ids=["absent", "a default left out", "another cron", "an invalid spec"],
)
def test_an_apply_is_unchanged_only_when_the_normalised_specs_are_equal(
    current: dict[str, object] | None, desired: dict[str, object], verb: str
) -> None:
    assert apply_verb(current, desired, "TaskSchedule") == verb


@pytest.mark.parametrize(
    ("doc", "line"),
    [
        (
            {"total": 5, "byPhase": {"Succeeded": 3, "Failed": 1, "Running": 1}, "successRate": 0.75},
            "success rate: 75% (3 of 4 finished); 5 runs in history",
        ),
        ({"total": 0, "byPhase": {}, "successRate": None}, "success rate: - (0 of 0 finished); 0 runs in history"),
    ],
    ids=["some finished", "none yet"],
)
def test_the_success_rate_line_counts_the_finished_runs(doc: dict[str, object], line: str) -> None:
    assert success_line(doc) == line
