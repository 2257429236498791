"""The audit trail's wiring: a row per mutating or refused request (what and when: `audit_policy`).

`authorize` opens each /api/v1 request's `AuditState` and, for a mutating request it lets through,
writes the row before the route runs: when that write fails the request is refused with a 503
problem (fail closed) and nothing is done. The middleware (`install`) gives each request its id
(`X-Request-Id`, echoed), and once the answer is known settles the row: the status and decision of
a mutating request's row, or a new row for a refusal (best effort: a refusal stands even when its
row cannot be written; that is logged). Every `PURGE_EVERY_SECONDS` a write also deletes the rows
older than `KUBETASK_API_AUDIT_RETENTION_DAYS`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from kubetask.store import audit as store
from kubetask.store.tables import AuditRow

from . import audit_policy as policy
from .permissions import Identity, Rule
from .problems import database_problem, unavailable

log = logging.getLogger("kubetask.api.audit")
HEADER = "X-Request-Id"
WRITE_FAILED = "the audit trail cannot be written, so nothing was done (retry later)"


@dataclass
class AuditState:
    """One request's side of the trail, from `authorize` to the answer."""

    entry: policy.Entry
    row_id: int | None = None  # the row written before the route ran
    unwritable: bool = False  # that write failed: the request was refused for it
    review_failed: bool = False  # a review could not be made (the 503 is not the route's)


def _row(e: policy.Entry) -> AuditRow:
    return AuditRow(
        time=e.time,
        user=e.user,
        groups=list(e.groups),
        verb=e.verb,
        resource=e.resource,
        namespace=e.namespace,
        name=e.name,
        operation=e.operation,
        decision=e.decision,
        status=e.status,
        request_id=e.request_id,
        source=e.source,
    )


class AuditTrail:
    def __init__(self, sessions: sessionmaker[Session], *, retention_days: int) -> None:
        self.sessions = sessions
        self.retention_days = retention_days
        self._purged: float | None = None
        self._lock = threading.Lock()

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
            with self.sessions() as s:
                state.row_id = store.record(s, _row(state.entry))
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
        """The answer is known: finish the request's row, or write a refusal's."""
        e = state.entry
        decision = policy.decision(status, review_failed=state.review_failed)
        try:
            with self.sessions() as s:
                if state.row_id is not None:
                    name = policy.created_name(location) if e.name is None and status == 201 else None
                    store.finish(s, state.row_id, status=status, decision=decision, name=name)
                elif not state.unwritable and (status in policy.REFUSED or state.review_failed):
                    store.record(s, _row(replace(e, status=status, decision=decision)))
        except sa_exc.SQLAlchemyError as err:
            what = f"{e.operation} (request {e.request_id}, status {status})"
            log.error("audit: cannot settle the row of %s: %s", what, err)

    def _purge_if_due(self) -> None:
        before = policy.cutoff(datetime.now(UTC), self.retention_days)
        now = time.monotonic()
        with self._lock:
            if before is None or not policy.purge_due(self._purged, now):
                return
            self._purged = now
        try:
            with self.sessions() as s:
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
                await run_in_threadpool(trail.settle, state, 500, None)
            raise
        response.headers[HEADER] = request.state.request_id
        state = getattr(request.state, "audit", None)
        if state is not None and (state.row_id is not None or policy.audited(request.method, response.status_code)):
            await run_in_threadpool(trail.settle, state, response.status_code, response.headers.get("location"))
        return response
