"""Routes: aggregate figures over a time window, from history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from kubetask.store import aggregates

from ..bodies import FiguresPublic, StatsPublic
from ..deps import SessionsDep
from ..openapi import READ_MANY, errors
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
    window: Annotated[int, Query(ge=60, le=90 * 86400, description="Window length in seconds.")] = 3600,
    namespace: NamespaceQ = None,
) -> StatsPublic:
    """Counts by phase, success rate, average and p95 duration, tasks per minute; overall and per template."""
    if namespace is not None:
        check_namespace(namespace, pointer="query:namespace")
    with sessions() as s:
        st = aggregates.stats(s, now=datetime.now(UTC), window=timedelta(seconds=window), namespace=namespace)
    return StatsPublic(
        window_start=st.window_start,
        window_end=st.window_end,
        overall=_fig(st.overall),
        per_template={k: _fig(v) for k, v in st.per_template.items()},
    )
