"""The benchmark's report: percentiles, and a Markdown page for complete, partial and failed runs
(a benchmark run takes 20 minutes; a report that breaks at the end loses it)."""

from __future__ import annotations

import json
from typing import Any

from bench.harness import pct, summary
from bench.run import markdown

CPU = {"etcd": 1.0, "kube-apiserver": 5.0, "kube-controller-manager": 1.0, "operator": 4.0, "bench client": 1.0}
LAT = {"n": 3, "p50": 0.01, "p95": 0.02, "p99": 0.03}


def _complete() -> dict[str, Any]:
    return {
        "when": "2026-11-29T06:00:00+00:00", "machine": "vm 2 cores", "baseline_rss_mib": 100.0,
        "dispatch": [{"n": 1000, "floor_per_s": 400.0, "kubetask_per_s": 100.0, "ratio": 0.25,
                      "writes_floor_per_s": 180.0, "task_to_job_latency_under_load": LAT,
                      "floor_cpu_seconds": CPU, "writes_floor_cpu_seconds": CPU, "kubetask_cpu_seconds": CPU}],
        "latency": {"idle": {"task_to_job": LAT, "pod_done_to_task_final": LAT},
                    "load": {"pods_finished": 1000, "pod_done_to_task_final": LAT}},
        "api": [{"backend": "sqlite", "n": 500, "concurrency": 16, "floor_per_s": 150.0, "floor_p99_ms": 400.0,
                 "api_per_s": 100.0, "api_p99_ms": 300.0, "ratio": 0.67}],
        "scale": {"baseline_rss_mib": 100.0, "restart": {"tasks": 1000, "seconds": 3.5},
                  "rows": [{"active_tasks": 1000, "rss_mib": 160.0, "rss_per_task_kib": 61.4}]},
        "history": {"rows": 1000, "floor_p99_ms": 2.0, "list newest": {"p50_ms": 1.0, "p99_ms": 4.0}},
        "e2e": {"n": 10, "succeeded": 10, "bare_jobs_seconds": 3.0, "kubetask_seconds": 4.0, "ratio": 0.75,
                "overhead_per_task_ms": 100.0},
    }  # fmt: skip


def test_percentiles_are_nearest_rank() -> None:
    values = [float(x) for x in range(1, 101)]
    assert (pct(values, 50), pct(values, 95), pct(values, 99), pct(values, 100)) == (50.0, 95.0, 99.0, 100.0)
    assert pct([], 50) is None
    assert summary([3.0, 1.0, 2.0]) == {"n": 3, "p50": 2.0, "p95": 3.0, "p99": 3.0}


def test_a_complete_run_renders_every_figure_and_its_baselines() -> None:
    page = markdown(json.loads(json.dumps(_complete())))  # as read back from latest.json
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6."):
        assert heading in page
    assert "| 1000 | 400.0 | 100.0 | 0.25 | 180.0 | 0.56 |" in page  # both dispatch floors
    assert "| 1000 Task+Job+status | 1.0 | 5.0 | 1.0 | 4.0 | 1.0 | 12.0 |" in page
    assert "restart with 1000 Tasks" in page and "3.5 s" in page
    assert "| pod finished → Task final | load (1000 at once) |" in page


def test_failed_or_skipped_figures_leave_the_rest_of_the_page() -> None:
    r = _complete()
    r["dispatch"] = {"error": "TimeoutError()"}
    r["history"] = {"error": "OperationalError()"}
    del r["scale"], r["e2e"]
    page = markdown(r)
    assert "## 3. API submissions" in page and "| sqlite | 500 |" in page
    assert "## 4." not in page and "## 5." not in page and "## 6." not in page
