"""Routes: dead letters — list, redrive one or many, purge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kubetask.store import queries

from ..auth import Access, AccessDep
from ..bodies import DeadLettersPublic, RedriveRequest, RedriveResult
from ..dead_letter_service import DeadLetterService, dead_letter_public
from ..deps import Name, Namespace, SessionsDep, SettingsDep, check_page_size, crs_for
from ..openapi import READ_MANY, READ_ONE, WRITE_BODY, errors
from ..permissions import CREATE_TASKS
from ..problems import FieldProblem, invalid

router = APIRouter(tags=["dead letters"])


def _svc(request: Request) -> DeadLetterService:
    svc: DeadLetterService = request.app.state.dead_letters
    crs = crs_for(request)  # the caller's, when the API impersonates
    return svc if crs is svc.crs else DeadLetterService(crs, svc.sessions)


def _list(
    sessions: SessionsDep,
    settings: SettingsDep,
    ns: str | None,
    template: list[str] | None,
    reason: list[str] | None,
    pending: bool,
    limit: int,
    cursor: str | None,
    access: Access | None = None,
) -> DeadLettersPublic:
    """A page of dead letters; with `access`, of the namespaces where the caller may list tasks only."""
    check_page_size(limit, settings)
    with sessions() as s:
        allowed = access.namespaces(queries.namespaces(s)) if access is not None else None
        try:
            page = queries.list_dead_letters(
                s,
                namespace=ns,
                namespaces=allowed,
                templates=template or (),
                reasons=reason or (),
                pending_only=pending,
                limit=limit,
                cursor=cursor,
            )
        except queries.CursorError as e:
            raise invalid(str(e), [FieldProblem("query:cursor", str(e))]) from e
        items = [dead_letter_public(dl, t) for dl, t in page.items]
        return DeadLettersPublic(items=items, next_cursor=page.next_cursor)


Templates = Annotated[list[str] | None, Query(description="Only these templates.")]
Reasons = Annotated[list[str] | None, Query(description="Only these failure reasons.")]
Pending = Annotated[bool, Query(description="Hide dead letters that were already redriven.")]
Limit = Annotated[int, Query(ge=1)]


@router.get("/deadletters", response_model=DeadLettersPublic, responses=errors(*READ_MANY))
def list_all(
    sessions: SessionsDep,
    settings: SettingsDep,
    access: AccessDep,
    template: Templates = None,
    reason: Reasons = None,
    pending: Pending = False,
    limit: Limit = 50,
    cursor: str | None = None,
) -> DeadLettersPublic:
    """Dead-lettered tasks in every namespace the caller may list tasks in, newest first."""
    return _list(sessions, settings, None, template, reason, pending, limit, cursor, access)


@router.get("/namespaces/{ns}/deadletters", response_model=DeadLettersPublic, responses=errors(*READ_MANY))
def list_ns(
    ns: Namespace,
    sessions: SessionsDep,
    settings: SettingsDep,
    template: Templates = None,
    reason: Reasons = None,
    pending: Pending = False,
    limit: Limit = 50,
    cursor: str | None = None,
) -> DeadLettersPublic:
    """Dead-lettered tasks in one namespace, newest first."""
    return _list(sessions, settings, ns, template, reason, pending, limit, cursor)


@router.post(
    "/namespaces/{ns}/deadletters/{name}/redrive",
    response_model=RedriveResult,
    status_code=201,
    responses=errors(*READ_ONE, 409),
)
def redrive_one(ns: Namespace, name: Name, request: Request, access: AccessDep) -> RedriveResult:
    """Re-run a dead-lettered task as a new Task linked to it (repeats return the same new task)."""
    task = _svc(request).redrive(ns, name, submitted_by=access.username)
    return RedriveResult(namespace=ns, original=name, task=task)


@router.post("/deadletters/redrive", response_model=list[RedriveResult], responses=errors(*WRITE_BODY))
def redrive_many(
    body: RedriveRequest, request: Request, sessions: SessionsDep, access: AccessDep
) -> list[RedriveResult]:
    """Redrive the listed dead letters (each namespace needs `create tasks`: else a 403, nothing redriven),
    or all not-yet-redriven ones matching the filters, in the namespaces where the caller may list and
    create tasks (a `namespace` named in the body needs `create tasks` there)."""
    allowed = None
    if body.items is not None:
        for ns in sorted({i.namespace for i in body.items}):
            access.require(ns, (CREATE_TASKS,))
    elif body.namespace:
        access.require(body.namespace, (CREATE_TASKS,))
    else:
        with sessions() as s:
            allowed = access.namespaces(queries.namespaces(s), (CREATE_TASKS,))
    return _svc(request).redrive_many(body, namespaces=allowed, submitted_by=access.username)


@router.delete("/namespaces/{ns}/deadletters/{name}", status_code=204, responses=errors(*READ_ONE))
def purge(ns: Namespace, name: Name, request: Request) -> None:
    """Delete a dead letter and its history (and the Task, if it still exists)."""
    _svc(request).purge(ns, name)
