"""The SQL mirror gathers the versions submitted within `gather` seconds into one transaction, but a
full batch (`BATCH` Task versions) is written at once, and nothing queued waits longer than `gather`.

`gather_wait` is the rule, pure; the mirror itself runs here on a real SQLite file.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kubetask.operator.mirror import BATCH, Mirror, gather_wait
from kubetask.store import make_engine


@pytest.mark.parametrize(
    ("queued_at", "now", "pending", "expected"),
    [
        pytest.param(None, 100.0, 0, 0.0, id="nothing queued: no wait"),
        pytest.param(100.0, 100.0, 1, 0.5, id="the first version just came: the whole gather"),
        pytest.param(100.0, 100.2, 3, 0.3, id="later: what is left of it"),
        pytest.param(100.0, 100.5, 3, 0.0, id="gather over: write"),
        pytest.param(100.0, 107.0, 3, 0.0, id="long over: write, never a negative wait"),
        pytest.param(100.0, 100.0, BATCH, 0.0, id="a full batch: write at once"),
        pytest.param(0.0, 100.0, 1, 0.0, id="queued long ago (left over from a full batch): write"),
    ],
)
def test_a_queued_version_waits_for_others_at_most_the_gather(
    queued_at: float | None, now: float, pending: int, expected: float
) -> None:
    assert gather_wait(queued_at, now, pending, 0.5) == pytest.approx(expected)


def _task(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "Task",
        "metadata": {
            "name": f"t{i}",
            "namespace": "ns",
            "uid": f"uid-{i}",
            "resourceVersion": str(10 + i),
            "creationTimestamp": "2026-12-04T18:30:00Z",
        },
        "spec": {"templateRef": {"name": "echo"}, "params": {"n": i}},
        "status": {"phase": "Pending"},
    }


def _wait_written(m: Mirror, n: int) -> None:
    deadline = time.monotonic() + 60  # a bound on a broken mirror, not a measurement
    while m.snapshots_written < n and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_full_batch_is_written_without_waiting_for_the_gather(tmp_path: Path) -> None:
    m = Mirror(make_engine(f"sqlite:///{tmp_path / 'mirror.db'}"), gather=3600)
    m.start()
    try:
        for i in range(BATCH):
            m.submit(_task(i))
        _wait_written(m, BATCH)
        assert m.snapshots_written == BATCH
        assert all(m.mirrored(f"uid-{i}", str(10 + i)) for i in range(BATCH))
    finally:
        m.stop()


def test_a_lone_version_is_written_once_its_gather_is_over(tmp_path: Path) -> None:
    m = Mirror(make_engine(f"sqlite:///{tmp_path / 'mirror.db'}"), gather=0.05)
    m.start()
    try:
        m.submit(_task(1))
        _wait_written(m, 1)
        assert m.mirrored("uid-1", "11")
    finally:
        m.stop()
