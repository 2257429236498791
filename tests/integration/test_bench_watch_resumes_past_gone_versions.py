"""The bench's watcher (bench.harness.Seen) starts over when the resourceVersion it resumes from is
gone (410): the undecoded watch fails on that ERROR event with a KeyError, not an ApiException, and
a watcher that retried the same version saw nothing again (figure 2 of 2026-12-03: 0 of 1000 Tasks
seen final, all of them Succeeded in the operator's mirror)."""

from __future__ import annotations

from typing import Any

from bench.harness import Seen
from kubetask.models import GROUP, VERSION
from kubetask.testing.cluster import Cluster, create, template

GONE = "1"  # older than any watch cache of a CRD: the apiserver answers 410 Gone


def test_a_watch_from_a_gone_version_starts_over_and_sees_the_current_state(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("kept", handler="echo"))

    def named(o: dict[str, Any]) -> bool:
        return bool(o["metadata"]["name"] == "kept")

    custom = cluster.custom()
    seen = Seen(
        custom.list_namespaced_custom_object,
        named,
        since=GONE,
        group=GROUP,
        version=VERSION,
        namespace=namespace,
        plural="tasktemplates",
    )
    try:
        assert seen.wait_for(["kept"], 120) == 1
    finally:
        seen.stop()
    assert seen.restarts >= 1  # the version was gone: seen through a fresh watch, not the stale one
