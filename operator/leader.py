"""Leader election on a coordination.k8s.io/v1 Lease, so that two operator replicas never both act.

The holder renews the Lease every `renew` seconds; another replica takes over once `duration`
seconds pass without renewal. Writes use the Lease's resourceVersion, so two candidates cannot
both win the same round. A replica that cannot renew in time steps down before the Lease can be
taken over (it stops acting after `duration - renew` seconds without a successful renewal).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetask.timeutil import parse_time

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
        self.coord = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.duration, self.renew = duration, renew
        self.on_elected = on_elected
        self.leading = threading.Event()
        self._last_ok = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubetask-leader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

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

    def try_acquire(self) -> bool:
        """One round: create, renew or take over the Lease; True when we hold it afterwards."""
        now = datetime.now(UTC)
        try:
            lease: Any = self.coord.read_namespaced_lease(self.name, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise
            try:
                self.coord.create_namespaced_lease(self.namespace, cast(Any, self._body(now, 0, now, None)))
                return True
            except ApiException as e2:
                if e2.status == 409:
                    return False
                raise
        spec = lease.spec
        holder = spec.holder_identity
        renewed = parse_time(spec.renew_time) or datetime.fromtimestamp(0, UTC)
        expired = (now - renewed).total_seconds() > (spec.lease_duration_seconds or self.duration)
        if holder != self.identity and not expired:
            return False
        transitions = (spec.lease_transitions or 0) + (0 if holder == self.identity else 1)
        acquire = parse_time(spec.acquire_time) if holder == self.identity else now
        body = self._body(now, transitions, acquire or now, lease.metadata.resource_version)
        try:
            self.coord.replace_namespaced_lease(self.name, self.namespace, cast(Any, body))
        except ApiException as e:
            if e.status == 409:  # someone else wrote it this round
                return False
            raise
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
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
            self._stop.wait(self.renew if self.leading.is_set() else self.renew / 2)
