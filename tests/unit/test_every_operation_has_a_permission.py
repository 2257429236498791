"""Every /api/v1 operation has its permission in one table, and the app refuses to start otherwise;
refusals read as kubectl's (kubetask.api.permissions: pure)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import APIRouter
from kubernetes import client

from kubetask.api.app import create_app
from kubetask.api.permissions import (
    STATIC,
    TABLE,
    TOKENLESS,
    Identity,
    Permission,
    forbidden_detail,
    needs_token,
    rule,
    uncovered,
)
from kubetask.api.routes import results
from kubetask.api.settings import ApiSettings

_NOWHERE = client.Configuration(host="http://127.0.0.1:9")  # nothing here calls the cluster


def _operations(tmp_path: Path) -> list[str]:
    app = create_app(ApiSettings(database_url=f"sqlite:///{tmp_path / 'p.db'}"), api=client.ApiClient(_NOWHERE))
    return [f"{m.upper()} {p}" for p, methods in app.openapi()["paths"].items() for m in methods]


def test_the_table_and_the_document_have_the_same_operations(tmp_path: Path) -> None:
    ops = _operations(tmp_path)
    assert uncovered(ops) == []
    assert {op for op in ops if needs_token(op.split()[1])} == set(TABLE)


def test_an_operation_without_a_permission_or_a_permission_without_one_is_named() -> None:
    ops = [*TABLE, "GET /api/v1/namespaces/{ns}/secrets", "GET /healthz"]
    ops.remove("GET /api/v1/tasks")
    assert uncovered(ops) == [
        "GET /api/v1/namespaces/{ns}/secrets: no permission in kubetask.api.permissions.TABLE",
        "GET /api/v1/tasks: a permission for an operation the API does not have",
    ]


def test_the_app_refuses_to_start_with_a_route_the_table_lacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = APIRouter()

    @extra.get("/namespaces/{ns}/secrets")
    def secrets(ns: str) -> str:
        return ns

    monkeypatch.setattr(results, "router", _joined(results.router, extra))
    with pytest.raises(RuntimeError, match=r"GET /api/v1/namespaces/\{ns\}/secrets: no permission"):
        create_app(ApiSettings(database_url=f"sqlite:///{tmp_path / 'p.db'}"), api=client.ApiClient(_NOWHERE))


def _joined(a: APIRouter, b: APIRouter) -> APIRouter:
    out = APIRouter()
    out.include_router(a)
    out.include_router(b)
    return out


def test_what_needs_no_token() -> None:
    assert not any(needs_token(p) for p in TOKENLESS)
    assert not needs_token(STATIC + "/vendor/redoc-2.5.2/redoc.standalone.js")
    assert needs_token("/api/v1/tasks") and needs_token("/api/v1")
    assert not needs_token("/api/v10/tasks")


@pytest.mark.parametrize(
    ("operation", "verb", "resource", "scope"),
    [
        ("POST /api/v1/namespaces/{ns}/tasks", "create", "tasks", "namespace"),
        ("POST /api/v1/namespaces/{ns}/tasks/{name}/cancel", "patch", "tasks", "namespace"),
        ("GET /api/v1/namespaces/{ns}/tasks/{name}/attempts/{n}/logs", "get", "tasks", "namespace"),
        ("GET /api/v1/tasks", "list", "tasks", "cluster"),
        ("GET /api/v1/stats", "list", "tasks", "cluster"),
        ("PUT /api/v1/namespaces/{ns}/templates/{name}", "update", "tasktemplates", "namespace"),
        ("POST /api/v1/namespaces/{ns}/deadletters/{name}/redrive", "create", "tasks", "namespace"),
        ("POST /api/v1/deadletters/redrive", "create", "tasks", "cluster"),
        ("DELETE /api/v1/namespaces/{ns}/deadletters/{name}", "delete", "deadletters", "namespace"),
        ("POST /api/v1/namespaces/{ns}/schedules/{name}/suspend", "patch", "taskschedules", "namespace"),
        ("GET /api/v1/namespaces/{ns}/schedules/{name}/runs", "list", "tasks", "namespace"),
        ("GET /api/v1/audit", "list", "auditevents", "cluster"),
    ],
)
def test_the_first_permission_of_some_operations(operation: str, verb: str, resource: str, scope: str) -> None:
    method, path = operation.split()
    found = rule(method, path)
    assert found is not None
    assert (found.needs[0], found.scope) == (Permission(verb, resource), scope)


def test_a_trigger_needs_to_create_tasks_and_read_the_schedule() -> None:
    found = rule("POST", "/api/v1/namespaces/{ns}/schedules/{name}/trigger")
    assert found is not None
    assert found.needs == (Permission("create", "tasks"), Permission("get", "taskschedules"))


def test_a_refusal_reads_as_kubectls() -> None:
    assert forbidden_detail("system:serviceaccount:a:viewer", Permission("create", "tasks"), "b") == (
        'User "system:serviceaccount:a:viewer" cannot create resource "tasks" in API group "kubetask.io" '
        'in the namespace "b"'
    )
    assert forbidden_detail("u", Permission("list", "tasks"), None).endswith("at the cluster scope")


def test_impersonation_names_the_user_and_each_group() -> None:
    who = Identity("alice", uid="1", groups=("dev", "system:authenticated"), extra=(("k", ("v",)),))
    assert who.impersonation() == [
        ("Impersonate-User", "alice"),
        ("Impersonate-Group", "dev"),
        ("Impersonate-Group", "system:authenticated"),
    ]


@pytest.mark.parametrize("module", ["permissions.py", "auth_limits.py", "audit_policy.py"])
def test_the_pure_auth_modules_import_no_io(module: str) -> None:
    """import-linter cannot see api/ (a namespace folder): the pure modules' imports, checked here."""
    tree = ast.parse((Path(__file__).resolve().parents[2] / "api" / module).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {"." * n.level + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    pure = {"__future__", "collections", "collections.abc", "dataclasses", "datetime", "math", "re", "threading"}
    assert imported <= pure | {"typing", "uuid", ".permissions"}
