"""The CLI against a real uvicorn server and cluster: submit, get and list in every output format,
and every error as one line on stderr with its exit code."""

from __future__ import annotations

import json
from typing import Any

import yaml
from typer.testing import Result

from kubetask.testing.cluster import Cluster, create, get_task, template, wait_for, wait_task

SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}, "times": {"type": "integer"}},
}


def _one_error_line(r: Result, code: int) -> str:
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def test_submit_then_get_and_list_in_every_format(cluster: Cluster, namespace: str, kt) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo", paramSchema=SCHEMA))
    sub = kt("submit", "echo", "-p", "message=cli", "-p", "times=2", "-l", "team=data")
    assert sub.exit_code == 0, sub.stderr
    name = sub.stdout.strip()
    cr = get_task(cluster, namespace, name)
    assert cr["spec"]["params"] == {"message": "cli", "times": 2}  # -p times=2 is an integer
    assert cr["metadata"]["labels"]["team"] == "data"
    wait_task(cluster, namespace, name)

    got = kt("get", name, "-o", "json")
    assert got.exit_code == 0, got.stderr
    task = json.loads(got.stdout)
    assert (task["name"], task["phase"], task["result"]) == (name, "Succeeded", {"message": "cli", "times": 2})
    assert task["createdAt"].startswith("20") and "T" in task["createdAt"]  # ISO 8601, as the API sent it
    assert yaml.safe_load(kt("get", name, "-o", "yaml").stdout) == task
    assert kt("get", name, "-o", "name").stdout == f"{name}\n"
    assert kt("get", name, "-o", "jsonpath={.phase} {.result.times}").stdout == "Succeeded 2"
    table = kt("get", name).stdout.splitlines()
    assert table[0].split() == ["NAME", "TEMPLATE", "PHASE", "ATTEMPTS", "DURATION", "AGE"]
    assert table[1].split()[:4] == [name, "echo", "Succeeded", "1"]
    wide = kt("get", name, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-5:] == ["REASON", "CREATED", "FINISHED", "RESULT", "LABELS"]
    assert wide[1].split()[-2:] == ['{"message":"cli","times":2}', "team=data"]

    def listed() -> dict[str, Any] | None:  # the mirror writes SQL asynchronously
        r = kt("list", "-o", "json")
        assert r.exit_code == 0, r.stderr
        page = json.loads(r.stdout)
        return page if [t["phase"] for t in page["items"]] == ["Succeeded"] else None

    page = wait_for("the finished task in `kubetask list`", listed)
    assert page["items"][0]["name"] == name and page["nextCursor"] is None
    assert kt("list", "-o", "name").stdout == f"{name}\n"
    assert kt("list", "-o", "jsonpath={range .items[*]}{.name}:{.phase}{end}").stdout == f"{name}:Succeeded"
    assert yaml.safe_load(kt("list", "-o", "yaml").stdout) == page
    rows = kt("list").stdout.splitlines()
    assert rows[0].split() == ["NAME", "TEMPLATE", "PHASE", "ATTEMPTS", "DURATION", "AGE"]
    assert rows[1].split()[:3] == [name, "echo", "Succeeded"]


def test_errors_are_one_line_on_stderr_with_their_exit_code(cluster: Cluster, namespace: str, kt) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo", paramSchema=SCHEMA))

    # 2: usage errors, the parser's and ours, before any request
    assert "Missing argument" in _one_error_line(kt("get"), 2)
    assert "No such option: --bogus" in _one_error_line(kt("list", "--bogus"), 2)
    assert "-o 'xml': use one of" in _one_error_line(kt("list", "-o", "xml"), 2)
    bad = _one_error_line(kt("submit", "echo", "-p", "times=x"), 2)  # checked against the paramSchema first
    assert bad == (
        "error: params do not match the paramSchema of template 'echo': /params: 'message' is a required "
        "property; /params/times: 'x' is not of type 'integer'"
    )

    # 3: the API's problems, with title, detail and field pointer
    missing = _one_error_line(kt("get", "nope"), 3)
    assert missing == f"error: 404 Not found: Task 'nope' not found in namespace '{namespace}' (nor in history)"
    no_template = _one_error_line(kt("submit", "nope", "-p", "message=x"), 3)
    assert no_template.startswith("error: 404 Not found: TaskTemplate 'nope' not found")
    bad_label = _one_error_line(kt("submit", "echo", "-p", "message=x", "-l", "bad key=v"), 3)
    assert bad_label.startswith("error: 422 ") and "/labels" in bad_label
    down = _one_error_line(kt("list", "--api-url", "http://127.0.0.1:9"), 3)
    assert down.startswith("error: cannot reach the kubetask API at http://127.0.0.1:9")

    # nothing was created by any of them
    assert cluster.custom().list_namespaced_custom_object("kubetask.io", "v1alpha1", namespace, "tasks")["items"] == []
