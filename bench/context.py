"""What every figure shares: the cluster's clients, the operator process, object bodies, namespaces,
CPU meters and the sizes of this run.

One `Context` per run, handed to each figure. Figures run one after another and each leaves the
cluster as the next one expects (its namespaces deleted and gone, the operator running and resynced),
so two passes never share the cluster at once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.harness import CpuMeter, Seen, rss_mib
from kubetask.models import FINAL_PHASES
from kubetask.testing.cluster import (
    GROUP,
    VERSION,
    Cluster,
    OperatorProcess,
    create,
    task,
    template,
    wait_namespace_ready,
)
from kubetask.testing.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
EXECUTOR = "kubetask/executor:dev"
RESYNC_LINE = re.compile(r"resync: (\d+) tasks reconciled")


def log(msg: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Sizes:
    """How big each figure is (`--quick` shrinks them all)."""

    dispatch: tuple[int, ...] = (1000, 5000)
    scale: tuple[int, ...] = (1000, 5000, 10000)
    rows: int = 1_000_000
    api_n: int = 500
    e2e_n: int = 100
    logs_n: int = 20  # figure 8: Tasks of each log / result size
    idle_n: int = 100
    repeats: int = 50
    schedules_spread: tuple[int, ...] = (1000,)  # figure 7: schedules every minute, spread with H
    schedules_at_once: tuple[int, ...] = (1000, 5000)  # figure 7: schedules due at the same instant
    schedule_minutes: int = 2  # figure 7: minutes measured per pass
    schedule_sides: tuple[str, ...] = ("kubetask", "cronjob-v1", "cronjob-v2")  # figure 7: which sides run


QUICK = Sizes(
    dispatch=(50,),
    scale=(100,),
    rows=20_000,
    api_n=40,
    e2e_n=10,
    logs_n=3,
    idle_n=20,
    repeats=20,
    schedules_spread=(20,),
    schedules_at_once=(20,),
    schedule_minutes=1,
)


class Context:
    def __init__(
        self,
        *,
        cluster: Cluster,
        operator: OperatorProcess,
        pg: PostgresServer,
        tmp: Path,
        node_images: str,
        sizes: Sizes,
    ) -> None:
        self.cluster, self.op, self.pg, self.tmp = cluster, operator, pg, tmp
        self.node_images, self.sizes = node_images, sizes
        self.custom, self.batch, self.core = cluster.custom(), cluster.batch(), cluster.core()
        self.baseline_rss_mib = 0.0

    # -- the operator --------------------------------------------------------------------------

    def restart_operator(self, timeout: float = 600) -> None:
        """Start the operator and wait for its start-up resync; a figure after a resync that never came
        would measure a half-started operator, so this raises instead."""
        if not self.op.start_and_resync(timeout):
            raise TimeoutError(f"operator did not finish its start-up resync within {timeout:.0f} s")

    def resynced_tasks(self) -> int | None:
        """N of the operator log's last `resync: N tasks reconciled` line."""
        found = RESYNC_LINE.findall(self.op.output())
        return int(found[-1]) if found else None

    def rss(self) -> float:
        assert self.op.proc is not None
        return rss_mib(self.op.proc.pid)

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

    # -- objects -------------------------------------------------------------------------------

    def namespace(self, prefix: str) -> str:
        ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace({"metadata": {"name": ns}})
        wait_namespace_ready(self.core, ns)
        return ns

    def template(self, ns: str) -> None:
        body = template("echo", handler="echo", paramSchema={"type": "object"}, ttlSecondsAfterFinished=86400)
        create(self.cluster, ns, "tasktemplates", body)

    def create_task(self, ns: str, name: str) -> None:
        self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasks", task_body(name))

    def create_job(self, ns: str, name: str) -> None:
        self.batch.create_namespaced_job(ns, job_body(name))

    def tasks(self, ns: str | None = None) -> list[dict[str, Any]]:
        """Every Task (of `ns`, or of the cluster), decoded with orjson: at 10k Tasks the client's
        own decoding costs seconds."""
        if ns:
            r = self.custom.list_namespaced_custom_object(GROUP, VERSION, ns, "tasks", _preload_content=False)
        else:
            r = self.custom.list_cluster_custom_object(GROUP, VERSION, "tasks", _preload_content=False)
        items: list[dict[str, Any]] = orjson.loads(r.data)["items"]
        return items

    def task_counts(self) -> tuple[int, int]:
        """(active, final) Tasks in the cluster, from the Tasks' own status."""
        phases = [(t.get("status") or {}).get("phase") for t in self.tasks()]
        final = sum(1 for p in phases if p in FINAL_PHASES)
        return len(phases) - final, final

    # -- watches -------------------------------------------------------------------------------

    def jobs_seen(self, ns: str) -> Seen:
        return Seen(self.batch.list_namespaced_job, lambda _o: True, namespace=ns)

    def tasks_final(self, ns: str) -> Seen:
        """Tasks seen in a final phase; `value` is that phase."""
        return Seen(
            self.custom.list_namespaced_custom_object,
            lambda o: _phase(o) in FINAL_PHASES,
            _phase,
            group=GROUP,
            version=VERSION,
            namespace=ns,
            plural="tasks",
        )

    # -- the cluster ---------------------------------------------------------------------------

    def node_up(self) -> None:
        """Add the node (kube-scheduler, containerd, kubelet) to the node-less control plane."""
        env = {**os.environ, "KUBETASK_NODE_IMAGES": self.node_images}
        subprocess.run(
            ["bash", str(ROOT / "scripts/cluster/cluster.sh"), "node-up", str(self.cluster.dir)],
            env=env,
            check=True,
            capture_output=True,
        )

    def clear(self, prefixes: tuple[str, ...], timeout: float = 900) -> None:
        """Delete the namespaces an earlier pass made (thousands of pending pods) and wait until they
        are gone, so the next pass does not pay for them; raises when they outlive `timeout`."""
        names = [x.metadata.name for x in self.core.list_namespace().items]
        mine = [x for x in names if x.split("-")[0] in prefixes]
        for ns in mine:
            self.core.delete_namespace(ns)
        deadline = time.monotonic() + timeout
        left = set(mine)
        while left:
            if time.monotonic() > deadline:
                raise TimeoutError(f"namespaces still terminating after {timeout:.0f} s: {sorted(left)}")
            time.sleep(1)
            left = {x.metadata.name for x in self.core.list_namespace().items} & set(mine)


def _phase(obj: Any) -> Any:
    return (obj.get("status") or {}).get("phase")


def task_body(name: str) -> dict[str, Any]:
    return task(name, templateRef={"name": "echo"}, params={"n": name})


def job_body(name: str) -> dict[str, Any]:
    env = [{"name": "KUBETASK_HANDLER", "value": "echo"}, {"name": "KUBETASK_PARAMS", "value": json.dumps({"n": name})}]
    main = {"name": "main", "image": EXECUTOR, "imagePullPolicy": "IfNotPresent", "env": env}
    pod = {"spec": {"restartPolicy": "Never", "containers": [main]}}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": pod},
    }
