"""Figure 6, end to end on the real node: N short echo Tasks submitted → all Succeeded, against N bare Jobs
running the same executor container on the same node.

Only a Job with condition Complete counts as finished (a Failed one is reported, not counted), and only
a Task seen Succeeded; each side's time is to the last one seen, so the ratio compares what ran. The
earlier figures' namespaces are deleted, and the floor's before the Tasks start: passes never overlap.
"""

from __future__ import annotations

import time
from typing import Any

from bench.context import Context, log
from bench.harness import Seen, counted, parallel

PREFIXES = ("floor", "dispatch", "idle", "scale", "api")
TIMEOUT = 1200


def job_outcome(job: Any) -> str | None:
    """'Complete' or 'Failed' once the Job has that condition (status True), else None."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def run(ctx: Context, record: dict[str, Any], _figures: dict[str, dict[str, Any]]) -> None:
    n = ctx.sizes.e2e_n
    record["n"] = n
    log("end to end: clearing the earlier figures' namespaces")
    ctx.clear(PREFIXES)
    log("end to end: starting the node")
    ctx.node_up()
    record["floor"] = bare_jobs(ctx, n)
    ctx.clear(("e2e",))
    record["kubetask"] = tasks(ctx, n)


def bare_jobs(ctx: Context, n: int) -> dict[str, Any]:
    log(f"end to end: {n} bare Jobs on the node (floor)")
    ns = ctx.namespace("e2e-floor")
    names = [f"b{i}" for i in range(n)]
    done = Seen(ctx.batch.list_namespaced_job, lambda o: job_outcome(o) is not None, job_outcome, namespace=ns)
    try:
        t0 = time.monotonic()
        parallel(lambda x: ctx.create_job(ns, x), names)
        done.wait_for(names, TIMEOUT)
    finally:
        done.stop()
    return _outcome(f"{n} bare Jobs Complete", names, done, "Complete", t0)


def tasks(ctx: Context, n: int) -> dict[str, Any]:
    log(f"end to end: {n} kubetask tasks on the node")
    ns = ctx.namespace("e2e")
    ctx.template(ns)
    names = [f"e{i}" for i in range(n)]
    finals = ctx.tasks_final(ns)
    try:
        t0 = time.monotonic()
        parallel(lambda x: ctx.create_task(ns, x), names)
        finals.wait_for(names, TIMEOUT)
    finally:
        finals.stop()
    return _outcome(f"{n} Tasks Succeeded", names, finals, "Succeeded", t0)


def _outcome(what: str, names: list[str], seen: Seen, good: str, t0: float) -> dict[str, Any]:
    """Counted on the objects that reached `good`; the others that finished are reported by outcome."""
    ok = [x for x in names if seen.value.get(x) == good]
    other: dict[str, int] = {}
    for x in names:
        if x in seen.value and seen.value[x] != good:
            other[str(seen.value[x])] = other.get(str(seen.value[x]), 0) + 1
    return {**counted(what, n=len(names), seen=len(ok), seconds=seen.last(ok, t0)), "other_outcomes": other}
