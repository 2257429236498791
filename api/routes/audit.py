"""Routes: the audit trail of mutating and refused requests, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from kubetask.store import audit as store
from kubetask.store.queries import CursorError
from kubetask.store.tables import AuditRow

from ..auth import AccessDep
from ..bodies import AuditEventPublic, AuditEventsPublic
from ..deps import SessionsDep, SettingsDep, check_page_size
from ..openapi import READ_MANY, errors
from ..permissions import LIST_AUDIT
from ..problems import FieldProblem, invalid
from ..validation import valid_date_time

router = APIRouter(tags=["audit"])

When = Annotated[datetime | None, BeforeValidator(valid_date_time)]
Users = Annotated[list[str] | None, Query(description="Only requests of these users (repeatable).")]
Namespaces = Annotated[list[str] | None, Query(description="Only requests in these namespaces (repeatable).")]
Verbs = Annotated[list[str] | None, Query(description="Only these verbs: create, update, patch, delete, get, list.")]
Decisions = Annotated[
    list[str] | None,
    Query(description="Only these decisions: allowed, forbidden, unauthenticated, throttled, unavailable."),
]
Limit = Annotated[int, Query(ge=1, description="Page size.")]


def _public(r: AuditRow) -> AuditEventPublic:
    return AuditEventPublic(
        time=r.time,
        user=r.user,
        groups=list(r.groups or []),
        verb=r.verb,
        resource=r.resource,
        namespace=r.namespace,
        name=r.name,
        operation=r.operation,
        decision=r.decision,
        status=r.status,
        request_id=r.request_id,
        source=r.source,
    )


@router.get("/audit", response_model=AuditEventsPublic, responses=errors(*READ_MANY))
def list_audit(
    sessions: SessionsDep,
    settings: SettingsDep,
    access: AccessDep,
    user: Users = None,
    namespace: Namespaces = None,
    verb: Verbs = None,
    decision: Decisions = None,
    since: Annotated[When, Query(description="Requests received at or after this instant.")] = None,
    until: Annotated[When, Query(description="Requests received before this instant.")] = None,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(description="nextCursor of the previous page.")] = None,
) -> AuditEventsPublic:
    """Audited requests, newest first, in every namespace where the caller may `list auditevents` (a
    `namespace` filter needs it there: else a 403); rows of cluster-wide operations (no namespace) only
    for a caller granted it cluster-wide. A caller who may list it in no namespace with rows: a 403."""
    check_page_size(limit, settings)
    for ns in namespace or ():  # asked for by name: refused like `kubectl -n NS` would be
        access.require(ns, (LIST_AUDIT,))
    with sessions() as s:
        allowed = None if namespace else access.namespaces(store.namespaces(s), base=LIST_AUDIT)
        if allowed == []:  # not cluster-wide (that is None) and in no namespace with rows: the 403 says so
            access.require("", (LIST_AUDIT,))
        q = store.AuditQuery(
            namespaces=allowed,
            cluster_rows=allowed is None and not namespace,
            users=user or (),
            namespace=namespace or (),
            verbs=verb or (),
            decisions=decision or (),
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        try:
            page = store.list_audit(s, q)
        except CursorError as e:
            raise invalid(str(e), [FieldProblem("query:cursor", str(e))]) from e
        return AuditEventsPublic(items=[_public(r) for r in page.items], next_cursor=page.next_cursor)
