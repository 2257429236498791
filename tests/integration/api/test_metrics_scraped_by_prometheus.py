"""A real Prometheus (Debian's, on loopback) scrapes the session's operator and the API while tasks
of every outcome run — Succeeded, Failed, DeadLettered, Cancelled, and a TaskSchedule's runs —
then: the counts it holds match what the cluster says happened; every PromQL expression of the
chart's Grafana board (charts/kubetask/dashboards/kubetask.json; there is no Grafana server
package here) returns data; and no label value of any kubetask series is a task's name or uid.

Other tests share the operator, one at a time: counts of this test's namespace are read as they
are, the ones without a namespace label as the increase between a scrape before and one after.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from kubetask.testing.cluster import GROUP, VERSION, Cluster, OperatorProcess, create, list_objects, wait_for
from kubetask.testing.prometheus import PrometheusServer, prometheus
from kubetask.testing.tokens import admin_headers

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "charts/kubetask/dashboards/kubetask.json"
IMAGE = {"image": "kubetask/executor:dev", "imagePullPolicy": "IfNotPresent"}
FINAL = {"Succeeded", "Failed", "DeadLettered", "Cancelled"}


def board_expressions() -> list[str]:
    """Every panel target's PromQL, the board's variables set to "all"."""
    board = json.loads(BOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    return [e.replace("$namespace", ".*").replace("$job", ".*") for e in exprs]


def _values(prom: PrometheusServer, expr: str, by: str, at: float | None = None) -> dict[str, float]:
    return {r["metric"].get(by, ""): float(r["value"][1]) for r in prom.query(expr, at)}


def _post(cluster: Cluster, api: str, path: str, body: dict[str, Any], code: int = 201) -> None:
    r = httpx.post(f"{api}{path}", json=body, timeout=30, headers=admin_headers(cluster))
    assert r.status_code == code, r.text


def _phases(cluster: Cluster, ns: str) -> dict[str, str]:
    return {t["metadata"]["name"]: (t.get("status") or {}).get("phase", "") for t in list_objects(cluster, ns, "tasks")}


def test_prometheus_sees_what_the_tasks_did(
    cluster: Cluster, operator: OperatorProcess, api_url: str, namespace: str
) -> None:
    target = operator.metrics_target
    assert target is not None, "the session's operator serves no metrics"
    jobs = {"kubetask-operator": [target], "kubetask-api": [api_url.removeprefix("http://")]}
    with prometheus(jobs, interval=1.0) as prom:
        prom.wait_scraped()
        before = time.time()
        failures_before = _values(prom, "sum by (reason) (kubetask_task_failures_total)", "reason", before)
        runs_before = sum(_values(prom, "sum(kubetask_schedule_runs_total)", "", before).values())

        ns = f"/api/v1/namespaces/{namespace}"
        retry = {"maxAttempts": 2, "delaySeconds": 1, "jitter": "none"}
        for name, spec in {
            "echo": {**IMAGE, "handler": "echo"},
            "once": {**IMAGE, "handler": "fail", "retry": {"maxAttempts": 1}},
            "twice": {**IMAGE, "handler": "fail", "retry": retry},
            "nap": {**IMAGE, "handler": "sleep"},
        }.items():
            _post(cluster, api_url, f"{ns}/templates", {"name": name, "spec": spec})
        submitted = {"ok-1": "echo", "ok-2": "echo", "bad": "once", "doomed": "twice", "stopped": "nap"}
        for name, tmpl in submitted.items():
            params = {"seconds": 120} if tmpl == "nap" else {"message": name}
            _post(cluster, api_url, f"{ns}/tasks", {"name": name, "template": tmpl, "params": params})
        wait_for("stopped Running", lambda: _phases(cluster, namespace).get("stopped") == "Running", timeout=180)
        _post(cluster, api_url, f"{ns}/tasks/stopped/cancel", {}, code=202)
        # an apiserver answer that is not 2xx, on purpose (the board's error panel needs one): the
        # API reads a Task that does not exist (404 from the apiserver, then history)
        ghost = httpx.get(f"{api_url}{ns}/tasks/ghost", headers=admin_headers(cluster), timeout=30)
        assert ghost.status_code == 404, ghost.text
        run = {"templateRef": {"name": "echo"}, "params": {"message": "s"}}
        schedule = {"schedule": "*/2 * * * * *", "successfulHistoryLimit": 100, "task": run}  # no run deleted
        meta = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskSchedule", "metadata": {"name": "often"}}
        create(cluster, namespace, "taskschedules", {**meta, "spec": schedule})
        wait_for("two scheduled runs", lambda: len(_phases(cluster, namespace)) >= len(submitted) + 2, timeout=120)
        suspend = {"spec": {"suspend": True}}
        cluster.custom().patch_namespaced_custom_object(GROUP, VERSION, namespace, "taskschedules", "often", suspend)

        def all_final() -> dict[str, str] | None:
            p = _phases(cluster, namespace)
            return p if p and all(v in FINAL for v in p.values()) else None

        phases = wait_for("every Task final", all_final, timeout=240)
        finals = {k: float(v) for k, v in Counter(phases.values()).items()}
        finished_q = f'sum by (result) (kubetask_tasks_finished_total{{namespace="{namespace}"}})'
        # a condition, not a pause: Prometheus has scraped the operator since its last final write
        wait_for("the final counts scraped", lambda: _values(prom, finished_q, "result") == finals, timeout=60)
        prom.wait_scraped()
        after = time.time()

        # the counts match what the cluster says happened
        expected = Counter(phases.values())
        assert expected == Counter({"Succeeded": expected["Succeeded"], "Failed": 1, "DeadLettered": 1, "Cancelled": 1})
        finished = f'sum by (result) (kubetask_tasks_finished_total{{namespace="{namespace}"}})'
        assert _values(prom, finished, "result", after) == {k: float(v) for k, v in expected.items()}
        gauge = f'sum by (phase) (kubetask_tasks{{namespace="{namespace}"}})'
        assert _values(prom, gauge, "phase", after) == {k: float(v) for k, v in expected.items()}
        waited = f'sum(kubetask_task_dispatch_wait_seconds_count{{namespace="{namespace}"}})'
        assert _values(prom, waited, "", after) == {"": float(len(phases))}  # every Task's first Job, once
        failures = _values(prom, "sum by (reason) (kubetask_task_failures_total)", "reason", after)
        grew = {r: v - failures_before.get(r, 0.0) for r, v in failures.items() if v > failures_before.get(r, 0.0)}
        assert grew == {"NonZeroExit": 2.0}  # `once` Failed, `doomed` DeadLettered; Cancelled is no failure
        runs = sum(_values(prom, "sum(kubetask_schedule_runs_total)", "", after).values())
        assert runs - runs_before == len(phases) - len(submitted)
        posts = 'kubetask_api_requests_total{route="/api/v1/namespaces/{ns}/tasks",method="POST",code="201"}'
        assert sum(_values(prom, posts, "", after).values()) >= len(submitted)
        assert _values(prom, "sum(kubetask_leader)", "", after) == {"": 1.0}

        # every expression of the board has data
        empty = [e for e in board_expressions() if not prom.query(e, after)]
        assert not empty, "board expressions without data:\n" + "\n".join(empty)

        # no label value names a task
        tasks = list_objects(cluster, namespace, "tasks")
        secret = {t["metadata"]["name"] for t in tasks} | {t["metadata"]["uid"] for t in tasks}
        series = prom.query('{__name__=~"kubetask_.*"}', after)
        assert len(series) > 50, len(series)
        named = [s["metric"] for s in series if secret & set(s["metric"].values())]
        assert not named, named[:5]


def test_the_board_uses_only_kubetask_metrics_and_every_one_of_its_kinds() -> None:
    exprs = board_expressions()
    names = {n for e in exprs for n in re.findall(r"\b(kubetask_[a-z_]+)", e)}
    assert names, exprs
    for wanted in (
        "kubetask_tasks_finished_total",
        "kubetask_task_failures_total",
        "kubetask_task_dispatch_wait_seconds_bucket",
        "kubetask_task_duration_seconds_bucket",
        "kubetask_mirror_queue_depth",
        "kubetask_event_queue_depth",
        "kubetask_schedule_lateness_seconds_bucket",
        "kubetask_apiserver_requests_total",
        "kubetask_leader",
    ):
        assert wanted in names, wanted
    other = {m for e in exprs for m in re.findall(r"\b([a-z_]+)\{", e)} - names
    assert not other, other  # no series outside kubetask's own
