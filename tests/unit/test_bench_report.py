"""The benchmark's report: percentiles, and a Markdown page that shows complete, partial (k of n) and
failed figures as such, with rates from what was seen (a benchmark run takes 20 minutes; a report
that breaks at the end, or shows a cut-short pass as complete, loses it)."""

from __future__ import annotations

import json
from typing import Any

from bench.harness import counted, latencies, pct, summary
from bench.report import COMPLETE, FAILED, PARTIAL, markdown, status, to_json

CPU = {"etcd": 1.0, "kube-apiserver": 5.0, "kube-controller-manager": 1.0, "operator": 4.0, "bench client": 1.0}


def _lat(what: str, n: int = 3) -> dict[str, Any]:
    return latencies(what, n=n, values=[0.01, 0.02, 0.03][:n])


def _complete() -> dict[str, Any]:
    """A run where every pass saw all its objects; the numbers are chosen to give round rates."""
    dispatch_row = {
        "n": 1000,
        "floor": {**counted("bare Jobs seen", n=1000, seen=1000, seconds=2.5), "cpu_seconds": CPU},
        "writes_floor": {**counted("Task+Job+status", n=1000, seen=1000, seconds=5.0), "cpu_seconds": CPU},
        "kubetask": {**counted("Tasks' Jobs seen", n=1000, seen=1000, seconds=10.0), "cpu_seconds": CPU},
        "task_to_job_latency_under_load": _lat("under load"),
        "scale": {"active_tasks": 1000, "final_tasks": 0, "rss_mib": 150.0},
        "namespace": "dispatch-abc",
    }
    return {
        "when": "2026-11-29T06:00:00+00:00",
        "machine": "vm 2 cores",
        "baseline_rss_mib": 100.0,
        "figures": {
            "dispatch": {"rows": [dispatch_row]},
            "latency": {
                "idle": {"task_to_job": _lat("idle"), "pod_done_to_task_final": _lat("idle final")},
                "load": {"pods_finished": 1000, "pod_done_to_task_final": _lat("load final")},
            },
            "api": {
                "rows": [
                    {
                        "backend": "sqlite",
                        "concurrency": 16,
                        "floor": {**counted("floor", n=500, seen=500, seconds=2.5), "p99_ms": 400.0},
                        "api": {**counted("api", n=500, seen=500, seconds=5.0), "p99_ms": 300.0},
                    }
                ]
            },
            "scale": {
                "baseline_rss_mib": 100.0,
                "rows": [dispatch_row["scale"]],
                "restart": {
                    **counted("re-derived", n=1000, seen=1000, seconds=3.5),
                    "timed_out": False,
                    "timeout_seconds": 1800,
                },
            },
            "history": {
                "rows": 1000,
                "floor": {"p50_ms": 1.0, "p99_ms": 2.0, "returned": 51, "expected": 51, "ok": True},
                "queries": {"list newest": {"p50_ms": 1.0, "p99_ms": 4.0, "returned": 50, "expected": 50, "ok": True}},
                "checks": counted("queries right", n=2, seen=2),
            },
            "e2e": {
                "n": 10,
                "floor": {**counted("Complete", n=10, seen=10, seconds=3.0), "other_outcomes": {}},
                "kubetask": {**counted("Succeeded", n=10, seen=10, seconds=4.0), "other_outcomes": {}},
            },
        },
    }


def _page(r: dict[str, Any]) -> str:
    return markdown(json.loads(to_json(r)))  # as read back from the JSON file


def test_percentiles_are_nearest_rank() -> None:
    values = [float(x) for x in range(1, 101)]
    assert (pct(values, 50), pct(values, 95), pct(values, 99), pct(values, 100)) == (50.0, 95.0, 99.0, 100.0)
    assert pct([], 50) is None
    assert summary([3.0, 1.0, 2.0]) == {"n": 3, "p50": 2.0, "p95": 3.0, "p99": 3.0}


def test_a_rate_divides_what_was_seen_by_the_time_to_the_last_one_seen() -> None:
    assert counted("x", n=100, seen=80, seconds=4.0)["per_s"] == 20.0
    assert counted("x", n=100, seen=0, seconds=None)["per_s"] is None
    assert latencies("x", n=5, values=[0.2, 0.1])["seen"] == 2


def test_a_complete_run_renders_every_figure_and_its_baselines() -> None:
    r = _complete()
    assert {k: status(v) for k, v in r["figures"].items()} == dict.fromkeys(r["figures"], COMPLETE)
    page = _page(r)
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6."):
        assert heading in page
    assert "PARTIAL" not in page and "FAILED" not in page
    # floor 400/s, kubetask 100/s, floor 2 200/s: ratios 0.25 and 0.50
    assert "| 1000 | 400.0 | 100.0 | 0.25 | 200.0 | 0.50 | 1000/1000 · 1000/1000 · 1000/1000 |" in page
    assert "| 1000 Task+Job+status | 1.0 | 5.0 | 1.0 | 4.0 | 1.0 | 12.0 |" in page
    assert "| Task created → Job created | load (1000 at once) | 3/3 | 0.020 | 0.030 | 0.030 |" in page
    assert "| sqlite | 500 | 16 | 200.0 | 400 | 100.0 | 300 | 0.50 | 500/500 · 500/500 |" in page
    assert "| 1000 | 0 | 150 | 51.2 | figure 1 |" in page  # 50 MiB over the baseline / 1000 Tasks
    assert "restart with 1000 Tasks in the cluster: 1000 of them re-derived" in page and "3.5 s" in page
    assert "| list newest | 1.0 | 4.0 | 2.0 | checked, 50 rows |" in page
    # 10 in 3 s vs 10 in 4 s: ratio 0.75, 100 ms more per Task
    assert "| 10 | 3.0 | 4.0 | 0.75 | 100 | 10/10 · 10/10 | none |" in page
    assert "| 6. End to end on the real node | COMPLETE | 2 measured passes, 20 of 20 objects seen |" in page


def test_a_pass_that_saw_fewer_than_n_is_partial_with_rates_from_what_was_seen() -> None:
    r = _complete()
    r["figures"]["dispatch"]["rows"][0]["kubetask"] = {
        **counted("1000 Tasks' Jobs seen", n=1000, seen=600, seconds=10.0),
        "cpu_seconds": CPU,
    }
    assert status(r["figures"]["dispatch"]) == PARTIAL
    page = _page(r)
    assert "**PARTIAL**: 1000 Tasks' Jobs seen: only 600 of 1000" in page
    assert "| 1000 | 400.0 | 60.0 | 0.15 | 200.0 | 0.30 | 1000/1000 · 1000/1000 · 600/1000 PARTIAL |" in page
    assert "| 1. Dispatch throughput | PARTIAL | 1000 Tasks' Jobs seen: only 600 of 1000 |" in page
    assert "| 3. API submissions | COMPLETE |" in page


def test_failed_bare_jobs_are_not_counted_as_finished_and_no_overhead_is_claimed() -> None:
    r = _complete()
    r["figures"]["e2e"]["floor"] = {**counted("Complete", n=10, seen=7, seconds=3.0), "other_outcomes": {"Failed": 3}}
    page = _page(r)
    assert status(r["figures"]["e2e"]) == PARTIAL
    assert "| 10 | 3.0 | 4.0 | 1.07 | — | 7/10 PARTIAL · 10/10 | bare Jobs Failed: 3 |" in page


def test_a_restart_that_timed_out_is_shown_as_timed_out_not_as_a_time() -> None:
    r = _complete()
    r["figures"]["scale"]["restart"] = {
        **counted("re-derived", n=1000, seen=0, seconds=None),
        "timed_out": True,
        "timeout_seconds": 1800,
    }
    page = _page(r)
    assert status(r["figures"]["scale"]) == PARTIAL
    assert (
        "restart with 1000 Tasks in the cluster: **timed out** — no `resync: N tasks reconciled` line within 1800 s"
        in page
    )
    assert "re-derived (log" not in page


def test_a_query_that_returned_the_wrong_rows_is_marked_wrong() -> None:
    r = _complete()
    h = r["figures"]["history"]
    h["queries"]["list newest"] = {"p50_ms": 0.5, "p99_ms": 1.0, "returned": 0, "expected": 50, "ok": False}
    h["checks"] = counted("queries right", n=2, seen=1)
    page = _page(r)
    assert status(h) == PARTIAL
    assert "| list newest | 0.5 | 1.0 | 0.5 | WRONG: 0 rows, expected 50 |" in page


def test_a_figure_that_raised_is_shown_failed_with_its_error_and_the_rest_of_the_page_stays() -> None:
    r = _complete()
    r["figures"]["history"] = {"error": "RuntimeError('forced by --fail-figure history (test hook)')"}
    r["figures"]["dispatch"]["rows"].append({"n": 5000, "floor": counted("bare Jobs", n=5000, seen=5000, seconds=20.0)})
    r["figures"]["dispatch"]["error"] = "TimeoutError('namespaces still terminating')"
    del r["figures"]["e2e"]
    page = _page(r)
    assert status(r["figures"]["history"]) == FAILED and status(r["figures"]["dispatch"]) == FAILED
    assert (
        "## 5. History queries, PostgreSQL\n\n**FAILED**: `RuntimeError('forced by --fail-figure history (test hook)')`"
        in page
    )
    assert (
        "| 5. History queries, PostgreSQL | FAILED | RuntimeError('forced by --fail-figure history (test hook)') |"
        in page
    )
    # what the failed figure measured before it raised is still shown
    assert "**FAILED**: `TimeoutError('namespaces still terminating')` — what it measured before that is below" in page
    assert "| 5000 | 250.0 | — | — | — | — | 5000/5000 · — · — |" in page
    assert "| 3. API submissions | COMPLETE |" in page and "| sqlite | 500 |" in page
    assert "| 6. End to end on the real node | not run | |" in page and "## 6." not in page


def test_a_part_that_could_not_run_makes_its_figure_partial() -> None:
    r = _complete()
    r["figures"]["latency"]["load"] = {"not_run": "figure 1 left no dispatched Tasks to finish"}
    assert status(r["figures"]["latency"]) == PARTIAL
    assert "**PARTIAL**: not run: figure 1 left no dispatched Tasks to finish" in _page(r)


def test_the_json_carries_each_figures_status() -> None:
    r = _complete()
    r["figures"]["api"] = {"error": "HTTPError()"}
    got = json.loads(to_json(r))["figures"]
    assert (got["api"]["status"], got["dispatch"]["status"]) == (FAILED, COMPLETE)


def test_metrics_on_vs_off_is_the_on_rate_over_the_mean_of_the_two_off_passes() -> None:
    r = _complete()
    r["figures"]["dispatch"]["rows"][0]["metrics"] = {  # off: 100/s (above), on 95/s, off again 90/s
        "on": counted("Tasks' Jobs seen", n=1000, seen=1000, seconds=1000 / 95),
        "off_again": counted("Tasks' Jobs seen", n=1000, seen=1000, seconds=1000 / 90),
        "scraper": {"scrapes": 11, "failures": 0},
    }
    page = _page(r)
    assert "| 1000 | 100.0 | 95.0 | 90.0 | 1.00 | 4.0 · — · — | 11 (0) | 1000/1000 · 1000/1000 · 1000/1000 |" in page
    r["figures"]["dispatch"]["rows"][0]["metrics"]["on"] = counted("Tasks' Jobs seen", n=1000, seen=900, seconds=10)
    assert status(r["figures"]["dispatch"]) == PARTIAL  # a cut-short "on" pass is a shortfall like any other
