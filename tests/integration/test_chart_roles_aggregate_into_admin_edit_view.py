"""The chart's user roles: <fullname>-admin, -edit and -view fold into Kubernetes' admin, edit and view.

Rendered with Helm 4 and checked for the aggregation labels and the rules issue 22 gives them, the
API's binding to system:auth-delegator in both RBAC modes, the impersonation rule only when asked
for; then applied to the suite's cluster, whose controller-manager runs the clusterrole-aggregation
controller (cluster.sh), and asked with `kubectl auth can-i` as a ServiceAccount bound to the built-in
`edit` or `view` in one namespace only.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from kubetask.testing.cluster import Cluster, wait_for
from kubetask.testing.helm import helm_binary

CHART = Path(__file__).resolve().parents[2] / "charts" / "kubetask"
KUBETASK = ["tasks", "tasktemplates", "taskschedules"]
READ = ["get", "list", "watch"]
WRITE = [*READ, "create", "update", "patch", "delete"]


def _render(release: str, *sets: str, values: str = "default") -> list[dict[str, Any]]:
    args = [str(helm_binary(4)), "template", release, str(CHART), "-n", "kubetask", "--kube-version", "1.20.2"]
    args += ["-f", str(CHART / "ci" / f"{values}.yaml"), *(a for s in sets for a in ("--set", s))]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _named(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def _user_roles(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        n: r
        for n, r in _named(manifests, "ClusterRole").items()
        if any(k.startswith("rbac.authorization.k8s.io/aggregate-to-") for k in r["metadata"]["labels"])
    }


@pytest.mark.parametrize("values", ["default", "namespaced"])
def test_three_roles_aggregate_into_admin_edit_and_view_with_the_issues_rules(values: str) -> None:
    roles = _user_roles(_render("r", values=values))
    assert sorted(roles) == ["r-kubetask-admin", "r-kubetask-edit", "r-kubetask-view"]
    for builtin in ("admin", "edit", "view"):
        labels = roles[f"r-kubetask-{builtin}"]["metadata"]["labels"]
        assert {k: v for k, v in labels.items() if k.startswith("rbac.")} == {
            f"rbac.authorization.k8s.io/aggregate-to-{builtin}": "true"
        }
    writes = [
        {"apiGroups": ["kubetask.io"], "resources": KUBETASK, "verbs": WRITE},
        {"apiGroups": ["kubetask.io"], "resources": ["deadletters"], "verbs": ["delete"]},
    ]
    assert roles["r-kubetask-edit"]["rules"] == writes
    audit = {"apiGroups": ["kubetask.io"], "resources": ["auditevents"], "verbs": ["list"]}  # the trail: admin's
    assert roles["r-kubetask-admin"]["rules"] == [*writes, audit]
    assert roles["r-kubetask-view"]["rules"] == [{"apiGroups": ["kubetask.io"], "resources": KUBETASK, "verbs": READ}]


def test_two_releases_do_not_collide_and_the_roles_can_be_turned_off() -> None:
    assert set(_user_roles(_render("a"))).isdisjoint(_user_roles(_render("b")))
    assert _user_roles(_render("r", "rbac.aggregateRoles=false")) == {}
    # the users' roles are not the release's own RBAC: rbac.create=false leaves them
    assert len(_user_roles(_render("r", "rbac.create=false"))) == 3


@pytest.mark.parametrize("values", ["default", "namespaced"])
def test_the_api_is_an_auth_delegator_and_impersonates_only_when_asked(values: str) -> None:
    manifests = _render("r", values=values)
    delegator = _named(manifests, "ClusterRoleBinding")["r-kubetask-api-auth-delegator"]
    assert delegator["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:auth-delegator",
    }
    assert delegator["subjects"] == [{"kind": "ServiceAccount", "name": "r-kubetask-api", "namespace": "kubetask"}]
    (api,) = _named(manifests, "Deployment")["r-kubetask-api"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in api["env"]}
    assert (env["KUBETASK_API_AUTH"], env["KUBETASK_API_IMPERSONATE"]) == ("kubernetes", "false")
    rules = [r for c in _named(manifests, "ClusterRole").values() for r in c["rules"]]
    assert not [r for r in rules if "impersonate" in r["verbs"]]

    on = _render("r", "api.impersonate=true", "api.auth=none", values=values)
    (api,) = _named(on, "Deployment")["r-kubetask-api"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in api["env"]}
    assert (env["KUBETASK_API_AUTH"], env["KUBETASK_API_IMPERSONATE"]) == ("none", "true")
    impersonating = [
        (name, r) for name, c in _named(on, "ClusterRole").items() for r in c["rules"] if "impersonate" in r["verbs"]
    ]
    assert impersonating == [
        (
            "r-kubetask-api",
            {"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]},
        )
    ]
    bound = _named(on, "ClusterRoleBinding")["r-kubetask-api"]
    assert bound["subjects"] == [{"kind": "ServiceAccount", "name": "r-kubetask-api", "namespace": "kubetask"}]


def _can_i(cluster: Cluster, who: str, verb: str, resource: str, ns: str) -> bool:
    """`kubectl auth can-i VERB RESOURCE --as=WHO -n NS`."""
    r = cluster.kubectl("auth", "can-i", verb, resource, f"--as={who}", "-n", ns, check=False)
    answer = r.stdout.strip()
    assert answer in ("yes", "no"), (r.returncode, r.stdout, r.stderr)
    return answer == "yes"


def _can(cluster: Cluster, sa: str, verb: str, resource: str, ns: str) -> bool:
    """What the API asks: a SubjectAccessReview for ServiceAccount `sa` (NS/NAME) with its groups, on
    kubetask.io `resource` (kubectl cannot ask about `deadletters`, which no API serves: it asks
    discovery first and finds no such resource)."""
    sa_ns, name = sa.split("/")
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=f"system:serviceaccount:{sa_ns}:{name}",
            groups=["system:serviceaccounts", f"system:serviceaccounts:{sa_ns}", "system:authenticated"],
            resource_attributes=client.V1ResourceAttributes(
                group="kubetask.io", resource=resource, verb=verb, namespace=ns
            ),
        )
    )
    status = client.AuthorizationV1Api(cluster.api()).create_subject_access_review(review).status
    assert status is not None
    return bool(status.allowed)


def test_edit_and_view_in_a_namespace_then_include_kubetasks_resources(cluster: Cluster, namespace: str) -> None:
    release = f"agg-{namespace}"  # unique on the suite's cluster: no other test's roles are touched
    roles = list(_user_roles(_render(release)).values())
    other = f"{namespace}-other"
    cluster.core().create_namespace({"metadata": {"name": other}})
    editor, viewer, nobody = (f"{namespace}/{sa}" for sa in ("editor", "viewer", "nobody"))
    as_editor = f"system:serviceaccount:{namespace}:editor"
    try:
        for sa, builtin in (("editor", "edit"), ("viewer", "view")):
            cluster.kubectl("-n", namespace, "create", "serviceaccount", sa)
            binding = ("rolebinding", sa, f"--clusterrole={builtin}", f"--serviceaccount={namespace}:{sa}")
            cluster.kubectl("-n", namespace, "create", *binding)
        assert not _can_i(cluster, as_editor, "create", "tasks.kubetask.io", namespace)  # before the chart's roles
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(roles))
        # the aggregation controller rewrites edit's and view's rules on its own time
        wait_for("edit to include tasks", lambda: _can_i(cluster, as_editor, "create", "tasks.kubetask.io", namespace))
        wait_for("view to include tasks", lambda: _can(cluster, viewer, "list", "tasks", namespace))
        assert not _can_i(cluster, as_editor, "create", "tasks.kubetask.io", other)
        for verb, resource in [
            ("create", "tasks"),
            ("patch", "tasks"),  # cancel
            ("delete", "tasks"),
            ("create", "taskschedules"),
            ("update", "tasktemplates"),
            ("delete", "deadletters"),  # purge
        ]:
            assert _can(cluster, editor, verb, resource, namespace), (verb, resource)
            assert not _can(cluster, viewer, verb, resource, namespace), (verb, resource)
            assert not _can(cluster, editor, verb, resource, other), (verb, resource)
        for resource in KUBETASK:
            for verb in READ:
                assert _can(cluster, viewer, verb, resource, namespace), (verb, resource)
                assert _can(cluster, editor, verb, resource, namespace), (verb, resource)
                assert not _can(cluster, viewer, verb, resource, other), (verb, resource)
                assert not _can(cluster, nobody, verb, resource, namespace), (verb, resource)
    finally:
        cluster.kubectl("delete", "clusterrole", *(r["metadata"]["name"] for r in roles), "--ignore-not-found")
        cluster.core().delete_namespace(other)
