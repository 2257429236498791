"""Route: a task's result, whole (`kubetask.api.result_service`): small from its status, large from SQL."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from kubetask.models._numbers import INT32_MAX

from ..deps import Name, Namespace
from ..openapi import READ_ONE, errors
from ..result_service import ResultService

router = APIRouter(tags=["tasks"])

ATTEMPT_HEADER = "X-Kubetask-Result-Attempt"
SHA256_HEADER = "X-Kubetask-Result-Sha256"
SOURCE_HEADER = "X-Kubetask-Result-Source"
_HEADERS = {
    ATTEMPT_HEADER: {"description": "The attempt that returned the result.", "schema": {"type": "integer"}},
    SHA256_HEADER: {
        "description": "SHA-256 (hex) of the body; for a large result, the status' `largeResult.sha256`.",
        "schema": {"type": "string"},
    },
    SOURCE_HEADER: {
        "description": "`status`: a result of at most 4 KiB, from the Task's status (or its history); "
        "`kept`: a larger one, kept in SQL when the attempt ended.",
        "schema": {"type": "string", "enum": ["status", "kept"]},
    },
}
_RESULT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The result's JSON text, whole (a kept one byte for byte as the pod sent it); "
        "`null` for a task that succeeded without one.",
        "content": {"application/json": {"schema": {}}},
        "headers": _HEADERS,
    }
}


def _results(request: Request) -> ResultService:
    state = request.app.state
    service: ResultService | None = getattr(state, "results", None)
    if service is None:  # built once, from the app's own client and sessions
        service = state.results = ResultService(state.crs, state.sessions)
    return service


ResultsDep = Annotated[ResultService, Depends(_results)]
AttemptQ = Annotated[
    int | None,
    Query(ge=1, le=INT32_MAX, description="The attempt's number, from 1 (default: the attempt that succeeded)."),
]


@router.get(
    "/namespaces/{ns}/tasks/{name}/result",
    response_class=Response,
    responses={**_RESULT, **errors(*READ_ONE)},
)
def get_task_result(ns: Namespace, name: Name, results: ResultsDep, attempt: AttemptQ = None) -> Response:
    """The task's result, whole: up to 4 KiB from its status, larger ones (to 1 MiB) as kept in SQL."""
    found = results.result(ns, name, attempt)
    headers = {ATTEMPT_HEADER: str(found.attempt), SHA256_HEADER: found.sha256, SOURCE_HEADER: found.source}
    return Response(found.body, media_type="application/json", headers=headers)
