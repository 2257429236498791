"""Which watch events can change a Task's decision (pure): the rest are skipped without API calls.

Without this filter every event about a Task starts a reconcile with several API calls: its
creation, its Job's creation, its pod's creation and the echo of our own status write all did
(the dispatch figures are in bench/README.md). Only these events can change what `decide()` returns:

- a pod that left `Pending`, or reports container states (running, waiting on an image,
  terminated), or is failed/evicted; a pod that is merely created, scheduled or deleted cannot
  (pending timeouts are driven by wake-ups, a vanished pod is replaced by the Job controller);
- a Job with a terminal condition (Complete/Failed), or a Job that was deleted (PodLost);
- a Task event whose resourceVersion is not the one our own status write produced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def pod_event_matters(event_type: str | None, body: Mapping[str, Any]) -> bool:
    if event_type == "DELETED":
        return False
    status = body.get("status") or {}
    if status.get("phase") not in (None, "Pending"):
        return True
    return bool(status.get("containerStatuses"))


def job_event_matters(event_type: str | None, body: Mapping[str, Any]) -> bool:
    if event_type == "DELETED" or (body.get("metadata") or {}).get("deletionTimestamp"):
        return True
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)
