"""Routes: submit, read, list and delete tasks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BeforeValidator

from kubetask.models import Phase
from kubetask.selectors import SelectorError, parse
from kubetask.store import queries

from ..auth import Access, AccessDep
from ..bodies import AttemptPublic, EventPublic, TaskCreate, TaskDetail, TaskPublic, TasksPublic
from ..deps import Name, Namespace, SessionsDep, SettingsDep, TasksDep
from ..openapi import READ_MANY, READ_ONE, WRITE_BODY, errors
from ..problems import FieldProblem, invalid
from ..task_service import public_from_row
from ..validation import valid_date_time

router = APIRouter(tags=["tasks"])


_LOCATION = {"Location": {"description": "The task's URL.", "schema": {"type": "string"}}}
_REPLAYED = {"Idempotent-Replayed": {"description": "`true`: an earlier request made this task.", "schema": {}}}
_SUBMITTED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Created.", "headers": _LOCATION},
    200: {
        "model": TaskPublic,
        "description": "A repeat of an earlier request's `Idempotency-Key`: the task that request created.",
        "headers": {**_LOCATION, **_REPLAYED},
    },
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=256,
        description="A repeat with the same key returns the task of the first request (200), once it exists.",
    ),
]


@router.post(
    "/namespaces/{ns}/tasks",
    status_code=201,
    response_model=TaskPublic,
    responses={**_SUBMITTED, **errors(*WRITE_BODY, 409)},
)
def create_task(
    ns: Namespace,
    body: TaskCreate,
    tasks: TasksDep,
    access: AccessDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> TaskPublic:
    """Create a Task from a template and params (validated first; nothing is created on error)."""
    task, created = tasks.create(ns, body, idempotency_key, submitted_by=access.username)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/namespaces/{ns}/tasks/{task.name}"
    return task


@router.get("/namespaces/{ns}/tasks/{name}", response_model=TaskDetail, responses=errors(*READ_ONE))
def get_task(ns: Namespace, name: Name, tasks: TasksDep) -> TaskDetail:
    """One task: live status from the cluster merged with its history; a running attempt's progress."""
    return tasks.detail(ns, name, progress=True)


@router.post(
    "/namespaces/{ns}/tasks/{name}/cancel", response_model=TaskPublic, status_code=202, responses=errors(*READ_ONE, 409)
)
def cancel_task(ns: Namespace, name: Name, tasks: TasksDep) -> TaskPublic:
    """Stop the task: its running attempt's Job is deleted, phase becomes Cancelled; history stays."""
    return tasks.cancel(ns, name)


@router.delete("/namespaces/{ns}/tasks/{name}", status_code=202, responses=errors(*READ_ONE))
def delete_task(ns: Namespace, name: Name, tasks: TasksDep) -> dict[str, str]:
    """Delete the Task (its Jobs and pods go with it; its history stays)."""
    tasks.delete(ns, name)
    return {"status": "deleting", "name": name, "namespace": ns}


@router.get("/namespaces/{ns}/tasks/{name}/attempts", response_model=list[AttemptPublic], responses=errors(*READ_ONE))
def get_attempts(ns: Namespace, name: Name, tasks: TasksDep) -> list[AttemptPublic]:
    """The task's attempts, oldest first."""
    return tasks.attempts(ns, name)


@router.get("/namespaces/{ns}/tasks/{name}/events", response_model=list[EventPublic], responses=errors(*READ_ONE))
def get_events(ns: Namespace, name: Name, tasks: TasksDep) -> list[EventPublic]:
    """The task's transitions, oldest first."""
    return tasks.events(ns, name)


Template = Annotated[list[str] | None, Query(description="Only these templates (repeatable).")]
PhaseQ = Annotated[list[Phase] | None, Query(description="Only these phases (repeatable).")]
Selector = Annotated[str | None, Query(alias="labelSelector", description="Kubernetes label selector.")]
When = Annotated[datetime | None, BeforeValidator(valid_date_time)]  # with its timezone: no naive times
Text = Annotated[str | None, Query(max_length=253, description="Substring of the task name.")]
Sort = Annotated[
    str,
    Query(
        description="created, name, finished or duration; '-' for descending.",
        json_schema_extra={"enum": list(queries.SORT_KEYS)},
    ),
]
Limit = Annotated[int, Query(ge=1, description="Page size.")]
Cursor = Annotated[str | None, Query(description="nextCursor of the previous page.")]


def list_query(
    settings: SettingsDep,
    template: Template = None,
    phase: PhaseQ = None,
    label_selector: Selector = None,
    created_after: Annotated[When, Query(alias="createdAfter")] = None,
    created_before: Annotated[When, Query(alias="createdBefore")] = None,
    finished_after: Annotated[When, Query(alias="finishedAfter")] = None,
    finished_before: Annotated[When, Query(alias="finishedBefore")] = None,
    q: Text = None,
    sort: Sort = "-created",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> queries.TaskQuery:
    """The list filters of a request, checked all at once (422 naming every bad parameter)."""
    problems = []
    try:
        selector = parse(label_selector or "")
    except SelectorError as e:
        problems.append(FieldProblem("query:labelSelector", str(e)))
        selector = []
    if sort not in queries.SORT_KEYS:
        problems.append(FieldProblem("query:sort", f"sort must be one of {', '.join(queries.SORT_KEYS)}"))
    if limit > settings.max_page_size:
        problems.append(FieldProblem("query:limit", f"limit must be at most {settings.max_page_size}"))
    if problems:
        raise invalid("; ".join(f"{p.pointer}: {p.message}" for p in problems), problems)
    return queries.TaskQuery(
        templates=template or (),
        phases=phase or (),
        selector=selector,
        created_after=created_after,
        created_before=created_before,
        finished_after=finished_after,
        finished_before=finished_before,
        q=q,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )


ListQuery = Annotated[queries.TaskQuery, Depends(list_query)]


def _page(sessions: SessionsDep, query: queries.TaskQuery, access: Access | None = None) -> TasksPublic:
    """A page of the query; with `access`, of the namespaces where the caller may list tasks only."""
    with sessions() as s:
        if access is not None:
            query = replace(query, namespaces=access.namespaces(queries.namespaces(s)))
        try:
            page = queries.list_tasks(s, query)
        except queries.CursorError as e:
            raise invalid(str(e), [FieldProblem("query:cursor", str(e))]) from e
        return TasksPublic(items=[public_from_row(r, live=True) for r in page.items], next_cursor=page.next_cursor)


@router.get("/tasks", response_model=TasksPublic, responses=errors(*READ_MANY))
def list_all_tasks(sessions: SessionsDep, query: ListQuery, access: AccessDep) -> TasksPublic:
    """Tasks in every namespace the caller may list tasks in, from history: filter, sort, paginate with a cursor."""
    return _page(sessions, query, access)


@router.get("/namespaces/{ns}/tasks", response_model=TasksPublic, responses=errors(*READ_MANY))
def list_namespace_tasks(ns: Namespace, sessions: SessionsDep, query: ListQuery) -> TasksPublic:
    """Tasks in one namespace, from history: filter, sort, paginate with a cursor."""
    return _page(sessions, replace(query, namespace=ns))
