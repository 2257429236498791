"""A benchmark run goes on when one figure fails: that figure is recorded FAILED with its error (its
later steps skipped), the others still run, and the results are saved after every step; the
`--fail-figure` test hook makes a figure fail without touching a cluster."""

from __future__ import annotations

from typing import Any

from bench.harness import counted
from bench.report import FAILED, status
from bench.run import parse_args, run_steps, sizes


def _step(what: str, calls: list[str]) -> Any:
    def step(_ctx: Any, record: dict[str, Any], _figures: dict[str, Any]) -> None:
        calls.append(what)
        record[what] = counted(what, n=1, seen=1)

    return step


def _boom(calls: list[str]) -> Any:
    def step(_ctx: Any, _record: dict[str, Any], _figures: dict[str, Any]) -> None:
        calls.append("boom")
        raise TimeoutError("watch never caught up")

    return step


def test_a_figure_that_raises_is_failed_and_the_next_figures_still_run() -> None:
    calls: list[str] = []
    saves: list[int] = []
    result: dict[str, Any] = {"figures": {}}
    steps = [
        ("latency", _step("idle", calls)),
        ("dispatch", _boom(calls)),
        ("latency", _step("load", calls)),
        ("dispatch", _step("dispatch again", calls)),
        ("e2e", _step("e2e", calls)),
    ]
    run_steps(None, {"latency", "dispatch", "e2e"}, "", lambda: saves.append(1), result, steps)  # type: ignore[arg-type]
    assert calls == ["idle", "boom", "load", "e2e"]  # the failed figure's later step is skipped
    assert result["figures"]["dispatch"] == {"error": "TimeoutError('watch never caught up')"}
    assert status(result["figures"]["dispatch"]) == FAILED
    assert set(result["figures"]["latency"]) == {"idle", "load"}
    assert len(saves) == 4


def test_fail_figure_raises_before_the_figure_runs_and_only_for_that_figure() -> None:
    calls: list[str] = []
    result: dict[str, Any] = {"figures": {}}
    steps = [("api", _step("api", calls)), ("history", _step("history", calls))]
    run_steps(None, {"api", "history"}, "history", lambda: None, result, steps)  # type: ignore[arg-type]
    assert calls == ["api"]
    assert result["figures"]["history"] == {"error": "ForcedFailure('forced by --fail-figure history (test hook)')"}


def test_figures_not_chosen_with_only_do_not_run() -> None:
    calls: list[str] = []
    result: dict[str, Any] = {"figures": {}}
    run_steps(None, {"api"}, "", lambda: None, result, [("api", _step("api", calls)), ("e2e", _step("e2e", calls))])  # type: ignore[arg-type]
    assert calls == ["api"] and set(result["figures"]) == {"api"}


def test_quick_sizes_and_explicit_sizes() -> None:
    q = sizes(parse_args(["--quick"]))
    assert (q.dispatch, q.scale, q.rows, q.api_n, q.e2e_n) == ((50,), (100,), 20_000, 40, 10)
    s = sizes(parse_args(["--quick", "--sizes", "10,20", "--rows", "500"]))
    assert (s.dispatch, s.rows, s.api_n) == ((10, 20), 500, 40)
    assert sizes(parse_args([])).dispatch == (1000, 5000)
