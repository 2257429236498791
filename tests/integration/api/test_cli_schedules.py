"""`kubetask schedules` against a real API and cluster: apply's verbs, the printer columns and every
-o format, suspend/resume, list filters, runs from history with the success rate, delete, and bad
input as a non-zero exit with one line naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kubetask.cli import app as cli
from kubetask.testing.cluster import Cluster, create, list_objects, template, wait_for

YEARLY = "0 0 1 1 *"


def _manifest(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body = {"schedule": YEARLY, "task": {"templateRef": {"name": "echo"}, "params": {"message": "hi"}}, **spec}
    meta: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    return {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskSchedule", "metadata": meta, "spec": body}


@pytest.fixture
def run(api_url: str, namespace: str, cluster: Cluster, tmp_path: Path):
    """`kubetask ARGS -n <namespace> --api-url <api>` in process, with a template `echo` in the namespace."""
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo", paramSchema={"type": "object"}))
    env = {"KUBETASK_CONFIG": str(tmp_path / "config.yaml"), "NO_COLOR": "1"}

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, [*args, "-n", namespace, "--api-url", api_url], input=input, env=env)

    return invoke


def _stored(cluster: Cluster, ns: str) -> dict[str, dict[str, Any]]:
    return {s["metadata"]["name"]: s for s in list_objects(cluster, ns, "taskschedules")}


def test_apply_creates_then_leaves_unchanged_then_configures(run, cluster: Cluster, namespace: str, tmp_path: Path):
    f = tmp_path / "schedules.yaml"
    docs = [_manifest("nightly", {"team": "ops"}), _manifest("hourly", schedule="0 * * * *", timeZone="Europe/Berlin")]
    f.write_text(yaml.safe_dump_all(docs))

    first = run("schedules", "apply", "-f", str(f))
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "taskschedule.kubetask.io/nightly created",
        "taskschedule.kubetask.io/hourly created",
    ]
    assert _stored(cluster, namespace)["nightly"]["metadata"]["labels"] == {"team": "ops"}

    again = run("schedules", "apply", "-f", str(f))
    assert again.stdout.splitlines() == [
        "taskschedule.kubetask.io/nightly unchanged",
        "taskschedule.kubetask.io/hourly unchanged",
    ]

    docs[0]["metadata"]["labels"] = {"team": "data"}  # labels alone count as a change
    docs[1]["spec"]["schedule"] = "30 * * * *"
    f.write_text(yaml.safe_dump_all(docs))
    changed = run("schedules", "apply", "-f", str(f))
    assert changed.stdout.splitlines() == [
        "taskschedule.kubetask.io/nightly configured",
        "taskschedule.kubetask.io/hourly configured",
    ]
    stored = _stored(cluster, namespace)
    assert stored["nightly"]["metadata"]["labels"] == {"team": "data"}
    assert stored["hourly"]["spec"]["schedule"] == "30 * * * *"


def test_list_get_and_filters_in_every_output_format(run, tmp_path: Path):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump_all([_manifest("nightly", {"team": "ops"}), _manifest("paused", suspend=True)]))
    assert run("schedules", "apply", "-f", str(f)).exit_code == 0

    lines = run("schedules", "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPENDED", "LAST", "NEXT", "ACTIVE", "AGE"]
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows] == ["nightly", "paused"]
    assert rows[0][1:8] == ["0", "0", "1", "1", "*", "UTC", "false"]  # the cron's five fields, then the zone
    assert rows[1][7] == "true"
    wide = run("schedules", "list", "-o", "wide").stdout.splitlines()[0].split()
    assert wide[-3:] == ["TEMPLATE", "POLICY", "READY"]

    listed = json.loads(run("schedules", "list", "-o", "json").stdout)
    assert [s["name"] for s in listed["items"]] == ["nightly", "paused"]
    assert yaml.safe_load(run("schedules", "list", "-o", "yaml").stdout) == listed
    assert run("schedules", "list", "-o", "name", "-l", "team=ops").stdout == "nightly\n"
    assert run("schedules", "list", "-o", "name", "--suspended").stdout == "paused\n"
    assert run("schedules", "list", "-o", "name", "--active").stdout == "nightly\n"

    one = json.loads(run("schedules", "get", "nightly", "-o", "json").stdout)
    assert one["spec"]["schedule"] == YEARLY and one["labels"] == {"team": "ops"}
    assert run("schedules", "get", "nightly", "-o", "jsonpath={.spec.schedule}").stdout == YEARLY
    assert run("schedules", "get", "nightly").stdout.splitlines()[1].split()[0] == "nightly"


def test_suspend_with_a_reason_resume_and_delete(run, cluster: Cluster, namespace: str, tmp_path: Path):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(_manifest("nightly")))
    run("schedules", "apply", "-f", str(f))

    out = run("schedules", "suspend", "nightly", "--reason", "maintenance window")
    assert out.exit_code == 0, out.output
    assert out.stdout == "taskschedule.kubetask.io/nightly suspended\n"
    spec = _stored(cluster, namespace)["nightly"]["spec"]
    assert (spec["suspend"], spec["suspendReason"]) == (True, "maintenance window")

    assert run("schedules", "resume", "nightly").stdout == "taskschedule.kubetask.io/nightly resumed\n"
    assert _stored(cluster, namespace)["nightly"]["spec"]["suspend"] is False

    gone = run("schedules", "delete", "nightly")
    assert gone.stdout == "taskschedule.kubetask.io/nightly deleted\n"
    assert _stored(cluster, namespace) == {}
    missing = run("schedules", "suspend", "nightly")
    assert missing.exit_code == 3
    assert missing.stderr.splitlines() == [
        f"error: 404 Not found: TaskSchedule 'nightly' not found in namespace '{namespace}'"
    ]


def test_bad_input_is_a_non_zero_exit_with_one_line_naming_the_field(
    run, cluster: Cluster, namespace: str, tmp_path: Path
):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_manifest("broken", schedule="0 0 31 2 *", timeZone="Mars/Olympus")))
    refused = run("schedules", "apply", "-f", str(bad))
    assert refused.exit_code == 3
    [line] = refused.stderr.splitlines()
    assert line.startswith("error: 422") and "/spec/schedule" in line and "/spec/timeZone" in line

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(yaml.safe_dump(_manifest("orphan", task={"templateRef": {"name": "nope"}})))
    no_template = run("schedules", "apply", "-f", str(unknown))
    assert no_template.exit_code == 3
    [line] = no_template.stderr.splitlines()
    assert "/spec/task/templateRef/name" in line and "'nope' not found" in line

    wrong_kind = tmp_path / "template.yaml"
    wrong_kind.write_text(yaml.safe_dump({**_manifest("t"), "kind": "TaskTemplate"}))
    usage = run("schedules", "apply", "-f", str(wrong_kind))
    assert usage.exit_code == 2
    [line] = usage.stderr.splitlines()
    assert "/kind is 'TaskTemplate', not TaskSchedule" in line
    assert list_objects(cluster, namespace, "taskschedules") == []


def test_runs_lists_the_history_with_the_success_rate_and_outlives_the_schedule(run, tmp_path: Path):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(_manifest("often", schedule="*/2 * * * * *", successfulHistoryLimit=10)))
    assert run("schedules", "apply", "-f", str(f)).exit_code == 0

    def listed() -> list[str] | None:
        out = run("schedules", "runs", "often")
        return out.stdout.splitlines() if out.exit_code == 0 and len(out.stdout.splitlines()) >= 3 else None

    lines = wait_for("a run in history", listed, 60)
    assert run("schedules", "suspend", "often").exit_code == 0
    assert lines[0].split() == ["NAME", "SCHEDULED", "PHASE", "DURATION", "RESULT"]
    assert lines[1].split()[0].startswith("often-")
    assert lines[-1].startswith("success rate: ") and lines[-1].endswith("runs in history")

    assert run("schedules", "delete", "often").exit_code == 0
    after = run("schedules", "runs", "often", "-o", "json")
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout)["total"] >= 1  # the history stays
