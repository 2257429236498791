"""Figure 4, operator scale: RSS with growing numbers of Tasks, and SIGKILL + restart with all of them.

Counts come from listing the Tasks, not from what the bench meant to create: figure 2 finishes the
first dispatch pass's Tasks, so "active" states how many Tasks are really not final and the rows say
how many final ones the operator also holds. A top-up counts as done only for the Tasks whose Job and
status the operator was seen to write. The restart is measured to the operator's own log line
`resync: N tasks reconciled`; no line within the timeout renders as timed out, never as a time.
"""

from __future__ import annotations

import time
from typing import Any

from bench.context import Context, log
from bench.harness import Seen, counted, parallel
from kubetask.testing.cluster import GROUP, VERSION

TOP_UP_TIMEOUT = 3600
RESTART_TIMEOUT = 1800


def snapshot(ctx: Context) -> dict[str, Any]:
    """The operator's RSS now, with the real numbers of active and final Tasks in the cluster."""
    active, final = ctx.task_counts()
    return {"active_tasks": active, "final_tasks": final, "rss_mib": ctx.rss()}


def run(ctx: Context, record: dict[str, Any], figures: dict[str, dict[str, Any]]) -> None:
    record["baseline_rss_mib"] = ctx.baseline_rss_mib
    rows: list[dict[str, Any]] = record.setdefault("rows", [])
    rows += [r["scale"] for r in figures.get("dispatch", {}).get("rows") or [] if "scale" in r]
    ns = ctx.namespace("scale")
    ctx.template(ns)
    made = 0
    for target in ctx.sizes.scale:
        active, _ = ctx.task_counts()
        if target <= active:
            continue
        log(f"scale: topping up from {active} to {target} active tasks")
        top_up = _top_up(ctx, ns, made, made + target - active)
        made += target - active
        rows.append({"target": target, "top_up": top_up, **snapshot(ctx)})
    record["restart"] = restart(ctx)


def _top_up(ctx: Context, ns: str, start: int, stop: int) -> dict[str, Any]:
    """Create Tasks s<start>..s<stop-1>; done once the operator created its Job and wrote its status."""
    names = [f"s{i}" for i in range(start, stop)]
    jobs = ctx.jobs_seen(ns)
    written = Seen(
        ctx.custom.list_namespaced_custom_object,
        lambda o: bool((o.get("status") or {}).get("phase")),
        group=GROUP,
        version=VERSION,
        namespace=ns,
        plural="tasks",
    )
    try:
        t0 = time.monotonic()
        parallel(lambda x: ctx.create_task(ns, x), names)
        jobs.wait_for([f"{x}-1" for x in names], TOP_UP_TIMEOUT)
        written.wait_for(names, max(60.0, TOP_UP_TIMEOUT - (time.monotonic() - t0)))
    finally:
        jobs.stop()
        written.stop()
    done = [x for x in names if f"{x}-1" in jobs.first and x in written.first]
    return counted(f"{len(names)} new Tasks with Job and status", n=len(names), seen=len(done))


def restart(ctx: Context) -> dict[str, Any]:
    """SIGKILL the operator, start it again, time until it has re-derived every Task."""
    total = len(ctx.tasks())
    log(f"scale: SIGKILL and restart with {total} Tasks")
    ctx.op.kill()
    t0 = time.monotonic()
    ok = ctx.op.start_and_resync(RESTART_TIMEOUT)
    seconds = time.monotonic() - t0 if ok else None
    reconciled = ctx.resynced_tasks() if ok else 0
    out = counted(f"{total} Tasks re-derived after SIGKILL", n=total, seen=reconciled or 0, seconds=seconds)
    return {**out, "timed_out": not ok, "timeout_seconds": RESTART_TIMEOUT}
