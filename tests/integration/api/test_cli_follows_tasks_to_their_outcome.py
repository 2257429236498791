"""`submit --wait/--watch` against a real API and cluster: the result on stdout, the outcome as the
exit code (0 succeeded, 1 failed, 4 timed out), phase changes on stderr; --dry-run, -f and
idempotency keys; history, cancel, resubmit and delete."""

from __future__ import annotations

import json

import yaml
from typer.testing import Result

from kubetask.testing.cluster import Cluster, create, get_task, list_objects, template, wait_for, wait_task

ECHO_SCHEMA = {"type": "object", "required": ["message"], "properties": {"times": {"type": "integer"}}}


def _templates(cluster: Cluster, ns: str) -> None:
    create(cluster, ns, "tasktemplates", template("echo", handler="echo", paramSchema=ECHO_SCHEMA))
    create(cluster, ns, "tasktemplates", template("fail", handler="fail"))
    create(cluster, ns, "tasktemplates", template("sleep", handler="sleep"))


def _ok(r: Result) -> str:
    assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
    return r.stdout


def test_wait_prints_the_result_and_the_exit_code_is_the_outcome(cluster: Cluster, namespace: str, kt) -> None:
    _templates(cluster, namespace)

    ok = kt("submit", "echo", "-p", "message=hi", "-p", "times=2", "--wait")
    assert json.loads(_ok(ok)) == {"message": "hi", "times": 2}

    failed = kt("submit", "fail", "-p", "message=boom", "-p", "exitCode=3", "--wait")
    assert failed.exit_code == 1, (failed.stdout, failed.stderr)
    assert failed.stdout == ""
    [line] = failed.stderr.splitlines()
    assert line.startswith(f"error: task {namespace}/fail-") and " Failed (NonZeroExit: " in line and "boom" in line

    slow = kt("submit", "sleep", "-p", "seconds=60", "--wait", "--timeout", "2s")
    assert slow.exit_code == 4, (slow.stdout, slow.stderr)
    [line] = slow.stderr.splitlines()
    assert line.startswith(f"error: task {namespace}/sleep-") and line.endswith("after --timeout")

    watched = kt("submit", "sleep", "-p", "seconds=3", "--watch", "-o", "json")
    task = json.loads(_ok(watched))
    assert (task["phase"], task["result"]) == ("Succeeded", {"slept": 3.0})
    phases = [line.split()[1] for line in watched.stderr.splitlines()]
    assert phases[-1] == "Succeeded" and "Running" in phases and len(phases) == len(set(phases))  # one per change


def test_dry_run_file_params_and_idempotency_keys(cluster: Cluster, namespace: str, kt, tmp_path) -> None:
    _templates(cluster, namespace)
    params = tmp_path / "params.yaml"
    params.write_text("message: from a file\ntimes: 1\n")

    dry = yaml.safe_load(_ok(kt("submit", "echo", "-f", str(params), "-p", "times=5", "-l", "a=b", "--dry-run")))
    assert dry == {"template": "echo", "params": {"message": "from a file", "times": 5}, "labels": {"a": "b"}}
    as_json = json.loads(_ok(kt("submit", "echo", "-f", str(params), "--dry-run", "-o", "json")))
    assert as_json["params"] == {"message": "from a file", "times": 1}
    bad = kt("submit", "echo", "-p", "times=1", "--dry-run")  # --dry-run checks the params too
    assert bad.exit_code == 2 and "/params: 'message' is a required property" in bad.stderr
    assert list_objects(cluster, namespace, "tasks") == []

    first = _ok(kt("submit", "echo", "-f", str(params), "--idempotency-key", "k-1", "--name", "once")).strip()
    again = _ok(kt("submit", "echo", "-f", str(params), "--idempotency-key", "k-1", "--name", "once"))
    assert first == again.strip() == "once"
    assert get_task(cluster, namespace, "once")["spec"]["params"] == {"message": "from a file", "times": 1}
    assert [t["metadata"]["name"] for t in list_objects(cluster, namespace, "tasks")] == ["once"]


def test_history_cancel_resubmit_and_delete(cluster: Cluster, namespace: str, kt) -> None:
    _templates(cluster, namespace)
    _ok(kt("submit", "sleep", "--name", "long", "-p", "seconds=120", "-l", "team=data"))
    wait_task(cluster, namespace, "long", {"Running"})

    assert _ok(kt("cancel", "long")) == "task/long cancelled\n"
    wait_task(cluster, namespace, "long", {"Cancelled"})
    again = kt("cancel", "long")
    assert again.exit_code == 3 and again.stderr.startswith("error: 409 Conflict: Task 'long' already finished")

    doc = json.loads(_ok(kt("history", "long", "-o", "json")))
    assert [a["number"] for a in doc["attempts"]] == [1]
    assert "Cancelled" in [e["reason"] for e in doc["events"]]
    assert yaml.safe_load(_ok(kt("history", "long", "-o", "yaml"))) == doc
    assert _ok(kt("history", "long", "-o", "jsonpath={.attempts[0].jobName}")) == doc["attempts"][0]["jobName"]
    table = _ok(kt("history", "long")).splitlines()
    assert table[0].split() == ["ATTEMPT", "JOB", "PHASE", "EXIT", "REASON", "DURATION", "STARTED"]
    events_header = table.index("") + 1
    assert table[events_header].split() == ["TIME", "AGE", "TYPE", "REASON", "MESSAGE"]
    wide = _ok(kt("history", "long", "-o", "wide")).splitlines()
    attempt = doc["attempts"][0]
    assert wide[0].split()[-2:] == ["POD", "MESSAGE"]
    assert wide[1].split()[:3] == ["1", attempt["jobName"], attempt["phase"]]
    assert kt("history", "long", "-o", "name").exit_code == 2

    new = _ok(kt("resubmit", "long", "-p", "seconds=0", "-l", "run=2", "--wait", "-o", "name")).strip()
    assert new.startswith("sleep-") and new != "long"
    spec = get_task(cluster, namespace, new)
    assert spec["spec"]["params"] == {"seconds": 0}
    assert {"team": "data", "run": "2"}.items() <= spec["metadata"]["labels"].items()
    named = json.loads(_ok(kt("resubmit", "long", "--name", "long-2", "--dry-run", "-o", "json")))
    assert named == {"template": "sleep", "params": {"seconds": 120}, "labels": {"team": "data"}, "name": "long-2"}

    assert _ok(kt("delete", new)) == f"task/{new} deleted\n"
    gone = wait_for("the Task gone", lambda: (r := kt("delete", new)).exit_code and r)  # finalizers take a moment
    assert gone.exit_code == 3 and "404 Not found" in gone.stderr
    after = json.loads(_ok(kt("get", new, "-o", "json")))  # history outlives the Task
    assert (after["name"], after["live"]) == (new, False)


def test_watch_without_a_terminal_prints_the_final_table_once(cluster: Cluster, namespace: str, kt) -> None:
    _templates(cluster, namespace)
    _ok(kt("submit", "sleep", "--name", "w1", "-p", "seconds=2", "-l", "batch=1"))
    _ok(kt("submit", "echo", "--name", "w2", "-p", "message=x", "-l", "batch=1"))

    named = _ok(kt("watch", "w1", "w2", "--interval", "0.2")).splitlines()
    assert named[0].split() == ["NAME", "TEMPLATE", "PHASE", "ATTEMPTS", "DURATION", "AGE"]
    assert [line.split()[:3] for line in named[1:]] == [["w1", "sleep", "Succeeded"], ["w2", "echo", "Succeeded"]]
    # by the list filters: ends once the history shows both final (the mirror may lag the CRs)
    filtered = _ok(kt("watch", "-l", "batch=1", "--phase", "!Failed", "--wide")).splitlines()
    assert filtered[0].split()[-1] == "LABELS"
    assert sorted(line.split()[0] for line in filtered[1:]) == ["w1", "w2"]
    assert all("Succeeded" in line for line in filtered[1:])
    missing = kt("watch", "nope")
    assert missing.exit_code == 3 and missing.stderr.startswith("error: 404 Not found")
    no_wait = kt("submit", "echo", "-p", "message=x", "--timeout", "1m")
    assert no_wait.exit_code == 2 and "--timeout applies to --wait or --watch" in no_wait.stderr
