"""Figure 7, schedule lateness: TaskSchedules against the built-in CronJob controller, in the same run.

Lateness is *created − nominal instant*, both measured from a watch (this process's wall clock when
the event arrived, so both sides pay the same watch delay): for kubetask the run Task (its nominal
instant is its `kubetask.io/scheduled-time` annotation) and its Job (`<task>-1`, annotated with the
Task); for a `batch/v1beta1` CronJob the Job, whose nominal minute is in its name: 1.20's v1
controller names it `<cronjob>-<Unix seconds>`, the v2 controller `<cronjob>-<Unix minutes>`
(there is no annotation for it before 1.28).

A pass makes N schedules, waits until they are settled (kubetask: each has `status.nextRunTimes`),
then measures every instant in a window of whole minutes starting at the next minute boundary:
each schedule fires exactly once per minute, so the window holds N × minutes runs, and a pass reports
how many of them were seen (k of n). Patterns: kubetask `H * * * * *` (every minute at a second
hashed from namespace/name: spread) and `0 * * * * *` (every minute at second 0: all N at the same
instant); CronJob `* * * * *`, which is always all N at the same instant (its resolution is a
minute). The CronJob passes run twice: with the controller-manager as started (the v1 controller,
polling every 10 s) and after a restart with `--feature-gates=CronJobControllerV2=true`; the
controller-manager is restarted back to its default gates afterwards. Numbers are reported, never
asserted.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.context import ROOT, Context, job_body, log
from bench.harness import Seen, latencies, parallel, rss_mib
from kubetask.labels import ANNOTATION_SCHEDULED_TIME, ANNOTATION_TASK, LABEL_SCHEDULE
from kubetask.testing.cluster import GROUP, VERSION

MINUTE = 60
SETTLE_TIMEOUT = 900
SPREAD, AT_ONCE = "H * * * * *", "0 * * * * *"
CRON_EVERY_MINUTE = "* * * * *"
V2_GATE = "CronJobControllerV2=true"
CM_LOG_LINES = re.compile(r"Starting (CronJob Manager|cronjob controller v2)", re.IGNORECASE)
_CRONJOB_JOB = re.compile(r"^(?P<cronjob>.+)-(?P<stamp>[0-9]+)$")
# How each CronJob controller of 1.20 writes the nominal instant into its Jobs' names: v1's
# getTimeHash is Unix seconds, v2's getTimeHashInMinutes Unix minutes.
NAME_UNIT = {"CronJob v1": 1, "CronJob v2": MINUTE}


# -- pure parts --------------------------------------------------------------------------------------


def cronjob_nominal(job_name: str, unit: int) -> tuple[str, float] | None:
    """(CronJob, nominal instant as Unix seconds) of a Job the CronJob controller made, named
    `<cronjob>-<scheduled time in units of `unit` seconds since the epoch>` (NAME_UNIT: 1 for 1.20's
    v1 controller, 60 for v2); None for any other name."""
    m = _CRONJOB_JOB.match(job_name)
    if not m:
        return None
    return m["cronjob"], float(int(m["stamp"]) * unit)


def rfc3339_seconds(value: str) -> float:
    """Unix seconds of an RFC 3339 instant (`Z` or an offset)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def window_start(now: float, margin: float) -> float:
    """The first minute boundary at least `margin` seconds after `now` (Unix seconds)."""
    return float(math.ceil((now + margin) / MINUTE) * MINUTE)


def creation_start(now: float) -> float:
    """When a pass starts creating its schedules: right after a minute boundary (Unix seconds), so that
    creating and settling thousands of them has the whole minute before the first instant they share
    could fall due; a pass whose creation crossed one would measure an operator that was still
    catching up on runs created before the window."""
    second = now % MINUTE
    return now if second < 1 else now - second + MINUTE + 1


def in_window(nominal: dict[str, float], start: float, minutes: int) -> set[str]:
    """Names whose nominal instant lies in [start, start + minutes)."""
    stop = start + minutes * MINUTE
    return {name for name, t in nominal.items() if start <= t < stop}


def cronjob_sizes(spread: tuple[int, ...], at_once: tuple[int, ...]) -> list[int]:
    """The CronJob passes' counts: every count kubetask ran, once (a CronJob cannot spread within
    its minute, so kubetask's spread and at-once passes of one count share one baseline)."""
    return sorted(set(spread) | set(at_once))


def lateness(seen_at: dict[str, float], nominal: dict[str, float], names: set[str]) -> list[float]:
    """Seen − nominal (seconds) for each of `names` seen (both Unix seconds)."""
    return [seen_at[x] - nominal[x] for x in sorted(names) if x in seen_at and x in nominal]


# -- the figure --------------------------------------------------------------------------------------


def run(ctx: Context, record: dict[str, Any], _figures: dict[str, dict[str, Any]]) -> None:
    """kubetask's smaller passes, CronJob v1, CronJob v2, then kubetask's largest count; each row is
    appended as soon as it is measured, before its namespace is cleared."""
    s = ctx.sizes
    rows: list[dict[str, Any]] = record.setdefault("rows", [])
    record["minutes"] = s.schedule_minutes
    kubetask = [(n, SPREAD, "spread") for n in s.schedules_spread] + [
        (n, AT_ONCE, "at once") for n in s.schedules_at_once
    ]
    first, last = split_last(kubetask) if "kubetask" in s.schedule_sides else ([], [])
    for n, expr, pattern in first:
        kubetask_pass(ctx, rows, n, expr, pattern, s.schedule_minutes)
    cron_sizes = cronjob_sizes(s.schedules_spread, s.schedules_at_once)
    if "cronjob-v1" in s.schedule_sides:
        for n in cron_sizes:
            cronjob_pass(ctx, rows, n, "CronJob v1", s.schedule_minutes)
    if "cronjob-v2" in s.schedule_sides and cron_sizes:
        record["controller_manager_v2"] = restart_controller_manager(ctx, V2_GATE)
        try:
            for n in cron_sizes:
                cronjob_pass(ctx, rows, n, "CronJob v2", s.schedule_minutes)
        finally:
            record["controller_manager_back"] = restart_controller_manager(ctx, "")
    for n, expr, pattern in last:
        kubetask_pass(ctx, rows, n, expr, pattern, s.schedule_minutes)


def split_last(passes: list[tuple[int, str, str]]) -> tuple[list[tuple[int, str, str]], list[tuple[int, str, str]]]:
    """kubetask's passes of the largest count go after the CronJob baselines: the costliest pass (and
    the clearing of its namespace) cannot then cost a run its baselines when it is cut short."""
    top = max((n for n, _e, _p in passes), default=0)
    return [x for x in passes if x[0] < top], [x for x in passes if x[0] == top]


def _grace(n: int) -> float:
    """How long after the window a pass waits for its last runs: a late run is measured, not dropped."""
    return 90 + n / 20


def _cm_pid(ctx: Context) -> int:
    for line in (ctx.cluster.dir / "pids").read_text().splitlines():
        pid, name, _exe = line.split(" ", 2)
        if name == "kube-controller-manager":
            return int(pid)
    raise RuntimeError("no kube-controller-manager in the cluster's pids file")


def _memory(ctx: Context) -> dict[str, float]:
    return {"operator": ctx.rss(), "kube-controller-manager": rss_mib(_cm_pid(ctx))}


def _measure(
    ctx: Context,
    *,
    side: str,
    pattern: str,
    expr: str,
    n: int,
    minutes: int,
    ns: str,
    make: Callable[[int], Any],
    settle: Callable[[], int],
    nominals: Callable[[], dict[str, float]],
    created: dict[str, Callable[[], dict[str, float]]],
    margin: float,
) -> dict[str, Any]:
    """Create n schedules, settle, measure the window. `created` maps what is measured to when each
    run was first seen (monotonic clock, keyed by run Task or CronJob Job); its watches already run."""
    row: dict[str, Any] = {"side": side, "pattern": pattern, "schedule": expr, "n": n, "namespace": ns}
    row["loadavg"] = {"before": os.getloadavg()}  # other work on the machine shows here (2 cores)
    time.sleep(max(0.0, creation_start(time.time()) - time.time()))
    before = _memory(ctx)
    t0 = time.monotonic()
    parallel(make, range(n))
    row["settled"] = settle()
    row["create_and_settle_seconds"] = round(time.monotonic() - t0, 1)
    settled = _memory(ctx)
    start = window_start(time.time(), margin)
    row["window_start"] = datetime.fromtimestamp(start, UTC).isoformat(timespec="seconds")
    row["memory_mib"] = {k: {"before": before[k], "settled": settled[k]} for k in before}
    log(f"schedules: {side} {n} {pattern}: window from {row['window_start']} for {minutes} min")
    time.sleep(max(0.0, start - time.time()))
    cpu = ctx.meter()
    cpu.start()
    w0 = time.monotonic()
    deadline = start + minutes * MINUTE + _grace(n)
    want = n * minutes
    while time.time() < deadline:
        nominal = nominals()
        seen = [when() for when in created.values()]
        done = [x for x in in_window(nominal, start, minutes) if all(x in s for s in seen)]
        if time.time() > start + minutes * MINUTE and len(done) >= want:
            break
        time.sleep(1)
    row["cpu_seconds"] = cpu.stop()
    row["loadavg"]["after"] = os.getloadavg()
    row["measured_seconds"] = round(time.monotonic() - w0, 1)
    for k, v in _memory(ctx).items():
        row["memory_mib"][k]["end"] = v
    nominal = nominals()
    names = in_window(nominal, start, minutes)
    offset = time.time() - time.monotonic()  # Seen stamps with the monotonic clock
    for what, when in created.items():
        values = lateness({x: t + offset for x, t in when().items()}, nominal, names)
        row[what] = latencies(f"{side} {n} {pattern}: {what}", n=want, values=values)
        row[what]["min"] = min(values) if values else None
        row[what]["max"] = max(values) if values else None
    return row


def kubetask_pass(ctx: Context, rows: list[dict[str, Any]], n: int, expr: str, pattern: str, minutes: int) -> None:
    ns = ctx.namespace("sched")
    ctx.template(ns)
    tasks = Seen(
        ctx.custom.list_namespaced_custom_object,
        lambda _o: True,
        lambda o: (o["metadata"].get("annotations") or {}).get(ANNOTATION_SCHEDULED_TIME),
        group=GROUP,
        version=VERSION,
        namespace=ns,
        plural="tasks",
        label_selector=LABEL_SCHEDULE,
    )
    jobs = Seen(
        ctx.batch.list_namespaced_job,
        lambda _o: True,
        lambda o: (o["metadata"].get("annotations") or {}).get(ANNOTATION_TASK),
        namespace=ns,
    )
    ready = Seen(
        ctx.custom.list_namespaced_custom_object,
        lambda o: bool((o.get("status") or {}).get("nextRunTimes")),
        group=GROUP,
        version=VERSION,
        namespace=ns,
        plural="taskschedules",
    )
    names = [f"s{i}" for i in range(n)]

    def make(i: int) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "TaskSchedule",
            "metadata": {"name": names[i]},
            "spec": {"schedule": expr, "task": {"templateRef": {"name": "echo"}, "params": {"n": i}}},
        }
        ctx.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "taskschedules", body)

    def nominals() -> dict[str, float]:
        """Task name → its nominal instant; a Job is keyed by its Task too (below)."""
        return {x: rfc3339_seconds(v) for x, v in list(tasks.value.items()) if v}

    def jobs_by_task() -> dict[str, float]:
        return {jobs.value[j]: t for j, t in list(jobs.first.items()) if jobs.value.get(j)}

    try:
        rows.append(
            _measure(
                ctx,
                side="kubetask",
                pattern=pattern,
                expr=expr,
                n=n,
                minutes=minutes,
                ns=ns,
                make=make,
                settle=lambda: ready.wait_for(names, SETTLE_TIMEOUT),
                nominals=nominals,
                created={"Task created": lambda: dict(tasks.first), "Job created": jobs_by_task},
                margin=5,
            )
        )
    finally:
        for w in (tasks, jobs, ready):
            w.stop()
        _delete_all(ctx, ns, GROUP, VERSION, "taskschedules")
        ctx.clear(("sched",))


def cronjob_pass(ctx: Context, rows: list[dict[str, Any]], n: int, side: str, minutes: int) -> None:
    ns = ctx.namespace("cron")
    jobs = ctx.jobs_seen(ns)
    names = [f"c{i}" for i in range(n)]
    spec = job_body("x")["spec"]

    def make(i: int) -> None:
        body = {
            "apiVersion": "batch/v1beta1",
            "kind": "CronJob",
            "metadata": {"name": names[i]},
            "spec": {"schedule": CRON_EVERY_MINUTE, "jobTemplate": {"spec": spec}},
        }
        ctx.custom.create_namespaced_custom_object("batch", "v1beta1", ns, "cronjobs", body)

    def nominals() -> dict[str, float]:
        out = {}
        for j in list(jobs.first):
            parsed = cronjob_nominal(j, NAME_UNIT[side])
            if parsed:
                out[j] = parsed[1]
        return out

    try:
        rows.append(
            _measure(
                ctx,
                side=side,
                pattern="at once",
                expr=CRON_EVERY_MINUTE,
                n=n,
                minutes=minutes,
                ns=ns,
                make=make,
                settle=lambda: n,  # nothing to wait for: the controller lists CronJobs when it syncs
                nominals=nominals,
                created={"Job created": lambda: dict(jobs.first)},
                margin=15,
            )
        )
    finally:
        jobs.stop()
        _delete_all(ctx, ns, "batch", "v1beta1", "cronjobs")
        ctx.clear(("cron",))


def _delete_all(ctx: Context, ns: str, group: str, version: str, plural: str) -> None:
    """Delete the schedules first, so nothing creates runs while the namespace is being emptied."""
    try:
        ctx.custom.delete_collection_namespaced_custom_object(group, version, ns, plural)
    except Exception as e:  # the namespace clean-up below still removes them
        log(f"schedules: deleting {plural} in {ns}: {e!r}")


def restart_controller_manager(ctx: Context, gates: str) -> dict[str, Any]:
    """Restart kube-controller-manager with its default gates plus `gates`; which CronJob controller
    its log then says it started."""
    log_path = ctx.cluster.dir / "kube-controller-manager.log"
    size = log_path.stat().st_size if log_path.exists() else 0
    env = {**os.environ, "KUBETASK_CM_GATES": gates}
    subprocess.run(
        ["bash", str(ROOT / "scripts/cluster/cluster.sh"), "restart-controller-manager", str(ctx.cluster.dir)],
        env=env,
        check=True,
        capture_output=True,
    )
    started: list[str] = []
    deadline = time.monotonic() + 60
    while not started and time.monotonic() < deadline:
        time.sleep(1)
        with open(log_path, errors="replace") as f:
            f.seek(size)
            started = CM_LOG_LINES.findall(f.read())
    return {"gates": gates or "(defaults)", "cronjob_controller_log": started[-1] if started else None}
