"""`kubetask end2end` on the real cluster: the sample templates pass (exit 0), a failing template
is a partial result (exit 1), a run past --timeout exits 4; `end2end -n 100` as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubetask.cli import app as cli
from kubetask.testing.cluster import Cluster, create, list_objects, template

KUBETASK = Path(sys.executable).with_name("kubetask")


@pytest.fixture
def run(api_url: str, namespace: str, tmp_path: Path):
    env = {"KUBETASK_CONFIG": str(tmp_path / "config.yaml"), "NO_COLOR": "1"}

    def invoke(*args: str):
        return CliRunner().invoke(cli, [*args, "--namespace", namespace, "--api-url", api_url], env=env)

    return invoke


def test_the_sample_templates_pass_and_are_created_once(run, cluster: Cluster, namespace: str) -> None:
    out = run("end2end", "-n", "6", "--progress", "1")

    assert out.exit_code == 0, out.output
    report = out.stdout.splitlines()
    assert report[0] == "end2end passed: 6/6 succeeded, 0 failed, 0 unfinished"
    assert report[1].startswith("run time    p50 ") and "throughput" in report[3]
    progress = out.stderr.splitlines()
    assert progress[-1].startswith("end2end ") and progress[-1].split(": ")[1].startswith("6/6 finished · Succeeded 6")
    tasks = list_objects(cluster, namespace, "tasks")
    assert sorted({t["spec"]["templateRef"]["name"] for t in tasks}) == ["e2e-command", "e2e-echo", "e2e-sleep"]
    assert all(t["status"]["result"]["index"] == int(t["metadata"]["name"].rsplit("-", 1)[1]) for t in tasks)
    templates = sorted(t["metadata"]["name"] for t in list_objects(cluster, namespace, "tasktemplates"))
    assert templates == ["e2e-command", "e2e-echo", "e2e-sleep"]

    again = run("end2end", "-n", "3", "-o", "json")  # templates present now: used as they are
    assert again.exit_code == 0, again.output
    piped = subprocess.run([sys.executable, "-m", "json.tool"], input=again.stdout, text=True, capture_output=True)
    doc = json.loads(piped.stdout)
    assert (doc["outcome"], doc["submitted"], doc["succeeded"], doc["failed"]) == ("passed", 3, 3, {})
    # run times come from second-resolution timestamps: a quick task can take 0 s
    assert doc["runSeconds"]["p95"] >= doc["runSeconds"]["p50"] >= 0
    assert run("end2end", "-n", "2", "-o", "jsonpath={.succeeded}").stdout == "2"


def test_a_failing_template_is_a_partial_result_exit_1(run, cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("good", handler="echo"))
    create(cluster, namespace, "tasktemplates", template("bad", handler="fail"))

    out = run("end2end", "-n", "4", "--template", "good", "--template", "bad", "-p", "message=boom")

    assert out.exit_code == 1, out.output
    assert out.stdout.splitlines()[0] == "end2end partial: 2/4 succeeded, 2 failed (Failed 2), 0 unfinished"
    assert out.stderr.splitlines()[-1] == "error: end2end: 2 of 4 tasks did not succeed"
    named = [line.strip() for line in out.stdout.splitlines() if line.startswith("  ")]
    assert len(named) == 2 and all(line.endswith(": Failed (NonZeroExit)") for line in named)


def test_a_run_past_its_timeout_exits_4(run, cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("nap", handler="sleep"))

    out = run("end2end", "-n", "2", "--template", "nap", "-p", "seconds=300", "--timeout", "5s", "-o", "json")

    assert out.exit_code == 4, out.output
    doc = json.loads(out.stdout)
    assert (doc["outcome"], doc["unfinished"], doc["succeeded"]) == ("timed out", 2, 0)
    assert out.stderr.splitlines()[-1] == "error: end2end: 2 of 2 tasks unfinished after 5s"


def test_usage_errors_exit_2_before_anything_is_submitted(run, cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("strict", handler="echo", paramSchema={"required": ["x"]}))

    assert run("end2end", "-n", "0").exit_code == 2
    assert run("end2end", "-p", "a=1").exit_code == 2  # params belong to --template runs
    bad = run("end2end", "--template", "strict", "-n", "3")
    assert bad.exit_code == 2 and "/params: 'x' is a required property" in bad.stderr
    assert run("end2end", "--template", "absent").exit_code == 3
    assert list_objects(cluster, namespace, "tasks") == []


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_end2end_100_passes_as_a_real_process(api_url: str, namespace: str, tmp_path: Path) -> None:
    env = {**os.environ, "KUBETASK_CONFIG": str(tmp_path / "config.yaml"), "KUBETASK_API_URL": api_url}
    proc = subprocess.run(
        [str(KUBETASK), "end2end", "-n", "100", "--namespace", namespace, "--timeout", "20m", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )

    failures = json.loads(proc.stdout).get("failures") if proc.stdout.startswith("{") else None
    assert proc.returncode == 0, f"{proc.stderr[-3000:]}\nfailures (10 at most): {failures}"
    doc = json.loads(
        subprocess.run(
            [sys.executable, "-m", "json.tool"], input=proc.stdout, text=True, capture_output=True, check=True
        ).stdout
    )
    assert (doc["outcome"], doc["submitted"], doc["succeeded"], doc["unfinished"]) == ("passed", 100, 100, 0)
    assert "finished" in proc.stderr.splitlines()[0]  # progress went to stderr, stdout is the document
