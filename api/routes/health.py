"""Routes: liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..deps import CustomResourcesDep, SessionsDep
from ..openapi import errors
from ..problems import unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses=errors(503))
def readyz(crs: CustomResourcesDep, sessions: SessionsDep) -> dict[str, str]:
    """Database and Kubernetes both answer (503 problem details naming the first that does not)."""
    try:
        with sessions() as s:
            s.execute(text("SELECT 1"))
    except SQLAlchemyError as e:
        raise unavailable(f"database unreachable: {str(e).splitlines()[0]}") from e
    version = crs.ping()
    return {"status": "ok", "database": "ok", "kubernetes": version}
