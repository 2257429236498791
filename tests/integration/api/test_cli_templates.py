"""`kubetask templates` against a real API and cluster: apply's verbs, every -o format, exit codes,
one-line errors, and live completion of template names (in process and in a real bash)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kubetask.cli import app as cli
from kubetask.testing.cluster import Cluster, list_objects

ROOT = Path(__file__).resolve().parents[3]
KUBETASK = Path(sys.executable).with_name("kubetask")


def _manifest(name: str, **spec: Any) -> dict[str, Any]:
    body = {"image": "kubetask/executor:dev", "handler": "echo", **spec}
    return {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskTemplate", "metadata": {"name": name}, "spec": body}


@pytest.fixture
def run(api_url: str, namespace: str, tmp_path: Path):
    """`kubetask ARGS -n <namespace> --api-url <api>` in process, with a config file of its own."""
    env = {"KUBETASK_CONFIG": str(tmp_path / "config.yaml"), "NO_COLOR": "1"}

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, [*args, "-n", namespace, "--api-url", api_url], input=input, env=env)

    return invoke


def _is_json(text: str) -> Any:
    """`text` through `python -m json.tool` (what a script would pipe it to), decoded."""
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=text, capture_output=True, text=True, check=True)
    return json.loads(tool.stdout)


def test_apply_creates_then_leaves_unchanged_then_configures(run, cluster: Cluster, namespace: str, tmp_path: Path):
    f = tmp_path / "templates.yaml"
    docs = [_manifest("alpha", timeoutSeconds=30), _manifest("beta", description="second")]
    f.write_text(yaml.safe_dump_all(docs))

    first = run("templates", "apply", "-f", str(f))
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "tasktemplate.kubetask.io/alpha created",
        "tasktemplate.kubetask.io/beta created",
    ]
    stored = {t["metadata"]["name"]: t["spec"] for t in list_objects(cluster, namespace, "tasktemplates")}
    assert stored["alpha"]["timeoutSeconds"] == 30 and stored["beta"]["description"] == "second"

    again = run("templates", "apply", "-f", str(f))
    assert again.stdout.splitlines() == [
        "tasktemplate.kubetask.io/alpha unchanged",
        "tasktemplate.kubetask.io/beta unchanged",
    ]

    docs[0]["spec"]["timeoutSeconds"] = 45
    f.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))  # JSON, a List this time
    changed = run("templates", "apply", "-f", str(f), "-o", "json")
    assert changed.exit_code == 0, changed.output
    assert [t["spec"].get("timeoutSeconds") for t in _is_json(changed.stdout)["items"]] == [45, None]
    assert {t["metadata"]["name"]: t["spec"] for t in list_objects(cluster, namespace, "tasktemplates")}["alpha"][
        "timeoutSeconds"
    ] == 45

    from_stdin = run("templates", "apply", "-f", "-", input=yaml.safe_dump(docs[1]))
    assert from_stdin.stdout == "tasktemplate.kubetask.io/beta unchanged\n"


def test_list_and_get_in_every_output_format(run, tmp_path: Path) -> None:
    schema = {"type": "object", "required": ["message", "times"]}
    f = tmp_path / "t.yaml"
    f.write_text(yaml.safe_dump_all([_manifest("echo", paramSchema=schema, timeoutSeconds=60), _manifest("other")]))
    assert run("templates", "apply", "-f", str(f)).exit_code == 0

    table = run("templates", "list")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "RUNS", "TIMEOUT", "AGE"]
    rows = [line.split() for line in lines[1:]]
    assert [r[:2] for r in rows] == [["echo", "echo"], ["other", "echo"]]
    assert rows[0][2] == "60" and len(rows[1]) == 3  # other has no timeout: NAME, RUNS, AGE

    wide = run("templates", "list", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == [
        "NAME",
        "RUNS",
        "TIMEOUT",
        "AGE",
        "IMAGE",
        "MAX-ATTEMPTS",
        "REQUIRED-PARAMS",
        "DESCRIPTION",
    ]
    assert wide[1].split()[-2:] == ["kubetask/executor:dev", "message,times"]

    listed = _is_json(run("templates", "list", "-o", "json").stdout)
    assert [t["name"] for t in listed["items"]] == ["echo", "other"]
    assert yaml.safe_load(run("templates", "list", "-o", "yaml").stdout) == listed
    assert run("templates", "list", "-o", "name").stdout == "echo\nother\n"
    assert run("templates", "list", "-o", "jsonpath={.items[*].name}").stdout == "echo other"

    one = _is_json(run("templates", "get", "echo", "-o", "json").stdout)
    assert one["spec"]["paramSchema"] == schema
    assert yaml.safe_load(run("templates", "get", "echo", "-o", "yaml").stdout) == one
    assert run("templates", "get", "echo", "-o", "jsonpath={.spec.timeoutSeconds}").stdout == "60"
    assert run("templates", "get", "echo", "-o", "name").stdout == "echo\n"
    assert run("templates", "get", "echo").stdout.splitlines()[1].split()[:3] == ["echo", "echo", "60"]


def test_errors_are_one_line_with_the_documented_exit_code(run, cluster: Cluster, namespace: str, tmp_path: Path):
    missing = run("templates", "get", "nope")
    assert missing.exit_code == 3
    assert missing.stderr.splitlines() == [
        f"error: 404 Not found: TaskTemplate 'nope' not found in namespace '{namespace}'"
    ]
    assert missing.stdout == ""

    mixed = tmp_path / "mixed.yaml"  # a Task and a nameless template: both named, nothing sent
    mixed.write_text(
        yaml.safe_dump_all(
            [
                _manifest("fine"),
                {"apiVersion": "kubetask.io/v1alpha1", "kind": "Task", "metadata": {"name": "x"}},
                {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskTemplate", "spec": {}},
            ]
        )
    )
    refused = run("templates", "apply", "-f", str(mixed))
    assert refused.exit_code == 2
    [line] = refused.stderr.splitlines()
    assert f"{mixed}#2: /kind is 'Task', not TaskTemplate" in line and f"{mixed}#3: /metadata/name is missing" in line
    assert list_objects(cluster, namespace, "tasktemplates") == []

    bad_schema = tmp_path / "bad.yaml"
    bad_schema.write_text(yaml.safe_dump(_manifest("broken", paramSchema={"type": "nonsense"})))
    invalid = run("templates", "apply", "-f", str(bad_schema))
    assert invalid.exit_code == 3
    [line] = invalid.stderr.splitlines()
    assert line.startswith("error: 422") and "/spec/paramSchema" in line

    elsewhere = tmp_path / "elsewhere.yaml"
    doc = _manifest("x")
    doc["metadata"] = {"name": "x", "namespace": "other-ns"}
    elsewhere.write_text(yaml.safe_dump(doc))
    conflict = run("templates", "apply", "-f", str(elsewhere))
    assert conflict.exit_code == 2 and "metadata.namespace 'other-ns' contradicts -n" in conflict.stderr

    assert run("templates", "apply", "-f", str(tmp_path / "absent.yaml")).exit_code == 2
    assert run("templates", "list", "-o", "xml").exit_code == 2
    down = CliRunner().invoke(cli, ["templates", "list", "--api-url", "http://127.0.0.1:9"])
    assert down.exit_code == 3 and down.stderr.startswith("error: cannot reach the kubetask API")


def test_delete_removes_the_templates(run, cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(yaml.safe_dump_all([_manifest("a"), _manifest("b")]))
    run("templates", "apply", "-f", str(f))

    out = run("templates", "delete", "a", "b")

    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == ["tasktemplate.kubetask.io/a deleted", "tasktemplate.kubetask.io/b deleted"]
    assert list_objects(cluster, namespace, "tasktemplates") == []
    assert run("templates", "delete", "a").exit_code == 3


def _complete(env: dict[str, str], words: str) -> list[str]:
    """What a bash Tab offers after `words`: the completion script sourced in a real bash."""
    script = subprocess.run([str(KUBETASK), "completion", "bash"], capture_output=True, text=True, check=True).stdout
    line = f"{script}\nCOMP_WORDS=({words}); COMP_CWORD={len(words.split()) - (0 if words.endswith(' ') else 1)}\n"
    line += "_kubetask_completion kubetask; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    out = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, timeout=60, check=True)
    return [w for w in out.stdout.splitlines() if w]


def test_template_names_complete_from_the_api_in_a_real_bash(run, api_url: str, namespace: str, tmp_path: Path):
    f = tmp_path / "t.yaml"
    f.write_text(yaml.safe_dump_all([_manifest("echo"), _manifest("etl"), _manifest("sleep")]))
    run("templates", "apply", "-f", str(f))
    env = {
        **os.environ,
        "PATH": f"{KUBETASK.parent}:{os.environ['PATH']}",
        "KUBETASK_CONFIG": str(tmp_path / "config.yaml"),
        "KUBETASK_API_URL": api_url,
        "KUBETASK_NAMESPACE": namespace,
    }

    assert _complete(env, "kubetask templates get e") == ["echo", "etl"]
    assert _complete(env, "kubetask templates delete ") == ["echo", "etl", "sleep"]
    # flags typed before the name count: another namespace has none
    assert _complete(env, "kubetask templates get -n kube-system e") == []
    # an API that is down offers nothing, and says nothing into the prompt
    assert _complete({**env, "KUBETASK_API_URL": "http://127.0.0.1:9"}, "kubetask templates get e") == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_each_shells_script(shell: str) -> None:
    out = CliRunner().invoke(cli, ["completion", shell])
    assert out.exit_code == 0 and "_KUBETASK_COMPLETE=complete_" + shell in out.stdout
    if shell == "bash":
        subprocess.run(["bash", "-n"], input=out.stdout, text=True, check=True)  # a script bash can parse
    assert CliRunner().invoke(cli, ["completion", "tcsh"]).exit_code == 2
