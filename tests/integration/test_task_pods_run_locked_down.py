"""Task pods run locked down on the real node, and a template's `relax` lifts what it names.

The executor's Python handlers (echo), the http handler (against a server of the test on the
cluster bridge's address) and a plain command still run to Succeeded as UID 65532 with a read-only
root filesystem, no capabilities, no_new_privs, seccomp filtering and no ServiceAccount token:
the command reports what the kernel says of its own process (/proc/self/status), not what the
manifest asked for. Every pod the operator made here passes the restricted profile's check.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask.labels import LABEL_TASK, LABEL_TASK_UID
from kubetask.pod_security import lockdown_violations, restricted_violations
from kubetask.testing.bridge import bridge_address
from kubetask.testing.cluster import ROOT_IMAGE, Cluster, OperatorProcess, create, task, template, wait_task

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
PROBE = f"""
import json, os
def writes(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return True
    except OSError:
        return False
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
report = {{
    "uid": os.getuid(), "gid": os.getgid(), "home": os.environ.get("HOME"),
    "tmp": writes("/tmp/probe"), "root": writes("/probe"), "token": os.path.exists("{TOKEN}"),
    "capEff": status["CapEff"].strip(), "noNewPrivs": status["NoNewPrivs"].strip(),
    "seccomp": status["Seccomp"].strip(),
}}
with open("/dev/termination-log", "w") as f:
    f.write(json.dumps(report))
"""


class _Ok(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (http.server's name)
        pass

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def http_base(cluster: Cluster) -> Iterator[str]:
    server = ThreadingHTTPServer((bridge_address(cluster), 0), _Ok)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        yield f"http://{bridge_address(cluster)}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _examples(name: str) -> dict[str, Any]:
    body: dict[str, Any] = next(d for d in yaml.safe_load_all((ROOT / "examples" / name).read_text()) if d)
    return body


def test_handlers_and_commands_succeed_under_the_lockdown_and_relax_lifts_it(
    cluster: Cluster, operator: OperatorProcess, namespace: str, http_base: str
) -> None:
    del operator
    create(cluster, namespace, "tasktemplates", _examples("echo.yaml"))
    create(cluster, namespace, "tasktemplates", _examples("http.yaml"))
    create(cluster, namespace, "tasktemplates", template("probe", command=["python3", "-c", PROBE]))
    relaxed = ["RunAsRoot", "WritableRootFilesystem", "ServiceAccountToken"]
    # RunAsRoot keeps the image's own user: root in the base image (the executor image's is 65532)
    probe_relaxed = template("probe-relaxed", **ROOT_IMAGE, command=["python3", "-c", PROBE], relax=relaxed)
    create(cluster, namespace, "tasktemplates", probe_relaxed)
    create(cluster, namespace, "tasks", task("echo", templateRef={"name": "echo"}, params={"message": "hi"}))
    create(cluster, namespace, "tasks", task("http", templateRef={"name": "http"}, params={"url": f"{http_base}/x"}))
    create(cluster, namespace, "tasks", task("probe", templateRef={"name": "probe"}))
    create(cluster, namespace, "tasks", task("relaxed", templateRef={"name": "probe-relaxed"}))

    done = {
        name: wait_task(cluster, namespace, name, timeout=120)["status"]
        for name in ("echo", "http", "probe", "relaxed")
    }

    assert {name: st["phase"] for name, st in done.items()} == dict.fromkeys(done, "Succeeded"), done
    assert done["echo"]["result"] == {"message": "hi"}
    assert done["http"]["result"]["status"] == 200
    assert done["probe"]["result"] == {
        "uid": 65532,
        "gid": 65532,
        "home": "/tmp",
        "tmp": True,
        "root": False,
        "token": False,
        "capEff": "0000000000000000",
        "noNewPrivs": "1",
        "seccomp": "2",  # SECCOMP_MODE_FILTER: the runtime's default profile
    }
    lifted = done["relaxed"]["result"]
    assert (lifted["uid"], lifted["root"], lifted["token"]) == (0, True, True)
    assert (lifted["capEff"], lifted["noNewPrivs"], lifted["seccomp"]) == ("0000000000000000", "1", "2")

    listed = cluster.kubectl("get", "pods", "-n", namespace, "-l", LABEL_TASK_UID, "-o", "json").stdout
    specs = {p["metadata"]["labels"][LABEL_TASK]: p["spec"] for p in json.loads(listed)["items"]}
    assert sorted(specs) == ["echo", "http", "probe", "relaxed"]
    for name in ("echo", "http", "probe"):
        assert lockdown_violations(specs[name]) == [], name
    assert restricted_violations(specs["relaxed"]) != []  # RunAsRoot is outside the profile, and said so

    wide = cluster.kubectl("get", "ktt", "-n", namespace, "-o", "wide").stdout.splitlines()
    header, rows = wide[0].split(), {line.split()[0]: line for line in wide[1:]}
    assert "RELAX" in header and "CAPABILITIES" in header
    assert "RunAsRoot" in rows["probe-relaxed"] and "ServiceAccountToken" in rows["probe-relaxed"]
    assert "RunAsRoot" not in rows["probe"]
