"""Kubernetes Events on Tasks: their bodies, and the recorder that posts them off the reconcile path."""

from __future__ import annotations

import logging
import queue
import time
from datetime import datetime

from kubernetes.client.exceptions import ApiException

from kubetask.kubeapi import Body, JsonApi, resource_path
from kubetask.models import GROUP, VERSION
from kubetask.reconcile import Event

from .loops import Loop

log = logging.getLogger("kubetask.operator")
COMPONENT = "kubetask-operator"


def event_body(raw: Body, ev: Event, now: datetime) -> Body:
    """The core/v1 Event `ev` on the Task (or TaskSchedule) `raw`, as kubectl describe shows it."""
    meta = raw["metadata"]
    return {
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": raw.get("apiVersion", f"{GROUP}/{VERSION}"),
            "kind": raw.get("kind", "Task"),
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
        "type": ev.type,
        "reason": ev.reason,
        "message": ev.message[:1024],
        "firstTimestamp": now.isoformat(),
        "lastTimestamp": now.isoformat(),
        "count": 1,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
    }


class EventRecorder:
    """Posts Events from one background thread, in order, as client-go's event recorder does.

    A reconcile never waits for an Event, and during a burst Events trail the Jobs instead of
    competing with them for the apiserver: a Task's Events take as many requests as its Job create
    and status patch together, and posted inline they would delay the writes that start its pod. Bounded
    like client-go's: beyond `limit` queued Events new ones are dropped and counted in a warning.
    """

    def __init__(self, api: JsonApi, limit: int = 10_000) -> None:
        self.api = api
        self._queue: queue.Queue[tuple[str, Body]] = queue.Queue(maxsize=limit)
        self.dropped = 0
        self._loop = Loop("kubetask-events", self._post_queued)
        self._loop.start()

    def record(self, namespace: str, body: Body) -> None:
        try:
            self._queue.put_nowait((namespace, body))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("event queue full: %d Events dropped so far", self.dropped)
        else:
            self._loop.wake()

    def queued(self) -> int:
        """Events waiting to be posted (approximate: the queue's size as another thread sees it)."""
        return self._queue.qsize()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued Event was posted (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _post_queued(self) -> None:
        """Post every queued Event, oldest first; then wait for the next `record`."""
        while True:
            try:
                namespace, body = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                self.api.create(resource_path("", "v1", "events", namespace), body, decode=False)
            except ApiException as e:
                log.warning("could not post event %s: %s", body.get("reason"), e.reason)
            except Exception as e:  # the apiserver may be down for a moment: Events are best effort
                log.warning("could not post event %s: %s", body.get("reason"), e)
            finally:
                self._queue.task_done()
