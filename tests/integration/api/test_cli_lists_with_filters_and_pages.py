"""`kubetask list` filters and pages through the real API: --phase with exclusions, --template, -l,
--since, -A, --limit and --all over the cursor."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import Result

from kubetask.testing.cluster import Cluster, create, template, wait_for


def _names(r: Result) -> list[str]:
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return sorted(r.stdout.split())


def test_list_filters_and_pages(cluster: Cluster, namespace: str, kt) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    create(cluster, namespace, "tasktemplates", template("fail", handler="fail"))
    for name, tpl, team in (("e1", "echo", "a"), ("e2", "echo", "b"), ("f1", "fail", "a")):
        r = kt("submit", tpl, "--name", name, "-l", f"team={team}", "-p", "message=x")
        assert r.exit_code == 0, r.stderr

    def all_final() -> dict[str, Any] | None:
        page = json.loads(kt("list", "-o", "json").stdout)
        phases = sorted(t["phase"] for t in page["items"])
        return page if phases == ["Failed", "Succeeded", "Succeeded"] else None

    wait_for("three finished tasks in the history", all_final, timeout=120)

    assert _names(kt("list", "-o", "name")) == ["e1", "e2", "f1"]
    assert _names(kt("list", "--phase", "Failed", "-o", "name")) == ["f1"]
    assert _names(kt("list", "--phase", "!Failed", "-o", "name")) == ["e1", "e2"]
    assert _names(kt("list", "--phase", "Succeeded,Failed", "--phase", "!Succeeded", "-o", "name")) == ["f1"]
    assert _names(kt("list", "--template", "echo", "-o", "name")) == ["e1", "e2"]
    assert _names(kt("list", "-l", "team=a", "-o", "name")) == ["e1", "f1"]
    assert _names(kt("list", "-l", "team=a", "--phase", "!Failed", "-o", "name")) == ["e1"]
    assert _names(kt("list", "--since", "1h", "-o", "name")) == ["e1", "e2", "f1"]
    assert _names(kt("list", "--sort", "name", "-o", "name")) == ["e1", "e2", "f1"]
    assert kt("list", "--sort", "name", "-o", "name").stdout == "e1\ne2\nf1\n"

    wide = kt("list", "--phase", "Failed", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == [
        "NAME",
        "TEMPLATE",
        "PHASE",
        "ATTEMPTS",
        "DURATION",
        "AGE",
        "REASON",
        "CREATED",
        "FINISHED",
        "RESULT",
        "LABELS",
    ]
    assert wide[1].split()[:3] == ["f1", "fail", "Failed"] and wide[1].split()[-1] == "team=a"
    assert "NonZeroExit" in wide[1].split()

    first = json.loads(kt("list", "--limit", "1", "--sort", "name", "-o", "json").stdout)
    assert [t["name"] for t in first["items"]] == ["e1"] and first["nextCursor"]
    every = json.loads(kt("list", "--limit", "1", "--sort", "name", "--all", "-o", "json").stdout)
    assert [t["name"] for t in every["items"]] == ["e1", "e2", "f1"] and "nextCursor" not in every

    across = json.loads(kt("list", "-A", "--limit", "500", "--all", "-o", "json").stdout)
    assert sorted(t["name"] for t in across["items"] if t["namespace"] == namespace) == ["e1", "e2", "f1"]
    table = kt("list", "-A", "-l", "team=b").stdout.splitlines()
    assert table[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert [line.split()[:2] for line in table[1:]] == [[namespace, "e2"]]

    empty = kt("list", "--phase", "Running")
    assert (empty.exit_code, empty.stdout, empty.stderr) == (0, "", "No resources found.\n")
    assert json.loads(kt("list", "--phase", "Running", "-o", "json").stdout) == {"items": [], "nextCursor": None}
    bad = kt("list", "-l", "team in a")
    assert bad.exit_code == 3 and bad.stderr.startswith("error: 422 ") and "query:labelSelector" in bad.stderr
    assert kt("list", "--since", "yesterday").exit_code == 2
