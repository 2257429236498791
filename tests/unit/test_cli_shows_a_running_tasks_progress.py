"""The CLI shows a task detail's `progress` as `3/10 30% message`: a PROGRESS column in `get` and
`watch` only while a row has one, and a `--watch` line whenever it moves."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from kubetask.cli import _following
from kubetask.cli._output import Column, Format, render
from kubetask.cli._taskview import columns_for, progress_text, task_columns


def _task(phase: str = "Running", progress: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "namespace": "ns",
        "name": "t",
        "template": "count",
        "phase": phase,
        "attemptCount": 1,
        "createdAt": "2026-12-03T08:00:00Z",
        "progress": progress,
    }


@pytest.mark.parametrize(
    ("progress", "text"),
    [
        (None, ""),
        ({"current": 3, "total": 10, "message": "rows", "attempt": 1}, "3/10 30% rows"),
        ({"current": 3.0, "total": 10.0, "attempt": 1}, "3/10 30%"),
        ({"current": 0.25, "total": 1, "message": None, "attempt": 1}, "0.25/1 25%"),
        ({"current": 2, "total": 3, "attempt": 1}, "2/3 66%"),
        ({"current": 7, "message": "files", "attempt": 1}, "7 files"),
        ({"current": 0, "total": 0, "attempt": 1}, "0/0"),
    ],
    ids=["none", "with-total", "integral-floats", "fraction", "rounded-down", "no-total", "zero-total"],
)
def test_progress_reads_current_of_total_percent_and_message(progress: dict[str, Any] | None, text: str) -> None:
    assert progress_text(_task(progress=progress)) == text


def test_the_progress_column_is_there_only_while_a_row_reports_progress() -> None:
    def headers(columns: tuple[Column, ...]) -> list[str]:
        return [c.header for c in columns]

    assert headers(columns_for([_task()])) == headers(task_columns())
    assert headers(columns_for([_task("Succeeded")], namespaces=True)) == headers(task_columns(namespaces=True))
    shown = [c.header for c in columns_for([_task(), _task(progress={"current": 1, "total": 2, "attempt": 1})])]
    assert shown[:7] == ["NAME", "TEMPLATE", "PHASE", "ATTEMPTS", "DURATION", "AGE", "PROGRESS"]
    running = _task(progress={"current": 1, "total": 4, "message": "two words", "attempt": 1})
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(
        render(running, Format("table"), columns_for([running]), many=False)
    )
    header, row = buf.getvalue().splitlines()
    assert header.split()[-1] == "PROGRESS" and row.endswith("1/4 25% two words")


def test_watch_prints_a_line_when_the_phase_or_the_progress_moves(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = iter(
        [
            _task(progress={"current": 1, "total": 4, "message": "a", "attempt": 1}),
            _task(progress={"current": 1, "total": 4, "message": "a", "attempt": 1}),  # unchanged: no line
            _task(progress={"current": 3, "total": 4, "message": "c", "attempt": 1}),
            _task("Succeeded"),
        ]
    )

    class Api:
        def ns(self, *parts: str, namespace: str) -> str:
            return "/".join((namespace, *parts))

        def call(self, _method: str, _path: str) -> dict[str, Any]:
            return next(seen)

    monkeypatch.setattr(_following, "POLL_SECONDS", 0.0)
    final = _following.follow(Api(), _task(), timeout=None, progress=True)  # type: ignore[arg-type]
    assert final["phase"] == "Succeeded"
    assert capsys.readouterr().err.splitlines() == [
        "ns/t Running",
        "ns/t Running 1/4 25% a",
        "ns/t Running 3/4 75% c",
        "ns/t Succeeded",
    ]
