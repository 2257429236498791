"""Routes: TaskTemplate custom resources; schemas are checked to be valid JSON Schema on write."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import ValidationError

from kubetask.models import API_VERSION, TaskTemplateSpec
from kubetask.schema_check import schema_errors
from kubetask.timeutil import parse_time

from ..bodies import TemplateBody, TemplatePublic, TemplatesPublic
from ..custom_resources import Body
from ..deps import CustomResourcesDep, Name, Namespace
from ..openapi import READ_MANY, READ_ONE, WRITE_BODY, errors
from ..problems import FieldProblem, invalid, not_found
from ..validation import name_problems

router = APIRouter(tags=["templates"])


def _public(raw: Body) -> TemplatePublic:
    meta = raw["metadata"]
    created = meta.get("creationTimestamp")
    return TemplatePublic(
        namespace=meta["namespace"],
        name=meta["name"],
        spec=raw.get("spec") or {},
        created_at=parse_time(created),
        resource_version=meta.get("resourceVersion"),
    )


def _checked(body: TemplateBody, *, url_name: str | None = None) -> dict[str, Any]:
    """The body as a CR, after checking name (the URL's, on a replace), spec fields and both JSON
    Schemas; all problems at once."""
    problems = name_problems(body.name, "/name")
    if not problems and url_name is not None and body.name != url_name:
        problems.append(FieldProblem("/name", f"the body's name must match the URL: expected {url_name!r}"))
    try:
        # strictly, nested models too ("1", 1.5 or true is no integer, as the apiserver reads JSON), and
        # by the wire names only: a snake_case key is an unknown field, ignored as the apiserver ignores it
        spec = TaskTemplateSpec.model_validate(body.spec, by_alias=True, by_name=False, strict=True)
    except ValidationError as e:
        problems += [FieldProblem("/spec/" + "/".join(str(x) for x in err["loc"]), err["msg"]) for err in e.errors()]
        spec = None
    for key in ("paramSchema", "resultSchema"):
        if key in body.spec and body.spec[key] is not None:
            for err in schema_errors(body.spec[key]):
                problems.append(FieldProblem(f"/spec/{key}{err.pointer}", f"not a valid JSON Schema: {err.message}"))
    if problems:
        raise invalid("; ".join(f"{p.pointer}: {p.message}" for p in problems[:5]), problems, slug="invalid-template")
    assert spec is not None
    return {
        "apiVersion": API_VERSION,
        "kind": "TaskTemplate",
        "metadata": {"name": body.name},
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
    }


@router.post(
    "/namespaces/{ns}/templates",
    status_code=201,
    response_model=TemplatePublic,
    responses=errors(*WRITE_BODY, 404, 409),
)
def create_template(ns: Namespace, body: TemplateBody, crs: CustomResourcesDep, response: Response) -> TemplatePublic:
    """Create a TaskTemplate."""
    made = _public(crs.create(ns, "tasktemplates", _checked(body)))
    response.headers["Location"] = f"/api/v1/namespaces/{ns}/templates/{made.name}"
    return made


@router.get("/namespaces/{ns}/templates", response_model=TemplatesPublic, responses=errors(*READ_MANY))
def list_templates(ns: Namespace, crs: CustomResourcesDep) -> TemplatesPublic:
    """All TaskTemplates of a namespace."""
    return TemplatesPublic(items=[_public(t) for t in crs.list(ns, "tasktemplates")])


@router.get("/namespaces/{ns}/templates/{name}", response_model=TemplatePublic, responses=errors(*READ_ONE))
def get_template(ns: Namespace, name: Name, crs: CustomResourcesDep) -> TemplatePublic:
    """One TaskTemplate."""
    raw = crs.get(ns, "tasktemplates", name)
    if raw is None:
        raise not_found(f"TaskTemplate {name!r} not found in namespace {ns!r}")
    return _public(raw)


@router.put("/namespaces/{ns}/templates/{name}", response_model=TemplatePublic, responses=errors(*WRITE_BODY, 404, 409))
def replace_template(ns: Namespace, name: Name, body: TemplateBody, crs: CustomResourcesDep) -> TemplatePublic:
    """Replace a TaskTemplate's spec (running tasks keep the schema they started with)."""
    cr = _checked(body, url_name=name)
    current = crs.get(ns, "tasktemplates", name)
    if current is None:
        raise not_found(f"TaskTemplate {name!r} not found in namespace {ns!r}")
    cr["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    return _public(crs.replace(ns, "tasktemplates", name, cr))


@router.delete("/namespaces/{ns}/templates/{name}", status_code=204, responses=errors(*READ_ONE))
def delete_template(ns: Namespace, name: Name, crs: CustomResourcesDep) -> None:
    """Delete a TaskTemplate (tasks already created keep running)."""
    if crs.get(ns, "tasktemplates", name) is None:
        raise not_found(f"TaskTemplate {name!r} not found in namespace {ns!r}")
    crs.delete(ns, "tasktemplates", name)
