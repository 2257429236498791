"""History limits delete old run Tasks only once mirrored and only at or before the high-water mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubetask.schedules import FinishedRun, runs_to_delete

DAY = datetime(2026, 1, 2, tzinfo=UTC)


def run(hour: int, *, ok: bool = True, mirrored: bool = True) -> FinishedRun:
    return FinishedRun(name=f"s-{hour:02d}", instant=DAY + timedelta(hours=hour), succeeded=ok, mirrored=mirrored)


RUNS = [run(1), run(2, ok=False), run(3), run(4), run(5, ok=False), run(6), run(7, ok=False)]


@pytest.mark.parametrize(
    ("runs", "successful", "failed", "mark", "deleted"),
    [
        pytest.param(RUNS, 3, 1, 7, ("s-01", "s-02", "s-05"), id="keep-three-succeeded-one-failed"),
        pytest.param(RUNS, 0, 0, 7, ("s-01", "s-02", "s-03", "s-04", "s-05", "s-06", "s-07"), id="keep-none"),
        pytest.param(RUNS, 10, 10, 7, (), id="under-the-limits"),
        pytest.param(RUNS, 1, 1, 3, ("s-01", "s-02", "s-03"), id="only-at-or-before-the-mark"),
        pytest.param(RUNS, 1, 1, None, (), id="no-mark-yet-nothing"),
        pytest.param([run(1, mirrored=False), run(2), run(3)], 1, 1, 3, ("s-02",), id="not-yet-mirrored-stays"),
        pytest.param([run(3), run(1), run(2)], 1, 1, 3, ("s-01", "s-02"), id="by-instant-not-listing-order"),
    ],
)
def test_history_limits(
    runs: list[FinishedRun], successful: int, failed: int, mark: int | None, deleted: tuple[str, ...]
) -> None:
    last = None if mark is None else DAY + timedelta(hours=mark)
    assert runs_to_delete(runs, successful_limit=successful, failed_limit=failed, last_scheduled=last) == deleted
