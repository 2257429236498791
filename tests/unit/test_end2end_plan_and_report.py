"""end2end's pure rules: the plan mixes templates, progress reads in lifecycle order, the report's
counts, quantiles and exit code (0 all succeeded, 1 partial, 4 timed out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubetask.cli._e2e_report import (
    INDEX,
    NOT_LISTED,
    Sample,
    Seen,
    all_final,
    builtin_samples,
    nearest_rank,
    phase_counts,
    plan,
    progress_line,
    report,
    report_lines,
)

T0 = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


def _seen(name: str, phase: str, *, run: float | None = 1.0, latency: float = 2.0, reason: str | None = None) -> Seen:
    return Seen(name, phase, reason, T0, T0 + timedelta(seconds=latency), run)


def test_plan_goes_round_robin_over_the_templates_with_each_tasks_index() -> None:
    samples = [Sample("a", {"i": INDEX}), Sample("b", {"nested": {"i": INDEX}, "fixed": [1, INDEX]})]

    planned = plan(12, samples, "r1")

    assert [p.template for p in planned[:4]] == ["a", "b", "a", "b"]
    assert [p.name for p in planned[:2]] == ["e2e-r1-00", "e2e-r1-01"]
    assert planned[-1].name == "e2e-r1-11"
    assert planned[3].params == {"nested": {"i": 3}, "fixed": [1, 3]}
    assert planned[10].params == {"i": 10}
    assert len({p.name for p in planned}) == 12


@pytest.mark.parametrize(("n", "samples"), [(0, [Sample("a", {})]), (3, [])])
def test_plan_refuses_an_empty_run(n: int, samples: list[Sample]) -> None:
    with pytest.raises(ValueError, match="at least one"):
        plan(n, samples, "r")


def test_builtin_samples_are_three_kinds_that_satisfy_their_own_param_schema() -> None:
    from kubetask.schema_check import validate

    samples = builtin_samples("img:1")
    assert [s.template for s in samples] == ["e2e-echo", "e2e-sleep", "e2e-command"]
    for s in samples:
        assert s.manifest is not None and s.manifest["image"] == "img:1"
        assert validate(s.params_for(7), dict(s.manifest["paramSchema"])) == [], s.template


def test_tasks_not_yet_listed_count_as_submitted_and_progress_reads_in_lifecycle_order() -> None:
    names = ["t0", "t1", "t2", "t3", "t4"]
    seen = {"t0": _seen("t0", "Succeeded"), "t1": _seen("t1", "Running"), "t2": _seen("t2", "Failed")}

    counts = phase_counts(names, seen)

    assert counts == {NOT_LISTED: 2, "Succeeded": 1, "Running": 1, "Failed": 1}
    line = progress_line(counts, elapsed=12.4)
    assert line == "end2end 12s: 2/5 finished · Submitted 2 · Running 1 · Succeeded 1 · Failed 1"
    assert not all_final(names, seen)
    assert all_final(["t0", "t2"], seen)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 0.5, None),
        ([3.0], 0.95, 3.0),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.0),
        ([float(i) for i in range(1, 101)], 0.95, 95.0),
        ([float(i) for i in range(1, 21)], 0.95, 19.0),
    ],
)
def test_nearest_rank_is_the_ceil_q_n_th_smallest(values: list[float], q: float, expected: float | None) -> None:
    assert nearest_rank(values, q) == expected


def test_all_succeeded_is_exit_0_with_quantiles_and_throughput() -> None:
    planned = plan(4, [Sample("a", {})], "ok")
    seen = {p.name: _seen(p.name, "Succeeded", run=float(i + 1), latency=float(10 + i)) for i, p in enumerate(planned)}

    r = report(planned, seen, elapsed=30.0, run_id="ok")

    assert (r.exit_code, r.outcome, r.succeeded, r.failed, r.unfinished) == (0, "passed", 4, {}, 0)
    assert (r.run_p50, r.run_p95, r.latency_p50, r.latency_p95) == (2.0, 4.0, 11.0, 13.0)
    assert r.tasks_per_minute == 8.0
    assert r.as_dict()["runSeconds"] == {"p50": 2.0, "p95": 4.0}
    assert report_lines(r)[0] == "end2end passed: 4/4 succeeded, 0 failed, 0 unfinished"


def test_a_failed_task_is_a_partial_result_exit_1_and_is_named() -> None:
    planned = plan(3, [Sample("a", {})], "p")
    seen = {p.name: _seen(p.name, "Succeeded") for p in planned}
    seen[planned[1].name] = _seen(planned[1].name, "DeadLettered", reason="NonZeroExit")

    r = report(planned, seen, elapsed=5.0, run_id="p")

    assert (r.exit_code, r.outcome, r.succeeded, r.failed) == (1, "partial", 2, {"DeadLettered": 1})
    assert r.failures == [{"name": "e2e-p-1", "phase": "DeadLettered", "reason": "NonZeroExit"}]
    assert "  e2e-p-1: DeadLettered (NonZeroExit)" in report_lines(r)


def test_an_unfinished_task_at_the_deadline_is_a_timeout_exit_4_even_with_failures() -> None:
    planned = plan(3, [Sample("a", {})], "t")
    seen = {
        planned[0].name: _seen(planned[0].name, "Failed"),
        planned[1].name: _seen(planned[1].name, "Running", run=None),
    }  # the third was never listed

    r = report(planned, seen, elapsed=60.0, run_id="t")

    assert (r.exit_code, r.outcome, r.unfinished, r.succeeded) == (4, "timed out", 2, 0)
    assert r.run_p50 == 1.0  # only final tasks have run times in the report
