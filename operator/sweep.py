"""Periodic recovery: re-check unfinished tasks, delete orphaned Jobs, re-arm TTLs after election.

Events drive the operator; this is the safety net for what events cannot tell: a watch that
missed something, a Job whose Task is gone but whose owner reference was removed (so garbage
collection will never take it), or leadership that moved to this replica.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException

from kubetask.jobs import ANNOTATION_TASK, LABEL_TASK_UID
from kubetask.kubeapi import resource_path
from kubetask.models import GROUP, VERSION
from kubetask.timeutil import parse_time

from .kube import Kube

log = logging.getLogger("kubetask.operator")
FINAL = ("Succeeded", "Failed", "Cancelled", "DeadLettered")
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
        if include_final or phase not in FINAL:
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
    def __init__(self, kube: Kube, interval: float) -> None:
        self.kube = kube
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubetask-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.kube.leading is not None and not self.kube.leading.is_set():
                continue
            try:
                resync(self.kube, include_final=False)
                delete_orphans(self.kube)
            except Exception:
                log.exception("periodic sweep failed; next one in %ss", self.interval)
