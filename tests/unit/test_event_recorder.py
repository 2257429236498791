"""The operator's Event recorder: in order, off the reconcile path, bounded under a flood."""

from __future__ import annotations

import threading
from typing import Any, cast

from kubernetes.client.exceptions import ApiException

from kubetask.kubeapi import JsonApi
from kubetask.operator.events import EventRecorder


class Apiserver:
    """Records Event POSTs; `hold` blocks them (an apiserver that is slow right now); `fail` answers 500."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, str]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.fail = False

    def create(self, path: str, body: dict[str, Any], *, decode: bool = True) -> None:
        assert not decode  # the recorder never reads the answer
        self.hold.wait(10)
        if self.fail:
            raise ApiException(status=500, reason="Internal Server Error")
        self.posted.append((path, body["reason"]))


def test_events_are_posted_in_order_to_their_namespace() -> None:
    api = Apiserver()
    rec = EventRecorder(cast(JsonApi, api))
    for i in range(50):
        rec.record("ns-a" if i % 2 else "ns-b", {"reason": f"R{i}"})
    assert rec.flush()
    assert [r for _, r in api.posted] == [f"R{i}" for i in range(50)]
    assert api.posted[1][0] == "/api/v1/namespaces/ns-a/events"


def test_a_flood_beyond_the_limit_is_dropped_and_counted_not_blocking() -> None:
    api = Apiserver()
    api.hold.clear()
    rec = EventRecorder(cast(JsonApi, api), limit=10)
    for i in range(25):
        rec.record("ns", {"reason": f"R{i}"})  # returns at once even though nothing can be posted
    assert 14 <= rec.dropped <= 15  # 10 queued (+1 taken by the poster thread)
    api.hold.set()
    assert rec.flush()
    assert len(api.posted) == 25 - rec.dropped


def test_a_failing_post_is_logged_and_the_next_one_still_goes() -> None:
    api = Apiserver()
    api.fail = True
    rec = EventRecorder(cast(JsonApi, api))
    rec.record("ns", {"reason": "Lost"})
    assert rec.flush()
    api.fail = False
    rec.record("ns", {"reason": "Kept"})
    assert rec.flush()
    assert [r for _, r in api.posted] == ["Kept"]
