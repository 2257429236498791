"""An attempt's log through one endpoint: live from its pod while the pod exists, kept from SQL after.

Which pod: the attempt's `podName`, from the Task's status while the CR exists, else from history
(`TaskService.detail`, the same lookup as the task's own page). The live log is asked first; when the
apiserver says the pod is gone (or the attempt never had one), the log the operator kept when the
attempt ended answers (`kubetask.store.logs`). Only `tail` applies to a kept log (it has no
timestamps to cut `sinceSeconds` by), and a `follow` of one returns it and ends: it is complete.

An attempt with neither pod nor kept log is a 404 naming what is missing. Right after an attempt
ends the pod may be gone before its log is in SQL (the mirror writes it moments later, or the
database is down and the operator holds the pod until it is back): that 404 says "not kept yet",
for `RECENT_SECONDS` after the attempt ended or while it is not recorded as ended at all.

The lookups (the CR, SQL) are blocking and run in the thread pool (`run_in_threadpool`), each within
its own deadline; only the live read, which may last as long as the task, stays on the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from kubetask.store.logs import KeptLog, kept_log

from .bodies import AttemptPublic
from .pod_logs import LogQuery, PodGone, PodLogs
from .problems import not_found
from .task_service import TaskService

Source = Literal["live", "kept"]
RECENT_SECONDS = 60.0


def last_lines(text: str, n: int | None) -> str:
    """The last `n` lines of `text` (all of it for None), as the apiserver's `tailLines` cuts a log."""
    if n is None:
        return text
    if n <= 0:
        return ""
    lines = text.splitlines(keepends=True)
    return "".join(lines[-n:])


def missing_detail(attempt: AttemptPublic, task: str, *, now: datetime) -> str:
    """What a 404 says about an attempt with no pod and no kept log."""
    what = f"attempt {attempt.number} of Task {task!r}"
    if attempt.finished_at is None:
        if attempt.pod_name is None:
            return f"{what} has no pod yet (phase {attempt.phase}); retry once it runs"
        return f"{what} has no pod any more and its log is not kept yet; retry in a few seconds"
    if now - attempt.finished_at <= timedelta(seconds=RECENT_SECONDS):
        return f"{what} ended moments ago and its log is not kept yet; retry in a few seconds"
    return f"{what} has no pod any more and no kept log"


def find_attempt(attempts: list[AttemptPublic], number: int, task: str, ns: str) -> AttemptPublic:
    """The attempt numbered `number`, or a 404 saying how many there are."""
    for a in attempts:
        if a.number == number:
            return a
    have = f"it has {len(attempts)}" if attempts else "it has none yet"
    raise not_found(f"Task {task!r} in namespace {ns!r} has no attempt {number} ({have})")


@dataclass
class AttemptLog:
    """What answers: its source and its body, all at once (kept) or as it comes (live)."""

    source: Source
    chunks: AsyncIterator[bytes]
    pod: str | None = None


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


class LogService:
    def __init__(self, tasks: TaskService, sessions: sessionmaker[Session], pods: PodLogs) -> None:
        self.tasks = tasks
        self.sessions = sessions
        self.pods = pods

    def _kept(self, ns: str, name: str, number: int) -> KeptLog | None:
        with self.sessions() as s:
            return kept_log(s, ns, name, number)

    async def open(self, ns: str, name: str, number: int, query: LogQuery, *, now: datetime) -> AttemptLog:
        """The attempt's log: live while its pod exists, else kept; 404 when there is neither."""
        detail = await run_in_threadpool(self.tasks.detail, ns, name)
        attempt = find_attempt(detail.attempts, number, name, ns)
        if attempt.pod_name is not None:
            try:
                live = await self.pods.open(ns, attempt.pod_name, query)
            except PodGone:
                pass
            else:
                return AttemptLog("live", live.lines(), attempt.pod_name)
        kept = await run_in_threadpool(self._kept, ns, name, number)
        if kept is None:
            raise not_found(missing_detail(attempt, name, now=now))
        return AttemptLog("kept", _once(last_lines(kept.text, query.tail_lines).encode()), attempt.pod_name)
