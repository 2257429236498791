"""The node's containerd (1.6, runc 1.1) enforces what a pod's securityContext asks for; checked with real
pods, each against a control pod that asks for nothing (docs/cluster-facts.md, "Pod security"):

- runAsNonRoot on an image whose user is root (the images' Debian base): refused before start
  (CreateContainerConfigError, "image will run as root"); on the executor, operator and API images (USER
  65532) it runs, as 65532.
- readOnlyRootFilesystem: writing / fails with EROFS; an emptyDir at /tmp stays writable.
- capabilities drop ALL: root without CAP_CHOWN cannot chown (EPERM), its effective set is empty.
- seccompProfile RuntimeDefault: the process runs under a seccomp filter (Seccomp: 2) and a syscall the
  profile does not allow (keyctl) fails with EPERM; kubelet 1.20's default is unconfined (Seccomp: 0).
- allowPrivilegeEscalation false: no_new_privs is set.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetask.testing.cluster import (
    API_IMAGE,
    EXECUTOR_IMAGE,
    NONROOT_UID,
    OPERATOR_IMAGE,
    ROOT_IMAGE,
    Cluster,
    app_images,
    wait_for,
)
from kubetask.testing.pods import pod, reported

PROBE = """
import ctypes, errno, json, os

def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def write(path):
    with open(path, "w") as f:
        f.write("x")

def keyctl():  # KEYCTL_GET_KEYRING_ID of the session keyring: needs no capability
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(250, 0, -3, 0) == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

status = dict(line.split(":", 1) for line in open("/proc/self/status"))
seen = {
    "uid": os.getuid(),
    "root_fs": attempt(lambda: write("/probe")),
    "tmp": attempt(lambda: write("/tmp/probe")),
    "chown": attempt(lambda: os.chown("/tmp/probe", 1, 1)),
    "cap_eff": status["CapEff"].strip(),
    "seccomp": status["Seccomp"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "keyctl": attempt(keyctl),
}
with open("/dev/termination-log", "w") as f:
    json.dump(seen, f)
"""
TMP = {"volumes": [{"name": "tmp", "emptyDir": {}}]}
MOUNT = {"volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}
LOCKED = {
    "runAsUser": 0,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


@pytest.fixture(scope="module")
def app_images_on_node(cluster: Cluster) -> None:
    cluster.import_images(*app_images())


def probe(
    core: Any, ns: str, name: str, image: dict[str, str], security: dict[str, Any] | None = None
) -> dict[str, Any]:
    extra = {"securityContext": security} if security else {}
    core.create_namespaced_pod(ns, pod(name, image, ["python3", "-c", PROBE], spec=TMP, **MOUNT, **extra))
    return reported(core, ns, name)


def test_a_pod_that_asks_for_nothing_gets_root_and_no_confinement(cluster: Cluster, namespace: str) -> None:
    seen = probe(cluster.core(), namespace, "open", ROOT_IMAGE)
    assert seen["uid"] == 0, seen  # the base image's user is root; the task pods set their own
    assert (seen["root_fs"], seen["tmp"], seen["chown"]) == ("ok", "ok", "ok"), seen
    assert seen["cap_eff"] != "0000000000000000", seen
    assert (seen["seccomp"], seen["no_new_privs"]) == ("0", "0"), seen
    assert seen["keyctl"] != "EPERM", seen


def test_read_only_root_dropped_capabilities_and_runtime_default_seccomp_are_enforced(
    cluster: Cluster, namespace: str
) -> None:
    seen = probe(cluster.core(), namespace, "locked", ROOT_IMAGE, LOCKED)
    assert seen["uid"] == 0, seen  # root, and still:
    assert seen["root_fs"] == "EROFS", seen
    assert seen["tmp"] == "ok", seen
    assert seen["chown"] == "EPERM", seen
    assert seen["cap_eff"] == "0000000000000000", seen
    assert seen["seccomp"] == "2", seen
    assert seen["keyctl"] == "EPERM", seen
    assert seen["no_new_privs"] == "1", seen


def test_run_as_non_root_refuses_a_root_image(cluster: Cluster, namespace: str) -> None:
    core = cluster.core()
    body = pod("rootimage", ROOT_IMAGE, ["python3", "-c", "print('must not run')"])
    body["spec"]["securityContext"] = {"runAsNonRoot": True}
    core.create_namespaced_pod(namespace, body)

    def refused() -> Any:
        statuses = core.read_namespaced_pod("rootimage", namespace).status.container_statuses or []
        waiting = statuses[0].state.waiting if statuses else None
        return waiting if waiting and waiting.reason == "CreateContainerConfigError" else None

    waiting = wait_for("the container refused", refused, timeout=120)
    assert "runAsNonRoot and image will run as root" in waiting.message, waiting
    assert core.read_namespaced_pod("rootimage", namespace).status.phase == "Pending"


@pytest.mark.usefixtures("app_images_on_node")
@pytest.mark.parametrize("image", [EXECUTOR_IMAGE, OPERATOR_IMAGE, API_IMAGE], ids=["executor", "operator", "api"])
def test_the_executor_operator_and_api_images_run_as_non_root_locked_down(
    cluster: Cluster, namespace: str, image: dict[str, str]
) -> None:
    security = {k: v for k, v in LOCKED.items() if k != "runAsUser"} | {"runAsNonRoot": True}
    seen = probe(cluster.core(), namespace, "app", image, security)
    assert seen["uid"] == NONROOT_UID, seen
    assert (seen["root_fs"], seen["tmp"], seen["cap_eff"], seen["seccomp"]) == ("EROFS", "ok", "0000000000000000", "2")
