"""kubetask benchmarks: every figure against a baseline measured in the same run.

    python -m bench.run [--sizes 1000,5000] [--scale 1000,5000,10000] [--rows 1000000] [--quick]

Writes bench/results/latest.json and bench/results/latest.md. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.harness import CpuMeter, Seen, parallel, pct, rss_mib, summary
from kubetask.store import make_engine, migrate
from kubetask.store.queries import TaskQuery, list_tasks, stats
from kubetask.testing.cluster import Cluster, OperatorProcess, wait_namespace_ready
from kubetask.testing.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
GROUP, VERSION = "kubetask.io", "v1alpha1"
FINAL = {"Succeeded", "Failed", "Cancelled", "DeadLettered"}
EXECUTOR = "kubetask/executor:dev"


def log(msg: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, cluster: Cluster, operator: OperatorProcess, node_images: str) -> None:
        self.cluster = cluster
        self.node_images = node_images
        self.op = operator
        self.custom = cluster.custom()
        self.batch = cluster.batch()
        self.core = cluster.core()

    # -- helpers -----------------------------------------------------------------------------

    def meter(self) -> CpuMeter:
        """CPU accounting for the control plane, the operator and this client."""
        pids = {}
        for line in (self.cluster.dir / "pids").read_text().splitlines():
            pid, name, _exe = line.split(" ", 2)
            pids[name] = int(pid)
        assert self.op.proc is not None
        pids["operator"] = self.op.proc.pid
        pids["bench client"] = os.getpid()
        return CpuMeter(pids)

    def namespace(self, prefix: str) -> str:
        ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace({"metadata": {"name": ns}})
        wait_namespace_ready(self.core, ns)
        return ns

    def template(self, ns: str) -> None:
        self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasktemplates", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskTemplate", "metadata": {"name": "echo"},
            "spec": {"image": EXECUTOR, "imagePullPolicy": "IfNotPresent", "handler": "echo",
                     "paramSchema": {"type": "object"}, "ttlSecondsAfterFinished": 86400}})  # fmt: skip

    def task_body(self, name: str) -> dict[str, Any]:
        return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Task", "metadata": {"name": name},
                "spec": {"templateRef": {"name": "echo"}, "params": {"n": name}}}  # fmt: skip

    def job_body(self, name: str) -> dict[str, Any]:
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
                "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{
                    "name": "main", "image": EXECUTOR, "imagePullPolicy": "IfNotPresent",
                    "env": [{"name": "KUBETASK_HANDLER", "value": "echo"},
                            {"name": "KUBETASK_PARAMS", "value": json.dumps({"n": name})}]}]}}}}  # fmt: skip

    def node_up(self) -> None:
        """Add the node (kube-scheduler, containerd, kubelet) to the node-less control plane."""
        env = {**os.environ, "KUBETASK_NODE_IMAGES": self.node_images}
        subprocess.run(["bash", str(ROOT / "scripts/cluster/cluster.sh"), "node-up", str(self.cluster.dir)],
                       env=env, check=True, capture_output=True)  # fmt: skip

    def jobs_seen(self, ns: str) -> Seen:
        return Seen(self.batch.list_namespaced_job, lambda _o: True, namespace=ns)

    def tasks_final(self, ns: str) -> Seen:
        return Seen(self.custom.list_namespaced_custom_object,
                    lambda o: (o.get("status") or {}).get("phase") in FINAL,
                    group=GROUP, version=VERSION, namespace=ns, plural="tasks")  # fmt: skip

    # -- figure 1 + 2 (load): dispatch -------------------------------------------------------

    def dispatch(self, n: int) -> dict[str, Any]:
        log(f"dispatch: {n} Jobs directly (floor)")
        ns = self.namespace("floor")
        seen = self.jobs_seen(ns)
        cpu = self.meter()
        cpu.start()
        t0 = time.monotonic()
        parallel(lambda i: self.batch.create_namespaced_job(ns, self.job_body(f"j{i}")), range(n))
        seen.wait(n, 600)
        floor_s = max(seen.first.values()) - t0
        floor_cpu = cpu.stop()
        seen.stop()
        # The floor's Jobs each got a pod: clear them first so the next pass does not pay for them.
        self.clear(("floor",))
        writes = self.writes_floor(n)
        log(f"dispatch: {n} Tasks through kubetask")
        ns = self.namespace("dispatch")
        self.template(ns)
        seen = self.jobs_seen(ns)
        created: dict[str, float] = {}

        def make(i: int) -> None:
            name = f"t{i}"
            created[name] = time.monotonic()
            self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasks", self.task_body(name))

        cpu = self.meter()  # the operator was restarted by the second floor: a new pid
        cpu.start()
        t0 = time.monotonic()
        parallel(make, range(n))
        ok = seen.wait(n, 1800)
        kt_s = max(seen.first.values()) - t0
        kt_cpu = cpu.stop()
        seen.stop()
        lat = [seen.first[f"{t}-1"] - c for t, c in created.items() if f"{t}-1" in seen.first]
        return {
            "n": n, "complete": ok, "floor_seconds": floor_s, "floor_per_s": n / floor_s,
            "kubetask_seconds": kt_s, "kubetask_per_s": len(seen.first) / kt_s,
            "ratio": (len(seen.first) / kt_s) / (n / floor_s), "task_to_job_latency_under_load": summary(lat),
            "floor_cpu_seconds": floor_cpu, "kubetask_cpu_seconds": kt_cpu, **writes,
            "namespace": ns,
        }  # fmt: skip

    def writes_floor(self, n: int) -> dict[str, Any]:
        """Second floor: the writes kubetask makes per Task, from a plain client with the operator stopped
        (create the Task, create its Job, patch the Task's status). Bounds what any operator can reach here."""
        log(f"dispatch: {n} x (Task + Job + status) from a plain client, operator stopped (second floor)")
        self.op.stop()
        ns = self.namespace("floor-writes")
        seen = self.jobs_seen(ns)
        cpu = self.meter()
        cpu.start()

        def write(i: int) -> None:
            task = self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasks", self.task_body(f"w{i}"))
            job = self.job_body(f"w{i}-1")
            job["metadata"]["ownerReferences"] = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "Task", "name": f"w{i}",
                                                   "uid": task["metadata"]["uid"], "controller": True}]  # fmt: skip
            self.batch.create_namespaced_job(ns, job)
            status = {"phase": "Pending", "attemptCount": 1,
                      "attempts": [{"number": 1, "jobName": f"w{i}-1", "phase": "Pending"}]}  # fmt: skip
            self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, ns, "tasks", f"w{i}", {"status": status})

        t0 = time.monotonic()
        parallel(write, range(n))
        seen.wait(n, 900)
        elapsed = max(seen.first.values()) - t0
        used = cpu.stop()
        seen.stop()
        self.clear(("floor",))
        self.op.start_and_resync(300)
        return {"writes_floor_per_s": n / elapsed, "writes_floor_cpu_seconds": used}

    # -- figure 2: latencies at idle and under load -------------------------------------------

    def _finish_pod(self, ns: str, pod: str) -> None:
        """Play the kubelet: the pod's main container exited 0 with a JSON result."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {"status": {"phase": "Succeeded", "containerStatuses": [{
            "name": "main", "image": EXECUTOR, "imageID": "", "ready": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "message": json.dumps({"ok": True}),
                                     "startedAt": now, "finishedAt": now}}}]}}  # fmt: skip
        self.core.patch_namespaced_pod_status(pod, ns, status)

    def _pods_by_job(self, ns: str, jobs: list[str], timeout: float = 60) -> dict[str, str]:
        """Job name -> its pod's name, once every Job has one (one LIST per poll, not one per Job)."""
        deadline = time.monotonic() + timeout
        while True:
            pods = self.core.list_namespaced_pod(ns, _preload_content=False)
            found = {p["metadata"]["labels"].get("job-name"): p["metadata"]["name"]
                     for p in json.loads(pods.data)["items"]}  # fmt: skip
            if all(j in found for j in jobs):
                return {j: found[j] for j in jobs}
            if time.monotonic() > deadline:
                raise TimeoutError(f"no pod for {sorted(set(jobs) - set(found))[:5]}")
            time.sleep(0.02 if len(jobs) == 1 else 1)

    def latency_idle(self, n: int) -> dict[str, Any]:
        log(f"latency: {n} tasks one at a time (idle)")
        ns = self.namespace("idle")
        self.template(ns)
        jobs, finals = self.jobs_seen(ns), self.tasks_final(ns)
        create_lat, final_lat = [], []
        for i in range(n):
            t0 = time.monotonic()
            self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasks", self.task_body(f"i{i}"))
            jobs.wait(i + 1, 120)
            create_lat.append(jobs.first[f"i{i}-1"] - t0)
            pod = self._pods_by_job(ns, [f"i{i}-1"])[f"i{i}-1"]
            t1 = time.monotonic()
            self._finish_pod(ns, pod)
            finals.wait(i + 1, 120)
            final_lat.append(finals.first[f"i{i}"] - t1)
        jobs.stop()
        finals.stop()
        return {"task_to_job": summary(create_lat), "pod_done_to_task_final": summary(final_lat)}

    def latency_load(self, ns: str, n: int) -> dict[str, Any]:
        log(f"latency: finishing {n} pods at once (under load)")
        names = [f"t{i}" for i in range(n)]
        pods = self._pods_by_job(ns, [f"{x}-1" for x in names], 600)
        finals = self.tasks_final(ns)
        done_at: dict[str, float] = {}

        def finish(name: str) -> None:
            self._finish_pod(ns, pods[f"{name}-1"])
            done_at[name] = time.monotonic()

        parallel(finish, names)
        finals.wait(len(names), 900)
        finals.stop()
        lat = [finals.first[x] - done_at[x] for x in names if x in finals.first]
        return {"pods_finished": len(names), "pod_done_to_task_final": summary(lat)}

    def rss(self) -> float:
        return rss_mib(self.op.proc.pid)  # type: ignore[union-attr]

    def top_up(self, ns: str, start: int, target: int) -> None:
        """Create Tasks s<start>..s<target-1> and wait until their Jobs exist."""
        seen = self.jobs_seen(ns)
        parallel(lambda i: self.custom.create_namespaced_custom_object(
            GROUP, VERSION, ns, "tasks", self.task_body(f"s{i}")), range(start, target))  # fmt: skip
        want = {f"s{i}-1" for i in range(start, target)}  # by name: the namespace may hold earlier Jobs
        deadline = time.monotonic() + 3600
        while not want <= seen.first.keys() and time.monotonic() < deadline:
            time.sleep(0.2)
        seen.stop()

    def restart_relist(self) -> dict[str, Any]:
        """SIGKILL the operator, start it again, time until it has re-derived every Task."""
        total = self._all_tasks()
        self.op.kill()
        t0 = time.monotonic()
        self.op.start_and_resync(1800)
        return {"tasks": total, "seconds": time.monotonic() - t0}

    def _all_tasks(self) -> int:
        return len(self.custom.list_cluster_custom_object(GROUP, VERSION, "tasks")["items"])

    # -- figure 6: end to end on the node -----------------------------------------------------

    def clear(self, prefixes: tuple[str, ...] = ("floor", "dispatch", "idle", "scale", "api")) -> None:
        """Delete earlier figures' namespaces (thousands of pending pods) and wait until they are gone."""
        mine = [x.metadata.name for x in self.core.list_namespace().items
                if x.metadata.name.split("-")[0] in prefixes]  # fmt: skip
        for ns in mine:
            self.core.delete_namespace(ns)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            left = {x.metadata.name for x in self.core.list_namespace().items} & set(mine)
            if not left:
                return
            time.sleep(1)
        log(f"warning: namespaces still terminating: {sorted(left)}")

    def end_to_end(self, n: int) -> dict[str, Any]:
        log("end to end: clearing the earlier figures' namespaces")
        self.clear()
        log("end to end: starting the node")
        self.node_up()
        log(f"end to end: {n} bare Jobs on the node (floor)")
        ns = self.namespace("e2e-floor")
        finished = lambda o: bool((o.get("status") or {}).get("succeeded") or (o.get("status") or {}).get("failed"))  # noqa: E731
        done = Seen(self.batch.list_namespaced_job, finished, namespace=ns)
        t0 = time.monotonic()
        parallel(lambda i: self.batch.create_namespaced_job(ns, self.job_body(f"b{i}")), range(n))
        done.wait(n, 1200)
        floor_s = max(done.first.values()) - t0
        done.stop()
        self.core.delete_namespace(ns)
        log(f"end to end: {n} kubetask tasks on the node")
        ns = self.namespace("e2e")
        self.template(ns)
        finals = self.tasks_final(ns)
        t0 = time.monotonic()
        parallel(lambda i: self.custom.create_namespaced_custom_object(
            GROUP, VERSION, ns, "tasks", self.task_body(f"e{i}")), range(n))  # fmt: skip
        finals.wait(n, 1200)
        kt_s = max(finals.first.values()) - t0
        finals.stop()
        ok = sum(1 for t in self.custom.list_namespaced_custom_object(GROUP, VERSION, ns, "tasks")["items"]
                 if t["status"]["phase"] == "Succeeded")  # fmt: skip
        return {"n": n, "succeeded": ok, "bare_jobs_seconds": floor_s, "kubetask_seconds": kt_s,
                "ratio": floor_s / kt_s, "overhead_per_task_ms": (kt_s - floor_s) / n * 1000}  # fmt: skip


# -- figure 3: API throughput --------------------------------------------------------------


def api_figure(cluster: Cluster, db_url: str, backend: str, n: int, concurrency: int) -> dict[str, Any]:
    log(f"api ({backend}): {n} submissions at concurrency {concurrency}, and the floor")
    custom = cluster.custom()
    ns = f"api-{backend}-{uuid.uuid4().hex[:6]}"
    cluster.core().create_namespace({"metadata": {"name": ns}})
    wait_namespace_ready(cluster.core(), ns)
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasktemplates", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskTemplate", "metadata": {"name": "echo"},
        "spec": {"image": EXECUTOR, "handler": "echo", "paramSchema": {"type": "object"}}})  # fmt: skip
    engine = make_engine(db_url)
    migrate(engine)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY, name TEXT, body TEXT)"))

    def floor_one(i: int) -> float:
        t0 = time.monotonic()
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Task", "metadata": {"name": f"f{i}"},
                "spec": {"templateRef": {"name": "echo"}, "params": {"i": i}}}  # fmt: skip
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasks", body)
        with engine.begin() as c:
            c.execute(text("INSERT INTO bench_floor (id, name, body) VALUES (:i, :n, :b)"),
                      {"i": i, "n": f"f{i}", "b": json.dumps(body)})  # fmt: skip
        return time.monotonic() - t0

    t0 = time.monotonic()
    floor_lat = parallel(floor_one, range(n), workers=concurrency)
    floor_s = time.monotonic() - t0
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "KUBETASK_DATABASE_URL": db_url,
           "KUBETASK_API_PORT": str(_free_port())}  # fmt: skip
    api = subprocess.Popen([sys.executable, "-c", "from kubetask.api.main import main; main()"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{env['KUBETASK_API_PORT']}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        client = httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_connections=concurrency))

        def submit(i: int) -> float:
            t = time.monotonic()
            r = client.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "echo", "params": {"i": i}})
            r.raise_for_status()
            return time.monotonic() - t

        t0 = time.monotonic()
        api_lat = parallel(submit, range(n), workers=concurrency)
        api_s = time.monotonic() - t0
    finally:
        api.terminate()
        api.wait(10)
        engine.dispose()
    return {"backend": backend, "n": n, "concurrency": concurrency,
            "floor_per_s": n / floor_s, "floor_p99_ms": (pct(floor_lat, 99) or 0) * 1000,
            "api_per_s": n / api_s, "api_p99_ms": (pct(api_lat, 99) or 0) * 1000,
            "ratio": (n / api_s) / (n / floor_s)}  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- figure 5: history queries on PostgreSQL ------------------------------------------------


def history_figure(pg: PostgresServer, rows: int, repeats: int) -> dict[str, Any]:
    log(f"history: loading {rows} rows into PostgreSQL")
    url = pg.new_database()
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as c:
        c.execute(
            text("""
            INSERT INTO tasks (uid, namespace, name, template, phase, reason, labels, created_at, started_at,
                               finished_at, attempt_count, duration_seconds, resource_version)
            SELECT 'u' || g, 'ns' || (g % 20), 'task-' || g, 'tpl' || (g % 10),
                   (ARRAY['Succeeded','Failed','Running','Pending','DeadLettered'])[1 + g % 5], NULL,
                   '{}'::json, now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval,
                   CASE WHEN g % 5 < 2
                        THEN now() - (g || ' seconds')::interval + ((g % 97) || ' seconds')::interval END,
                   1, CASE WHEN g % 5 < 2 THEN g % 97 END, g
            FROM generate_series(1, :n) AS g"""),
            {"n": rows},
        )
        c.execute(
            text("INSERT INTO task_labels (task_id, key, value) SELECT id, 'team', 'team' || (id % 7) FROM tasks")
        )
        c.execute(text("ANALYZE"))
    cases = {
        "list newest": TaskQuery(limit=50),
        "list namespace": TaskQuery(namespace="ns3", limit=50),
        "filter phase+template": TaskQuery(phases=["Failed"], templates=["tpl4"], limit=50),
        "label selector": TaskQuery(
            selector=__import__("kubetask.selectors", fromlist=["parse"]).parse("team=team3"), limit=50
        ),
        "name search": TaskQuery(q="task-12345", limit=50),
        "sort by duration": TaskQuery(sort="-duration", limit=50),
    }
    out: dict[str, Any] = {"rows": rows}
    with Session(engine) as s:

        def timed(fn: Any) -> list[float]:
            lat = []
            for _ in range(repeats):
                t = time.monotonic()
                fn()
                lat.append(time.monotonic() - t)
            return lat

        floor = timed(lambda: s.execute(text(
            "SELECT * FROM tasks ORDER BY created_at DESC, id DESC LIMIT 51")).all())  # fmt: skip
        out["floor_p99_ms"] = (pct(floor, 99) or 0) * 1000
        for label, q in cases.items():
            lat = timed(lambda q=q: list_tasks(s, q))
            out[label] = {"p50_ms": (pct(lat, 50) or 0) * 1000, "p99_ms": (pct(lat, 99) or 0) * 1000}
        from datetime import timedelta

        lat = timed(lambda: stats(s, now=datetime.now(UTC), window=timedelta(hours=1)))
        out["stats 1h window"] = {"p50_ms": (pct(lat, 50) or 0) * 1000, "p99_ms": (pct(lat, 99) or 0) * 1000}
        lat = timed(lambda: stats(s, now=datetime.now(UTC), window=timedelta(days=30)))
        out["stats 30d window (all rows)"] = {
            "p50_ms": (pct(lat, 50) or 0) * 1000,
            "p99_ms": (pct(lat, 99) or 0) * 1000,
        }
    engine.dispose()
    return out


# -- driver ----------------------------------------------------------------------------------


def _rows(value: Any) -> list[Any]:
    """A figure's list of rows; [] when it failed or did not run."""
    return value if isinstance(value, list) else []


def _cpu_table(dispatch: list[dict[str, Any]]) -> list[str]:
    rows = [d for d in dispatch if "kubetask_cpu_seconds" in d]
    if not rows:
        return []
    names = list(rows[0]["kubetask_cpu_seconds"])
    out = ["", "CPU seconds used during each pass (2 cores: the machine's budget is 2 s per second):", "",
           "| pass | " + " | ".join(names) + " | total |", "|---" * (len(names) + 2) + "|"]  # fmt: skip
    for d in rows:
        passes = [(f"{d['n']} bare Jobs", d["floor_cpu_seconds"]),
                  (f"{d['n']} Task+Job+status", d.get("writes_floor_cpu_seconds")),
                  (f"{d['n']} Tasks", d["kubetask_cpu_seconds"])]  # fmt: skip
        for label, cpu in [(x, c) for x, c in passes if c]:
            out.append(
                f"| {label} | " + " | ".join(f"{cpu.get(x, 0):.1f}" for x in names) + f" | {sum(cpu.values()):.1f} |"
            )
    return out


def _scale_md(sc: dict[str, Any] | None) -> list[str]:
    if not sc or "rows" not in sc:
        return []
    lines = [
        "",
        f"## 4. Operator scale (baseline RSS {sc['baseline_rss_mib']:.0f} MiB)",
        "",
        "| active tasks | RSS MiB | KiB per task over the baseline |",
        "|---|---|---|",
    ]
    for x in sc["rows"]:
        lines.append(f"| {x['active_tasks']} | {x['rss_mib']:.0f} | {x['rss_per_task_kib']:.1f} |")
    rs = sc.get("restart") or {}
    if "seconds" in rs:
        lines += ["", f"SIGKILL and restart with {rs['tasks']} Tasks in the cluster: every Task re-derived "
                  f"(log `resync: N tasks reconciled`) {rs['seconds']:.1f} s after the new process began."]  # fmt: skip
    return lines


def markdown(r: dict[str, Any]) -> str:
    lines = [f"# kubetask benchmarks — {r['when']}", "", f"Machine: {r['machine']}", ""]
    lines += [
        "## 1. Dispatch throughput (control plane without scheduler or kubelet)",
        "",
        "| tasks | floor: bare Jobs/s | kubetask Tasks→Jobs/s | ratio | floor 2: Task+Job+status/s | ratio 2 |",
        "|---|---|---|---|---|---|",
    ]
    for d in _rows(r.get("dispatch")):
        w = d.get("writes_floor_per_s")
        extra = f"{w:.1f} | {d['kubetask_per_s'] / w:.2f}" if w else " | "
        lines.append(f"| {d['n']} | {d['floor_per_s']:.1f} | {d['kubetask_per_s']:.1f} | {d['ratio']:.2f} | {extra} |")
    lines += _cpu_table(_rows(r.get("dispatch")))
    lat = r.get("latency", {})
    lines += ["", "## 2. Latency (seconds)", "", "| path | when | n | p50 | p95 | p99 |", "|---|---|---|---|---|---|"]

    def row(path: str, when: str, s: dict[str, Any]) -> None:
        f = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
        lines.append(f"| {path} | {when} | {s['n']} | {f(s['p50'])} | {f(s['p95'])} | {f(s['p99'])} |")

    if lat and "idle" in lat:
        row("Task created → Job created", "idle", lat["idle"]["task_to_job"])
        for d in _rows(r.get("dispatch"))[:1]:
            row("Task created → Job created", f"load ({d['n']} at once)", d["task_to_job_latency_under_load"])
        row("pod finished → Task final", "idle", lat["idle"]["pod_done_to_task_final"])
        if "load" in lat:
            row(
                "pod finished → Task final",
                f"load ({lat['load']['pods_finished']} at once)",
                lat["load"]["pod_done_to_task_final"],
            )
    lines += [
        "",
        "## 3. API submissions",
        "",
        "| backend | n | concurrency | floor/s (CR + 1 insert) | floor p99 ms | API/s | API p99 ms | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in _rows(r.get("api")):
        lines.append(
            f"| {a['backend']} | {a['n']} | {a['concurrency']} | {a['floor_per_s']:.1f} | "
            f"{a['floor_p99_ms']:.0f} | {a['api_per_s']:.1f} | {a['api_p99_ms']:.0f} | {a['ratio']:.2f} |"
        )
    lines += _scale_md(r.get("scale"))
    h = r.get("history")
    if h and "rows" in h:
        lines += [
            "",
            f"## 5. History queries, PostgreSQL, {h['rows']:,} rows (floor: bare newest-50 SELECT, "
            f"p99 {h['floor_p99_ms']:.1f} ms)",
            "",
            "| query | p50 ms | p99 ms | p99 / floor |",
            "|---|---|---|---|",
        ]
        for k, v in h.items():
            if isinstance(v, dict):
                lines.append(f"| {k} | {v['p50_ms']:.1f} | {v['p99_ms']:.1f} | {v['p99_ms'] / h['floor_p99_ms']:.1f} |")
    e = r.get("e2e")
    if e and "n" in e:
        lines += [
            "",
            "## 6. End to end on the real node",
            "",
            "| n | bare Jobs (s) | kubetask (s) | ratio (floor/kubetask) | overhead per task (ms) |",
            "|---|---|---|---|---|",
            f"| {e['n']} | {e['bare_jobs_seconds']:.1f} | {e['kubetask_seconds']:.1f} | {e['ratio']:.2f} | "
            f"{e['overhead_per_task_ms']:.0f} |",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:  # noqa: C901 - one linear script of steps, each a small closure
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="1000,5000", help="dispatch sizes")
    p.add_argument("--scale", default="1000,5000,10000", help="active task counts for the memory figure")
    p.add_argument("--rows", type=int, default=1_000_000, help="history rows in PostgreSQL")
    p.add_argument("--api-n", type=int, default=500)
    p.add_argument("--e2e-n", type=int, default=100)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every figure")
    p.add_argument("--only", default="", help="comma-separated figures to run (dispatch,latency,api,scale,history,e2e)")
    p.add_argument("--out", default=str(ROOT / "bench/results"))
    a = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the cluster and PostgreSQL on kill too
    if a.quick:
        a.sizes, a.scale, a.rows, a.api_n, a.e2e_n = "50", "100", 20_000, 40, 10
    only = set(a.only.split(",")) if a.only else {"dispatch", "latency", "api", "scale", "history", "e2e"}
    sizes = [int(x) for x in a.sizes.split(",")]
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    tmp = Path(tempfile.mkdtemp(prefix="kubetask-bench-"))
    images = subprocess.run(["bash", str(ROOT / "scripts/images.sh")], capture_output=True, text=True, check=True)
    node_images = images.stdout.split()[-1]
    # Figures 1-5 run on a control plane without scheduler or kubelet: pods stay Pending and nothing retries
    # them (a cordoned node made kube-scheduler write a FailedScheduling Event per pod per retry). The node
    # joins for figure 6 only.
    env = {**os.environ, "KUBETASK_CRDS": str(ROOT / "crds"), "KUBETASK_NO_NODE": "1"}
    up = subprocess.run(["bash", str(ROOT / "scripts/cluster/cluster.sh"), "up", str(tmp / "k8s")], env=env,
                        capture_output=True, text=True)  # fmt: skip
    if up.returncode:
        sys.exit(f"cluster did not start: {up.stderr[-2000:]}")
    cluster = Cluster(dir=tmp / "k8s", kubeconfig=Path(up.stdout.split()[-1]))
    pg = PostgresServer()
    pg.start()
    op = OperatorProcess(cluster, tmp / "operator.log", f"sqlite:///{tmp / 'mirror.db'}",
                         env={"KUBETASK_OPERATOR_LOG_LEVEL": "INFO"})  # fmt: skip
    op.start()
    bench = Bench(cluster, op, node_images)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    def step(name: str, fn: Any) -> Any:
        """Run one figure; a failure is recorded, not fatal; results are saved after every step."""
        if name not in only:
            return None
        try:
            value = fn()
        except Exception as e:
            log(f"{name} failed: {e!r}")
            value = {"error": repr(e)}
        result[name] = value
        (out / "latest.json").write_text(json.dumps(result, indent=2, default=str))
        return value

    try:
        time.sleep(3)
        result["baseline_rss_mib"] = bench.rss()
        step("latency", lambda: {"idle": bench.latency_idle(20 if a.quick else 100)})
        step("api", lambda: [api_figure(cluster, f"sqlite:///{tmp / 'api.db'}", "sqlite", a.api_n, 16),
                             api_figure(cluster, pg.new_database(), "postgresql", a.api_n, 16)])  # fmt: skip
        if "api" in only:
            bench.clear(("api",))
        scale_rows: list[dict[str, Any]] = []

        def dispatch_all() -> list[dict[str, Any]]:
            rows = []
            active = 0
            for n in sizes:
                rows.append(bench.dispatch(n))
                active += n
                scale_rows.append({"active_tasks": active, "rss_mib": bench.rss()})
            return rows

        step("dispatch", dispatch_all)
        if isinstance(result.get("dispatch"), list) and result["dispatch"] and "latency" in only:
            d0 = result["dispatch"][0]
            result["latency"]["load"] = bench.latency_load(d0["namespace"], d0["n"])

        def scale() -> dict[str, Any]:
            ns = bench.namespace("scale")
            bench.template(ns)
            active: int = scale_rows[-1]["active_tasks"] if scale_rows else 0
            made = 0
            for target in [int(x) for x in a.scale.split(",")]:
                if target <= active:
                    continue
                log(f"scale: topping up to {target} active tasks")
                bench.top_up(ns, made, made + target - active)
                made += target - active
                active = target
                time.sleep(5)
                scale_rows.append({"active_tasks": active, "rss_mib": bench.rss()})
            base = result["baseline_rss_mib"]
            for r in scale_rows:
                r["rss_per_task_kib"] = (r["rss_mib"] - base) * 1024 / r["active_tasks"]
            return {"baseline_rss_mib": base, "rows": scale_rows, "restart": bench.restart_relist()}

        step("scale", scale)
        step("history", lambda: history_figure(pg, a.rows, 20 if a.quick else 50))
        step("e2e", lambda: bench.end_to_end(a.e2e_n))
    finally:
        op.stop()
        pg.destroy()
        subprocess.run(["bash", str(ROOT / "scripts/cluster/cluster.sh"), "down", str(tmp / "k8s")],
                       capture_output=True)  # fmt: skip
    (out / "latest.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "latest.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
