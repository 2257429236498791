"""Leader election on a coordination.k8s.io/v1 Lease, so that two operator replicas never both act.

The holder renews the Lease every `renew` seconds; another replica takes over once `duration`
seconds pass without renewal. Writes use the Lease's resourceVersion, so two candidates cannot
both win the same round. A replica that cannot renew in time steps down before the Lease can be
taken over (it stops acting after `duration - renew` seconds without a successful renewal).
`on_elected` (the resync on taking the lead) runs on a thread of its own: it may take longer than
a renewal period, and the Lease must keep being renewed meanwhile. Each Lease call times out after
half a renewal period and is not retried once timed out (kubetask.kubeapi): a hung apiserver
would otherwise hold the round, and with it the step-down, for as long as it hung.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetask.kubeapi import Body, JsonApi, resource_path
from kubetask.timeutil import parse_time

from .loops import Loop

log = logging.getLogger("kubetask.operator")


def _micro(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        api: client.ApiClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        duration: float = 15.0,
        renew: float = 5.0,
        on_elected: Callable[[], object] | None = None,
    ) -> None:
        self.json = JsonApi(api, timeout=renew / 2)  # a round is one read and at most one write
        self.namespace, self.name, self.identity = namespace, name, identity
        self.duration, self.renew = duration, renew
        self.on_elected = on_elected
        self.leading = threading.Event()
        self._last_ok = 0.0
        self._loop = Loop("kubetask-leader", self._step)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _body(self, now: datetime, transitions: int, acquire: datetime, rv: str | None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if rv:
            meta["resourceVersion"] = rv
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.duration),
                "acquireTime": _micro(acquire),
                "renewTime": _micro(now),
                "leaseTransitions": transitions,
            },
        }

    def _path(self, name: str | None = None) -> str:
        return resource_path("coordination.k8s.io", "v1", "leases", self.namespace, name)

    def try_acquire(self) -> bool:
        """One round: create, renew or take over the Lease; True when we hold it afterwards."""
        now = datetime.now(UTC)
        lease = self.json.get(self._path(self.name))
        if lease is None:  # nobody ever held it: the first to create it leads
            body = self._body(now, 0, now, None)
            return _won(lambda: self.json.create(self._path(), body))
        spec: Body = lease.get("spec") or {}
        ours = spec.get("holderIdentity") == self.identity
        renewed = parse_time(spec.get("renewTime")) or datetime.fromtimestamp(0, UTC)
        expired = (now - renewed).total_seconds() > (spec.get("leaseDurationSeconds") or self.duration)
        if not ours and not expired:
            return False
        transitions = (spec.get("leaseTransitions") or 0) + (0 if ours else 1)
        acquire = (parse_time(spec.get("acquireTime")) if ours else None) or now
        body = self._body(now, transitions, acquire, lease["metadata"].get("resourceVersion"))
        return _won(lambda: self.json.replace(self._path(self.name), body))

    def _step(self) -> float:
        try:
            ok = self.try_acquire()
        except Exception as e:  # apiserver down: keep leading only while the lease cannot have expired
            log.warning("leader election: %s", e)
            ok = False
        now = time.monotonic()
        if ok:
            self._last_ok = now
            if not self.leading.is_set():
                log.info("leader election: %s now leads (lease %s/%s)", self.identity, self.namespace, self.name)
                self.leading.set()
                if self.on_elected:
                    threading.Thread(target=self.on_elected, name="kubetask-resync", daemon=True).start()
        elif self.leading.is_set() and now - self._last_ok > self.duration - self.renew:
            log.warning("leader election: %s lost the lease; standing by", self.identity)
            self.leading.clear()
        # a standby looks twice per renewal period, so it takes over soon after the Lease expires
        return self.renew if self.leading.is_set() else self.renew / 2


def _won(write: Callable[[], object]) -> bool:
    """Carry out one Lease write; False when another candidate wrote first (409: the Lease was
    created meanwhile, or its resourceVersion moved on since our read)."""
    try:
        write()
    except ApiException as e:
        if e.status == 409:
            return False
        raise
    return True
