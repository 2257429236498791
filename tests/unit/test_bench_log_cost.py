"""Figure 8's tasks print and return exactly the bytes their kind names (run here through the real
executor runtime, as in the pod), and figures 6 and 8 render log keeping on / off and each kind
against the 0-byte baseline of the same run, short passes as PARTIAL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.harness import counted
from bench.logs import KIB, KINDS, Kind
from bench.report import PARTIAL, markdown, status, to_json
from kubetask.executor.frames import RESULT_MAX_ENV
from kubetask.executor.report import decode


def _run_in_pod_like_way(kind: Kind, tmp_path: Path) -> tuple[bytes, Any]:
    term = tmp_path / "termination-log"
    env = {"KUBETASK_TERMINATION_PATH": str(term), RESULT_MAX_ENV: str(1024 * KIB), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", kind.code()], env=env, capture_output=True, check=True)
    return done.stdout, decode(term.read_text())


@pytest.mark.parametrize("kind", KINDS, ids=[k.label for k in KINDS])
def test_each_kind_prints_its_log_and_returns_its_result_size(kind: Kind, tmp_path: Path) -> None:
    out, report = _run_in_pod_like_way(kind, tmp_path)
    lines = out.splitlines(keepends=True)
    printed = [x for x in lines if len(x) == KIB and x[:8].isdigit()]
    assert len(printed) == kind.log_kib
    assert report is not None and report.failure is None
    if report.result_ref is not None:  # framed in the log: over the termination message's 4 KiB
        assert report.result_ref.size == kind.result_bytes() == 600 * KIB
    else:
        assert len(json.dumps(report.result, separators=(",", ":"))) == kind.result_bytes()


def _kind(label: str, *, seen: int = 4, seconds: float, operator: float, kept: int) -> dict[str, Any]:
    cpu = {"operator": operator, "kube-apiserver": 2.0}
    sql = {"log_rows": seen, "log_bytes": kept, "result_rows": 0, "result_bytes": 0}
    return {
        "kind": label,
        **counted(label, n=4, seen=seen, seconds=seconds),
        "other_outcomes": {} if seen == 4 else {"Failed": 4 - seen},
        "released_seconds": seconds + 1,
        "cpu_seconds": cpu,
        "sql": sql,
        "db_growth_bytes": kept,
        "loadavg": {"before": [1.0, 1.0, 1.0], "after": [2.0, 1.0, 1.0]},
    }


def _run() -> dict[str, Any]:
    def tasks(seconds: float, kept: bool) -> dict[str, Any]:
        return {
            **counted("Succeeded", n=10, seen=10, seconds=seconds),
            "other_outcomes": {},
            "logs_kept": kept,
            "released_seconds": seconds + 0.5 if kept else None,
            "cpu_seconds": {"operator": 3.0, "kube-apiserver": 6.0},
            "loadavg": {"before": [0.5, 0, 0], "after": [1.5, 0, 0]},
        }

    e2e = {
        "n": 10,
        "floor": {**counted("Complete", n=10, seen=10, seconds=3.0), "other_outcomes": {}},
        "kubetask": tasks(5.0, True),
        "kubetask_logs_off": tasks(4.0, False),
        "kubetask_again": tasks(6.0, True),
    }
    rows = [
        _kind("0 B log", seconds=2.0, operator=0.4, kept=4 * KIB),
        _kind("1 MiB log", seconds=3.0, operator=1.2, kept=4 * 1024 * KIB),
    ]
    return {"figures": {"e2e": e2e, "logs": {"n": 4, "rows": rows}}}


def test_figure_6_shows_each_pass_against_the_pass_with_logs_off() -> None:
    page = markdown(json.loads(to_json(_run())))
    assert "| 10 | 3.0 | 5.0 | 0.60 | 200 | 10/10 · 10/10 | none |" in page  # the first table as before
    assert "| first | on | 10/10 | 5.0 | 0.60 | 1.25 | 5.5 | 3.0 | 6.0 | 0.50 → 1.50 |" in page
    assert "| off | off | 10/10 | 4.0 | 0.75 | 1.00 | — | 3.0 | 6.0 | 0.50 → 1.50 |" in page
    assert "| again | on | 10/10 | 6.0 | 0.50 | 1.50 | 6.5 |" in page


def test_figure_8_gives_each_kind_per_task_and_as_a_multiple_of_the_baseline() -> None:
    page = markdown(json.loads(to_json(_run())))
    assert "## 8. Log and large-result cost per task on the real node" in page
    # 0.4 s / 4 tasks = 100 ms; 1.2 s / 4 = 300 ms, ×3; 1 KiB kept per task against 1024
    assert "| 0 B log | 4/4 | 2.0 | 1.00 | 3.0 | 1.00 | 100 | 1.00 | 500 | 1.0 | 1.0 | 1.00 → 2.00 |" in page
    assert "| 1 MiB log | 4/4 | 3.0 | 1.50 | 4.0 | 1.33 | 300 | 3.00 | 500 | 1024.0 | 1024.0 | 1.00 → 2.00 |" in page


def test_a_kind_with_tasks_that_did_not_succeed_is_partial_and_says_so() -> None:
    r = _run()
    r["figures"]["logs"]["rows"][1] = _kind("1 MiB log", seen=3, seconds=3.0, operator=1.2, kept=3 * KIB)
    assert status(r["figures"]["logs"]) == PARTIAL
    page = markdown(json.loads(to_json(r)))
    assert "**PARTIAL**: 1 MiB log: only 3 of 4" in page and "Did not succeed: 1 MiB log: Failed 1." in page
