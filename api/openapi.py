"""The OpenAPI document, true to what the API answers: error responses declared once, here.

Routes name the error statuses they can answer (`errors(404, 409, 422, 503)`); every one is an
RFC 9457 `application/problem+json` body with the `Problem` schema, and a 503 documents its
`Retry-After`. FastAPI files a response `model` under the route's own media type
(`application/json`; `text/plain` for an attempt's log), so `install` moves every 4xx/5xx body to
the problem media type once the document is built, and writes the page-size limit, a setting,
into each `limit` parameter.

A template body's `spec` is declared as the `TaskTemplateSpec` model, the one the TaskTemplate CRD
is generated from: the route takes it as JSON and validates it against the model itself, so that a
bad name, bad fields and bad JSON Schemas (checked against the metaschema) are reported at once.
A schedule body's `spec` is declared as `TaskScheduleSpec` the same way, for the same reason.

Not declared on purpose: 405 (an operation is one method; any other method on its path is a 405
problem with `Allow`, described in the README) and a 500 (a bug, still answered as a problem).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from kubetask.models import TaskScheduleSpec, TaskTemplateSpec

from .permissions import needs_token
from .problems import MEDIA_TYPE, Problem

_WHY = {
    400: "The body is not valid JSON.",
    404: "The namespace or object does not exist.",
    409: "The name is taken, or the object's state forbids the change.",
    413: "The body (or its params) is over the configured limit.",
    422: "A parameter or field is invalid; `errors` names each one (a JSON pointer, or `path:`, `query:`, "
    "`header:` and the parameter's name).",
    503: "The database or the Kubernetes apiserver is unreachable or did not answer within its timeout, or the "
    "caller's token or permission cannot be reviewed now; retry after `Retry-After` seconds.",
    401: "No bearer token, or one the Kubernetes apiserver did not accept (TokenReview).",
    403: "The caller lacks the operation's permission; `detail` names it as kubectl would.",
    429: "This token caused more reviews than it may; retry after `Retry-After` seconds.",
}
AUTH_STATUSES = (401, 403, 429, 503)  # of every operation that needs a token
SECURITY_SCHEME = "bearer"
WWW_AUTHENTICATE = {"WWW-Authenticate": {"description": "`Bearer`: send a bearer token.", "schema": {"type": "string"}}}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying (KUBETASK_API_RETRY_AFTER_SECONDS).",
        "schema": {"type": "integer", "minimum": 1},
    }
}

# The statuses of the usual kinds of route; routes add the ones particular to them.
READ_MANY = (422, 503)  # a list or figures: no one object to miss
READ_ONE = (404, 422, 503)
WRITE_BODY = (400, 413, 422, 503)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can answer these error statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        out[status] = {"model": Problem, "description": _WHY[status]}
        if status in (429, 503):
            out[status]["headers"] = RETRY_AFTER
        if status == 401:
            out[status]["headers"] = WWW_AUTHENTICATE
    return out


def _secure(path: str, operation: dict[str, Any]) -> None:
    """An operation under /api/v1 needs a bearer token: say so, and add the answers of refusals."""
    if not needs_token(path):
        return
    operation["security"] = [{SECURITY_SCHEME: []}]
    responses = operation.setdefault("responses", {})
    for status, response in errors(*AUTH_STATUSES).items():
        if str(status) not in responses:
            schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
            responses[str(status)] = {k: v for k, v in response.items() if k != "model"} | {
                "content": {MEDIA_TYPE: schema}
            }


def _document(app: FastAPI, *, max_page_size: int) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            _secure(path, operation)
            for status, response in operation.get("responses", {}).items():
                content = response.get("content")
                if int(status) >= 400 and content:  # under the route's media type: JSON, a log's text/plain
                    response["content"] = {MEDIA_TYPE: next(iter(content.values()))}
            for param in operation.get("parameters", []):
                _drop_null(param["schema"])
                if param["in"] == "query" and param["name"] == "limit":
                    param["schema"]["maximum"] = max_page_size
    doc["components"]["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "A Kubernetes bearer token (kubectl's, or a ServiceAccount's), checked with TokenReview; "
            "each operation's permission with SubjectAccessReview (README, Authentication and authorization).",
        }
    }
    components = doc["components"]["schemas"]
    for body, model in (("TemplateBody", TaskTemplateSpec), ("ScheduleBody", TaskScheduleSpec)):
        spec = components[body]["properties"]["spec"]
        spec["allOf"] = [_file_model(components, model)]
        del spec["additionalProperties"]
        del spec["type"]
    return doc


def _file_model(components: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    """File `model`'s schema (as it validates, by its wire names) and those of the models it uses
    under the components; the `$ref` to it."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    for name, sub in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if components.setdefault(name, sub) != sub:
            raise ValueError(f"two schemas named {name} in the OpenAPI document")
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _drop_null(schema: dict[str, Any]) -> None:
    """`X | None` of a query or header parameter is `anyOf: [X, null]` to FastAPI, but a parameter is
    absent or a string, never null: declare X alone (clients and fuzzers then send what is meant)."""
    options = schema.get("anyOf", [])
    kept = [o for o in options if o != {"type": "null"}]
    if len(options) == 2 and len(kept) == 1:
        del schema["anyOf"]
        schema.update(kept[0])


def install(app: FastAPI, *, max_page_size: int) -> None:
    """Serve the corrected document at the app's `openapi_url` (built once, on first request)."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cache:
            cache.update(_document(app, max_page_size=max_page_size))
        return cache

    app.openapi = openapi  # type: ignore[method-assign]
