"""`kubetask dlq` against a real API, operator and cluster: list in every format, redrive and purge
by name or --all, --dry-run, the count before acting on many, refusal without a terminal, and the
confirmation asked on a real one (a pty)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kubetask.cli import app as cli
from kubetask.testing.cluster import Cluster, create, list_objects, template, wait_for, wait_task
from tests.integration.api.test_cli_templates import _complete

KUBETASK = Path(sys.executable).with_name("kubetask")
FAILING = {"handler": "fail", "retry": {"maxAttempts": 2, "delaySeconds": 1, "jitter": "none"}}


@pytest.fixture
def run(api_url: str, namespace: str, tmp_path: Path):
    env = {"KUBETASK_CONFIG": str(tmp_path / "config.yaml"), "NO_COLOR": "1"}

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, [*args, "-n", namespace, "--api-url", api_url], input=input, env=env)

    return invoke


def _dead(run, cluster: Cluster, namespace: str, names: list[str], template_name: str = "flaky") -> None:
    """Tasks of a failing template, dead-lettered and listed by the API."""
    create(cluster, namespace, "tasktemplates", template(template_name, **FAILING))
    for name in names:
        assert run("submit", template_name, "--name", name).exit_code == 0
    for name in names:
        assert wait_task(cluster, namespace, name)["status"]["phase"] == "DeadLettered"

    def listed() -> bool:
        out = run("dlq", "list", "-o", "name")
        return set(names) <= set(out.stdout.split())

    wait_for(f"{len(names)} dead letters listed", listed)


def _tasks(cluster: Cluster, namespace: str) -> list[str]:
    return sorted(t["metadata"]["name"] for t in list_objects(cluster, namespace, "tasks"))


def _fix(cluster: Cluster, namespace: str, name: str = "flaky") -> None:
    cluster.kubectl(
        "patch", "tasktemplate", name, "-n", namespace, "--type=merge", "-p", '{"spec": {"handler": "echo"}}'
    )


def test_list_in_every_format(run, cluster: Cluster, namespace: str) -> None:
    _dead(run, cluster, namespace, ["d0", "d1"])

    table = run("dlq", "list").stdout.splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "TEMPLATE", "REASON", "ATTEMPTS", "REDRIVES", "AGE"]
    assert sorted(line.split()[:6] for line in table[1:]) == [
        [namespace, "d0", "flaky", "NonZeroExit", "2", "0"],
        [namespace, "d1", "flaky", "NonZeroExit", "2", "0"],
    ]
    wide = run("dlq", "list", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-2:] == ["LAST-REDRIVE", "MESSAGE"] and "all 2 attempts failed" in wide[1]

    doc = json.loads(
        subprocess.run(
            [sys.executable, "-m", "json.tool"],
            input=run("dlq", "list", "-o", "json").stdout,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert sorted(i["name"] for i in doc["items"]) == ["d0", "d1"]
    assert yaml.safe_load(run("dlq", "list", "-o", "yaml").stdout) == doc
    assert run("dlq", "list", "-o", "jsonpath={.items[*].reason}").stdout == "NonZeroExit NonZeroExit"
    assert run("dlq", "list", "--limit", "1", "-o", "name").stdout.count("\n") == 1
    assert sorted(run("dlq", "list", "--limit", "1", "--all", "-o", "name").stdout.split()) == ["d0", "d1"]
    assert run("dlq", "list", "--template", "other", "-o", "name").stdout == ""
    everywhere = run("dlq", "list", "-A", "-o", "json")
    assert {"d0", "d1"} <= {i["name"] for i in json.loads(everywhere.stdout)["items"] if i["namespace"] == namespace}


def test_dead_letter_names_complete_in_a_real_bash(run, cluster: Cluster, namespace: str, api_url: str, tmp_path):
    _dead(run, cluster, namespace, ["late", "lost"])
    env = {
        **os.environ,
        "PATH": f"{KUBETASK.parent}:{os.environ['PATH']}",
        "KUBETASK_API_URL": api_url,
        "KUBETASK_CONFIG": str(tmp_path / "config.yaml"),
    }

    assert sorted(_complete(env, f"kubetask dlq redrive -n {namespace} l")) == ["late", "lost"]
    assert _complete(env, f"kubetask dlq purge -n {namespace} la") == ["late"]


def test_redrive_dry_run_refusal_one_by_name_then_the_rest(run, cluster: Cluster, namespace: str) -> None:
    _dead(run, cluster, namespace, ["r0", "r1", "r2"])
    _fix(cluster, namespace)

    dry = run("dlq", "redrive", "--all", "--dry-run", "-o", "name")
    assert dry.exit_code == 0, dry.output
    assert sorted(dry.stdout.split()) == ["r0", "r1", "r2"]
    assert dry.stderr == "3 dead letter(s) to redrive (dry run: nothing done)\n"

    refused = run("dlq", "redrive", "--all")  # CliRunner's stdin is no terminal
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[-1] == (
        "error: refusing to redrive 3 dead letters without confirmation: pass --yes"
    )
    assert _tasks(cluster, namespace) == ["r0", "r1", "r2"]  # nothing was created

    one = run("dlq", "redrive", "r0")
    assert one.exit_code == 0, one.output
    assert one.stdout.splitlines()[1].split() == [namespace, "r0", "r0-r1"]
    assert wait_task(cluster, namespace, "r0-r1")["status"]["phase"] == "Succeeded"

    def pending() -> list[str] | None:
        names = sorted(run("dlq", "list", "--pending", "-o", "name").stdout.split())
        return names if names == ["r1", "r2"] else None

    wait_for("r0 no longer pending", pending)
    rest = run("dlq", "redrive", "--all", "--yes", "-o", "json")
    assert rest.exit_code == 0, rest.output
    assert rest.stderr == "2 dead letter(s) to redrive\n"
    assert sorted(r["task"] for r in json.loads(rest.stdout)["items"]) == ["r1-r1", "r2-r1"]
    for name in ("r1-r1", "r2-r1"):
        assert wait_task(cluster, namespace, name)["status"]["phase"] == "Succeeded"

    missing = run("dlq", "redrive", "nope")
    assert missing.exit_code == 3 and missing.stderr.startswith("error: no dead letter nope")
    assert run("dlq", "redrive", "r0", "--all").exit_code == 2
    assert run("dlq", "redrive", "r0", "--template", "flaky").exit_code == 2


def test_purge_by_name_and_all_by_filter(run, cluster: Cluster, namespace: str) -> None:
    _dead(run, cluster, namespace, ["p0", "p1"], template_name="one")
    _dead(run, cluster, namespace, ["q0"], template_name="two")

    dry = run("dlq", "purge", "--all", "--template", "one", "--dry-run")
    assert dry.exit_code == 0 and sorted(line.split()[1] for line in dry.stdout.splitlines()[1:]) == ["p0", "p1"]
    assert run("dlq", "purge", "--all", "--template", "one").exit_code == 2
    assert sorted(run("dlq", "list", "-o", "name").stdout.split()) == ["p0", "p1", "q0"]

    single = run("dlq", "purge", "q0")  # one needs no confirmation
    assert single.exit_code == 0 and single.stdout == f"deadletter {namespace}/q0 purged\n"
    assert "q0" not in _tasks(cluster, namespace)  # the Task went with it

    every = run("dlq", "purge", "--all", "--yes", "-o", "name")
    assert every.exit_code == 0 and sorted(every.stdout.split()) == ["p0", "p1"]
    assert run("dlq", "list", "-o", "name").stdout == ""
    nothing = run("dlq", "purge", "--all")
    assert nothing.exit_code == 0 and nothing.stderr == "no dead letters to purge\n"


def _converse(args: list[str], env: dict[str, str], answer: str) -> tuple[str, int]:
    """Run `kubetask ARGS` on a pty, answer its question with `answer`; (everything shown, exit code)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([str(KUBETASK), *args], stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    shown = b""
    answered = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the pty closes once the process has exited
                break
            if not chunk:
                break
            shown += chunk
        if not answered and b"[y/N]" in shown:
            os.write(leader, answer.encode() + b"\n")
            answered = True
        if proc.poll() is not None and not ready:
            break
    code = proc.wait(timeout=60)
    os.close(leader)
    return shown.decode(errors="replace").replace("\r\n", "\n"), code


def test_a_terminal_is_asked_before_acting_on_many(run, cluster: Cluster, namespace: str, api_url: str) -> None:
    _dead(run, cluster, namespace, ["c0", "c1"])
    env = {**os.environ, "KUBETASK_API_URL": api_url, "KUBETASK_NAMESPACE": namespace, "NO_COLOR": "1"}

    shown, code = _converse(["dlq", "purge", "--all"], env, "n")
    assert code == 0 and "2 dead letter(s) to purge" in shown and "purge 2 dead letters? [y/N]" in shown
    assert "nothing done" in shown
    assert sorted(run("dlq", "list", "-o", "name").stdout.split()) == ["c0", "c1"]

    shown, code = _converse(["dlq", "purge", "--all"], env, "y")
    assert code == 0, shown
    assert f"deadletter {namespace}/c0 purged" in shown and f"deadletter {namespace}/c1 purged" in shown
    assert run("dlq", "list", "-o", "name").stdout == ""
