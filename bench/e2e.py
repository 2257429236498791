"""Figure 6, end to end on the real node: N short echo Tasks submitted → all Succeeded, against N bare Jobs
running the same executor container on the same node; and the same Tasks with log keeping off
(`KUBETASK_OPERATOR_KEEP_LOGS=false`, the operator restarted for it) between two passes with it on.

Only a Job with condition Complete counts as finished (a Failed one is reported, not counted), and only
a Task seen Succeeded; each side's time is to the last one seen, so the ratio compares what ran. With
logs kept, a pass also records when the last pod's log finalizer went (every log in SQL): a Task is
Succeeded before its log is kept, so that is the keeper's own lag. The earlier figures' namespaces are
deleted, and each pass's before the next starts: passes never overlap.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.context import Context, log
from bench.harness import Seen, counted, parallel
from kubetask.jobs import LOG_FINALIZER

PREFIXES = ("floor", "dispatch", "idle", "scale", "api")
TIMEOUT = 1200
KEEP_LOGS_ENV = "KUBETASK_OPERATOR_KEEP_LOGS"


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
    record["kubetask"] = tasks(ctx, n, logs_kept=True)  # the operator as the run started it
    ctx.clear(("e2e",))
    with logs_off(ctx):
        record["kubetask_logs_off"] = tasks(ctx, n, logs_kept=False)
        ctx.clear(("e2e",))
    record["kubetask_again"] = tasks(ctx, n, logs_kept=True)


@contextmanager
def logs_off(ctx: Context) -> Iterator[None]:
    """The operator restarted with log keeping off, and restarted as before on the way out."""
    log("end to end: restarting the operator with KUBETASK_OPERATOR_KEEP_LOGS=false")
    ctx.op.stop()
    ctx.op.extra_env[KEEP_LOGS_ENV] = "false"
    try:
        ctx.restart_operator()
        yield
    finally:
        ctx.op.stop()
        ctx.op.extra_env.pop(KEEP_LOGS_ENV, None)
        log("end to end: restarting the operator with log keeping on")
        ctx.restart_operator()


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


def tasks(ctx: Context, n: int, *, logs_kept: bool) -> dict[str, Any]:
    log(f"end to end: {n} kubetask tasks on the node, logs kept: {logs_kept}")
    ns = ctx.namespace("e2e")
    ctx.template(ns)
    names = [f"e{i}" for i in range(n)]
    finals = ctx.tasks_final(ns)
    meter = ctx.meter()
    load_before = os.getloadavg()
    try:
        meter.start()
        t0 = time.monotonic()
        parallel(lambda x: ctx.create_task(ns, x), names)
        finals.wait_for(names, TIMEOUT)
    finally:
        finals.stop()
    out = _outcome(f"{n} Tasks Succeeded (logs kept: {logs_kept})", names, finals, "Succeeded", t0)
    out["logs_kept"] = logs_kept
    # with logs kept: until the last pod let go (its log in SQL); without: nothing holds a pod
    out["released_seconds"] = released(ctx, ns, t0, TIMEOUT) if logs_kept else None
    out["cpu_seconds"] = meter.stop()
    out["loadavg"] = {"before": list(load_before), "after": list(os.getloadavg())}
    return out


def released(ctx: Context, ns: str, t0: float, timeout: float) -> float | None:
    """Seconds from `t0` until no pod of `ns` holds the log finalizer (every log kept); None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = ctx.core.list_namespaced_pod(ns).items
        if not any(LOG_FINALIZER in (p.metadata.finalizers or []) for p in pods):
            return time.monotonic() - t0
        time.sleep(0.5)
    return None


def _outcome(what: str, names: list[str], seen: Seen, good: str, t0: float) -> dict[str, Any]:
    """Counted on the objects that reached `good`; the others that finished are reported by outcome."""
    ok = [x for x in names if seen.value.get(x) == good]
    other: dict[str, int] = {}
    for x in names:
        if x in seen.value and seen.value[x] != good:
            other[str(seen.value[x])] = other.get(str(seen.value[x]), 0) + 1
    return {**counted(what, n=len(names), seen=len(ok), seconds=seen.last(ok, t0)), "other_outcomes": other}
