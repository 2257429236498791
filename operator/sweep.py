"""Periodic recovery: re-check unfinished tasks, delete orphaned Jobs, re-arm TTLs after election.

Events drive the operator; this is the safety net for what events cannot tell: a watch that
missed something, a Job whose Task is gone but whose owner reference was removed (so garbage
collection will never take it), or leadership that moved to this replica. Production runs it
rarely (600 s), so tests must not lean on it: they run at that default and trigger one sweep
on demand (SIGUSR1) to show it finds nothing left to repair.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from kubetask.labels import ANNOTATION_TASK, LABEL_TASK_UID
from kubetask.models import FINAL_PHASES
from kubetask.timeutil import parse_time

from .kube import Apiserver, job_path
from .loops import Loop
from .reconciler import Reconciler

log = logging.getLogger("kubetask.operator")
ORPHAN_MIN_AGE = timedelta(seconds=60)  # a Job this young may belong to a Task created after our listing


def resync(reconciler: Reconciler, *, include_final: bool) -> int:
    """Reconcile every Task (or every unfinished one); returns how many."""
    n = 0
    tasks, version = reconciler.apiserver.list_tasks_at()
    reconciler.runs.relisted(tasks, version)  # the schedules' run index: deletions a restarted watch missed
    jobs = reconciler.apiserver.observe_all_jobs()  # listed after the Tasks: two LISTs instead of two per Task
    for t in tasks:
        meta = t["metadata"]
        phase = (t.get("status") or {}).get("phase")
        if include_final or phase not in FINAL_PHASES:
            try:
                reconciler.reconcile(meta["namespace"], meta["name"], t, jobs.get(meta["uid"], {}))
                n += 1
            except Exception:
                log.exception("resync of %s/%s failed", meta["namespace"], meta["name"])
    return n


def delete_orphans(apiserver: Apiserver, now: datetime | None = None) -> list[str]:
    """Delete Jobs labelled for a Task that no longer exists; returns their namespace/name."""
    now = now or datetime.now(UTC)
    uids = {t["metadata"]["uid"] for t in apiserver.list_tasks()}
    deleted = []
    for job in apiserver.list_task_jobs():
        meta = job["metadata"]
        ns, name = meta["namespace"], meta["name"]
        uid = (meta.get("labels") or {}).get(LABEL_TASK_UID)
        created = parse_time(meta.get("creationTimestamp"))
        if uid in uids or meta.get("deletionTimestamp") or (created and now - created < ORPHAN_MIN_AGE):
            continue
        owner = apiserver.get_task(ns, (meta.get("annotations") or {}).get(ANNOTATION_TASK, ""))
        if owner is not None and owner["metadata"]["uid"] == uid:
            continue
        # not counted as a reconcile's job-delete: the sweep reports orphans on their own
        if apiserver.json.delete(job_path(ns, name), missing_ok=True) is not None:
            deleted.append(f"{ns}/{name}")
            log.info("deleted orphaned Job %s/%s (its Task %s is gone)", ns, name, uid)
    return deleted


class Sweeper:
    """Runs the recovery sweep every `interval` seconds, and at once when `now()` is called (SIGUSR1).

    Each sweep logs one line saying what it found and changed ("sweep: ..."), so a test, or an
    operator's operator, can trigger one and see that it had nothing left to repair.
    """

    def __init__(self, reconciler: Reconciler, interval: float) -> None:
        self.reconciler = reconciler
        self.interval = interval
        self._asked = False  # set by now(): the next step is on demand
        self._loop = Loop("kubetask-sweep", self._step, first_wait=interval)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def now(self) -> None:
        """Ask for a sweep now; safe from a signal handler (it sets a flag and an Event)."""
        self._asked = True
        self._loop.wake()

    def _step(self) -> float:
        asked, self._asked = self._asked, False
        self.sweep(why="on demand" if asked else "periodic")
        return self.interval

    def sweep(self, *, why: str) -> None:
        """One sweep: re-check every unfinished Task, then delete orphaned Jobs; log what changed."""
        if not self.reconciler.acting():
            log.info("sweep (%s): skipped, this replica is not leading", why)
            return
        apiserver = self.reconciler.apiserver
        t0 = time.monotonic()
        before = apiserver.write_counts()
        try:
            checked = resync(self.reconciler, include_final=False)
            orphans = len(delete_orphans(apiserver))
        except Exception:
            log.exception("sweep (%s) failed; next one in %ss", why, self.interval)
            return
        done = apiserver.write_counts() - before  # this process's writes meanwhile (a reconcile's too)
        took = time.monotonic() - t0
        log.info(
            "sweep (%s): %d unfinished tasks re-checked, %d status writes, %d Jobs created, %d Jobs deleted, "
            "%d orphans deleted in %.1fs",
            why,
            checked,
            done["status"],
            done["job-create"],
            done["job-delete"],
            orphans,
            took,
        )
