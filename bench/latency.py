"""Figure 2, latency: Task created → its Job seen, and pod finished → Task final, idle and under load.

The bench plays the kubelet (the control plane has none): it patches a pod to Succeeded with a
terminated container and a JSON result. Only a Task seen reaching Succeeded counts as measured; a Task
that went to any other phase, or was not seen in time, makes the pass PARTIAL.

Idle runs first, one Task at a time; load runs after figure 1, finishing every pod of its first
dispatch pass at once.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bench.context import EXECUTOR, Context, log
from bench.harness import latencies, parallel

STEP_TIMEOUT = 120


def idle(ctx: Context, record: dict[str, Any], _figures: dict[str, dict[str, Any]]) -> None:
    n = ctx.sizes.idle_n
    log(f"latency: {n} tasks one at a time (idle)")
    ns = ctx.namespace("idle")
    ctx.template(ns)
    jobs, finals = ctx.jobs_seen(ns), ctx.tasks_final(ns)
    create_lat, final_lat = [], []
    try:
        for i in range(n):
            t0 = time.monotonic()
            ctx.create_task(ns, f"i{i}")
            if not jobs.wait_for([f"i{i}-1"], STEP_TIMEOUT):
                continue
            create_lat.append(jobs.first[f"i{i}-1"] - t0)
            pods = pods_by_job(ctx, ns, [f"i{i}-1"], STEP_TIMEOUT)
            if not pods:
                continue
            t1 = time.monotonic()
            finish_pod(ctx, ns, pods[f"i{i}-1"])
            if finals.wait_for([f"i{i}"], STEP_TIMEOUT) and finals.value[f"i{i}"] == "Succeeded":
                final_lat.append(finals.first[f"i{i}"] - t1)
    finally:
        jobs.stop()
        finals.stop()
    record["idle"] = {
        "task_to_job": latencies("Task created → Job seen, one at a time", n=n, values=create_lat),
        "pod_done_to_task_final": latencies("pod finished → Task Succeeded, one at a time", n=n, values=final_lat),
    }


def load(ctx: Context, record: dict[str, Any], figures: dict[str, dict[str, Any]]) -> None:
    """Finish every pod of figure 1's first pass at once; not run (and said so) when figure 1 has none."""
    rows = figures.get("dispatch", {}).get("rows") or []
    if not rows or "namespace" not in rows[0]:
        record["load"] = {"not_run": "figure 1 left no dispatched Tasks to finish"}
        return
    ns, n = rows[0]["namespace"], rows[0]["n"]
    log(f"latency: finishing {n} pods at once (under load)")
    names = [f"t{i}" for i in range(n)]
    pods = pods_by_job(ctx, ns, [f"{x}-1" for x in names], 600)
    finals = ctx.tasks_final(ns)
    done_at: dict[str, float] = {}
    mine = [x for x in names if f"{x}-1" in pods]

    def finish(name: str) -> None:
        finish_pod(ctx, ns, pods[f"{name}-1"])
        done_at[name] = time.monotonic()

    try:
        parallel(finish, mine)
        finals.wait_for(mine, 900)
    finally:
        finals.stop()
    lat = [finals.first[x] - done_at[x] for x in mine if x in finals.first and finals.value[x] == "Succeeded"]
    other = Counter(str(finals.value[x]) for x in mine if x in finals.first and finals.value[x] != "Succeeded")
    record["load"] = {
        "pods_finished": len(mine),
        "pod_done_to_task_final": latencies(f"pod finished → Task Succeeded, {n} at once", n=n, values=lat),
        # why a pass is PARTIAL: Tasks seen final otherwise (by phase), and how often the bench's own
        # watch had to start over (its resourceVersion gone: bench.harness.Seen)
        "final_not_succeeded": dict(other),
        "watch_restarts": finals.restarts,
    }


def finish_pod(ctx: Context, ns: str, pod: str) -> None:
    """Play the kubelet: the pod's main container exited 0 with a JSON result."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = json.dumps({"ok": True})
    exited = {"exitCode": 0, "reason": "Completed", "message": result, "startedAt": now, "finishedAt": now}
    main = {"name": "main", "image": EXECUTOR, "imageID": "", "ready": False, "restartCount": 0}
    main["state"] = {"terminated": exited}
    status = {"status": {"phase": "Succeeded", "containerStatuses": [main]}}
    ctx.core.patch_namespaced_pod_status(pod, ns, status)


def pods_by_job(ctx: Context, ns: str, jobs: list[str], timeout: float) -> dict[str, str]:
    """Job name -> its pod's name, for every Job that has one by `timeout` (one LIST per poll)."""
    deadline = time.monotonic() + timeout
    while True:
        pods = ctx.core.list_namespaced_pod(ns, _preload_content=False)
        items = json.loads(pods.data)["items"]
        found = {p["metadata"]["labels"].get("job-name"): p["metadata"]["name"] for p in items}
        if all(j in found for j in jobs) or time.monotonic() > deadline:
            missing = sorted(set(jobs) - found.keys())
            if missing:
                log(f"latency: no pod for {len(missing)} Jobs ({missing[:5]}) after {timeout:.0f} s")
            return {j: found[j] for j in jobs if j in found}
        time.sleep(0.02 if len(jobs) == 1 else 1)
