"""Routes: aggregate figures over a time window, from history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from kubetask.store import aggregates, queries

from ..auth import AccessDep
from ..bodies import FiguresPublic, StatsPublic
from ..deps import SessionsDep
from ..openapi import READ_MANY, errors
from ..permissions import LIST_TASKS
from ..validation import DNS_LABEL, MAX_NAMESPACE, check_namespace

router = APIRouter(tags=["stats"])


def _fig(f: aggregates.Figures) -> FiguresPublic:
    return FiguresPublic(**f.__dict__)


NamespaceQ = Annotated[
    str | None,
    Query(
        description="Only this namespace.",
        json_schema_extra={"pattern": DNS_LABEL, "minLength": 1, "maxLength": MAX_NAMESPACE},
    ),
]


@router.get("/stats", response_model=StatsPublic, responses=errors(*READ_MANY))
def get_stats(
    sessions: SessionsDep,
    access: AccessDep,
    window: Annotated[int, Query(ge=60, le=90 * 86400, description="Window length in seconds.")] = 3600,
    namespace: NamespaceQ = None,
) -> StatsPublic:
    """Counts by phase, success rate, average and p95 duration, tasks per minute; overall and per template;
    of the namespace asked for (`list tasks` there), else of every one where the caller may list tasks."""
    if namespace is not None:
        check_namespace(namespace, pointer="query:namespace")
        access.require(namespace, (LIST_TASKS,))
    with sessions() as s:
        allowed = access.namespaces(queries.namespaces(s)) if namespace is None else None
        st = aggregates.stats(
            s, now=datetime.now(UTC), window=timedelta(seconds=window), namespace=namespace, namespaces=allowed
        )
    return StatsPublic(
        window_start=st.window_start,
        window_end=st.window_end,
        overall=_fig(st.overall),
        per_template={k: _fig(v) for k, v in st.per_template.items()},
    )
