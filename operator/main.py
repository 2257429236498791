"""`kubetask-operator`: run the kopf controller with kubetask's handlers.

Every apiserver request of the process (kopf's own aiohttp client, our JSON calls, the Lease)
carries one User-Agent naming this replica, so the apiserver's audit log says which replica
wrote what. SIGUSR1 runs one recovery sweep at once (see `sweep.Sweeper`).

The threads of the process, and what each owns:

- kopf's event loop (the main thread, `kopf.run`): the watches of Tasks, TaskTemplates, Jobs and
  pods, and the `when` filters that drop events with nothing new; kopf's worker threads
  (`workers` of them) run the handlers, each a `Reconciler.reconcile` under the Task's lock.
- kubetask-requeue (`requeue.Requeue`): the wake-ups (retry delays, timeouts, TTLs), one per Task.
- kubetask-schedules-N (`requeue.Requeue`, `scheduleWorkers` threads): the TaskSchedules' passes —
  each one's next due instant, a deferred status write, and a pass soon after one of its runs
  finished (`schedules.ScheduleController`); a schedule is never in two of them at once.
- kubetask-mirror (`mirror.Mirror`): the SQL mirror's writes, queued and coalesced per Task.
- kubetask-events (`events.EventRecorder`): posting the Tasks' Kubernetes Events, in order.
- kubetask-leader (`leader.LeaderElector`, with leader election): the Lease; it sets `leading`,
  and on taking the lead runs the start-up resync in a thread of its own.
- kubetask-logs (`logs.LogKeeper`, with the mirror and `keep_logs`): reading each ended attempt's log
  into SQL, then removing its pod's `kubetask.io/log` finalizer.
- kubetask-sweep (`sweep.Sweeper`): the periodic and on-demand recovery sweep.
- kubetask-resync (without leader election): the start-up resync (`_resync_all`), once:
  every Task re-derived from one listing while kopf's re-listed Task events are held.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import kopf
from prometheus_client import start_http_server

from kubetask.kubeapi import load_client
from kubetask.store import default_url, make_engine

from . import sweep
from .handlers import OperatorMemo
from .kube import Apiserver
from .leader import LeaderElector
from .logs import LogKeeper
from .metrics import OperatorMetrics
from .mirror import Mirror
from .reconciler import Reconciler
from .requeue import Requeue
from .schedules import ScheduleController
from .settings import OperatorSettings

log = logging.getLogger("kubetask.operator")
_IDENTITY = ("namespace", "task", "schedule", "uid", "attempt")


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{k}={getattr(record, k)}" for k in _IDENTITY if hasattr(record, k))
        return f"{line} [{ids}]" if ids else line


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: getattr(record, k) for k in _IDENTITY if hasattr(record, k)})
        return json.dumps(out)


def setup_logging(settings: OperatorSettings) -> None:
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(
        _Json() if settings.log_format == "json" else _Text("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=settings.log_level.upper(), handlers=[h], force=True)
    # kopf logs every handled event at INFO ("Handler ... succeeded"): thousands of lines a minute under
    # load, and formatting them is a visible share of the operator's CPU while dispatching. Keep them for DEBUG.
    if settings.log_level.upper() != "DEBUG":
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _AgentConnection(kopf.ConnectionInfo):
    """kopf's credentials plus our User-Agent: kopf builds its aiohttp session's headers from
    `as_http_headers()` and adds its own `kopf/<version>` only when none is set."""

    user_agent: str = ""

    def as_http_headers(self) -> dict[str, str]:
        return {**super().as_http_headers(), "User-Agent": self.user_agent}


def login_with_user_agent(user_agent: str) -> None:
    """Register a kopf login handler: the client library's credentials (as kopf's default login) with
    `user_agent` on every request of kopf's own client."""

    @kopf.on.login()
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info = kopf.login_via_client(**kwargs)
        if info is None:
            return None
        fields = {f.name: getattr(info, f.name) for f in dataclasses.fields(info)}
        return _AgentConnection(**fields, user_agent=user_agent)


def _until_done(reconciler: Reconciler, what: str, attempt: Callable[[], bool]) -> None:
    """Call `attempt` until it returns True, with capped backoff, while this replica acts."""
    delay = 1.0
    while reconciler.acting():
        try:
            if attempt():
                return
        except Exception:
            log.exception("%s failed; trying again in %.0fs", what, delay)
        time.sleep(delay)
        delay = min(delay * 2, 60.0)


def _resync_all(reconciler: Reconciler) -> None:
    """On start or on taking the lead: re-derive every Task (and re-arm wake-ups and TTLs) from one
    listing of Tasks, Jobs and pods; kopf's own re-listed Task events wait meanwhile (`Reconciler.hold`).

    A listing that fails (the apiserver unreachable, or not answering within the list timeout) is
    tried again with capped backoff while this replica acts: the periodic sweep would come only
    much later and skips finished Tasks, whose TTLs this resync re-arms. Held events are handled
    between tries."""

    def attempt() -> bool:
        t0 = time.monotonic()
        reconciler.hold()
        try:
            n = sweep.resync(reconciler, include_final=True)
        finally:
            replayed = reconciler.release()
        log.info("resync: %d tasks reconciled in %.1fs (%d changed meanwhile)", n, time.monotonic() - t0, replayed)
        return True

    _until_done(reconciler, "resync", attempt)


def _on_elected(reconciler: Reconciler, schedules: ScheduleController, logs: LogKeeper | None) -> None:
    """On taking the lead: the Tasks' resync, every pod waiting for its log to be kept, then every
    TaskSchedule from one listing. (Without election kopf's own first listings of pods and
    TaskSchedules do both.)"""
    if reconciler.metrics is not None:
        reconciler.metrics.forget_all()  # what this replica knew as a standby: the resync says it anew
    _resync_all(reconciler)
    if logs is not None:
        keeper = logs

        def relist() -> bool:
            log.info("logs: %d ended pods waiting for their log to be kept", keeper.relist(keeper_timeout, namespaces))
            return True

        keeper_timeout, namespaces = reconciler.apiserver.list_timeout, reconciler.apiserver.namespaces
        _until_done(reconciler, "listing pods whose log is to be kept", relist)

    def attempt() -> bool:
        schedules.start_acting()
        return True

    _until_done(reconciler, "listing TaskSchedules", attempt)


def log_keeper(
    settings: OperatorSettings, apiserver: Apiserver, mirror: Mirror | None, reconciler: Reconciler
) -> LogKeeper | None:
    """The log keeper when logs are kept (the mirror and `keep_logs`), not started, and the reconciler
    told so: only then do Jobs' pods carry the log finalizer and may frame a result over 4 KiB."""
    if mirror is None or not settings.keeps_logs:
        return None
    reconciler.keep_logs = True
    reconciler.result_max_bytes = settings.result_max_bytes
    return LogKeeper(
        apiserver.json,
        mirror.engine,
        head_bytes=settings.log_head_bytes,
        tail_bytes=settings.log_tail_bytes,
        wait_seconds=settings.log_keep_wait_seconds,
        result_max_bytes=settings.result_max_bytes,
    )


def start_metrics(settings: OperatorSettings, reconciler: Reconciler) -> OperatorMetrics | None:
    """The metrics, wired to what they count and served on `metrics_port` (None: no metrics at all).
    Every JSON apiserver client of the process reports its requests; the gauges read their state
    at scrape time (README, "Metrics")."""
    if settings.metrics_port is None:
        return None
    metrics = OperatorMetrics()
    apiserver = reconciler.apiserver
    apiserver.json.observe = metrics.request  # the Lease's client too, once it exists (main)
    state = metrics.state
    state.leading = reconciler.acting
    state.events_dropped = lambda: apiserver.events.dropped
    state.events_queued = apiserver.events.queued
    if reconciler.mirror is not None:
        state.mirror_depth = reconciler.mirror.backlog
    reconciler.metrics = metrics
    start_http_server(settings.metrics_port, addr=settings.metrics_address, registry=metrics.registry)
    log.info("metrics: http://%s:%d/metrics", settings.metrics_address, settings.metrics_port)
    return metrics


def liveness_endpoint(settings: OperatorSettings) -> str | None:
    """kopf's own /healthz on `liveness_port` (None: none). It answers while kopf's event loop runs, so the
    chart's livenessProbe restarts a hung operator."""
    return None if settings.liveness_port is None else f"http://0.0.0.0:{settings.liveness_port}/healthz"


def main() -> None:
    settings = OperatorSettings()
    setup_logging(settings)
    mirror = None
    if settings.mirror:
        mirror = Mirror(make_engine(settings.database_url or default_url()))
        mirror.start()
    api = load_client(settings.user_agent)
    login_with_user_agent(settings.user_agent)
    apiserver = Apiserver(
        api,
        timeout=settings.kubernetes_timeout_seconds,
        list_timeout=settings.list_timeout_seconds,
        namespaces=settings.namespaces,
    )
    reconciler = Reconciler(apiserver, mirror)
    logs = log_keeper(settings, apiserver, mirror, reconciler)
    if logs is not None:
        logs.start()
    requeue = Requeue(reconciler.reconcile)
    reconciler.requeue = requeue.at
    requeue.start()
    schedules = ScheduleController(
        apiserver, mirror, template=reconciler.template, acting=reconciler.acting, runs=reconciler.runs
    )
    schedule_wakeups = Requeue(schedules.wake, name="kubetask-schedules", workers=settings.schedule_workers)
    schedules.requeue = schedule_wakeups.at
    reconciler.on_run_finished = schedules.run_changed
    schedule_wakeups.start()
    sweeper = sweep.Sweeper(reconciler, settings.resync_seconds)
    # kill -USR1: one sweep now, same code path as the periodic one (tests show it finds nothing to repair).
    # Installed before the start-up resync, so once its log line is out the signal is safe to send.
    signal.signal(signal.SIGUSR1, lambda *_: sweeper.now())
    metrics = start_metrics(settings, reconciler)
    schedules.metrics = metrics
    if settings.leader_election:
        leader = LeaderElector(
            api,
            namespace=settings.lease_namespace,
            name=settings.lease_name,
            identity=settings.identity,
            duration=settings.lease_seconds,
            renew=settings.lease_seconds / 3,
            on_elected=lambda: _on_elected(reconciler, schedules, logs),
        )
        reconciler.leading = leader.leading
        if metrics is not None:
            leader.json.observe = metrics.request
        leader.start()
    else:
        reconciler.hold()  # before kopf starts listing
        resync = threading.Thread(target=_resync_all, args=(reconciler,), name="kubetask-resync", daemon=True)
        resync.start()
    sweeper.start()
    kopf.run(
        standalone=settings.standalone,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=liveness_endpoint(settings),
        memo=OperatorMemo(reconciler=reconciler, settings=settings, schedules=schedules, logs=logs),
    )
    apiserver.events.flush(5)  # post what is queued before exiting


if __name__ == "__main__":
    main()
