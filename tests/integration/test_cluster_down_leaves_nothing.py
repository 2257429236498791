"""`cluster.sh down` removes every rule, route, link and run directory its `up` made, and a second cluster
on the machine runs without kube-proxy (one per network namespace) and says why, without touching the
first one's KUBE-* chains. The cluster here is a second one beside the session's (which holds the proxy);
what the session's cluster owns is checked to be still in place after the second goes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from kubetask.testing.cluster import ROOT, Cluster

SCRIPT = ROOT / "scripts/cluster/cluster.sh"


def host_state() -> str:
    """iptables rules of every table, routes of every table, links: what a cluster could leave behind."""
    out = []
    for cmd in (["iptables-save"], ["ip", "route", "show", "table", "all"], ["ip", "-o", "link"]):
        out.append(subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout)
    return "\n".join(out)


def traces(state: str, d: Path) -> list[str]:
    """The lines of `state` that name the cluster in `d`: its id, bridge, chains, pod subnet or service range."""
    cid = hashlib.md5(str(d).encode()).hexdigest()[:6]
    marks = [cid, f"ktb{cid}", f"KT-EGRESS-{cid}"]
    for f in ("pod-subnet", "service-range"):
        if (d / f).exists():
            marks.append((d / f).read_text().strip().removesuffix(".0/24") + ".")
    return [line for line in state.splitlines() if any(m in line for m in marks)]


def test_down_leaves_no_rules_routes_or_links_and_a_second_cluster_runs_without_a_proxy(
    cluster: Cluster, tmp_path: Path
) -> None:
    d = tmp_path / "second"
    env = {**os.environ, "KUBETASK_AUDIT": "0"}
    try:
        up = subprocess.run(["bash", str(SCRIPT), "up", str(d)], capture_output=True, text=True, timeout=300, env=env)
        assert up.returncode == 0, up.stderr[-3000:]
        pod_subnet, service_range = (d / "pod-subnet").read_text().strip(), (d / "service-range").read_text().strip()
        assert pod_subnet != (cluster.dir / "pod-subnet").read_text().strip()
        assert service_range != cluster.service_range()
        seen = traces(host_state(), d)
        assert any("unreachable " + service_range in line for line in seen), seen
        assert any("KT-EGRESS" in line and "-j REJECT" in line for line in seen), seen
        assert any("untranslated ClusterIP" in line for line in seen), seen
        if not (cluster.dir / "no-proxy").exists():  # the session's cluster holds the proxy: this one has none
            assert str(cluster.dir) in (d / "no-proxy").read_text(), "a second kube-proxy was started"
            assert "owns this machine's KUBE-* iptables chains" in (d / "no-proxy").read_text()
            assert "kube-proxy" not in (d / "pids").read_text()
    finally:
        down = subprocess.run(["bash", str(SCRIPT), "down", str(d)], capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr[-3000:]
    assert traces(host_state(), d) == []
    assert not Path(f"/run/kubetask-{hashlib.md5(str(d).encode()).hexdigest()[:6]}").exists()
    # the session's cluster is untouched: its guard, its route and (if it has one) its proxy's chains
    cluster.egress_rejected()
    state = host_state()
    assert "unreachable " + cluster.service_range() in state
    if not (cluster.dir / "no-proxy").exists():
        assert ":KUBE-SERVICES" in state
        assert Path("/run/kubetask-proxy.owner").read_text().strip() == str(cluster.dir)
