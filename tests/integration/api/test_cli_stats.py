"""`kubetask stats` against a real API, operator and cluster: phase counts per template and overall
in a table, the API's document unchanged in json/yaml, and its usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kubetask.cli import app as cli
from kubetask.testing.cluster import Cluster, create, template, wait_for, wait_task


@pytest.fixture
def run(api_url: str, namespace: str, tmp_path: Path):
    env = {"KUBETASK_CONFIG": str(tmp_path / "config.yaml"), "NO_COLOR": "1"}

    def invoke(*args: str):
        return CliRunner().invoke(cli, [*args, "-n", namespace, "--api-url", api_url], env=env)

    return invoke


def test_counts_per_template_and_overall_in_every_format(run, cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("ok", handler="echo"))
    create(cluster, namespace, "tasktemplates", template("bad", handler="fail"))
    for name, tpl in (("a", "ok"), ("b", "ok"), ("c", "bad")):
        assert run("submit", tpl, "--name", name).exit_code == 0
    for name in "abc":
        wait_task(cluster, namespace, name)

    def mirrored() -> dict[str, object] | None:
        doc: dict[str, object] = json.loads(run("stats", "-o", "json").stdout)
        return doc if doc["overall"]["byPhase"] == {"Succeeded": 2, "Failed": 1} else None  # type: ignore[index]

    doc = wait_for("three final tasks in the stats", mirrored)
    piped = subprocess.run(
        [sys.executable, "-m", "json.tool"],
        input=run("stats", "-o", "json").stdout,
        text=True,
        capture_output=True,
        check=True,
    )
    assert json.loads(piped.stdout)["perTemplate"]["ok"]["byPhase"] == {"Succeeded": 2}

    out = run("stats")
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"namespace {namespace}, ")
    assert lines[1].split() == [
        "TEMPLATE",
        "TOTAL",
        "SCHEDULED",
        "PENDING",
        "RUNNING",
        "RETRYING",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
        "DEADLETTERED",
        "SUCCESS",
        "P95",
    ]
    rows = {line.split()[0]: line.split()[1:11] for line in lines[2:]}
    assert rows == {
        "bad": ["1", "0", "0", "0", "0", "0", "1", "0", "0", "0.0%"],
        "ok": ["2", "0", "0", "0", "0", "2", "0", "0", "0", "100.0%"],
        "(all)": ["3", "0", "0", "0", "0", "2", "1", "0", "0", "66.7%"],
    }
    assert list(rows) == ["bad", "ok", "(all)"]
    assert run("stats", "-o", "wide").stdout.splitlines()[1].split()[-2:] == ["AVG", "PER-MIN"]
    assert yaml.safe_load(run("stats", "-o", "yaml").stdout)["overall"]["total"] == 3
    assert run("stats", "-o", "jsonpath={.overall.byPhase.Succeeded}").stdout == "2"
    assert run("stats", "-o", "name").stdout == "bad\nok\n"
    assert doc["perTemplate"]["bad"]["successRate"] == 0.0  # type: ignore[index]

    everywhere = json.loads(run("stats", "-A", "--window", "2h", "-o", "json").stdout)
    assert everywhere["overall"]["total"] >= 3  # other tests' tasks share the session's database


@pytest.mark.parametrize("window", ["30s", "100d", "soon"])
def test_a_window_outside_1m_to_90d_is_a_usage_error(window: str) -> None:
    out = CliRunner().invoke(cli, ["stats", "--window", window, "--api-url", "http://127.0.0.1:9"])
    assert out.exit_code == 2 and out.stderr.startswith(f"error: --window '{window}'")
