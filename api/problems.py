"""API errors, mapped once to RFC 9457 problem details (`application/problem+json`).

ProblemError                    (any status; carries type, title, detail, per-field errors)
├── InvalidRequest       422    body/params/query invalid: one entry per field (JSON pointer)
├── PayloadTooLarge      413    params over the configured limit
├── NotFound             404    namespace, task or template does not exist
├── Conflict             409    name taken (or idempotency key reused with another name)
├── Unauthorized         401    no bearer token, or one the apiserver's TokenReview refused
├── Forbidden            403    the caller lacks the operation's permission (kubectl's wording)
├── TooManyRequests      429    one token asked for more reviews than its bucket holds (Retry-After)
└── Unavailable          503    Kubernetes or the database cannot be reached, or a review cannot be
                                made now (with Retry-After)

SQLAlchemy's errors are mapped here too, once, not per route: a database that refuses, drops or
does not answer a connection or a statement within its timeout (`OperationalError`,
`InterfaceError`, an invalidated connection, the pool's `TimeoutError`, SQLAlchemy's complaint
about a connection that died under it) is a 503 with `Retry-After`; any other SQLAlchemy error is
a bug, still answered as a 500 problem, never a bare 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://kubetask.io/problems/"
MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class FieldProblem:
    pointer: str
    message: str


@dataclass
class ProblemError(Exception):
    status: int
    slug: str
    title: str
    detail: str
    errors: list[FieldProblem] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # sent with the answer (WWW-Authenticate, Retry-After)

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            out["instance"] = instance
        if self.errors:
            out["errors"] = [{"pointer": e.pointer, "detail": e.message} for e in self.errors]
        return out


class ProblemFieldModel(BaseModel):
    """One bad field of a request, as `ProblemError.body` writes it."""

    pointer: str = Field(description="JSON pointer into the body, or `query:x`, `path:x`, `header:x`.")
    detail: str = Field(description="What is wrong with the field and how to fix it.")


class Problem(BaseModel):
    """The OpenAPI schema of every error body (RFC 9457), exactly as `ProblemError.body` writes it:
    `instance` and `errors` are left out when empty, never null."""

    type: str = Field(description="URI of the problem type, under " + PROBLEM_BASE + ".")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request.")
    instance: str | SkipJsonSchema[None] = Field(default=None, description="The request's path.")
    errors: list[ProblemFieldModel] | SkipJsonSchema[None] = Field(
        default=None, description="One entry per bad field (input errors only)."
    )


def invalid(detail: str, errors: list[FieldProblem] | None = None, slug: str = "invalid-request") -> ProblemError:
    return ProblemError(422, slug, "Request is invalid", detail, errors or [])


def not_found(detail: str) -> ProblemError:
    return ProblemError(404, "not-found", "Not found", detail)


def conflict(detail: str) -> ProblemError:
    return ProblemError(409, "conflict", "Conflict", detail)


def too_large(detail: str, pointer: str) -> ProblemError:
    return ProblemError(413, "payload-too-large", "Payload too large", detail, [FieldProblem(pointer, detail)])


def unavailable(detail: str, *, retry_after: int | None = None) -> ProblemError:
    """A 503; `retry_after` when the wait is known (else the setting's is sent)."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return ProblemError(503, "unavailable", "Service unavailable", detail, headers=headers)


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "forbidden", "Forbidden", detail)


def too_many_requests(detail: str, *, retry_after: int) -> ProblemError:
    return ProblemError(
        429, "too-many-requests", "Too many requests", detail, headers={"Retry-After": str(retry_after)}
    )


def _pointer(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where = parts[0]
        parts = parts[1:]
        if where != "body":
            return f"{where}:" + "/".join(parts)
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _first_line(e: BaseException) -> str:
    cause = getattr(e, "orig", None) or e
    lines = str(cause).strip().splitlines()
    return (lines[0] if lines else type(cause).__name__)[:300]


def _connection_lost(e: sa_exc.SQLAlchemyError) -> bool:
    """SQLAlchemy's own errors about a connection that died under it, not about a query: the rollback
    it demands after a connection was invalidated mid-transaction, a Connection used once closed, and
    the pool's "This connection is closed" once every checkout ping failed, on fresh connections too.
    The closed Connection was kubetask.store.deadlines' own doing (see its docstring), fixed there; it
    stays a 503 because a lost connection is what it reports. Other `InvalidRequestError`s are bugs."""
    if isinstance(e, sa_exc.PendingRollbackError):
        return True
    return isinstance(e, sa_exc.InvalidRequestError) and "connection is closed" in str(e).lower()


def database_problem(e: sa_exc.SQLAlchemyError) -> ProblemError:
    """The problem for a database error: 503 when the database is unreachable or hung, else 500."""
    if isinstance(e, sa_exc.TimeoutError):
        return unavailable(f"database unavailable: no connection free in time ({_first_line(e)})")
    if isinstance(e, sa_exc.OperationalError | sa_exc.InterfaceError) or (
        isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated
    ):
        return unavailable(f"database unavailable: {_first_line(e)}")
    if _connection_lost(e):
        return unavailable(f"database unavailable: the connection was lost ({_first_line(e)})")
    return ProblemError(500, "internal", "Internal error", f"database error: {type(e).__name__}")


def install(app: FastAPI, *, retry_after: int = 5) -> None:
    """Register the handlers that turn every error into problem details; 503s carry `Retry-After`."""

    def _response(request: Request, problem: ProblemError, headers: dict[str, str] | None = None) -> JSONResponse:
        if problem.status == 503:
            headers = {"Retry-After": str(retry_after), **(headers or {})}
        headers = {**(headers or {}), **problem.headers} or None
        return JSONResponse(
            problem.body(request.url.path), status_code=problem.status, media_type=MEDIA_TYPE, headers=headers
        )

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return _response(request, exc)

    # every SQLAlchemy error, not only the DBAPI's: an unmapped one is a 500 problem, never a bare 500
    @app.exception_handler(sa_exc.SQLAlchemyError)
    async def _database(request: Request, exc: sa_exc.SQLAlchemyError) -> JSONResponse:
        return _response(request, database_problem(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            if e.get("type") == "json_invalid":
                why = e.get("ctx", {}).get("error", e.get("msg"))
                detail = f"the request body is not valid JSON: {why}"
                return _response(request, ProblemError(400, "malformed-json", "Body is not valid JSON", detail))
            errors.append(FieldProblem(_pointer(e.get("loc", ())), str(e.get("msg", "invalid"))))
        detail = "; ".join(f"{p.pointer or '/'}: {p.message}" for p in errors[:5])
        return _response(request, invalid(detail, errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed", 415: "unsupported-media-type"}.get(
            exc.status_code, "error"
        )
        problem = ProblemError(exc.status_code, slug, str(exc.detail), str(exc.detail))
        return _response(request, problem, {"Allow": _allowed(request, exc)} if exc.status_code == 405 else None)


def _allowed(request: Request, exc: StarletteHTTPException) -> str:
    """The `Allow` of a 405 (RFC 9110): every method the OpenAPI document has on the path. FastAPI
    has one route per method and names only the methods of the first that matched the path."""
    methods = {m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()}
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in re.split(r"(\{[^/}]+\})", template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {m.upper() for m in operations}
    return ", ".join(sorted(methods))
