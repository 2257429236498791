"""The operator's wake-ups (`Requeue`): the earliest time per Task counts, due ones run in time order,
and one failing reconcile does not stop the others."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from kubetask.operator.requeue import Requeue
from kubetask.testing.cluster import wait_for


def test_only_the_earliest_wake_up_per_task_is_kept() -> None:
    woken: list[tuple[str, str]] = []
    requeue = Requeue(lambda ns, name: woken.append((ns, name)))
    now = datetime.now(UTC)
    requeue.at(now + timedelta(hours=2), "ns", "a")
    requeue.at(now + timedelta(hours=1), "ns", "a")  # sooner: replaces the first
    requeue.at(now + timedelta(hours=3), "ns", "a")  # later: ignored
    requeue.at(now + timedelta(hours=1), "ns", "b")
    assert requeue.pending() == 2
    assert woken == []


def test_due_wake_ups_run_in_time_order_and_a_new_one_wakes_the_thread() -> None:
    woken: list[str] = []
    requeue = Requeue(lambda _ns, name: woken.append(name))
    requeue.start()
    now = datetime.now(UTC)
    requeue.at(now - timedelta(seconds=1), "ns", "second")
    requeue.at(now - timedelta(seconds=2), "ns", "first")
    wait_for("len(woken) == 2", lambda: len(woken) == 2, timeout=5, interval=0.005)
    requeue.at(datetime.now(UTC) + timedelta(seconds=0.1), "ns", "third")  # well before the 5 s cap
    wait_for("len(woken) == 3", lambda: len(woken) == 3, timeout=3, interval=0.005)
    requeue.stop()
    assert woken == ["first", "second", "third"]
    assert requeue.pending() == 0


def test_a_failing_reconcile_is_logged_and_the_next_wake_up_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    woken: list[str] = []
    done = threading.Event()

    def action(_ns: str, name: str) -> None:
        if name == "bad":
            raise RuntimeError("apiserver down for a moment")
        woken.append(name)
        done.set()

    requeue = Requeue(action)
    requeue.start()
    past = datetime.now(UTC) - timedelta(seconds=1)
    requeue.at(past - timedelta(seconds=1), "ns", "bad")
    requeue.at(past, "ns", "good")
    assert done.wait(5)
    requeue.stop()
    assert woken == ["good"]
    assert "requeued reconcile of ns/bad failed" in caplog.text
