"""The schedule lateness figure's pure parts: a CronJob Job's name gives its nominal minute, the
measured window holds each schedule's instants exactly once, lateness is created − nominal for the
runs of that window only, and the page shows each side's percentiles with what was seen (k of n), and
`--merge` keeps the other figures of the previous run, saying where they come from."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bench.harness import latencies
from bench.report import PARTIAL, markdown, status, to_json
from bench.run import merged, parse_args, sizes
from bench.schedules import (
    NAME_UNIT,
    creation_start,
    cronjob_nominal,
    cronjob_sizes,
    in_window,
    lateness,
    rfc3339_seconds,
    split_last,
    window_start,
)

NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("job", "unit", "expected"),
    [
        ("c17-29936970", 60, ("c17", 29936970 * 60.0)),  # v2: Unix minutes
        ("c17-1796218200", 1, ("c17", 1796218200.0)),  # v1: Unix seconds (13:30 UTC on 2026-12-02)
        ("nightly-report-29936970", 60, ("nightly-report", 29936970 * 60.0)),  # a dash inside the name
        ("c17", 60, None),  # no scheduled time: not made by the CronJob controller
        ("c17-abc", 1, None),
    ],
)
def test_a_cronjob_job_name_gives_the_cronjob_and_its_nominal_instant(job: str, unit: int, expected: Any) -> None:
    assert cronjob_nominal(job, unit) == expected


def test_each_cronjob_controller_of_1_20_names_the_job_of_noon_its_own_way() -> None:
    assert cronjob_nominal(f"c0-{int(NOON)}", NAME_UNIT["CronJob v1"]) == ("c0", NOON)
    assert cronjob_nominal(f"c0-{int(NOON // 60)}", NAME_UNIT["CronJob v2"]) == ("c0", NOON)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-02T12:00:00Z", NOON),
        ("2026-12-02T13:00:00+01:00", NOON),
        ("2026-12-02T12:00:00.250000Z", NOON + 0.25),
    ],
)
def test_a_scheduled_time_annotation_reads_as_unix_seconds(value: str, expected: float) -> None:
    assert rfc3339_seconds(value) == expected


@pytest.mark.parametrize(
    ("now", "margin", "expected"),
    [
        (NOON - 30, 5, NOON),
        (NOON - 3, 5, NOON + 60),  # too close to noon: the schedules may not be ready for it
        (NOON, 5, NOON + 60),
        (NOON - 15, 15, NOON),  # exactly the margin before a boundary is enough
    ],
)
def test_the_window_starts_at_the_first_minute_boundary_at_least_a_margin_away(
    now: float, margin: float, expected: float
) -> None:
    assert window_start(now, margin) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(NOON, NOON, id="on a boundary: at once"),
        pytest.param(NOON + 0.5, NOON + 0.5, id="within its first second: at once"),
        pytest.param(NOON + 1, NOON + 61, id="past it: one second after the next"),
        pytest.param(NOON - 2, NOON + 1, id="just before a boundary: one second after it"),
    ],
)
def test_schedules_are_created_from_the_start_of_a_minute(now: float, expected: float) -> None:
    assert creation_start(now) == pytest.approx(expected)


def test_the_window_holds_its_whole_minutes_and_nothing_outside_them() -> None:
    nominal = {"before": NOON - 1, "first": NOON, "spread": NOON + 59.5, "second": NOON + 60, "after": NOON + 120}
    assert in_window(nominal, NOON, 1) == {"first", "spread"}
    assert in_window(nominal, NOON, 2) == {"first", "spread", "second"}


def test_lateness_is_created_minus_nominal_for_the_runs_of_the_window_that_were_seen() -> None:
    nominal = {"a": NOON, "b": NOON + 30, "c": NOON, "outside": NOON - 60}
    seen_at = {"a": NOON + 0.5, "b": NOON + 31.25, "outside": NOON + 1}  # c was never seen
    assert lateness(seen_at, nominal, {"a", "b", "c"}) == [0.5, 1.25]


def test_each_count_kubetask_ran_gets_one_cronjob_baseline() -> None:
    assert cronjob_sizes((1000,), (1000, 5000)) == [1000, 5000]
    assert cronjob_sizes((), (5000,)) == [5000]
    assert cronjob_sizes((), ()) == []


def test_kubetask_passes_of_the_largest_count_run_after_the_cronjob_baselines() -> None:
    passes = [(1000, "H * * * * *", "spread"), (1000, "0 * * * * *", "at once"), (5000, "0 * * * * *", "at once")]
    assert split_last(passes) == (passes[:2], passes[2:])
    assert split_last(passes[:2]) == ([], passes[:2])  # one count: all of them last
    assert split_last([]) == ([], [])


def test_schedule_sizes_and_sides_come_from_the_command_line() -> None:
    s = sizes(parse_args(["--schedules", "", "--schedules-at-once", "5000", "--schedule-sides", "kubetask"]))
    assert (s.schedules_spread, s.schedules_at_once, s.schedule_sides) == ((), (5000,), ("kubetask",))
    default = sizes(parse_args([]))
    assert (default.schedules_spread, default.schedules_at_once) == ((1000,), (1000, 5000))
    assert default.schedule_sides == ("kubetask", "cronjob-v1", "cronjob-v2")
    with pytest.raises(SystemExit):
        sizes(parse_args(["--schedule-sides", "kubetask,cronjob-v3"]))


def _row(side: str, n: int, values: dict[str, list[float]], **extra: Any) -> dict[str, Any]:
    cpu = {"kube-apiserver": 6.0, "kube-controller-manager": 3.0, "operator": 12.0}
    row: dict[str, Any] = {
        "side": side,
        "pattern": extra.pop("pattern", "at once"),
        "schedule": extra.pop("schedule", "0 * * * * *" if side == "kubetask" else "* * * * *"),
        "n": n,
        "measured_seconds": 120.0,
        "cpu_seconds": cpu,
        "memory_mib": {
            "operator": {"before": 100.0, "settled": 140.0},
            "kube-controller-manager": {"before": 50.0, "settled": 60.0},
        },
        "loadavg": {"before": [1.5, 1.0, 1.0], "after": [2.25, 1.0, 1.0]},
        **extra,
    }
    for what, v in values.items():
        label = f"{side} {n} {row['pattern']}: {what}"  # as bench.schedules names its passes
        row[what] = {**latencies(label, n=n, values=v), "min": min(v), "max": max(v)}
    return row


def _figure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "minutes": 2,
        "rows": rows,
        "controller_manager_v2": {
            "gates": "CronJobControllerV2=true",
            "cronjob_controller_log": "cronjob controller v2",
        },
    }


def _page(result: dict[str, Any]) -> str:
    return markdown(json.loads(to_json(result)))


def test_the_page_shows_each_side_with_its_percentiles_cpu_and_memory_per_1000_schedules() -> None:
    kubetask = _row("kubetask", 4, {"Task created": [0.1, 0.2, 0.3, 0.4], "Job created": [0.2, 0.3, 0.4, 0.5]})
    cron = _row("CronJob v1", 4, {"Job created": [1.0, 2.0, 3.0, 9.0]})
    page = _page(
        {"when": "2026-12-02T14:40:00+00:00", "commit": "abc1234", "figures": {"schedules": _figure([kubetask, cron])}}
    )
    assert "## 7. Schedule lateness" in page and "Commit: abc1234" in page
    # 12 operator CPU-seconds over 2 minutes for 4 schedules: 1500 per minute per 1000; 40 MiB grown: 10000 per 1000
    assert (
        "| kubetask (operator) | 4 | at once `0 * * * * *` | Task created − nominal | 4/4 | 0.20 | 0.40 | 0.40 | 0.40 "
        "| 1500.0 | 10000.0 |"
    ) in page
    assert "| kubetask (operator) | 4 | at once `0 * * * * *` | Job created − nominal | 4/4 | 0.30 | 0.50 |" in page
    assert (
        "| CronJob v1 (kube-controller-manager) | 4 | at once `* * * * *` | Job created − nominal | 4/4 | 2.00 "
        "| 9.00 | 9.00 | 9.00 | 375.0 | 2500.0 |"
    ) in page
    assert "| kubetask 4 at once | 120.0 | 6.0 | 3.0 | 12.0 | 21.0 | 1.50 → 2.25 |" in page
    assert (
        "restarted with CronJobControllerV2 (gates CronJobControllerV2=true): its log said 'cronjob controller v2'"
        in page
    )


def test_a_side_that_saw_only_some_runs_of_its_window_is_partial() -> None:
    cron = _row("CronJob v1", 4, {"Job created": [1.0, 2.0]})
    fig = _figure([cron])
    assert status(json.loads(to_json({"figures": {"schedules": fig}}))["figures"]["schedules"]) == PARTIAL
    page = _page({"figures": {"schedules": fig}})
    assert "| Job created − nominal | 2/4 PARTIAL |" in page
    assert "**PARTIAL**: CronJob v1 4 at once: Job created: only 2 of 4" in page


def test_merge_keeps_the_other_figures_of_the_previous_run_stamped_with_where_they_came_from() -> None:
    previous = {
        "when": "2026-12-02T00:01:37+00:00",
        "commit": "8bae901",
        "sizes": {"dispatch": [1000, 5000]},
        "figures": {"dispatch": {"rows": [], "status": "COMPLETE"}, "schedules": {"rows": ["old"]}},
    }
    now = {"when": "2026-12-02T14:40:00+00:00", "commit": "abc1234", "figures": {}}
    result = merged(previous, now, {"schedules"})
    assert result["figures"] == {
        "dispatch": {
            "when": "2026-12-02T00:01:37+00:00",
            "commit": "8bae901",
            "sizes": {"dispatch": [1000, 5000]},
            "rows": [],
        }
    }
    assert result["when"] == "2026-12-02T14:40:00+00:00"
    again = merged({**result, "figures": {**result["figures"], "schedules": {"rows": []}}}, {"figures": {}}, {"api"})
    assert again["figures"]["dispatch"]["commit"] == "8bae901"  # its own run's, not the one between
    old = {"when": "2026-11-29T06:00:00+00:00", "figures": {"dispatch": {"rows": []}}}  # a run before commits
    a = merged(old, now, {"schedules"})
    b = merged({**a, "figures": {**a["figures"], "schedules": {"rows": []}}}, {"figures": {}}, {"schedules"})
    assert b["figures"]["dispatch"] == {"when": "2026-11-29T06:00:00+00:00", "rows": []}  # not abc1234's
    page = _page({**now, "figures": {**result["figures"], "schedules": _figure([])}})
    assert (
        "*Kept from the run of 2026-12-02T00:01:37+00:00 (commit 8bae901) (`--merge`): not measured in this run.*"
        in page
    )
