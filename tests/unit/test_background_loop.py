"""The operator's background-thread helper: waits as the step asks, wakes on demand, survives errors."""

from __future__ import annotations

import threading
import time

import pytest

from kubetask.operator.loops import Loop
from kubetask.testing.cluster import wait_for


def test_a_step_waits_as_long_as_the_previous_one_asked_and_a_wake_cuts_it_short() -> None:
    calls: list[float] = []

    def step() -> float | None:
        calls.append(time.monotonic())
        return None if len(calls) == 1 else 60.0

    loop = Loop("t-wait", step)
    loop.start()
    wait_for("len(calls) == 1", lambda: len(calls) == 1, timeout=5, interval=0.005)
    time.sleep(0.2)
    assert len(calls) == 1  # None: waits until woken
    loop.wake()
    wait_for("len(calls) == 2", lambda: len(calls) == 2, timeout=5, interval=0.005)
    time.sleep(0.2)
    assert len(calls) == 2  # 60 s asked for
    loop.wake()
    wait_for("len(calls) == 3", lambda: len(calls) == 3, timeout=5, interval=0.005)
    loop.stop(timeout=5)
    assert loop.stopping and not loop._thread.is_alive()


def test_a_wake_during_a_step_is_not_lost() -> None:
    inside, release = threading.Event(), threading.Event()
    calls = 0

    def step() -> float | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            inside.set()
            release.wait(5)
        return None

    loop = Loop("t-race", step)
    loop.start()
    assert inside.wait(5)
    loop.wake()  # arrives while the first step runs
    release.set()
    wait_for("calls == 2", lambda: calls == 2, timeout=5, interval=0.005)
    loop.stop(timeout=5)


def test_first_wait_delays_the_first_step() -> None:
    calls: list[int] = []

    def step() -> float:
        calls.append(1)
        return 0.01

    loop = Loop("t-first", step, first_wait=60.0)
    loop.start()
    time.sleep(0.2)
    assert calls == []
    loop.wake()
    wait_for("len(calls) >= 2", lambda: len(calls) >= 2, timeout=5, interval=0.005)
    loop.stop(timeout=5)


def test_a_failing_step_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    def step() -> float | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("apiserver down for a moment")
        return None

    loop = Loop("t-error", step, retry_wait=0.05)
    loop.start()
    wait_for("calls == 2", lambda: calls == 2, timeout=5, interval=0.005)
    loop.stop(timeout=5)
    assert "t-error: step failed" in caplog.text


def test_stop_ends_a_thread_that_waits_forever() -> None:
    loop = Loop("t-stop", lambda: None)
    loop.start()
    time.sleep(0.05)
    loop.stop(timeout=5)
    assert not loop._thread.is_alive()
