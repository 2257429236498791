"""A handler's `ctx.progress` is seen while it runs, in the task's API detail and in the CLI, at no
apiserver write: the API reads the last progress frame from the pod's log tail (a GET of `pods/log`).

The handler (`kubetask.testing.progress_handler`) counts to 20, one step a second, reporting each
step: 20 frames in 20 s. The apiserver's audit log is the oracle for the write count: no write to
the Task (object or status, by anyone) between the first and the last progress seen, and over the
whole run no more writes than a `sleep` task of the same length that reports nothing (run
alongside: what the phase transitions alone explain), give or take the one write per 30 s the
issue allows. Measured on the node: 1 create and 4 status patches for each of the two, none of
them between the Running and the Succeeded write.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from typer.testing import Result

from kubetask.testing.audit import WRITE_VERBS, AuditRequest
from kubetask.testing.cluster import Cluster, create, template, wait_for, wait_task
from kubetask.testing.progress_handler import MODULE
from kubetask.testing.tokens import admin_headers

STEPS = 20


def _detail(http: httpx.Client, ns: str, name: str) -> dict[str, Any]:
    r = http.get(f"/api/v1/namespaces/{ns}/tasks/{name}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _shown(writes: list[AuditRequest]) -> list[str]:
    return [f"{w.verb} {w.subresource or 'object'} {w.received}" for w in writes]


def test_progress_is_shown_while_the_task_runs_and_costs_no_apiserver_write(
    cluster: Cluster, namespace: str, api_url: str, kt: Callable[..., Result]
) -> None:
    env = [{"name": "KUBETASK_HANDLER_MODULES", "value": MODULE}]
    create(cluster, namespace, "tasktemplates", template("count", handler="count-slowly", env=env))
    create(cluster, namespace, "tasktemplates", template("sleep", handler="sleep"))
    audit = cluster.audit()
    start = audit.mark()
    for args in (("count", "--name", "counting", "-p", f"steps={STEPS}"), ("sleep", "--name", "control")):
        submitted = kt("submit", *args, "-p", f"seconds={1 if args[0] == 'count' else STEPS}")
        assert submitted.exit_code == 0, submitted.stderr

    seen: list[dict[str, Any]] = []
    with httpx.Client(base_url=api_url, timeout=30, headers=admin_headers(cluster)) as http:

        def progressed() -> dict[str, Any] | None:
            d = _detail(http, namespace, "counting")
            p = d.get("progress")
            if p is not None and (not seen or p != seen[-1]):
                seen.append(p)
            return p

        first = wait_for("the first progress in the detail", progressed, timeout=120)
        first_mark = audit.mark()
        assert first["attempt"] == 1 and first["total"] == STEPS and first["message"].startswith("step ")
        table = kt("get", "counting").stdout.splitlines()  # the CLI, while it runs
        assert table[0].split()[-1] == "PROGRESS", table
        assert re.fullmatch(r"counting +count +Running +1 .* (\d+)/20 \d+% step \1 of 20", table[1]), table
        as_json = kt("get", "counting", "-o", "json")
        assert as_json.exit_code == 0 and '"progress"' in as_json.stdout, as_json.stderr

        late = wait_for("progress past step 15", lambda: (p := progressed()) and p["current"] >= 15 and p)
        last_mark = audit.mark()
        assert late["current"] > first["current"]
        done = wait_task(cluster, namespace, "counting", timeout=120)
        assert done["status"]["phase"] == "Succeeded" and done["status"]["result"] == {"counted": STEPS}
        assert wait_task(cluster, namespace, "control", timeout=120)["status"]["phase"] == "Succeeded"
        after = _detail(http, namespace, "counting")
    assert after["phase"] == "Succeeded" and after.get("progress") is None  # once ended: its outcome answers

    # increasing, as the handler counted; several values seen by polling
    currents = [p["current"] for p in seen]
    assert currents == sorted(currents) and len(set(currents)) >= 5, currents
    assert all(p["time"] for p in seen)

    cluster.audit_sync()

    def task_writes(since: int, name: str = "counting") -> list[AuditRequest]:
        return audit.requests(since=since, verb=WRITE_VERBS, resource="tasks", namespace=namespace, name=name)

    from_first, from_last = task_writes(first_mark), task_writes(last_mark)
    during = from_first[: len(from_first) - len(from_last)]  # the log's entries between the two marks
    assert during == [], [(w.verb, w.subresource, w.user_agent) for w in during]
    # over the whole run: what the lifecycle writes for a task that reports nothing (the `sleep`
    # control, run alongside for as long); one more would still be within "at most one per 30 s"
    counted, control = task_writes(start), task_writes(start, "control")
    assert len(counted) <= len(control) + 1, (_shown(counted), _shown(control))
    assert [w.subresource for w in counted].count("status") <= [w.subresource for w in control].count("status") + 1
