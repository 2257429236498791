"""Figure 1, dispatch throughput: N Task CRs → N Jobs, against two floors measured in the same run.

Floor 1 is N bare Jobs from the same client; floor 2 is, with the operator stopped, the writes kubetask
needs per Task (create the Task, create its Job, patch the Task's status) from a plain client: what no
operator can beat on this machine. Each pass records how many of its N Jobs were seen; rates divide
what was seen by the time to the last one seen, so a pass cut short by its deadline shows as PARTIAL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench import scale
from bench.context import Context, job_body, log, task_body
from bench.harness import Seen, counted, latencies, parallel
from kubetask.testing.cluster import GROUP, VERSION
from kubetask.testing.ports import free_port

FLOOR_TIMEOUT = 900
KUBETASK_TIMEOUT = 1800
METRICS_PORT_ENV = "KUBETASK_OPERATOR_METRICS_PORT"


def run(ctx: Context, record: dict[str, Any], _figures: dict[str, dict[str, Any]]) -> None:
    """One row per size, appended as soon as it is measured (a later size failing keeps the earlier)."""
    rows: list[dict[str, Any]] = record.setdefault("rows", [])
    for n in ctx.sizes.dispatch:
        row: dict[str, Any] = {"n": n}
        rows.append(row)
        row["floor"] = bare_jobs(ctx, n)
        # The floor's Jobs each got a pod: clear them first so the next pass does not pay for them.
        ctx.clear(("floor",))
        row["writes_floor"] = writes_floor(ctx, n)
        row.update(through_kubetask(ctx, n))
        row["scale"] = scale.snapshot(ctx)
        if n == ctx.sizes.dispatch[0]:  # the smallest size only: two more passes and two restarts
            row["metrics"] = metrics_on_and_off(ctx, n)


def _timed_pass(
    ctx: Context, ns: str, what: str, names: list[str], make: Callable[[int], Any], timeout: float
) -> tuple[dict[str, Any], Seen]:
    """Run `make` over range(len(names)) from 8 threads; Jobs `names` seen in `ns`, with CPU per component."""
    seen = ctx.jobs_seen(ns)
    try:
        cpu = ctx.meter()
        cpu.start()
        t0 = time.monotonic()
        parallel(make, range(len(names)))
        k = seen.wait_for(names, timeout)
        used = cpu.stop()
    finally:
        seen.stop()
    return {**counted(what, n=len(names), seen=k, seconds=seen.last(names, t0)), "cpu_seconds": used}, seen


def bare_jobs(ctx: Context, n: int) -> dict[str, Any]:
    log(f"dispatch: {n} Jobs directly (floor)")
    ns = ctx.namespace("floor")
    names = [f"j{i}" for i in range(n)]
    return _timed_pass(ctx, ns, f"{n} bare Jobs seen", names, lambda i: ctx.create_job(ns, names[i]), FLOOR_TIMEOUT)[0]


def writes_floor(ctx: Context, n: int) -> dict[str, Any]:
    """Second floor: the writes kubetask makes per Task, from a plain client with the operator stopped."""
    log(f"dispatch: {n} x (Task + Job + status) from a plain client, operator stopped (second floor)")
    ctx.op.stop()
    ns = ctx.namespace("floor-writes")

    def write(i: int) -> None:
        task = ctx.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasks", task_body(f"w{i}"))
        job = job_body(f"w{i}-1")
        owner = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Task", "name": f"w{i}", "controller": True}
        job["metadata"]["ownerReferences"] = [{**owner, "uid": task["metadata"]["uid"]}]
        ctx.batch.create_namespaced_job(ns, job)
        attempt = {"number": 1, "jobName": f"w{i}-1", "phase": "Pending"}
        status = {"phase": "Pending", "attemptCount": 1, "attempts": [attempt]}
        ctx.custom.patch_namespaced_custom_object_status(GROUP, VERSION, ns, "tasks", f"w{i}", {"status": status})

    names = [f"w{i}-1" for i in range(n)]
    try:
        return _timed_pass(ctx, ns, f"{n} Task+Job+status Jobs seen", names, write, FLOOR_TIMEOUT)[0]
    finally:
        # Gone before the operator starts again: it would otherwise adopt n Tasks it did not dispatch.
        ctx.clear(("floor",))
        ctx.restart_operator()


def through_kubetask(ctx: Context, n: int, prefix: str = "dispatch") -> dict[str, Any]:
    log(f"dispatch: {n} Tasks through kubetask ({prefix})")
    ns = ctx.namespace(prefix)
    ctx.template(ns)
    created: dict[str, float] = {}

    def make(i: int) -> None:
        created[f"t{i}"] = time.monotonic()
        ctx.create_task(ns, f"t{i}")

    names = [f"t{i}-1" for i in range(n)]
    kubetask, seen = _timed_pass(ctx, ns, f"{n} Tasks' Jobs seen", names, make, KUBETASK_TIMEOUT)
    lat = [seen.first[f"{t}-1"] - c for t, c in created.items() if f"{t}-1" in seen.first]
    under_load = latencies(f"Task created → Job seen, {n} at once", n=n, values=lat)
    return {"kubetask": kubetask, "task_to_job_latency_under_load": under_load, "namespace": ns}


class Scraper:
    """GET /metrics every `every` seconds from a thread, as Prometheus would (at 1 s, harsher than
    the usual 15–30 s); counts the answers that carried kubetask's metrics."""

    def __init__(self, url: str, every: float = 1.0) -> None:
        self.url, self.every = url, every
        self.scrapes = self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-scraper", daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.wait(self.every):
                try:
                    ok = "kubetask_reconciles_total" in http.get(self.url).text
                except httpx.HTTPError:
                    ok = False
                self.scrapes += ok
                self.failures += not ok

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, int]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(15)
        return {"scrapes": self.scrapes, "failures": self.failures}


def metrics_on_and_off(ctx: Context, n: int) -> dict[str, Any]:
    """The kubetask pass again with the operator's metrics on (served and scraped every second),
    then once more with them off, each in a namespace of its own deleted afterwards; the pass
    before (figure 2's Tasks) was off too, so two "off" passes bracket the "on" one."""
    port = free_port()
    on_env = {METRICS_PORT_ENV: str(port), "KUBETASK_OPERATOR_METRICS_ADDRESS": "127.0.0.1"}
    out: dict[str, Any] = {}
    log("dispatch: restarting the operator with its metrics on")
    ctx.op.stop()
    ctx.op.extra_env.update(on_env)
    scraper = Scraper(f"http://127.0.0.1:{port}/metrics")
    try:
        ctx.restart_operator()
        scraper.start()
        out["on"] = through_kubetask(ctx, n, "metrics")["kubetask"]
    finally:
        out["scraper"] = scraper.stop()
        ctx.op.stop()
        for key in on_env:
            ctx.op.extra_env.pop(key, None)
        ctx.restart_operator()  # before the namespace goes: its Tasks' finalizers need an operator
        ctx.clear(("metrics",))
    out["off_again"] = through_kubetask(ctx, n, "nometrics")["kubetask"]
    ctx.clear(("nometrics",))
    return out
