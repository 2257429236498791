"""FastAPI dependencies as Annotated aliases: routes read as typed signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import AfterValidator
from sqlalchemy.orm import Session, sessionmaker

from .auth import Access
from .custom_resources import CustomResources
from .problems import FieldProblem, invalid
from .settings import ApiSettings
from .task_service import TaskService
from .validation import DNS_LABEL, DNS_SUBDOMAIN, MAX_NAME, MAX_NAMESPACE, valid_name, valid_namespace


def crs_for(request: Request) -> CustomResources:
    """The app's access to the CRs; with KUBETASK_API_IMPERSONATE, one whose writes act as the caller."""
    crs: CustomResources = request.app.state.crs
    access: Access | None = getattr(request.state, "access", None)
    if request.app.state.settings.impersonate and access is not None and access.who is not None:
        return crs.acting_as(access.who)
    return crs


def _service(request: Request) -> TaskService:
    svc: TaskService = request.app.state.tasks
    crs = crs_for(request)
    return svc if crs is svc.crs else TaskService(crs, svc.sessions, svc.settings)


def _sessions(request: Request) -> sessionmaker[Session]:
    sm: sessionmaker[Session] = request.app.state.sessions
    return sm


def _settings(request: Request) -> ApiSettings:
    s: ApiSettings = request.app.state.settings
    return s


def check_page_size(limit: int, settings: ApiSettings) -> None:
    """422 naming `query:limit` when a list asks for more than KUBETASK_API_MAX_PAGE_SIZE (the
    document's maximum); a larger one would reach SQL's LIMIT."""
    if limit > settings.max_page_size:
        raise invalid(
            f"limit must be at most {settings.max_page_size}",
            [FieldProblem("query:limit", f"at most {settings.max_page_size}")],
        )


TasksDep = Annotated[TaskService, Depends(_service)]
CustomResourcesDep = Annotated[CustomResources, Depends(crs_for)]
SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
SettingsDep = Annotated[ApiSettings, Depends(_settings)]


# Path parameters as Kubernetes names: the schema declares the rule, the validator enforces it with
# a message that says how to fix the name (pydantic's own would only quote the pattern).
Namespace = Annotated[
    str,
    Path(
        description="Namespace: a DNS-1123 label.",
        json_schema_extra={"pattern": DNS_LABEL, "minLength": 1, "maxLength": MAX_NAMESPACE},
    ),
    AfterValidator(valid_namespace),
]
Name = Annotated[
    str,
    Path(
        description="Name of the object: a DNS-1123 subdomain.",
        json_schema_extra={"pattern": DNS_SUBDOMAIN, "minLength": 1, "maxLength": MAX_NAME},
    ),
    AfterValidator(valid_name),
]
