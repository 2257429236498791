"""Periodic recovery: re-check unfinished tasks, delete orphaned Jobs, re-arm TTLs after election.

Events drive the operator; this is the safety net for what events cannot tell: a watch that
missed something, a Job whose Task is gone but whose owner reference was removed (so garbage
collection will never take it), or leadership that moved to this replica. Production runs it
rarely (600 s), so tests must not lean on it: they run at that default and trigger one sweep
on demand (SIGUSR1) to show it finds nothing left to repair.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException

from kubetask.kubeapi import resource_path
from kubetask.labels import ANNOTATION_TASK, LABEL_TASK_UID
from kubetask.models import FINAL_PHASES, GROUP, VERSION
from kubetask.timeutil import parse_time

from .kube import Kube

log = logging.getLogger("kubetask.operator")
ORPHAN_MIN_AGE = timedelta(seconds=60)  # a Job this young may belong to a Task created after our listing


def _tasks(kube: Kube) -> list[dict[str, Any]]:
    return kube.json.list(resource_path(GROUP, VERSION, "tasks"))


def resync(kube: Kube, *, include_final: bool) -> int:
    """Reconcile every Task (or every unfinished one); returns how many."""
    n = 0
    tasks = _tasks(kube)
    jobs = kube.observe_all_jobs()  # listed after the Tasks: two LISTs instead of two per Task
    for t in tasks:
        phase = (t.get("status") or {}).get("phase")
        if include_final or phase not in FINAL_PHASES:
            try:
                kube.reconcile(t["metadata"]["namespace"], t["metadata"]["name"], t, jobs.get(t["metadata"]["uid"], {}))
                n += 1
            except Exception:
                log.exception("resync of %s/%s failed", t["metadata"]["namespace"], t["metadata"]["name"])
    return n


def delete_orphans(kube: Kube, now: datetime | None = None) -> list[str]:
    """Delete Jobs labelled for a Task that no longer exists; returns their namespace/name."""
    now = now or datetime.now(UTC)
    uids = {t["metadata"]["uid"] for t in _tasks(kube)}
    deleted = []
    for job in kube.json.list(resource_path("batch", "v1", "jobs"), LABEL_TASK_UID):
        meta = job["metadata"]
        ns, name = meta["namespace"], meta["name"]
        uid = (meta.get("labels") or {}).get(LABEL_TASK_UID)
        created = parse_time(meta.get("creationTimestamp"))
        if uid in uids or meta.get("deletionTimestamp") or (created and now - created < ORPHAN_MIN_AGE):
            continue
        owner = kube.get_task(ns, (meta.get("annotations") or {}).get(ANNOTATION_TASK, ""))
        if owner is not None and owner["metadata"]["uid"] == uid:
            continue
        try:
            kube.json.delete(resource_path("batch", "v1", "jobs", ns, name))
            deleted.append(f"{ns}/{name}")
            log.info("deleted orphaned Job %s/%s (its Task %s is gone)", ns, name, uid)
        except ApiException as e:
            if e.status != 404:
                raise
    return deleted


class Sweeper:
    """Runs the recovery sweep every `interval` seconds, and at once when `now()` is called (SIGUSR1).

    Each sweep logs one line saying what it found and changed ("sweep: ..."), so a test, or an
    operator's operator, can trigger one and see that it had nothing left to repair.
    """

    def __init__(self, kube: Kube, interval: float) -> None:
        self.kube = kube
        self.interval = interval
        self._stop = threading.Event()
        self._asked = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubetask-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._asked.set()

    def now(self) -> None:
        """Ask for a sweep now; safe from a signal handler (it only sets an Event)."""
        self._asked.set()

    def _run(self) -> None:
        while True:
            asked = self._asked.wait(self.interval)
            self._asked.clear()
            if self._stop.is_set():
                return
            self.sweep(why="on demand" if asked else "periodic")

    def sweep(self, *, why: str) -> None:
        """One sweep: re-check every unfinished Task, then delete orphaned Jobs; log what changed."""
        if self.kube.leading is not None and not self.kube.leading.is_set():
            log.info("sweep (%s): skipped, this replica is not leading", why)
            return
        t0 = time.monotonic()
        before = self.kube.write_counts()
        try:
            checked = resync(self.kube, include_final=False)
            orphans = len(delete_orphans(self.kube))
        except Exception:
            log.exception("sweep (%s) failed; next one in %ss", why, self.interval)
            return
        done = self.kube.write_counts() - before  # this process's writes meanwhile (a reconcile's too)
        log.info(
            "sweep (%s): %d unfinished tasks re-checked, %d status writes, %d Jobs created, %d Jobs deleted, "
            "%d orphans deleted in %.1fs",
            why, checked, done["status"], done["job-create"], done["job-delete"], orphans, time.monotonic() - t0,
        )  # fmt: skip
