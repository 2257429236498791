"""What one operator process remembers between reconciles: one record per Task, as kopf keeps one
memory per object (`kopf/_core/reactor/inventory.py`), plus the template cache and the Task bodies
held while a full resync runs.

Nothing here is needed for correctness after a restart: every record is re-derived by the start-up
resync. The records only save reads (a body we wrote ourselves is fresh enough to decide on) and
skip work (the echo of our own status write; Tasks re-listed while the resync handles them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kubetask.models import TaskTemplate, TaskTemplateSpec

Key = tuple[str, str]  # (namespace, name)


@dataclass
class TaskRecord:
    """One Task's memory; `lock` serialises its reconciles, the other fields change under the guard."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    written: str | None = None  # resourceVersion of our last status write
    decided: str | None = None  # resourceVersion of the last Task version decided on
    waiting_for: str | None = None  # the TaskTemplate it waits for (TemplateNotFound)


def _newer_or_equal(version: str, than: str) -> bool:
    """Whether resourceVersion `version` is at least `than` (etcd revisions: integers in practice;
    anything else only counts when equal)."""
    if version.isdigit() and than.isdigit():
        return int(version) >= int(than)
    return version == than


class TaskMemory:
    """The records by (namespace, name), the template cache and the held bodies, under one guard."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._records: dict[Key, TaskRecord] = {}
        self._templates: dict[Key, TaskTemplateSpec] = {}  # kept current by template events
        self._held: dict[Key, dict[str, Any]] | None = None  # Task events held during a full resync

    def record(self, ns: str, name: str) -> TaskRecord:
        """The Task's record, made on first use."""
        with self._guard:
            return self._records.setdefault((ns, name), TaskRecord())

    def forget(self, ns: str, name: str) -> None:
        """Drop a deleted Task's record (and a body held for it)."""
        with self._guard:
            self._records.pop((ns, name), None)
            if self._held is not None:
                self._held.pop((ns, name), None)

    def written(self, rec: TaskRecord) -> str | None:
        with self._guard:
            return rec.written

    def note_written(self, rec: TaskRecord, resource_version: str) -> None:
        """Our status write made this version: it is also the last one decided on."""
        with self._guard:
            rec.written = rec.decided = resource_version

    def note_decided(self, rec: TaskRecord, resource_version: str) -> None:
        with self._guard:
            rec.decided = resource_version

    def decided(self, ns: str, name: str, resource_version: str) -> bool:
        """Whether this Task version was already decided on (typically: the echo of our own status write,
        or a re-listed Task the start-up resync just handled). Changes of its Jobs and pods and timed
        wake-ups reconcile on their own, so a Task event for this version has nothing new to tell."""
        with self._guard:
            rec = self._records.get((ns, name))
            return rec is not None and rec.decided == resource_version

    def superseded(self, ns: str, name: str, resource_version: str) -> bool:
        """Whether a version at least this new was decided on."""
        with self._guard:
            rec = self._records.get((ns, name))
            done = rec.decided if rec is not None else None
        return done is not None and _newer_or_equal(done, resource_version)

    # -- templates -------------------------------------------------------------------------------

    def note_waiting(self, rec: TaskRecord, template: str | None, *, missing: bool) -> None:
        """Remember whether the Task waits for `template` (None: it names no template)."""
        if template is None:
            return
        with self._guard:
            if missing:
                rec.waiting_for = template
            elif rec.waiting_for == template:
                rec.waiting_for = None

    def tasks_using_template(self, ns: str, template: str) -> list[str]:
        """Tasks this process last saw waiting for `template` to exist (TemplateNotFound).

        Kept in memory instead of listing every Task of the namespace on each template event (a LIST of
        every Task per template at every start-up); after a restart the start-up resync re-derives it.
        A scan of the records is cheap next to one apiserver call, so no index is kept beside them."""
        with self._guard:
            return sorted(n for (ns_, n), r in self._records.items() if ns_ == ns and r.waiting_for == template)

    def cache_template(self, ns: str, name: str, body: dict[str, Any] | None) -> None:
        """Keep the template cache current (None: deleted)."""
        if body is None:
            with self._guard:
                self._templates.pop((ns, name), None)
            return
        spec = TaskTemplate.model_validate(body).spec
        with self._guard:
            self._templates[(ns, name)] = spec

    def cached_template(self, ns: str, name: str) -> TaskTemplateSpec | None:
        with self._guard:
            return self._templates.get((ns, name))

    # -- holding Task events during a full resync ------------------------------------------------

    def hold(self) -> None:
        """Start keeping the newest body per Task instead of reconciling it."""
        with self._guard:
            if self._held is None:
                self._held = {}

    def held(self, ns: str, name: str, body: dict[str, Any]) -> bool:
        """Keep `body` for after the resync; False when events are not being held."""
        with self._guard:
            if self._held is None:
                return False
            self._held[(ns, name)] = body
            return True

    def stop_holding(self) -> dict[Key, dict[str, Any]]:
        """Stop holding; the bodies held meanwhile."""
        with self._guard:
            held, self._held = self._held or {}, None
        return held
