"""The FastAPI application: routes under /api/v1, problem details, settings, dependencies.

Routes are plain `def` functions: their I/O (the Kubernetes client, SQLAlchemy) is blocking, so
FastAPI runs them in its thread pool while the ASGI server stays asynchronous. The exception is an
attempt's log (`routes/logs.py`), async: a followed log streams for as long as its task runs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from kubernetes import client
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from kubetask.kubeapi import load_client
from kubetask.store import default_url, make_engine, migrate

from . import audit_trail, docs_pages, openapi, permissions, problems
from .audit_trail import AuditTrail
from .auth import authorize
from .auth_reviews import Reviewer
from .custom_resources import CustomResources
from .dead_letter_service import DeadLetterService
from .metrics import ApiMetrics, MetricsMiddleware, Routes
from .routes import (
    audit,
    deadletters,
    health,
    logs,
    metrics,
    results,
    schedule_actions,
    schedule_runs,
    schedules,
    stats,
    tasks,
    templates,
)
from .settings import ApiSettings
from .task_service import TaskService

PREFIX = permissions.PREFIX
log = logging.getLogger("kubetask.api")


def _migrate_unbounded(url: str) -> None:
    """Migrate through an engine of its own: the API's is bounded, and a migration may build an index for minutes."""
    engine = make_engine(url, pool_size=1)
    try:
        migrate(engine)
    finally:
        engine.dispose()


def create_app(
    settings: ApiSettings | None = None, *, engine: Engine | None = None, api: client.ApiClient | None = None
) -> FastAPI:
    """Build the app; tests pass their own engine and Kubernetes client."""
    settings = settings or ApiSettings()
    own_engine = engine is None
    if engine is None:
        url = settings.database_url or default_url()
        if settings.migrate:
            _migrate_unbounded(url)
        eng = make_engine(
            url,
            connect_timeout=settings.database_connect_timeout_seconds,
            statement_timeout=settings.database_statement_timeout_seconds,
        )
    else:
        eng = engine
        if settings.migrate:
            migrate(eng)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        _app.state.audit.close()  # what it queued is written before the engine goes
        if own_engine:
            eng.dispose()

    app = FastAPI(
        title="kubetask",
        version="0.1.0",
        description="Submit, find and follow typed tasks that run as Kubernetes pods.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc from vendored assets, not a CDN: docs_pages.install
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    crs = CustomResources(api or load_client(), timeout=settings.kubernetes_timeout_seconds)
    app.state.settings = settings
    app.state.crs = crs
    app.state.metrics = ApiMetrics()
    crs.json.observe = app.state.metrics.apiserver
    app.state.sessions = sessionmaker(eng, expire_on_commit=False)
    app.state.tasks = TaskService(crs, app.state.sessions, settings)
    app.state.dead_letters = DeadLetterService(crs, app.state.sessions)
    app.state.reviewer = Reviewer(crs.json, settings) if settings.auth == "kubernetes" else None
    app.state.audit = AuditTrail(eng, retention_days=settings.audit_retention_days)
    if app.state.reviewer is None:
        log.warning(
            "KUBETASK_API_AUTH=none: NO AUTHENTICATION. Anyone who reaches this API may create, cancel, "
            "redrive and purge tasks and read all history in every namespace. For local development only."
        )
    problems.install(app, retry_after=settings.retry_after_seconds)
    openapi.install(app, max_page_size=settings.max_page_size)
    docs_pages.install(app)
    limit = settings.max_params_bytes + 64 * 1024

    @app.middleware("http")
    async def body_limit(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            p = problems.too_large(f"request body is {length} bytes; the limit is {limit} bytes", "/")
            return JSONResponse(p.body(request.url.path), status_code=413, media_type=problems.MEDIA_TYPE)
        return await call_next(request)

    routes = app.state.routes = Routes(lambda: [*app.openapi()["paths"], "/metrics"])
    audit_trail.install(app, app.state.audit)  # inside the metrics: request ids on every answer
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics, routes=routes)  # outermost: 413s counted too
    app.include_router(health.router)
    app.include_router(metrics.router)
    for r in (
        tasks.router,
        templates.router,
        stats.router,
        deadletters.router,
        schedules.router,
        schedule_actions.router,
        schedule_runs.router,
        logs.router,
        results.router,
        audit.router,
    ):
        app.include_router(r, prefix=PREFIX, dependencies=[Depends(authorize)])
    _check_permissions(app)
    return app


def _check_permissions(app: FastAPI) -> None:
    """Refuse to start when a /api/v1 operation of the OpenAPI document has no permission rule (or a
    rule no operation). A route left out of the document has no rule either: `authorize` refuses it."""
    operations = [f"{method.upper()} {path}" for path, methods in app.openapi()["paths"].items() for method in methods]
    wrong = permissions.uncovered(operations)
    if wrong:
        raise RuntimeError("the permission table does not match the routes:\n" + "\n".join(wrong))
