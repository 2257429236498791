"""The audit trail's wiring: a row per mutating or refused request (what and when: `audit_policy`).

`authorize` opens each /api/v1 request's `AuditState` and, for a mutating request it lets through,
writes the row before the route runs: when that write fails the request is refused with a 503
problem (fail closed) and nothing is done. The middleware (`install`) gives each request its id
(`X-Request-Id`, echoed), and once the answer is known settles the row: the status and decision of
a mutating request's row, or a new row for a refusal, queued for a writer thread that writes them
in batches (best effort: an answer stands even when its row's update cannot be written; that is
logged). Every `PURGE_EVERY_SECONDS` a write also deletes the rows older than
`KUBETASK_API_AUDIT_RETENTION_DAYS`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from kubetask.store import audit as store

from . import audit_policy as policy
from .permissions import Identity, Rule
from .problems import database_problem, unavailable

log = logging.getLogger("kubetask.api.audit")
HEADER = "X-Request-Id"
BATCH = 500  # rows' answers and refusals per transaction, at most
WRITE_FAILED = "the audit trail cannot be written, so nothing was done (retry later)"


@dataclass
class AuditState:
    """One request's side of the trail, from `authorize` to the answer."""

    entry: policy.Entry
    row_id: int | None = None  # the row written before the route ran
    unwritable: bool = False  # that write failed: the request was refused for it
    review_failed: bool = False  # a review could not be made (the 503 is not the route's)


def _values(e: policy.Entry) -> dict[str, Any]:
    return {
        "time": e.time,
        "user": e.user,
        "groups": list(e.groups),
        "verb": e.verb,
        "resource": e.resource,
        "namespace": e.namespace,
        "name": e.name,
        "operation": e.operation,
        "decision": e.decision,
        "status": e.status,
        "request_id": e.request_id,
        "source": e.source,
    }


class _Writer:
    """The rows that may come after the answer (statuses, refusals), written by one thread of their
    own in batches: whatever has queued up while the last batch was written goes in one transaction,
    so a busy API commits far less often than it answers, and no request waits for them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.SimpleQueue[tuple[str, dict[str, Any]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None  # started by the first row: an idle app has none
        self._lock = threading.Lock()

    def put(self, kind: str, values: dict[str, Any]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()
        self._queue.put((kind, values))

    def close(self, timeout: float = 10) -> None:
        """Write what is queued, then stop (a later row starts the thread again)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            while item is not None and len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
            self._write([i for i in batch if i is not None])
            if batch[-1] is None:
                return

    def _write(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        if not batch:
            return
        try:
            with self.engine.begin() as conn:
                store.record_many(conn, [v for kind, v in batch if kind == "refusal"])
                store.finish_many(conn, [v for kind, v in batch if kind == "answer"])
        except sa_exc.SQLAlchemyError as err:  # best effort: the requests were answered already
            log.error("audit: cannot write %d rows' answers and refusals: %s", len(batch), err)


class AuditTrail:
    def __init__(self, engine: Engine, *, retention_days: int) -> None:
        self.engine = engine
        self.retention_days = retention_days
        self._purged: float | None = None
        self._lock = threading.Lock()
        self._writer = _Writer(engine)

    def close(self) -> None:
        self._writer.close()

    def open(self, request: Request, operation: str, found: Rule | None) -> AuditState:
        """The request's state, before anyone is known (`identify` adds the caller)."""
        e = policy.entry(
            time=datetime.now(UTC),
            method=request.method,
            operation=f"{request.method.upper()} {operation}",
            rule=found,
            path_params={k: str(v) for k, v in request.path_params.items()},
            request_id=getattr(request.state, "request_id", None) or policy.request_id(None),
            who=None,
            source=request.client.host if request.client else None,
        )
        state = AuditState(e)
        request.state.audit = state
        return state

    @staticmethod
    def identify(state: AuditState, who: Identity) -> None:
        state.entry = replace(state.entry, user=who.username, groups=who.groups)

    def begin(self, state: AuditState) -> None:
        """Write a let-through mutating request's row before it acts; a 503 problem when it cannot be."""
        try:
            with self.engine.begin() as conn:
                state.row_id = store.record(conn, _values(state.entry))
        except sa_exc.SQLAlchemyError as e:
            state.unwritable = True
            e_ = state.entry
            log.error("audit: cannot write the row of %s (request %s): %s", e_.operation, e_.request_id, e)
            problem = database_problem(e)
            if problem.status != 503:
                raise problem from e
            raise unavailable(f"{WRITE_FAILED}: {problem.detail}") from e
        self._purge_if_due()

    def settle(self, state: AuditState, status: int, location: str | None) -> None:
        """The answer is known: queue the request's row's answer, or a refusal's row (never blocks)."""
        e = state.entry
        decision = policy.decision(status, review_failed=state.review_failed)
        if state.row_id is not None:
            created = policy.created_name(location) if e.name is None and status == 201 else None
            answer = {"row_id": state.row_id, "status": status, "decision": decision, "created": created}
            self._writer.put("answer", answer)
        elif not state.unwritable and (status in policy.REFUSED or state.review_failed):
            self._writer.put("refusal", _values(replace(e, status=status, decision=decision)))

    def _purge_if_due(self) -> None:
        before = policy.cutoff(datetime.now(UTC), self.retention_days)
        now = time.monotonic()
        with self._lock:
            if before is None or not policy.purge_due(self._purged, now):
                return
            self._purged = now
        try:
            with Session(self.engine) as s:
                gone = store.purge(s, before)
            if gone:
                log.info("audit: deleted %d rows older than %d days", gone, self.retention_days)
        except sa_exc.SQLAlchemyError as err:
            log.warning("audit: retention purge failed (tried again in an hour): %s", err)


def install(app: FastAPI, trail: AuditTrail) -> None:
    """Request ids on every request; the trail settled once a request opened in it is answered."""

    @app.middleware("http")
    async def audit(request: Request, call_next):  # type: ignore[no-untyped-def]
        request.state.request_id = policy.request_id(request.headers.get(HEADER))
        try:
            response: Response = await call_next(request)
        except Exception:
            state = getattr(request.state, "audit", None)
            if state is not None:
                trail.settle(state, 500, None)
            raise
        response.headers[HEADER] = request.state.request_id
        state = getattr(request.state, "audit", None)
        if state is not None and (state.row_id is not None or policy.audited(request.method, response.status_code)):
            trail.settle(state, response.status_code, response.headers.get("location"))
        return response
