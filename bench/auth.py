"""Figure 9, authentication on vs off: the same N `POST /api/v1/namespaces/{ns}/tasks` at concurrency 16
through `kubetask-api` with `KUBETASK_API_AUTH=none` and with `kubernetes`, alternated in one run
(off, on, off, on), on PostgreSQL, with the operator stopped as in figure 3.

With authentication on, every request carries a real ServiceAccount token (a 1.20 token Secret) whose
only right is a Role on kubetask's resources in the pass's namespace, so the API makes a real
TokenReview and a real SubjectAccessReview, then answers from its cache (10 s for an accepted token and
an allowed permission): at a few hundred requests a second nearly every request is a cache hit. A last
pass turns the cache off (`KUBETASK_API_AUTH_CACHE_SECONDS=0`, the per-token review limit raised so it
does not answer 429) to show what a review per request costs; it is not the ratio's. The ratio is the
mean of the "on" passes over the mean of the "off" passes (goal ≥ 0.9).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from bench.api import CONCURRENCY, through_api
from bench.context import EXECUTOR, Context, log
from kubetask.testing.cluster import GROUP, VERSION

PREFIX = "auth"  # the namespaces' prefix (Context.clear)
SUBMITTER = "submitter"
# (label, authentication on, extra settings of the API for the pass)
PASSES: list[tuple[str, bool, dict[str, str]]] = [
    ("off", False, {}),
    ("on", True, {}),
    ("off", False, {}),
    ("on", True, {}),
    # a review per request: no cache, and a per-token limit far above what 16 clients can ask
    (
        "on, cache off",
        True,
        {"KUBETASK_API_AUTH_CACHE_SECONDS": "0", "KUBETASK_API_AUTH_DENIAL_CACHE_SECONDS": "0"}
        | {"KUBETASK_API_AUTH_REVIEWS_PER_TOKEN": "100000", "KUBETASK_API_AUTH_REVIEWS_PER_SECOND": "100000"},
    ),
]


def run(ctx: Context, record: dict[str, Any], _figures: dict[str, dict[str, Any]]) -> None:
    rows: list[dict[str, Any]] = record.setdefault("rows", [])
    record["concurrency"] = CONCURRENCY
    n = ctx.sizes.api_n
    ctx.op.stop()
    try:
        db_url = ctx.pg.new_database()
        for label, on, settings in PASSES:
            ns = ctx.namespace(PREFIX)
            _template(ctx, ns)
            token = _submitter_token(ctx, ns) if on else None
            log(f"auth: {n} submissions at concurrency {CONCURRENCY}, authentication {label}")
            env = {"KUBETASK_API_AUTH": "kubernetes" if on else "none", **settings}
            load_before = _load()
            api = through_api(ctx, db_url, ns, n, env=env, token=token)
            rows.append({"pass": label, "auth": on, "settings": settings, "api": api, "load": [load_before, _load()]})
    finally:
        ctx.clear((PREFIX,))
        ctx.restart_operator()
    record["ratio"] = on_off_ratio(rows)


def on_off_ratio(rows: list[dict[str, Any]]) -> float | None:
    """Mean submissions/s of the "on" passes over that of the "off" passes (the cache-off pass is
    not one of them); None unless every such pass has a rate."""
    rates: dict[str, list[float]] = {"off": [], "on": []}
    for r in rows:
        if r.get("pass") in rates:
            rate = (r.get("api") or {}).get("per_s")
            if rate is None:
                return None
            rates[r["pass"]].append(float(rate))
    off, on = rates["off"], rates["on"]
    if not off or not on:
        return None
    return (sum(on) / len(on)) / (sum(off) / len(off))


def _template(ctx: Context, ns: str) -> None:
    spec = {"image": EXECUTOR, "handler": "echo", "paramSchema": {"type": "object"}}
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskTemplate", "metadata": {"name": "echo"}, "spec": spec}
    ctx.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasktemplates", body)


def _submitter_token(ctx: Context, ns: str, timeout: float = 60) -> str:
    """A ServiceAccount allowed kubetask's resources in `ns` only (what the chart's edit role grants
    there), and its token from the Secret 1.20's token controller makes for it."""
    rbac = "rbac.authorization.k8s.io"
    ctx.core.create_namespaced_service_account(ns, {"metadata": {"name": SUBMITTER}})
    rules = [
        {"apiGroups": ["kubetask.io"], "resources": ["tasks", "tasktemplates", "taskschedules"], "verbs": ["*"]},
    ]
    ctx.cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=_yaml_docs(
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "Role",
                "metadata": {"name": SUBMITTER, "namespace": ns},
                "rules": rules,
            },
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "RoleBinding",
                "metadata": {"name": SUBMITTER, "namespace": ns},
                "roleRef": {"apiGroup": rbac, "kind": "Role", "name": SUBMITTER},
                "subjects": [{"kind": "ServiceAccount", "name": SUBMITTER, "namespace": ns}],
            },
        ),
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sa = ctx.core.read_namespaced_service_account(SUBMITTER, ns)
        if sa.secrets:
            secret = ctx.core.read_namespaced_secret(sa.secrets[0].name, ns)
            if secret.data and secret.data.get("token"):
                return base64.b64decode(secret.data["token"]).decode()
        time.sleep(0.2)
    raise TimeoutError(f"no token Secret for ServiceAccount {ns}/{SUBMITTER} within {timeout:.0f} s")


def _yaml_docs(*docs: dict[str, Any]) -> str:
    return "\n---\n".join(json.dumps(d) for d in docs)  # JSON is YAML


def _load() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])
