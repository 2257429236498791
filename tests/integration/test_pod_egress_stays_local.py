"""Nothing a pod sends leaves this machine: the local cluster's egress guard (scripts/cluster/cluster.sh).

The host's resolver and default route lead off this machine, and pods inherit both unless the cluster
says otherwise. Real pods probe the ways out and report what they saw in their termination message; the
kernel's own counters on the guard's rules show the refused connections were counted here: the one to
an address off the machine in FORWARD, the one to a ClusterIP that no Service has (kube-proxy leaves it
untranslated) in the nat table, before the cluster's `unreachable` route refuses it. Traffic that must
keep working (pod to pod on the bridge, host to pod) is probed the same way.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
from typing import Any

from kubetask.testing.cluster import EXECUTOR_IMAGE, Cluster, wait_for

# TEST-NET-3 (RFC 5737): documentation only, never a host. Not 192.0.2.1: that is this machine's gateway.
OUTSIDE = "203.0.113.7"

# The service probe runs first: the kernel rate-limits the ICMP errors it sends to one address (a burst
# of 6), and each refused probe here costs one or two of them.
PROBE = """
import errno, json, os, socket

def connect(addr, port):
    s = socket.socket()
    s.settimeout(20)
    try:
        s.connect((addr, port))
        return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()

def lookup(name):
    try:
        return sorted({a[4][0] for a in socket.getaddrinfo(name, 80)})
    except socket.gaierror as e:
        return "gaierror"

with open("/etc/resolv.conf") as f:
    nameservers = [w[1] for w in (line.split() for line in f) if w[:1] == ["nameserver"]]
seen = {
    "service": connect(os.environ["NO_SERVICE"], 80),
    "outside": connect(os.environ["OUTSIDE"], 80),
    "pod": connect(os.environ["PEER"], 8080),
    "lookup": lookup("example.com"),
    "nameservers": nameservers,
}
with open("/dev/termination-log", "w") as f:
    json.dump(seen, f)
"""


def pod(name: str, command: list[str], **container: Any) -> dict[str, Any]:
    main = {"name": "main", **EXECUTOR_IMAGE, "command": command, **container}  # python3, on the node
    spec = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "containers": [main]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def route(cidr: str) -> list[str]:
    r = subprocess.run(["ip", "route", "show", "exact", cidr], capture_output=True, text=True, timeout=30)
    return r.stdout.split()


def test_pod_cannot_resolve_or_connect_off_the_machine_and_the_guard_counts_it(
    cluster: Cluster, namespace: str
) -> None:
    # Checked before any pod sends a packet: without the guard the probes below would really leave.
    service_range = cluster.service_range()  # the cluster's own (kube-apiserver's --service-cluster-ip-range)
    assert route(service_range)[:2] == ["unreachable", service_range], route(service_range)
    no_service = str(ipaddress.ip_network(service_range)[250])  # in the range, no Service behind it
    rejected_before = cluster.egress_rejected()
    untranslated_before = cluster.untranslated_service_packets()
    core = cluster.core()

    # A peer on the bridge; the kubelet's TCP readiness probe comes from the host, so Ready = host reaches pod.
    probe = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
    core.create_namespaced_pod(namespace, pod("peer", ["python3", "-m", "http.server", "8080"], readinessProbe=probe))

    def ready_peer() -> str | None:
        p = core.read_namespaced_pod("peer", namespace)
        ready = any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        return str(p.status.pod_ip) if ready else None

    peer_ip = wait_for("peer pod Ready", ready_peer, timeout=180)
    with socket.create_connection((peer_ip, 8080), timeout=30):
        pass  # host -> pod IP, as the tests and `kubectl logs` need

    env = [{"name": k, "value": v} for k, v in {"NO_SERVICE": no_service, "OUTSIDE": OUTSIDE, "PEER": peer_ip}.items()]
    core.create_namespaced_pod(
        namespace,
        pod("probe", ["python3", "-c", PROBE], env=env, terminationMessagePolicy="FallbackToLogsOnError"),
    )

    def finished() -> Any:
        p = core.read_namespaced_pod("probe", namespace)
        return p if p.status.phase in ("Succeeded", "Failed") else None

    done = wait_for("probe pod finished", finished, timeout=180)
    message = done.status.container_statuses[0].state.terminated.message
    assert done.status.phase == "Succeeded", message
    seen = json.loads(message)

    # The only nameserver is the pod's own loopback, where nothing listens: no query can leave the pod.
    assert seen["nameservers"] == ["127.0.0.1"], seen
    assert seen["lookup"] == "gaierror", seen
    # Refused here (ICMP admin-prohibited from the guard, host-unreachable from the route), at once.
    assert seen["outside"] == "EHOSTUNREACH", seen
    assert seen["service"] == "EHOSTUNREACH", seen
    assert seen["pod"] == "connected", seen
    # The outside probe is counted by the REJECT rule; the service-range probe, left untranslated by
    # kube-proxy (if this cluster has one), by the nat rule after it, and dies at the route before FORWARD.
    assert cluster.egress_rejected() > rejected_before
    assert cluster.untranslated_service_packets() > untranslated_before
