"""Issue 22's table: every operation of the OpenAPI document, for each identity, in namespace A, in
namespace B and cluster-wide, answers exactly the status Kubernetes RBAC implies; the statuses are
written out by hand below (never derived from kubetask.api.permissions). Real apiserver, real
ServiceAccount tokens, the chart's aggregated roles (rendered from the chart), the app served by
uvicorn with authentication on, requests sent from a thread pool.

Identities: `editor` (RoleBinding to `edit` in A only), `viewer` (ClusterRoleBinding to `view`),
`nobody` (a ServiceAccount without bindings), `anonymous` (no token) and `garbage` (a token the
apiserver does not know). Then: no refused request created or changed anything (CRs and SQL); the
editor reads nothing of B through any list, filter, stats, detail, dead-letter or runs route; a
403 names verb, resource and namespace as kubectl's message does.

Decisions where the contract leaves room (the kubectl-like answer, or the contract's own words):
- A cluster-wide list (`GET /tasks`, `/deadletters`, `/stats`, a redrive by filter) is a 200 with
  the rows of the namespaces the caller may list, for `nobody` too (an empty one), not a 403.
- Authorization comes before validation and lookup: a refused caller gets 403 for a bad query or a
  missing object alike (it learns nothing of what exists), as kubectl's `get` of a missing object
  without the right is a 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.store.tables import AuditRow, DeadLetterRow, TaskRow
from kubetask.testing.cluster import (
    EXECUTOR_IMAGE,
    Cluster,
    OperatorProcess,
    create,
    list_objects,
    service_account_token,
    task,
    template,
    wait_for,
    wait_namespace_ready,
    wait_task,
)
from kubetask.testing.rbac import (
    aggregated,
    bind_cluster_wide,
    bind_in_namespace,
    chart_user_roles,
    service_account_user,
)
from kubetask.testing.serve import serve

V1 = "/api/v1"
IDENTITIES = ("editor", "viewer", "nobody", "anonymous", "garbage")
WORLD = "rbac=world"  # the label of every Task the set-up makes, in A and in B
FAILING = {"handler": "fail", "retry": {"maxAttempts": 2, "delaySeconds": 1, "jitter": "none"}}
CRON = "0 0 1 1 *"  # yearly: no run comes on its own during the test
LATER = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
SPEC = {**EXECUTOR_IMAGE, "handler": "echo"}


@dataclass(frozen=True)
class Row:
    """One request and its expected status for editor, viewer and nobody; `anonymous` for no token and
    a garbage token. `{a}`/`{b}` in path and body are A's and B's names, `{who}` the identity's."""

    op: str  # "METHOD /path" as in the OpenAPI document
    where: str  # "A", "B" or "cluster"
    path: str
    expect: tuple[int, int, int]
    body: Any = None
    anonymous: int = 401


def _table() -> list[Row]:
    ns, t = f"{V1}/namespaces/{{ns}}", f"{V1}/namespaces/{{ns}}/tasks"
    tm, dl, sc = f"{ns}/templates", f"{ns}/deadletters", f"{ns}/schedules"
    a, b = f"{V1}/namespaces/{{a}}", f"{V1}/namespaces/{{b}}"

    def task_body(x: str) -> dict[str, Any]:
        return {"template": f"{x}-echo", "params": {"message": "{who}"}, "name": f"{x}-new-{{who}}"}

    def tmpl_body(name: str, description: str = "made by {who}") -> dict[str, Any]:
        return {"name": name, "spec": {**SPEC, "description": description}}

    def sched_body(name: str, x: str, cron: str = CRON) -> dict[str, Any]:
        spec = {"schedule": cron, "suspend": True, "task": {"templateRef": {"name": f"{x}-echo"}}}
        return {"name": name, "spec": spec}

    hours = {"from": "2025-12-31T23:00:00Z", "to": "2026-01-01T01:00:00Z"}  # one instant of CRON
    return [
        Row("GET /healthz", "cluster", "/healthz", (200, 200, 200), anonymous=200),
        Row("GET /readyz", "cluster", "/readyz", (200, 200, 200), anonymous=200),
        # tasks
        Row(f"POST {t}", "A", f"{a}/tasks", (201, 403, 403), task_body("a")),
        Row(f"POST {t}", "B", f"{b}/tasks", (403, 403, 403), task_body("b")),
        Row(f"GET {t}", "A", f"{a}/tasks", (200, 200, 403)),
        Row(f"GET {t}", "B", f"{b}/tasks", (403, 200, 403)),
        Row(f"GET {t}", "A", f"{a}/tasks?phase=Failed&labelSelector={WORLD}", (200, 200, 403)),
        Row(f"GET {t}", "B", f"{b}/tasks?phase=Failed&labelSelector={WORLD}", (403, 200, 403)),
        Row(f"GET {t}", "A", f"{a}/tasks?sort=bogus", (422, 422, 403)),
        Row(f"GET {t}", "B", f"{b}/tasks?sort=bogus", (403, 422, 403)),
        Row(f"GET {V1}/tasks", "cluster", f"{V1}/tasks", (200, 200, 200)),
        Row(f"GET {V1}/tasks", "cluster", f"{V1}/tasks?labelSelector={WORLD}", (200, 200, 200)),
        Row(f"GET {V1}/tasks", "cluster", f"{V1}/tasks?template=b-echo&q=b-", (200, 200, 200)),
        Row(f"GET {t}/{{name}}", "A", f"{a}/tasks/a-ok", (200, 200, 403)),
        Row(f"GET {t}/{{name}}", "B", f"{b}/tasks/b-ok", (403, 200, 403)),
        Row(f"GET {t}/{{name}}", "A", f"{a}/tasks/a-ghost", (404, 404, 403)),
        Row(f"GET {t}/{{name}}", "B", f"{b}/tasks/b-ghost", (403, 404, 403)),
        Row(f"DELETE {t}/{{name}}", "A", f"{a}/tasks/a-del", (202, 403, 403)),
        Row(f"DELETE {t}/{{name}}", "B", f"{b}/tasks/b-del", (403, 403, 403)),
        Row(f"POST {t}/{{name}}/cancel", "A", f"{a}/tasks/a-later/cancel", (202, 403, 403)),
        Row(f"POST {t}/{{name}}/cancel", "B", f"{b}/tasks/b-later/cancel", (403, 403, 403)),
        Row(f"GET {t}/{{name}}/attempts", "A", f"{a}/tasks/a-dead/attempts", (200, 200, 403)),
        Row(f"GET {t}/{{name}}/attempts", "B", f"{b}/tasks/b-dead/attempts", (403, 200, 403)),
        Row(f"GET {t}/{{name}}/events", "A", f"{a}/tasks/a-bad/events", (200, 200, 403)),
        Row(f"GET {t}/{{name}}/events", "B", f"{b}/tasks/b-bad/events", (403, 200, 403)),
        Row(f"GET {t}/{{name}}/attempts/{{n}}/logs", "A", f"{a}/tasks/a-ok/attempts/1/logs", (200, 200, 403)),
        Row(f"GET {t}/{{name}}/attempts/{{n}}/logs", "B", f"{b}/tasks/b-ok/attempts/1/logs", (403, 200, 403)),
        Row(f"GET {t}/{{name}}/result", "A", f"{a}/tasks/a-ok/result", (200, 200, 403)),
        Row(f"GET {t}/{{name}}/result", "B", f"{b}/tasks/b-ok/result", (403, 200, 403)),
        # templates
        Row(f"POST {tm}", "A", f"{a}/templates", (201, 403, 403), tmpl_body("a-tmpl-{who}")),
        Row(f"POST {tm}", "B", f"{b}/templates", (403, 403, 403), tmpl_body("b-tmpl-{who}")),
        Row(f"GET {tm}", "A", f"{a}/templates", (200, 200, 403)),
        Row(f"GET {tm}", "B", f"{b}/templates", (403, 200, 403)),
        Row(f"GET {tm}/{{name}}", "A", f"{a}/templates/a-echo", (200, 200, 403)),
        Row(f"GET {tm}/{{name}}", "B", f"{b}/templates/b-echo", (403, 200, 403)),
        Row(f"PUT {tm}/{{name}}", "A", f"{a}/templates/a-put", (200, 403, 403), tmpl_body("a-put", "put by {who}")),
        Row(f"PUT {tm}/{{name}}", "B", f"{b}/templates/b-put", (403, 403, 403), tmpl_body("b-put", "put by {who}")),
        Row(f"DELETE {tm}/{{name}}", "A", f"{a}/templates/a-doomed", (204, 403, 403)),
        Row(f"DELETE {tm}/{{name}}", "B", f"{b}/templates/b-doomed", (403, 403, 403)),
        # stats
        Row(f"GET {V1}/stats", "cluster", f"{V1}/stats", (200, 200, 200)),
        Row(f"GET {V1}/stats", "A", f"{V1}/stats?namespace={{a}}", (200, 200, 403)),
        Row(f"GET {V1}/stats", "B", f"{V1}/stats?namespace={{b}}", (403, 200, 403)),
        # dead letters
        Row(f"GET {V1}/deadletters", "cluster", f"{V1}/deadletters", (200, 200, 200)),
        Row(f"GET {V1}/deadletters", "cluster", f"{V1}/deadletters?template=bulk", (200, 200, 200)),
        Row(f"GET {dl}", "A", f"{a}/deadletters", (200, 200, 403)),
        Row(f"GET {dl}", "B", f"{b}/deadletters", (403, 200, 403)),
        Row(f"POST {dl}/{{name}}/redrive", "A", f"{a}/deadletters/a-dead/redrive", (201, 403, 403)),
        Row(f"POST {dl}/{{name}}/redrive", "B", f"{b}/deadletters/b-dead/redrive", (403, 403, 403)),
        Row(
            f"POST {V1}/deadletters/redrive",
            "cluster",
            f"{V1}/deadletters/redrive",
            (200, 200, 200),
            {"template": "bulk"},
        ),
        Row(f"POST {V1}/deadletters/redrive", "B", f"{V1}/deadletters/redrive", (403, 403, 403), {"namespace": "{b}"}),
        Row(
            f"POST {V1}/deadletters/redrive",
            "A",
            f"{V1}/deadletters/redrive",
            (200, 403, 403),
            {"items": [{"namespace": "{a}", "name": "a-dead3"}]},
        ),
        Row(
            f"POST {V1}/deadletters/redrive",
            "B",
            f"{V1}/deadletters/redrive",
            (403, 403, 403),
            {"items": [{"namespace": "{b}", "name": "b-dead3"}]},
        ),
        Row(f"DELETE {dl}/{{name}}", "A", f"{a}/deadletters/a-dead2", (204, 403, 403)),
        Row(f"DELETE {dl}/{{name}}", "B", f"{b}/deadletters/b-dead2", (403, 403, 403)),
        # schedules
        Row(f"POST {sc}", "A", f"{a}/schedules", (201, 403, 403), sched_body("a-sched-{who}", "a")),
        Row(f"POST {sc}", "B", f"{b}/schedules", (403, 403, 403), sched_body("b-sched-{who}", "b")),
        Row(f"GET {sc}", "A", f"{a}/schedules", (200, 200, 403)),
        Row(f"GET {sc}", "B", f"{b}/schedules", (403, 200, 403)),
        Row(f"GET {sc}/{{name}}", "A", f"{a}/schedules/a-sched", (200, 200, 403)),
        Row(f"GET {sc}/{{name}}", "B", f"{b}/schedules/b-sched", (403, 200, 403)),
        Row(f"GET {sc}/{{name}}", "A", f"{a}/schedules/a-ghost", (404, 404, 403)),
        Row(f"GET {sc}/{{name}}", "B", f"{b}/schedules/b-ghost", (403, 404, 403)),
        Row(
            f"PUT {sc}/{{name}}",
            "A",
            f"{a}/schedules/a-sched-put",
            (200, 403, 403),
            sched_body("a-sched-put", "a", "0 0 2 1 *"),
        ),
        Row(
            f"PUT {sc}/{{name}}",
            "B",
            f"{b}/schedules/b-sched-put",
            (403, 403, 403),
            sched_body("b-sched-put", "b", "0 0 2 1 *"),
        ),
        Row(f"DELETE {sc}/{{name}}", "A", f"{a}/schedules/a-sched-doomed", (204, 403, 403)),
        Row(f"DELETE {sc}/{{name}}", "B", f"{b}/schedules/b-sched-doomed", (403, 403, 403)),
        Row(
            f"POST {sc}/{{name}}/suspend",
            "A",
            f"{a}/schedules/a-sched-on/suspend",
            (200, 403, 403),
            {"reason": "{who}"},
        ),
        Row(
            f"POST {sc}/{{name}}/suspend",
            "B",
            f"{b}/schedules/b-sched-on/suspend",
            (403, 403, 403),
            {"reason": "{who}"},
        ),
        Row(f"POST {sc}/{{name}}/resume", "A", f"{a}/schedules/a-sched-off/resume", (200, 403, 403)),
        Row(f"POST {sc}/{{name}}/resume", "B", f"{b}/schedules/b-sched-off/resume", (403, 403, 403)),
        Row(f"GET {sc}/{{name}}/runs", "A", f"{a}/schedules/a-sched/runs", (200, 200, 403)),
        Row(f"GET {sc}/{{name}}/runs", "B", f"{b}/schedules/b-sched/runs", (403, 200, 403)),
        Row(f"POST {sc}/{{name}}/trigger", "A", f"{a}/schedules/a-sched/trigger", (201, 403, 403)),
        Row(f"POST {sc}/{{name}}/trigger", "B", f"{b}/schedules/b-sched/trigger", (403, 403, 403)),
        Row(f"POST {sc}/{{name}}/backfill", "A", f"{a}/schedules/a-sched/backfill", (201, 403, 403), hours),
        Row(f"POST {sc}/{{name}}/backfill", "B", f"{b}/schedules/b-sched/backfill", (403, 403, 403), hours),
        Row(f"GET {sc}/{{name}}/preview", "A", f"{a}/schedules/a-sched/preview", (200, 200, 403)),
        Row(f"GET {sc}/{{name}}/preview", "B", f"{b}/schedules/b-sched/preview", (403, 200, 403)),
        # the audit trail: `list auditevents`, which only the chart's admin role grants (issue 23)
        Row(f"GET {V1}/audit", "cluster", f"{V1}/audit", (403, 403, 403)),
        Row(f"GET {V1}/audit", "A", f"{V1}/audit?namespace={{a}}", (403, 403, 403)),
    ]


def _filled(value: Any, **names: str) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _filled(v, **names) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, **names) for v in value]
    return value


@dataclass
class World:
    url: str
    a: str  # namespace A
    b: str  # namespace B
    tokens: dict[str, str | None]
    users: dict[str, str] = field(default_factory=dict)
    database_url: str = ""

    def headers(self, who: str) -> dict[str, str]:
        token = self.tokens[who]
        return {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, who: str, path: str) -> httpx.Response:
        return httpx.get(self.url + path.format(a=self.a, b=self.b), headers=self.headers(who), timeout=30)


def _history(cluster: Cluster, ns: str, x: str) -> None:
    """Templates, finished, failed, dead-lettered and waiting Tasks and schedules in `ns`, names
    prefixed with `x` (a or b); the dead letters of template `bulk` exist in both namespaces."""
    templates: list[tuple[str, dict[str, Any]]] = [
        (f"{x}-echo", {"handler": "echo"}),
        (f"{x}-once", {"handler": "fail", "retry": {"maxAttempts": 1}}),
        (f"{x}-flaky", FAILING),
        ("bulk", FAILING),
        (f"{x}-put", {"handler": "echo", "description": "as made"}),
        (f"{x}-doomed", {"handler": "echo"}),
    ]
    for name, spec in templates:
        create(cluster, ns, "tasktemplates", template(name, **spec))
    for name, tmpl, extra in [
        (f"{x}-ok", f"{x}-echo", {}),
        (f"{x}-bad", f"{x}-once", {}),
        (f"{x}-dead", f"{x}-flaky", {}),
        (f"{x}-dead2", f"{x}-flaky", {}),
        (f"{x}-dead3", f"{x}-flaky", {}),
        (f"{x}-bulk", "bulk", {}),
        (f"{x}-del", f"{x}-echo", {"runAt": LATER}),
        (f"{x}-later", f"{x}-echo", {"runAt": LATER}),
    ]:
        body = task(name, templateRef={"name": tmpl}, params={"message": name}, **extra)
        body["metadata"]["labels"] = {"rbac": "world"}
        create(cluster, ns, "tasks", body)
    for name, suspend in [
        (f"{x}-sched", True),
        (f"{x}-sched-put", True),
        (f"{x}-sched-doomed", True),
        (f"{x}-sched-on", False),
        (f"{x}-sched-off", True),
    ]:
        spec = {
            "schedule": CRON,
            "suspend": suspend,
            "concurrencyPolicy": "Allow",
            "task": {"templateRef": {"name": f"{x}-echo"}, "params": {"message": name}},
        }
        meta = {"name": name}
        create(
            cluster,
            ns,
            "taskschedules",
            {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskSchedule", "metadata": meta, "spec": spec},
        )


def _answers(world: World, path: str) -> bool:
    return world.get("viewer", path).status_code == 200


def _finished(world: World, path: str) -> bool:
    return len(world.get("viewer", path).json()["items"]) >= 2


def _ready(world: World, cluster: Cluster, setup: str) -> None:
    """Every route of the table has rows in both namespaces: tasks final and mirrored, a run of each
    schedule, kept logs and results, dead letters listed."""
    for ns, x in ((world.a, "a"), (world.b, "b")):
        r = httpx.post(
            f"{world.url}{V1}/namespaces/{ns}/schedules/{x}-sched/trigger", headers=world.headers(setup), timeout=30
        )
        assert r.status_code == 201, r.text
        run = r.json()["name"]
        for name in (f"{x}-ok", f"{x}-bad", f"{x}-dead", f"{x}-dead2", f"{x}-dead3", f"{x}-bulk", run):
            wait_task(cluster, ns, name, timeout=240)
        dead = {f"{x}-dead", f"{x}-dead2", f"{x}-dead3", f"{x}-bulk"}

        def listed(ns: str = ns, dead: set[str] = dead) -> bool:
            r = world.get("viewer", f"{V1}/namespaces/{ns}/deadletters")
            return r.status_code == 200 and dead <= {d["name"] for d in r.json()["items"]}

        wait_for(f"dead letters of {ns}", listed, 60)
        for path in (
            f"{V1}/namespaces/{ns}/tasks/{x}-ok/attempts/1/logs",
            f"{V1}/namespaces/{ns}/tasks/{x}-ok/result",
            f"{V1}/namespaces/{ns}/schedules/{x}-sched/runs",
        ):
            wait_for(path, partial(_answers, world, path), 90)
        finished = f"{V1}/namespaces/{ns}/tasks?phase=Failed&phase=Succeeded&labelSelector={WORLD}"
        wait_for(f"{ns}'s finished tasks in history", partial(_finished, world, finished), 60)


@pytest.fixture(scope="module")
def world(cluster: Cluster, operator: OperatorProcess) -> Iterator[World]:
    """Namespaces A and B of this module's own, the chart's user roles applied, the identities and
    their tokens, history in both namespaces; all removed afterwards (edit and view lose kubetask's
    resources again before the next test runs)."""
    suffix = uuid.uuid4().hex[:6]
    a, b, release = f"rbac-a-{suffix}", f"rbac-b-{suffix}", f"rbac-{suffix}"
    core = cluster.core()
    roles = chart_user_roles(release)
    viewer_binding = f"{release}-viewer"
    operator.use_database(operator.database_url)
    try:
        for ns in (a, b):
            core.create_namespace({"metadata": {"name": ns}})
            wait_namespace_ready(core, ns)
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(roles))
        wait_for("edit to aggregate the chart's role", lambda: aggregated(cluster, "edit", "tasks", "create"), 60)
        wait_for("view to aggregate the chart's role", lambda: aggregated(cluster, "view", "tasks", "list"), 60)
        tokens: dict[str, str | None] = {
            sa: service_account_token(cluster, a, sa) for sa in ("editor", "viewer", "nobody", "setup")
        }
        tokens |= {"anonymous": None, "garbage": f"garbage-{uuid.uuid4().hex}"}
        bind_in_namespace(cluster, a, "edit", a, "editor")
        bind_cluster_wide(cluster, viewer_binding, "view", a, "viewer")
        for ns in (a, b):
            bind_in_namespace(cluster, ns, "edit", a, "setup")
        for ns, x in ((a, "a"), (b, "b")):
            _history(cluster, ns, x)
        settings = ApiSettings(database_url=operator.database_url, auth="kubernetes")  # the default, said
        with serve(create_app(settings, api=cluster.api())) as url:
            users = {sa: service_account_user(a, sa) for sa in ("editor", "viewer", "nobody")}
            w = World(url, a, b, tokens, users, operator.database_url)
            _ready(w, cluster, "setup")
            yield w
    finally:
        cluster.kubectl("delete", "clusterrolebinding", viewer_binding, "--ignore-not-found")
        cluster.kubectl("delete", "clusterrole", *(r["metadata"]["name"] for r in roles), "--ignore-not-found")
        for ns in (a, b):
            core.delete_namespace(ns)
        wait_for("edit to lose kubetask's resources", lambda: not aggregated(cluster, "edit", "tasks", "create"), 60)
        wait_for("view to lose kubetask's resources", lambda: not aggregated(cluster, "view", "tasks", "list"), 60)


@dataclass(frozen=True)
class Answer:
    who: str
    row: Row
    path: str
    status: int
    text: str
    headers: httpx.Headers

    def __str__(self) -> str:
        return f"{self.who} {self.row.op.split()[0]} {self.path}: {self.status} {self.text[:300]}"


def _send(world: World, rows: list[Row]) -> list[Answer]:
    """Every row for every identity at once, from 16 threads."""

    def one(client: httpx.Client, who: str, i: int, row: Row) -> Answer:
        names = {"a": world.a, "b": world.b, "who": who}
        path = row.path.format(**names)
        body = _filled(row.body, **names)
        headers = {**world.headers(who), "X-Request-Id": f"{world.a}-{who}-{i}"}  # its audit row's key
        r = client.request(row.op.split()[0], path, json=body, headers=headers)
        return Answer(who, row, path, r.status_code, r.text, r.headers)

    with httpx.Client(base_url=world.url, timeout=60) as client, ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(one, client, who, i, row) for who in IDENTITIES for i, row in enumerate(rows)]
        return [f.result() for f in futures]


def _expected(answer: Answer) -> int:
    if answer.who in ("anonymous", "garbage"):
        return answer.row.anonymous
    return answer.row.expect[IDENTITIES.index(answer.who)]


def test_every_operation_of_the_openapi_document_has_rows(world: World) -> None:
    doc = httpx.get(world.url + "/openapi.json", timeout=30).json()
    operations = {f"{m.upper()} {p}" for p, methods in doc["paths"].items() for m in methods}
    rows = _table()
    assert sorted(operations - {r.op for r in rows}) == [], "operations without a row in the table"
    assert sorted({r.op for r in rows} - operations) == [], "rows of operations the API does not have"
    namespaced = {r.op for r in rows if "{ns}" in r.op}
    for where in ("A", "B"):
        assert sorted(namespaced - {r.op for r in rows if r.where == where}) == [], f"no row in {where}"


def test_each_identity_gets_the_status_rbac_implies_and_refusals_change_nothing(world: World, cluster: Cluster) -> None:
    answers = _send(world, _table())
    wrong = [f"{a}: expected {_expected(a)}" for a in answers if a.status != _expected(a)]
    assert wrong == []
    for a in answers:
        if a.status == 401:
            assert a.headers.get("www-authenticate", "").startswith("Bearer"), str(a)
        if a.status in (401, 403):
            assert a.headers["content-type"].startswith("application/problem+json"), str(a)
    _only_permitted_writes(world, cluster)
    _audited(world, answers)


def _names(cluster: Cluster, ns: str, plural: str) -> set[str]:
    return {o["metadata"]["name"] for o in list_objects(cluster, ns, plural)}


def _only_permitted_writes(world: World, cluster: Cluster) -> None:
    """The CRs and SQL after the table: the editor's writes in A happened, nothing else did."""
    a, b = world.a, world.b
    refused = ("viewer", "nobody", "anonymous", "garbage")
    for ns in (a, b):
        for plural in ("tasks", "tasktemplates", "taskschedules"):
            made = [n for n in _names(cluster, ns, plural) if n.endswith(refused)]
            assert made == [], f"{ns} {plural} made by refused requests"
    tasks_a, tasks_b = _names(cluster, a, "tasks"), _names(cluster, b, "tasks")
    assert {"a-new-editor", "a-dead-r1", "a-dead3-r1", "a-bulk-r1"} <= tasks_a
    assert "a-del" not in tasks_a or cluster.custom().get_namespaced_custom_object(
        "kubetask.io", "v1alpha1", a, "tasks", "a-del"
    )["metadata"].get("deletionTimestamp")
    assert {"b-del", "b-later", "b-bulk", "b-dead", "b-dead3"} <= tasks_b
    assert [n for n in tasks_b if n.endswith(("-editor", "-r1"))] == []
    get = cluster.custom().get_namespaced_custom_object
    assert get("kubetask.io", "v1alpha1", a, "tasks", "a-later")["spec"].get("cancel") is True
    assert not get("kubetask.io", "v1alpha1", b, "tasks", "b-later")["spec"].get("cancel")
    runs = {
        ns: [
            t
            for t in list_objects(cluster, ns, "tasks")
            if (t["metadata"].get("labels") or {}).get("kubetask.io/schedule") == f"{x}-sched"
        ]
        for ns, x in ((a, "a"), (b, "b"))
    }
    assert (len(runs[a]), len(runs[b])) == (3, 1)  # the set-up's run; then the editor's trigger and backfill in A
    templates_a, templates_b = _names(cluster, a, "tasktemplates"), _names(cluster, b, "tasktemplates")
    assert "a-tmpl-editor" in templates_a and "a-doomed" not in templates_a
    assert "b-doomed" in templates_b and "b-tmpl-editor" not in templates_b
    assert get("kubetask.io", "v1alpha1", a, "tasktemplates", "a-put")["spec"]["description"] == "put by editor"
    assert get("kubetask.io", "v1alpha1", b, "tasktemplates", "b-put")["spec"]["description"] == "as made"
    schedules_a, schedules_b = _names(cluster, a, "taskschedules"), _names(cluster, b, "taskschedules")
    assert "a-sched-editor" in schedules_a and "a-sched-doomed" not in schedules_a
    assert "b-sched-doomed" in schedules_b and "b-sched-editor" not in schedules_b

    def spec(ns: str, name: str) -> dict[str, Any]:
        s: dict[str, Any] = get("kubetask.io", "v1alpha1", ns, "taskschedules", name)["spec"]
        return s

    assert (spec(a, "a-sched-on")["suspend"], spec(a, "a-sched-off")["suspend"]) == (True, False)
    assert (spec(b, "b-sched-on")["suspend"], spec(b, "b-sched-off")["suspend"]) == (False, True)
    assert (spec(a, "a-sched-put")["schedule"], spec(b, "b-sched-put")["schedule"]) == ("0 0 2 1 *", CRON)
    # SQL: the purge (the API's own write) removed A's dead letter only; no refused submit has a row
    engine = create_engine(world.database_url)
    try:
        with Session(engine) as s:
            dl = DeadLetterRow
            dead_letters = select(dl.namespace, dl.name).where(dl.namespace.in_((a, b)))
            dead = {(ns, name) for ns, name in s.execute(dead_letters)}
            tasks = select(TaskRow.namespace, TaskRow.name).where(TaskRow.namespace.in_((a, b)))
            rows = {(ns, name) for ns, name in s.execute(tasks)}
    finally:
        engine.dispose()
    assert (a, "a-dead2") not in dead and (b, "b-dead2") in dead
    assert [r for r in rows if r[1].endswith(refused) or (r[0] == b and r[1].endswith(("-editor", "-r1")))] == []


REFUSALS = {401: "unauthenticated", 403: "forbidden"}


def _audited(world: World, answers: list[Answer]) -> None:
    """Issue 23: every mutating request of the table and every refused one left its audit row, with
    who asked (as the TokenReview named them; no one for no or a garbage token), its status and the
    decision; no read let through did."""
    mutating = {"POST", "PUT", "PATCH", "DELETE"}
    expected = sum(1 for a in answers if a.row.op.split()[0] in mutating or a.status in REFUSALS)
    engine = create_engine(world.database_url)

    def settled() -> dict[str, AuditRow] | None:  # answers and refusals come from the trail's writer thread
        with Session(engine) as s:
            ours = select(AuditRow).where(AuditRow.request_id.like(f"{world.a}-%"))
            got = {r.request_id: r for r in s.scalars(ours)}
        return got if len(got) >= expected and all(r.status is not None for r in got.values()) else None

    try:
        rows = wait_for("every audit row of the table, answered", settled, 60, 0.5)
    finally:
        engine.dispose()
    wrong = []
    for a in answers:
        rid = a.headers["x-request-id"]
        method = a.row.op.split()[0]
        if method not in mutating and a.status not in REFUSALS:
            if rid in rows:
                wrong.append(f"{a}: a row for a read let through")
            continue
        row = rows.get(rid)
        user = world.users.get(a.who)
        want = (user, a.status, REFUSALS.get(a.status, "allowed"), method)
        got = (row.user, row.status, row.decision, row.operation.split()[0]) if row else None
        if got != want:
            wrong.append(f"{a}: audit row {got}, expected {want}")
    assert wrong == []
    assert len(rows) == expected


LEAK_READS = [
    f"{V1}/tasks",
    f"{V1}/tasks?labelSelector={WORLD}",
    f"{V1}/tasks?template=b-echo",
    f"{V1}/tasks?template=bulk&sort=name",
    f"{V1}/tasks?q=b-",
    f"{V1}/tasks?phase=DeadLettered&phase=Failed&phase=Succeeded&limit=500",
    f"{V1}/deadletters",
    f"{V1}/deadletters?template=bulk",
    f"{V1}/stats",
    f"{V1}/stats?window=86400",
]


def test_the_editor_of_a_reads_nothing_of_b(world: World) -> None:
    leaks = []
    for path in LEAK_READS:
        r = world.get("editor", path)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        if world.b in r.text or '"b-' in r.text:
            leaks.append(f"{path}: {r.text[:500]}")
        for item in r.json().get("items", []):
            if item.get("namespace") != world.a:
                leaks.append(f"{path}: a row of {item.get('namespace')}: {item.get('name')}")
    assert leaks == []
    # the cluster-wide list is A's rows, all of them
    mine = {t["name"] for t in world.get("editor", f"{V1}/tasks?labelSelector={WORLD}").json()["items"]}
    theirs = {
        t["name"] for t in world.get("viewer", f"{V1}/namespaces/{{a}}/tasks?labelSelector={WORLD}").json()["items"]
    }
    assert mine == theirs and "a-ok" in mine
    bulk = {(d["namespace"], d["name"]) for d in world.get("editor", f"{V1}/deadletters?template=bulk").json()["items"]}
    assert {ns for ns, _ in bulk} == {world.a} and (world.a, "a-bulk") in bulk  # a-bulk-r1 may be dead too

    # the editor's cluster-wide stats are A's: the same figures as its stats of A alone
    def same() -> bool:
        overall = world.get("editor", f"{V1}/stats?window=86400").json()
        of_a = world.get("editor", f"{V1}/stats?window=86400&namespace={{a}}").json()
        return bool(overall["overall"] == of_a["overall"] and overall["perTemplate"] == of_a["perTemplate"])

    wait_for("the editor's stats to be A's", same, 30, 1)
    # nobody's cluster-wide lists are empty; the viewer's hold B's rows (the rows exist)
    assert world.get("nobody", f"{V1}/tasks?labelSelector={WORLD}").json()["items"] == []
    assert world.get("nobody", f"{V1}/deadletters?template=bulk").json()["items"] == []
    viewer = {d["namespace"] for d in world.get("viewer", f"{V1}/deadletters?template=bulk").json()["items"]}
    assert {world.a, world.b} <= viewer


def test_a_403_names_verb_resource_and_namespace_like_kubectl(world: World) -> None:
    group = 'in API group "kubetask.io"'
    for who, method, path, body, verb, resource, ns in [
        ("editor", "GET", f"{V1}/namespaces/{world.b}/tasks", None, "list", "tasks", world.b),
        ("editor", "GET", f"{V1}/namespaces/{world.b}/tasks/b-ok", None, "get", "tasks", world.b),
        ("editor", "GET", f"{V1}/stats?namespace={world.b}", None, "list", "tasks", world.b),
        ("viewer", "POST", f"{V1}/namespaces/{world.a}/tasks/a-later/cancel", None, "patch", "tasks", world.a),
        ("viewer", "DELETE", f"{V1}/namespaces/{world.b}/deadletters/b-dead2", None, "delete", "deadletters", world.b),
        ("nobody", "GET", f"{V1}/namespaces/{world.a}/templates", None, "list", "tasktemplates", world.a),
        (
            "nobody",
            "POST",
            f"{V1}/namespaces/{world.a}/schedules/a-sched/resume",
            None,
            "patch",
            "taskschedules",
            world.a,
        ),
    ]:
        r = httpx.request(method, world.url + path, json=body, headers=world.headers(who), timeout=30)
        assert r.status_code == 403, r.text
        problem = r.json()
        want = f'User "{world.users[who]}" cannot {verb} resource "{resource}" {group} in the namespace "{ns}"'
        assert (problem["status"], problem["detail"]) == (403, want)
    for who in ("anonymous", "garbage"):
        r = httpx.get(f"{world.url}{V1}/tasks", headers=world.headers(who), timeout=30)
        assert (r.status_code, r.headers.get("www-authenticate")) == (401, "Bearer"), r.text
        assert r.json()["status"] == 401
