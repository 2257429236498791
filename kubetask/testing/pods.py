"""Plain pods for the cluster tests (Services, images, security): create, wait, read what they reported."""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client.exceptions import ApiException

from .cluster import wait_for


def pod(
    name: str, image: dict[str, str], command: list[str], spec: dict[str, Any] | None = None, **container: Any
) -> dict[str, Any]:
    """A pod of one container `main` running `command`; `spec` adds pod-level fields, `container` container ones."""
    main = {
        "name": "main",
        **image,
        "command": command,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        **container,
    }
    body = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "containers": [main], **(spec or {})}
    labels = body.pop("labels", {"app": name})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels}, "spec": body}


def finished(core: Any, ns: str, name: str, timeout: float = 240) -> Any:
    """The pod once it Succeeded or Failed."""

    def done() -> Any:
        p = core.read_namespaced_pod(name, ns)
        return p if p.status.phase in ("Succeeded", "Failed") else None

    return wait_for(f"pod {ns}/{name} finished", done, timeout)


def reported(core: Any, ns: str, name: str, timeout: float = 240) -> dict[str, Any]:
    """The JSON object a pod wrote to /dev/termination-log (it must have succeeded)."""
    p = finished(core, ns, name, timeout)
    message = p.status.container_statuses[0].state.terminated.message
    assert p.status.phase == "Succeeded", f"pod {name} {p.status.phase}: {message}"
    seen: dict[str, Any] = json.loads(message)
    return seen


def ready_ip(core: Any, ns: str, name: str, timeout: float = 240) -> str:
    """The pod's IP once it is Ready."""

    def ready() -> str | None:
        p = core.read_namespaced_pod(name, ns)
        ok = any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        return str(p.status.pod_ip) if ok else None

    return wait_for(f"pod {ns}/{name} Ready", ready, timeout)


def service(name: str, port: int, target: int, selector: dict[str, str] | None = None) -> dict[str, Any]:
    """A ClusterIP Service `name` (port -> target) in front of the pods labelled app=`name`."""
    spec = {"selector": selector or {"app": name}, "ports": [{"port": port, "targetPort": target, "protocol": "TCP"}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def endpoints_ready(core: Any, ns: str, name: str, timeout: float = 60) -> list[str]:
    """The addresses behind Service `name` once its Endpoints have some (the endpoint controller)."""

    def addresses() -> list[str]:
        try:
            ep = core.read_namespaced_endpoints(name, ns)
        except ApiException as e:
            if e.status == 404:  # the controller makes the object a moment after the Service
                return []
            raise
        return [a.ip for s in ep.subsets or [] for a in s.addresses or []]

    return wait_for(f"endpoints of Service {ns}/{name}", addresses, timeout)
