"""Which Kubernetes permission each REST operation needs: the one table, and the texts of refusals.

Pure (no I/O): the adapter (`auth_reviews`) asks the apiserver a SubjectAccessReview for each
`Permission` of an operation's `Rule`, for the caller the TokenReview named. Resources are those of
group kubetask.io as kubectl names them (the CRDs' plurals), plus `deadletters`, a resource no CRD
serves: RBAC can grant a verb on any resource name, so `delete deadletters` is a permission of its
own (purging history is not deleting a Task), granted by the chart's edit and admin roles.

- reading one task, its attempts, events, log or result: `get tasks`; lists, stats, history,
  dead-letter lists and a schedule's runs: `list tasks`; submit and redrive: `create tasks`;
  cancel: `patch tasks` (it sets `spec.cancel`); delete: `delete tasks`;
- templates and schedules: get, list, create, update (PUT), delete on `tasktemplates` and
  `taskschedules`; suspend and resume: `patch taskschedules`; a schedule's preview: `get
  taskschedules`; trigger and backfill: `create tasks` and `get taskschedules` (a run is a Task
  made from the schedule);
- purge: `delete deadletters`;
- the audit trail: `list auditevents` (another resource no CRD serves, granted by the chart's
  admin role only), per namespace; its rows of cluster-wide operations need it cluster-wide.

A `Rule` of scope "namespace" is checked in the path's namespace before the route runs. Scope
"cluster" marks the operations without one (`GET /tasks`, `/deadletters`, `/stats`, `POST
/deadletters/redrive`, `/audit`): the route applies the rule per namespace itself, to the namespace a query or
body names, or else by keeping only the rows of namespaces where the caller may `list tasks` (and
has the rule's permissions). `uncovered` compares the table with the OpenAPI document: the app
refuses to start when an operation has no rule or a rule has no operation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

GROUP = "kubetask.io"
PREFIX = "/api/v1"
DOCS, OAUTH2_REDIRECT, REDOC = "/docs", "/docs/oauth2-redirect", "/redoc"  # the API's documentation pages
STATIC = "/static"  # their vendored assets (api/docs_pages.py), every path under it tokenless too
TOKENLESS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", DOCS, OAUTH2_REDIRECT, REDOC, STATIC})


@dataclass(frozen=True)
class Identity:
    """Who a TokenReview said the caller is (hashable: part of the review cache's keys)."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def impersonation(self) -> list[tuple[str, str]]:
        """The headers that make the apiserver act as this user (Kubernetes 1.20 impersonates user and
        groups; `Impersonate-Uid` came in 1.22, and extras would need a grant per key: neither is sent)."""
        return [("Impersonate-User", self.username), *(("Impersonate-Group", g) for g in self.groups)]


@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}"


@dataclass(frozen=True)
class Rule:
    needs: tuple[Permission, ...]
    scope: Literal["namespace", "cluster"] = "namespace"


def _p(verb: str, resource: str) -> Permission:
    return Permission(verb, resource)


LIST_TASKS = _p("list", "tasks")
GET_TASKS = _p("get", "tasks")
CREATE_TASKS = _p("create", "tasks")
GET_SCHEDULES = _p("get", "taskschedules")
LIST_AUDIT = _p("list", "auditevents")

_NS = f"{PREFIX}/namespaces/{{ns}}"
_TASK = f"{_NS}/tasks/{{name}}"
_TEMPLATE = f"{_NS}/templates/{{name}}"
_SCHEDULE = f"{_NS}/schedules/{{name}}"


def _one(permission: Permission) -> Rule:
    return Rule((permission,))


TABLE: dict[str, Rule] = {
    f"POST {_NS}/tasks": _one(CREATE_TASKS),
    f"GET {_NS}/tasks": _one(LIST_TASKS),
    f"GET {PREFIX}/tasks": Rule((LIST_TASKS,), "cluster"),
    f"GET {_TASK}": _one(GET_TASKS),
    f"DELETE {_TASK}": _one(_p("delete", "tasks")),
    f"POST {_TASK}/cancel": _one(_p("patch", "tasks")),
    f"GET {_TASK}/attempts": _one(GET_TASKS),
    f"GET {_TASK}/events": _one(GET_TASKS),
    f"GET {_TASK}/attempts/{{n}}/logs": _one(GET_TASKS),
    f"GET {_TASK}/result": _one(GET_TASKS),
    f"POST {_NS}/templates": _one(_p("create", "tasktemplates")),
    f"GET {_NS}/templates": _one(_p("list", "tasktemplates")),
    f"GET {_TEMPLATE}": _one(_p("get", "tasktemplates")),
    f"PUT {_TEMPLATE}": _one(_p("update", "tasktemplates")),
    f"DELETE {_TEMPLATE}": _one(_p("delete", "tasktemplates")),
    f"GET {PREFIX}/stats": Rule((LIST_TASKS,), "cluster"),
    f"GET {PREFIX}/deadletters": Rule((LIST_TASKS,), "cluster"),
    f"GET {_NS}/deadletters": _one(LIST_TASKS),
    f"POST {_NS}/deadletters/{{name}}/redrive": _one(CREATE_TASKS),
    f"POST {PREFIX}/deadletters/redrive": Rule((CREATE_TASKS,), "cluster"),
    f"DELETE {_NS}/deadletters/{{name}}": _one(_p("delete", "deadletters")),
    f"POST {_NS}/schedules": _one(_p("create", "taskschedules")),
    f"GET {_NS}/schedules": _one(_p("list", "taskschedules")),
    f"GET {_SCHEDULE}": _one(GET_SCHEDULES),
    f"PUT {_SCHEDULE}": _one(_p("update", "taskschedules")),
    f"DELETE {_SCHEDULE}": _one(_p("delete", "taskschedules")),
    f"POST {_SCHEDULE}/suspend": _one(_p("patch", "taskschedules")),
    f"POST {_SCHEDULE}/resume": _one(_p("patch", "taskschedules")),
    f"POST {_SCHEDULE}/trigger": Rule((CREATE_TASKS, GET_SCHEDULES)),
    f"POST {_SCHEDULE}/backfill": Rule((CREATE_TASKS, GET_SCHEDULES)),
    f"GET {_SCHEDULE}/preview": _one(GET_SCHEDULES),
    f"GET {_SCHEDULE}/runs": _one(LIST_TASKS),
    f"GET {PREFIX}/audit": Rule((LIST_AUDIT,), "cluster"),
}


def rule(method: str, path_template: str) -> Rule | None:
    """The rule of an operation ("GET", "/api/v1/namespaces/{ns}/tasks"); None when the table has none."""
    return TABLE.get(f"{method.upper()} {path_template}")


def needs_token(path: str) -> bool:
    """Whether a request path needs a bearer token: everything under /api/v1."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def uncovered(operations: Iterable[str]) -> list[str]:
    """What is wrong between the table and the /api/v1 operations ("METHOD /path") of the OpenAPI
    document: each operation without a rule, each rule without an operation. Empty when they match."""
    ops = {op for op in operations if needs_token(op.split(" ", 1)[1])}
    missing = [f"{op}: no permission in kubetask.api.permissions.TABLE" for op in sorted(ops - TABLE.keys())]
    stale = [f"{op}: a permission for an operation the API does not have" for op in sorted(TABLE.keys() - ops)]
    return missing + stale


def forbidden_detail(user: str, permission: Permission, namespace: str | None) -> str:
    """A refusal in kubectl's words (the apiserver's RBAC message)."""
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return f'User "{user}" cannot {permission.verb} resource "{permission.resource}" in API group "{GROUP}" {where}'


NO_TOKEN = "this request needs a bearer token: send `Authorization: Bearer <token>` (kubectl's token works)"
NOT_BEARER = "the Authorization header must be `Bearer <token>`"
TOKEN_REFUSED = "the bearer token was not accepted by the Kubernetes apiserver (TokenReview)"
PER_TOKEN_LIMIT = "too many reviews for this token: retry after Retry-After seconds"
TOTAL_LIMIT = "the API is making as many reviews as it may (KUBETASK_API_AUTH_REVIEWS_PER_SECOND); retry later"
