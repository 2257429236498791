"""Route: an attempt's log, live from its pod or kept in SQL (`kubetask.api.log_service`).

The one async route of the API: a followed log streams for as long as the task runs, on the event
loop (`kubetask.api.pod_logs`), never on a pool thread; its lookups run in the pool.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from kubetask.models._numbers import INT32_MAX

from ..deps import Name, Namespace
from ..log_service import LogService
from ..openapi import READ_ONE, errors
from ..pod_logs import LogQuery, PodLogs

router = APIRouter(tags=["tasks"])

SOURCE_HEADER = "X-Kubetask-Log-Source"
POD_HEADER = "X-Kubetask-Log-Pod"
MEDIA_TYPE = "text/plain; charset=utf-8"
_HEADERS = {
    SOURCE_HEADER: {
        "description": "`live`: the pod's log from the apiserver; `kept`: the log kept in SQL when the attempt ended.",
        "schema": {"type": "string", "enum": ["live", "kept"]},
    },
    POD_HEADER: {"description": "The attempt's pod (absent when it never had one).", "schema": {"type": "string"}},
}
_LOG: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The log as plain text; with `follow=true`, line by line as the pod prints it (chunked).",
        "content": {"text/plain": {"schema": {"type": "string"}}},
        "headers": _HEADERS,
    }
}


def _logs(request: Request) -> LogService:
    state = request.app.state
    service: LogService | None = getattr(state, "logs", None)
    if service is None:  # built once, from the app's own client, sessions and settings
        pods = PodLogs(state.crs.json.api, timeout=state.settings.kubernetes_timeout_seconds)
        service = state.logs = LogService(state.tasks, state.sessions, pods)
    return service


LogsDep = Annotated[LogService, Depends(_logs)]
Attempt = Annotated[int, Path(ge=1, le=INT32_MAX, description="The attempt's number, from 1.")]
Follow = Annotated[
    bool, Query(description="Stream the live log until the pod's container ends; a kept log is returned whole.")
]
Tail = Annotated[int | None, Query(ge=0, le=INT32_MAX, description="Only the last this many lines.")]
Since = Annotated[
    int | None,
    Query(
        alias="sinceSeconds",
        ge=1,
        le=INT32_MAX,
        description="Only lines printed in the last this many seconds (live log only: a kept log has no times).",
    ),
]


@router.get(
    "/namespaces/{ns}/tasks/{name}/attempts/{n}/logs",
    response_class=PlainTextResponse,
    responses={**_LOG, **errors(*READ_ONE)},
)
async def get_attempt_log(
    ns: Namespace,
    name: Name,
    n: Attempt,
    logs: LogsDep,
    follow: Follow = False,
    tail: Tail = None,
    since_seconds: Since = None,
) -> StreamingResponse:
    """An attempt's log: live from its pod while the pod exists, else the log kept when the attempt ended."""
    query = LogQuery(follow=follow, tail_lines=tail, since_seconds=since_seconds)
    log = await logs.open(ns, name, n, query, now=datetime.now(UTC))
    headers = {SOURCE_HEADER: log.source} | ({POD_HEADER: log.pod} if log.pod else {})
    return StreamingResponse(log.chunks, media_type=MEDIA_TYPE, headers=headers)
