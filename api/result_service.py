"""A task's result, whole: from its status while small, from SQL when it was too large for the CR.

Which attempt: the one that succeeded (a task has at most one), or the one asked for. Where its
result is: a result of at most 4 KiB is `status.result` of the Task (and the `result` of its
history row once the CR is gone); a larger one was framed in the pod's log, checked and kept in
SQL by the operator (`kubetask.store.results`), and the status names it (`status.largeResult`).
The body is the result's JSON text: a kept one byte for byte as the pod sent it (its sha256 is
the status' `largeResult.sha256`), a small one as the executor writes JSON (compact, UTF-8),
its keys in the order the apiserver keeps them (sorted: a CR holds the value, not its text).

No result is a 404 that says why (`missing`): no such task or attempt, not finished yet, ended
without success (its reason and message: ResultTooLarge, InvalidResult, ResultLost, ...), or a
large result the status names but SQL does not hold. The lookups are blocking (the CR, SQL): the
route is a plain `def`, run in the thread pool, each call within its own deadline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from kubetask.models import FINAL_PHASES, Phase, TaskStatus
from kubetask.store import queries
from kubetask.store.results import kept_result

from .custom_resources import CustomResources
from .problems import ProblemError, not_found
from .validation import check_namespace

Source = Literal["status", "kept"]


@dataclass(frozen=True)
class AttemptEnd:
    """What the result lookup needs of an attempt: its number and how it ended (or not yet)."""

    number: int
    phase: str
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class TaskResult:
    """The result's JSON text, the attempt that returned it, and where it was read."""

    attempt: int
    body: bytes
    source: Source

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def encode_small(value: Any) -> bytes:
    """A result from the status as JSON text, as the executor writes it (`kubetask.executor.runtime`)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _ended(a: AttemptEnd) -> str:
    why = ": ".join(p for p in (a.reason, a.message) if p)
    return f"{a.phase} ({why})" if why else a.phase


def choose(task: str, ns: str, phase: str, attempts: Sequence[AttemptEnd], wanted: int | None) -> AttemptEnd:
    """The attempt whose result answers: the one asked for, else the task's succeeded one; a 404
    naming what is missing when that attempt has no result (pure)."""
    what = f"Task {task!r} in namespace {ns!r}"
    if wanted is not None:
        found = next((a for a in attempts if a.number == wanted), None)
        if found is None:
            have = f"it has {len(attempts)}" if attempts else "it has none yet"
            raise not_found(f"{what} has no attempt {wanted} ({have})")
        if found.phase == Phase.SUCCEEDED:
            return found
        if found.phase in FINAL_PHASES:
            raise not_found(f"attempt {wanted} of {what} ended {_ended(found)}: it has no result")
        raise not_found(f"attempt {wanted} of {what} has not finished ({found.phase}); its result comes when it has")
    succeeded = [a for a in attempts if a.phase == Phase.SUCCEEDED]
    if phase == Phase.SUCCEEDED and succeeded:
        return succeeded[-1]
    if phase not in FINAL_PHASES:
        raise not_found(f"{what} has not finished ({phase}); its result comes when it succeeds")
    if not attempts:
        raise not_found(f"{what} ended {phase} without a result (no attempt ran)")
    raise not_found(f"{what} ended {phase} without a result (its last attempt: {_ended(attempts[-1])})")


def lost(task: str, ns: str, attempt: int, size: int, sha256: str) -> ProblemError:
    """The 404 of a large result the status names and SQL does not hold."""
    return not_found(
        f"the result of attempt {attempt} of Task {task!r} in namespace {ns!r} ({size} bytes, sha256 "
        f"{sha256[:12]}…) is not in SQL: it was lost (the database was reset or its row deleted)"
    )


class ResultService:
    def __init__(self, crs: CustomResources, sessions: sessionmaker[Session]) -> None:
        self.crs = crs
        self.sessions = sessions

    def result(self, ns: str, name: str, attempt: int | None = None) -> TaskResult:
        """The result of the task's succeeded attempt (or of `attempt`), whole; 404 saying why not."""
        check_namespace(ns)
        cr = self.crs.get(ns, "tasks", name)
        if cr is None:
            return self._from_history(ns, name, attempt)
        uid = str((cr.get("metadata") or {}).get("uid", ""))
        status = TaskStatus.model_validate(cr.get("status") or {})
        ends = [AttemptEnd(a.number, a.phase, a.reason, a.message) for a in status.attempts]
        chosen = choose(name, ns, status.phase, ends, attempt).number
        large = next((a.large_result for a in status.attempts if a.number == chosen), None)
        if status.large_result is not None and status.large_result.attempt == chosen:
            large = status.large_result
        if large is None:
            return TaskResult(chosen, encode_small(status.result), "status")
        with self.sessions() as s:
            body = kept_result(s, uid, chosen)
        if body is None:
            raise lost(name, ns, chosen, large.size, large.sha256)
        return TaskResult(chosen, body.encode(), "kept")

    def _from_history(self, ns: str, name: str, attempt: int | None) -> TaskResult:
        """The CR is gone: the task's history row, its attempts and the result kept for one."""
        with self.sessions() as s:
            row = queries.find_task(s, ns, name)
            if row is None:
                raise not_found(f"Task {name!r} not found in namespace {ns!r} (nor in history)")
            ends = [AttemptEnd(a.number, a.phase, a.reason, a.message) for a in queries.attempts(s, row.id)]
            chosen = choose(name, ns, row.phase, ends, attempt).number
            body = kept_result(s, row.uid, chosen)  # a large result's verdict row, when it was one
            if body is not None:
                return TaskResult(chosen, body.encode(), "kept")
            return TaskResult(chosen, encode_small(row.result), "status")
