"""Test-side helpers for the real cluster: clients, the operator subprocess, waiting on tasks."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from .audit import AuditLog
from .postgres import paused

GROUP, VERSION = "kubetask.io", "v1alpha1"
# built by scripts/images.sh and loaded on the node by cluster.sh (IfNotPresent: never pulled); has python3;
# its user is UID 65532
EXECUTOR_IMAGE = {"image": "kubetask/executor:dev", "imagePullPolicy": "IfNotPresent"}
# the images' Debian base (scripts/cluster/build.sh), imported on every node by cluster.sh; its user is
# root: for tests that need an image that runs as root
ROOT_IMAGE = {"image": "docker.io/local/python:1", "imagePullPolicy": "IfNotPresent"}
# built by `scripts/images.sh apps` (app_images()), imported with Cluster.import_images(); run as UID 65532
OPERATOR_IMAGE = {"image": "docker.io/kubetask/operator:dev", "imagePullPolicy": "IfNotPresent"}
API_IMAGE = {"image": "docker.io/kubetask/api:dev", "imagePullPolicy": "IfNotPresent"}
NONROOT_UID = 65532
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass
class Cluster:
    dir: Path
    kubeconfig: Path

    def api(self) -> client.ApiClient:
        cfg = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=cfg)  # type: ignore[no-untyped-call]
        return client.ApiClient(cfg)

    # The clients are typed Any: tests read the raw objects and a failing read fails the test anyway.
    def core(self) -> Any:
        return client.CoreV1Api(self.api())

    def batch(self) -> Any:
        return client.BatchV1Api(self.api())

    def custom(self) -> Any:
        return client.CustomObjectsApi(self.api())

    def rbac(self) -> Any:
        return client.RbacAuthorizationV1Api(self.api())

    def audit(self) -> AuditLog:
        """The apiserver's audit log (cluster.sh writes it to DIR/audit.log; kept across restarts)."""
        return AuditLog(self.dir / "audit.log")

    def audit_sync(self, timeout: float = 30) -> None:
        """Return once requests answered before this call are in the audit log: ask for a Task that
        cannot exist and wait for that request's own entry. The apiserver writes an entry as its request
        finishes (blocking mode), microseconds after the reply; this probe's round trip is longer."""
        log, name = self.audit(), f"audit-sync-{uuid.uuid4().hex[:12]}"
        mark = log.mark()
        try:
            self.custom().get_namespaced_custom_object(GROUP, VERSION, "default", "tasks", name)
        except ApiException as e:
            if e.status != 404:
                raise
        wait_for(f"audit entry of {name}", lambda: log.requests(since=mark, resource="tasks", name=name), timeout)

    def apiserver_pid(self) -> int:
        """The running kube-apiserver's pid (cluster.sh keeps "pid name exe" lines in DIR/pids)."""
        for line in (self.dir / "pids").read_text().splitlines():
            pid, name, *_ = line.split()
            if name == "kube-apiserver":
                return int(pid)
        raise AssertionError(f"no kube-apiserver in {self.dir / 'pids'}")

    def restart_apiserver(self) -> None:
        script = Path(__file__).resolve().parents[2] / "scripts/cluster/cluster.sh"
        r = subprocess.run(
            ["bash", str(script), "restart-apiserver", str(self.dir)], capture_output=True, text=True, timeout=120
        )
        if r.returncode:
            raise AssertionError(f"apiserver restart failed: {r.stderr}")

    def egress_rejected(self) -> int:
        """Packets from this cluster's pods the egress guard has refused so far (cluster.sh, guard_egress).

        Read from the kernel's counter on the guard's REJECT rule; fails when the guard is missing or
        not jumped to from FORWARD, so a test can check that before its pod sends anything.
        """
        mark = self.dir / "egress-chain"
        if not mark.exists():
            raise AssertionError(f"the cluster has no egress guard ({mark} missing)")
        chain = mark.read_text().strip()
        r = subprocess.run(
            ["iptables", "-w", "-L", chain, "-v", "-x", "-n"], capture_output=True, text=True, timeout=30
        )
        if r.returncode:
            raise AssertionError(f"no egress chain {chain}: {r.stderr}")
        header, _, *rules = r.stdout.splitlines()  # "Chain NAME (N references)", column titles
        if "(0 references)" in header:
            raise AssertionError(f"egress chain {chain} is not jumped to:\n{r.stdout}")
        rejects = [int(line.split()[0]) for line in rules if line.split()[2:3] == ["REJECT"]]
        if len(rejects) != 1:
            raise AssertionError(f"egress chain {chain} needs exactly one REJECT rule:\n{r.stdout}")
        return rejects[0]

    def service_range(self) -> str:
        """The cluster's own service range (kube-apiserver's --service-cluster-ip-range), e.g. 10.150.7.0/24."""
        return (self.dir / "service-range").read_text().strip()

    def require_proxy(self) -> None:
        """Fail, with cluster.sh's reason, when this cluster runs without kube-proxy (another cluster on the
        machine owns the KUBE-* iptables chains): its Services' ClusterIPs are unreachable then."""
        reason = self.dir / "no-proxy"
        if reason.exists():
            raise AssertionError(reason.read_text().strip())

    def untranslated_service_packets(self) -> int:
        """Connections from this cluster's pods to a ClusterIP nothing translated (no such Service, or no
        kube-proxy), counted by the nat rule cluster.sh puts after kube-proxy's (then refused by the route)."""
        chain = (self.dir / "egress-chain").read_text().strip()
        r = subprocess.run(
            ["iptables", "-w", "-t", "nat", "-L", chain, "-v", "-x", "-n"], capture_output=True, text=True, timeout=30
        )
        if r.returncode:
            raise AssertionError(f"no nat chain {chain}: {r.stderr}")
        counts = [int(line.split()[0]) for line in r.stdout.splitlines()[2:] if self.service_range() in line.split()]
        if len(counts) != 1:
            raise AssertionError(f"nat chain {chain} needs exactly one rule for {self.service_range()}:\n{r.stdout}")
        return counts[0]

    def import_images(self, *tars: str) -> None:
        """Import docker-archive tars into the node's containerd (cluster.sh import)."""
        script = ROOT / "scripts/cluster/cluster.sh"
        r = subprocess.run(
            ["bash", str(script), "import", str(self.dir), *tars], capture_output=True, text=True, timeout=600
        )
        if r.returncode:
            raise AssertionError(f"image import failed: {r.stderr}")

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        exe = Path(sys.executable).parent / "kubectl"
        r = subprocess.run([str(exe), *args], input=input, capture_output=True, text=True, env=self.env(), timeout=60)
        if check and r.returncode:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {r.stderr}")
        return r


class OperatorProcess:
    """`kubetask-operator` in a subprocess; kill() sends SIGKILL, as a crash would."""

    started: ClassVar[weakref.WeakSet[OperatorProcess]] = weakref.WeakSet()  # for operators_paused()

    def __init__(self, cluster: Cluster, log: Path, database_url: str, env: dict[str, str] | None = None) -> None:
        self.cluster = cluster
        self.log = log
        self.database_url = database_url
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_start = 0  # where the running process's lines begin in `log` (appended to across restarts)

    def use_database(self, url: str) -> None:
        """Make sure the running operator mirrors to `url` (restarting it if needed)."""
        if url != self.database_url or self.proc is None or self.proc.poll() is not None:
            self.stop()
            self.database_url = url
            self.start()

    def start(self) -> None:
        out = self.log.open("ab")
        self._log_start = out.tell()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from kubetask.operator.main import main; main()"],
            env={
                **self.cluster.env(),
                "KUBETASK_OPERATOR_LOG_LEVEL": "INFO",
                "KUBETASK_DATABASE_URL": self.database_url,
                **self.extra_env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        OperatorProcess.started.add(self)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def metrics_target(self) -> str | None:
        """`127.0.0.1:PORT` of its /metrics when started with KUBETASK_OPERATOR_METRICS_PORT on loopback."""
        port = self.extra_env.get("KUBETASK_OPERATOR_METRICS_PORT")
        address = self.extra_env.get("KUBETASK_OPERATOR_METRICS_ADDRESS", "0.0.0.0")
        return f"127.0.0.1:{port}" if port and address in ("127.0.0.1", "0.0.0.0") else None

    def output(self) -> str:
        """Everything the operator logged so far ("" before its first start)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def resynced(self) -> bool:
        """Whether the running process logged its start-up resync (as leader: every Task re-derived)."""
        return "resync: " in self.log.read_bytes()[self._log_start :].decode(errors="replace")

    def sweep_now(self, timeout: float = 120) -> str:
        """Send SIGUSR1 (one recovery sweep now) and return the sweep's own log line once it is written.
        Waits for the running process's start-up resync first: before it the signal could still kill."""
        assert self.proc is not None and self.proc.poll() is None, "the operator is not running"
        wait_for("the operator's start-up resync", self.resynced, timeout)
        before = self._sweep_lines()
        self.proc.send_signal(signal.SIGUSR1)
        lines = wait_for("the sweep's log line", lambda: self._sweep_lines()[len(before) :], timeout)
        return lines[0]

    def _sweep_lines(self) -> list[str]:
        return [line for line in self.output().splitlines() if "kubetask.operator: sweep (on demand)" in line]

    def start_and_resync(self, timeout: float = 60) -> bool:
        """Start, then wait for the start-up resync's log line (every Task re-derived); False on timeout."""
        self.start()
        try:
            wait_for("the start-up resync", self.resynced, timeout)
        except AssertionError:  # wait_for's timeout: the callers (tests, the benchmark) report it themselves
            return False
        return True


@contextmanager
def operators_paused(cluster: Cluster) -> Iterator[None]:
    """Every operator this process runs against `cluster` (the session's, watching all namespaces,
    among them) SIGSTOPped until the block ends: for a test that writes Task statuses itself, as an
    operator would, and must not race a real one. Resumed, an operator renews its own Lease and
    handles what it missed from its watches."""
    live = [op.proc for op in list(OperatorProcess.started) if op.cluster == cluster and op.proc is not None]
    with paused(p.pid for p in live if p.poll() is None):
        yield


def app_images() -> list[str]:
    """The operator's and the API's image tars (`scripts/images.sh apps`: built when their sources changed)."""
    r = subprocess.run(["bash", str(ROOT / "scripts/images.sh"), "apps"], capture_output=True, text=True, timeout=1800)
    if r.returncode:
        raise AssertionError(f"building the operator and API images failed:\n{r.stderr[-3000:]}")
    return r.stdout.split()[-2:]


@contextmanager
def control_plane(directory: Path, crds: Path, timeout: float = 300) -> Iterator[Cluster]:
    """A cluster of the caller's own without a node (etcd, kube-apiserver, controller-manager; pods stay
    Pending), with the CRDs in `crds` and no audit log; stopped afterwards, whatever happened.

    For tests that hang or stop the apiserver: the session's cluster stays undisturbed."""
    script = Path(__file__).resolve().parents[2] / "scripts/cluster/cluster.sh"
    env = {**os.environ, "KUBETASK_NO_NODE": "1", "KUBETASK_CRDS": str(crds), "KUBETASK_AUDIT": "0"}
    try:  # `down` whenever `up` began: a failed `up` has started part of the cluster already
        up = subprocess.run(
            ["bash", str(script), "up", str(directory)], capture_output=True, text=True, timeout=timeout, env=env
        )
        if up.returncode:
            raise AssertionError(f"control plane did not start:\n{up.stderr[-3000:]}")
        yield Cluster(dir=directory, kubeconfig=Path(up.stdout.split()[-1]))
    finally:
        subprocess.run(["bash", str(script), "down", str(directory)], capture_output=True, timeout=120)


@contextmanager
def dedicated_operator(
    session_operator: OperatorProcess, cluster: Cluster, log: Path, env: dict[str, str] | None = None
) -> Iterator[OperatorProcess]:
    """An operator of the test's own (mirroring to SQLite next to `log`); the session's steps aside meanwhile."""
    session_operator.stop()
    op = OperatorProcess(cluster, log, f"sqlite:///{log.with_suffix('.db')}", env=env)
    op.start()
    try:
        yield op
    finally:
        op.stop()
        session_operator.start()


def wait_for(what: str, fn: Callable[[], T | None], timeout: float = 60, interval: float = 0.2) -> T:
    """Poll `fn` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_namespace_ready(core: Any, ns: str) -> None:
    """Pods are refused until the namespace's default ServiceAccount has its token (1.20)."""

    def ready() -> bool:
        try:
            return bool(core.read_namespaced_service_account("default", ns).secrets)
        except ApiException as e:
            if e.status == 404:
                return False
            raise

    wait_for(f"namespace {ns} ready", ready, 30)


def service_account_token(cluster: Cluster, ns: str, account: str) -> str:
    """The token of ServiceAccount `account` (created if missing): on 1.20 the token controller puts it in a
    Secret the ServiceAccount then names; a real identity for the apiserver's TokenReview."""
    core = cluster.core()
    try:
        core.create_namespaced_service_account(ns, {"metadata": {"name": account}})
    except ApiException as e:
        if e.status != 409:
            raise

    def secret() -> str | None:
        sa = core.read_namespaced_service_account(account, ns)
        return sa.secrets[0].name if sa.secrets else None

    data = core.read_namespaced_secret(wait_for(f"the token of ServiceAccount {ns}/{account}", secret), ns).data
    return base64.b64decode(data["token"]).decode()


def get_task(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = cluster.custom().get_namespaced_custom_object(GROUP, VERSION, ns, "tasks", name)
    return obj


FINAL = {"Succeeded", "Failed", "Cancelled", "DeadLettered"}


def wait_task(
    cluster: Cluster, ns: str, name: str, phases: set[str] | None = None, timeout: float = 90
) -> dict[str, Any]:
    """The Task once its phase is in `phases` (default: any final phase)."""
    want = phases or FINAL

    def done() -> dict[str, Any] | None:
        t = get_task(cluster, ns, name)
        return t if (t.get("status") or {}).get("phase") in want else None

    return wait_for(f"task {ns}/{name} in {sorted(want)}", done, timeout)


def create(cluster: Cluster, ns: str, plural: str, body: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = cluster.custom().create_namespaced_custom_object(GROUP, VERSION, ns, plural, body)
    return obj


def list_objects(cluster: Cluster, ns: str, plural: str) -> list[dict[str, Any]]:
    """The `items` of one kubetask resource (`tasks`, `tasktemplates`) in namespace `ns`."""
    items: list[dict[str, Any]] = cluster.custom().list_namespaced_custom_object(GROUP, VERSION, ns, plural)["items"]
    return items


def template(name: str, **spec: Any) -> dict[str, Any]:
    """A TaskTemplate body running the executor image (override anything in `spec`)."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TaskTemplate",
        "metadata": {"name": name},
        "spec": {**EXECUTOR_IMAGE, **spec},
    }


def task(name: str, **spec: Any) -> dict[str, Any]:
    """A Task body; `spec` as in the CRD (templateRef=..., params=..., image=...)."""
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Task", "metadata": {"name": name}, "spec": spec}


def python_spec(code: str, **spec: Any) -> dict[str, Any]:
    """An inline Task spec running `python3 -c code` in the executor image, plus `spec`."""
    return {**EXECUTOR_IMAGE, "command": ["python3", "-c", code], **spec}


def task_events(cluster: Cluster, ns: str, name: str) -> list[tuple[str, str]]:
    """(type, reason) of the Events about `name`, in the order they were created."""
    evs = cluster.core().list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items
    # creationTimestamp has 1 s resolution (ties come back in any order); each create takes a new,
    # higher etcd revision, so the resourceVersion of a never-updated Event orders them
    return [(e.type, e.reason) for e in sorted(evs, key=lambda e: int(e.metadata.resource_version))]
