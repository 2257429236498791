"""Fault test: 200 tasks with mixed outcomes while the operator is SIGKILLed and restarted at
random moments (6 times) and the apiserver is restarted once. Every task must end in its correct
final phase, no attempt may run twice (one Job per attempt, one pod per Job), and the SQL
history must equal what the CRs report.

The operator runs at production settings: its recovery sweep every 600 s never runs during the
test, so only watch events and the start-up resync can heal what a kill interrupted. Afterwards
one sweep on demand (SIGUSR1) must find nothing to change. "Once" is counted by the apiserver's
audit log, which sees a Job deleted and created again under the same name; a listing cannot."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from kubetask.testing.audit import WRITE_VERBS
from kubetask.testing.cluster import (
    FINAL,
    Cluster,
    OperatorProcess,
    create,
    dedicated_operator,
    list_objects,
    python_spec,
    task,
    template,
    wait_for,
)
from tests.oracle import mirror_differences, raw_jobs

_CHAOS_AGENT = f"kubetask-operator/{version('kubetask')} (chaos)"
RETRY = {"maxAttempts": 3, "backoff": "constant", "delaySeconds": 1, "jitter": "none"}
# kind → (count, expected phase, expected attempts)
PLAN = {
    "ok": (100, "Succeeded", 1),
    "exit3": (40, "Failed", 1),
    "second-try": (30, "Succeeded", 2),
    "doomed": (20, "DeadLettered", 2),
    "invalid": (10, "Failed", 0),
}


@pytest.fixture
def chaos_operator(cluster: Cluster, operator: OperatorProcess, tmp_path: Path) -> Iterator[OperatorProcess]:
    # no KUBETASK_OPERATOR_RESYNC_SECONDS: the default (600 s); its own identity, so its own User-Agent, and
    # its own Lease (the session operator's, just stopped, would otherwise hold it for 15 s)
    env = {"KUBETASK_OPERATOR_IDENTITY": "chaos", "KUBETASK_OPERATOR_LEASE_NAME": "kubetask-chaos-test"}
    with dedicated_operator(operator, cluster, tmp_path / "chaos.log", env) as op:
        yield op


def _body(kind: str, i: int) -> dict[str, Any]:
    name = f"{kind}-{i}"
    if kind == "ok":
        return task(name, templateRef={"name": "echo"}, params={"i": i})
    if kind == "invalid":
        return task(name, templateRef={"name": "echo"}, params={"i": "not a number"})
    code = {
        "exit3": "import sys; sys.exit(3)",
        "second-try": "import os, sys; sys.exit(0 if os.environ['KUBETASK_ATTEMPT'] == '2' else 1)",
        "doomed": "import sys; sys.exit(1)",
    }[kind]
    retry = {**RETRY, "maxAttempts": 2} if kind == "doomed" else RETRY
    return task(name, **python_spec(code, retry=retry if kind != "exit3" else None))


def _chaos(cluster: Cluster, op: OperatorProcess, stop: threading.Event, log: list[str]) -> None:
    rng = random.Random(20261129)
    kills = 0
    while not stop.is_set() and kills < 6:
        if stop.wait(rng.uniform(4, 12)):
            return
        op.kill()
        kills += 1
        log.append(f"operator SIGKILL #{kills}")
        time.sleep(rng.uniform(0.2, 2.0))
        if kills == 2:
            cluster.restart_apiserver()
            log.append("apiserver restarted")
        op.start()


def _assert_each_job_and_pod_created_once(cluster: Cluster, namespace: str, expected_jobs: set[str]) -> None:
    """From the apiserver's own record: every expected Job created exactly once (a 409 for a name that
    exists is fine; two 201s, or any delete, would be a Job made again), all by the chaos operator, and
    one pod created per Job (garbage collection would hide a second one's pod from a listing)."""
    cluster.audit_sync()
    audit = cluster.audit()
    creates = audit.requests(verb="create", resource="jobs", namespace=namespace)
    made = Counter(r.name for r in creates if r.code == 201)
    # A create whose client was SIGKILLed mid-request is answered 500 ("context canceled", "unexpected
    # EOF" in the apiserver's log) and may or may not have stored the Job (both seen in CI): such a Job
    # has no 201. Each expected Job has one 201 or only such answers; the pod count below and the absence
    # of deletes still catch a Job made again.
    unsure = {r.name for r in creates if r.code >= 500} - set(made)
    assert set(made) <= expected_jobs, f"Jobs created that no attempt names: {sorted(set(made) - expected_jobs)}"
    assert expected_jobs - set(made) <= unsure, f"Jobs never created: {sorted(expected_jobs - set(made) - unsure)}"
    assert [n for n, k in made.items() if k > 1] == [], "a Job name was created more than once"
    assert {r.user_agent for r in creates} == {_CHAOS_AGENT}, "a Job was created by someone else"
    assert {r.code for r in creates if r.code < 500} <= {201, 409}, "a Job create was refused"
    deletes = audit.requests(verb="delete", resource="jobs", namespace=namespace)
    assert [r.name for r in deletes] == [], "no outcome of this plan deletes a Job"
    # subresource "": the pod itself, not the scheduler's binding (also a create on pods)
    pod_creates = audit.requests(verb="create", resource="pods", subresource="", namespace=namespace, code=201)
    pods = Counter(r.label("job-name") for r in pod_creates)
    assert pods == Counter(dict.fromkeys(expected_jobs, 1)), "an attempt's Job made more than one pod"


def _task_and_job_writes(cluster: Cluster, namespace: str, since: int) -> list[tuple[str, str, str, str]]:
    """The chaos operator's writes to Tasks (their status included) and Jobs in `namespace` after `since`."""
    writes = cluster.audit().requests(
        since=since, namespace=namespace, verb=WRITE_VERBS, resource={"tasks", "jobs"}, user_agent=_CHAOS_AGENT
    )
    return [(r.verb, r.resource, r.subresource, r.name) for r in writes]


@pytest.mark.timeout(1200)  # the wait for all 200 (600 s) must fail by itself, before the per-test timeout
def test_two_hundred_tasks_survive_operator_kills_and_an_apiserver_restart(
    cluster: Cluster, chaos_operator: OperatorProcess, namespace: str
) -> None:
    schema = {"type": "object", "properties": {"i": {"type": "integer"}}}
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo", paramSchema=schema))
    stop, log = threading.Event(), list[str]()
    chaos = threading.Thread(target=_chaos, args=(cluster, chaos_operator, stop, log), daemon=True)
    chaos.start()
    t0 = time.monotonic()
    bodies = [_body(kind, i) for kind, (n, _, _) in PLAN.items() for i in range(n)]
    random.Random(7).shuffle(bodies)
    for body in bodies:
        for _ in range(50):  # the apiserver may be restarting right now
            try:
                create(cluster, namespace, "tasks", body)
                break
            except Exception:  # the apiserver may be restarting
                time.sleep(0.5)
    created = time.monotonic() - t0

    def all_final() -> list[dict[str, Any]] | None:
        try:
            items = list_objects(cluster, namespace, "tasks")
        except Exception:  # the apiserver may be restarting
            return None
        final = len(items) == 200 and all((t.get("status") or {}).get("phase") in FINAL for t in items)
        return items if final else None

    crs = wait_for("all 200 tasks final", all_final, timeout=600, interval=2)
    stop.set()
    chaos.join(60)
    if chaos_operator.proc is None or chaos_operator.proc.poll() is not None:
        chaos_operator.start()
    elapsed = time.monotonic() - t0

    phases: Counter[str] = Counter()
    wrong = []
    for cr in crs:
        kind = cr["metadata"]["name"].rsplit("-", 1)[0]
        _, phase, attempts = PLAN[kind]
        st = cr["status"]
        phases[st["phase"]] += 1
        if (st["phase"], st.get("attemptCount", 0)) != (phase, attempts):
            wrong.append(f"{cr['metadata']['name']}: {st['phase']}/{st.get('attemptCount')} {st.get('message')}")
    assert wrong == []

    jobs = cluster.batch().list_namespaced_job(namespace).items
    pods = cluster.core().list_namespaced_pod(namespace).items
    per_attempt = Counter(j.metadata.name for j in jobs)
    pods_per_job = Counter((p.metadata.labels or {}).get("job-name") for p in pods)
    expected_jobs = {a["jobName"] for cr in crs for a in cr["status"].get("attempts", [])}
    assert set(per_attempt) == expected_jobs and max(per_attempt.values()) == 1
    assert all(pods_per_job[j] == 1 for j in expected_jobs), "an attempt ran in more than one pod"
    _assert_each_job_and_pod_created_once(cluster, namespace, expected_jobs)

    # nothing is left for the periodic sweep to repair: one sweep now changes nothing
    mark = cluster.audit().mark()
    line = chaos_operator.sweep_now()
    cluster.audit_sync()
    assert "0 status writes, 0 Jobs created, 0 Jobs deleted, 0 orphans deleted" in line, line
    assert _task_and_job_writes(cluster, namespace, mark) == [], "the sweep after the chaos changed something"

    url = chaos_operator.database_url
    # The expected side is computed from the raw CRs and Jobs by tests/oracle.py (every mirrored field,
    # dead letters included), never by the mirror's own snapshot code; both sides are re-read each poll.
    last: list[list[str]] = [[]]

    def mirror_equals_the_crs() -> bool:
        try:
            last[0] = mirror_differences(url, list_objects(cluster, namespace, "tasks"), raw_jobs(cluster, namespace))
        except Exception as e:  # the apiserver is up again, but a poll may still meet a reset connection
            last[0] = [f"reading the cluster: {e}"]
        return not last[0]

    try:
        wait_for("SQL history equals the CRs", mirror_equals_the_crs, timeout=120, interval=2)
    except AssertionError:
        raise AssertionError("SQL history differs from the CRs:\n" + "\n".join(last[0][:40])) from None
    kills = len([x for x in log if "SIGKILL" in x])
    assert kills >= 5 and "apiserver restarted" in log
    print(  # noqa: T201 - the issue asks for the counts in the test output
        f"\nfault test: {len(crs)} tasks {dict(phases)}; {len(expected_jobs)} Jobs, {len(pods)} pods, "
        f"{kills} operator kills + 1 apiserver restart; created in {created:.0f}s, all final in {elapsed:.0f}s"
    )
