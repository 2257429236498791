"""`ctx.progress` from a handler: checked arguments, one flushed frame line per report, rate-limited
so a tight loop cannot flood the log, the held-back last value written when the handler returns;
typed handlers and plain ones get the context by their signature."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubetask.executor import Context, Registry
from kubetask.executor._context import takes_context
from kubetask.executor.frames import MARKER, FrameReader, Progress, parse_progress
from kubetask.executor.runtime import execute, run

AT = datetime(2026, 12, 3, 8, 0, 0, 250000, tzinfo=UTC)
STAMP = "2026-12-03T08:00:00.250Z"


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _ctx(lines: list[bytes], ticks: Ticks | None = None) -> Context:
    return Context(lines.append, clock=lambda: AT, monotonic=ticks or Ticks())


def _said(lines: list[bytes]) -> list[Progress | None]:
    out = []
    for line in lines:
        assert line.startswith(MARKER) and line.endswith(b"\n") and line.count(b"\n") == 1
        out.append(parse_progress(line[len(MARKER) :].rstrip(b"\n")))
    return out


def test_a_report_is_one_frame_line_with_its_time() -> None:
    lines: list[bytes] = []
    _ctx(lines).progress(3, 10, "resizing b.png")
    assert _said(lines) == [Progress(3, 10, "resizing b.png", STAMP)]


def test_total_and_message_may_be_left_out() -> None:
    lines: list[bytes] = []
    _ctx(lines).progress(2.5)
    assert _said(lines) == [Progress(2.5, None, None, STAMP)]


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (("3", 10), TypeError, "current must be a number (int or float), not str"),
        ((True, 10), TypeError, "current must be a number (int or float), not bool"),
        ((1, "10"), TypeError, "total must be a number (int or float), not str"),
        ((float("nan"),), ValueError, "current must be finite, not nan"),
        ((1, float("inf")), ValueError, "total must be finite, not inf"),
        ((-1,), ValueError, "current must be at least 0, not -1"),
        ((1, -2), ValueError, "total must be at least 0, not -2"),
        ((11, 10), ValueError, "current (11) is more than total (10)"),
        ((1, 10, 42), TypeError, "message must be a string, not int"),
    ],
    ids=["text", "bool", "text-total", "nan", "infinite-total", "negative", "negative-total", "over", "message"],
)
def test_bad_arguments_are_refused_with_a_message_naming_them(
    args: tuple[Any, ...], error: type[Exception], words: str
) -> None:
    lines: list[bytes] = []
    with pytest.raises(error) as e:
        _ctx(lines).progress(*args)
    assert str(e.value) == f"ctx.progress: {words}"
    assert lines == []


def test_a_tight_loop_writes_one_frame_per_interval_and_the_last_on_flush() -> None:
    lines: list[bytes] = []
    ticks = Ticks()
    ctx = _ctx(lines, ticks)
    for i in range(1000):  # 1000 reports within 0.99 s
        ctx.progress(i, 2000)
        ticks.now += 0.001
    assert [p.current for p in _said(lines) if p] == [0, 500]
    ctx.flush()
    assert [p.current for p in _said(lines) if p] == [0, 500, 999]
    ctx.flush()  # nothing held back any more
    assert len(lines) == 3 and ctx.frames == 3


def test_reaching_the_total_or_force_writes_at_once() -> None:
    lines: list[bytes] = []
    ctx = _ctx(lines)  # the clock never moves: every other report is inside the interval
    ctx.progress(1, 3)
    ctx.progress(2, 3)
    ctx.progress(2, 3, "saving", force=True)
    ctx.progress(3, 3)
    assert [(p.current, p.message) for p in _said(lines) if p] == [(1, None), (2, "saving"), (3, None)]
    assert ctx.last == Progress(3, 3, None, STAMP)


def test_a_call_after_the_interval_writes_its_own_value_not_the_held_one() -> None:
    lines: list[bytes] = []
    ticks = Ticks()
    ctx = _ctx(lines, ticks)
    ctx.progress(1, 10)
    ctx.progress(2, 10)  # held back
    ticks.now += 0.5
    ctx.progress(3, 10)
    assert [p.current for p in _said(lines) if p] == [1, 3]
    ctx.flush()
    assert len(lines) == 2


@dataclass
class Batch:
    items: list[str]


@dataclass
class Done:
    count: int


def _registry() -> Registry:
    reg = Registry()

    @reg.handler("count")
    def count(params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        for i in range(1, params["n"] + 1):
            ctx.progress(i, params["n"], f"item {i}")
        return {"counted": params["n"]}

    @reg.handler("typed", params=Batch, result=Done)
    def typed(params: Batch, ctx: Context) -> Done:
        ctx.progress(0, len(params.items), "starting")
        return Done(len(params.items))

    @reg.handler("half-then-fail")
    def half_then_fail(_params: dict[str, Any], ctx: Context) -> None:
        ctx.progress(1, 4)
        ctx.progress(2, 4, "then it broke")  # held back by the rate limit, written when the handler ends
        raise RuntimeError("disk full")

    @reg.handler("plain")
    def plain(params: dict[str, Any]) -> dict[str, Any]:
        return params

    return reg


def test_the_pod_log_carries_the_frames_beside_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"KUBETASK_TERMINATION_PATH": str(tmp_path / "t"), "KUBETASK_HANDLER": "count", "KUBETASK_PARAMS": '{"n": 5}'}
    assert run([], env, _registry(), clock=lambda: AT) == 0
    out = capsys.readouterr().out
    reader = FrameReader(0)
    kept = reader.feed(out.encode()) + reader.finish()
    assert kept == b'{"counted":5}\n'  # the log the operator keeps: the result line only
    assert reader.frames == 2  # the first report, then the last (it reaches the total); 2-4 were held back
    assert reader.progress == Progress(5, 5, "item 5", STAMP)


def test_a_typed_handler_gets_the_context_too() -> None:
    lines: list[bytes] = []
    attempt = execute("typed", {"items": ["a", "b"]}, _registry(), clock=lambda: AT, frames=lines.append)
    assert attempt.report.result == {"count": 2}
    assert _said(lines) == [Progress(0, 2, "starting", STAMP)] and attempt.progress == _said(lines)[0]


def test_a_failing_handler_still_leaves_its_last_progress() -> None:
    lines: list[bytes] = []
    attempt = execute("half-then-fail", {}, _registry(), clock=lambda: AT, frames=lines.append)
    assert attempt.report.failure is not None and attempt.report.failure.message == "disk full"
    assert [(p.current, p.message) for p in _said(lines) if p] == [(1, None), (2, "then it broke")]


def test_a_handler_without_a_context_parameter_runs_as_before() -> None:
    lines: list[bytes] = []
    attempt = execute("plain", {"a": 1}, _registry(), frames=lines.append)
    assert (json.dumps(attempt.report.result), lines, attempt.progress) == ('{"a": 1}', [], None)


def _one(params: Any) -> None: ...
def _two(params: Any, ctx: Context) -> None: ...
def _named_default(params: Any, ctx: Context | None = None) -> None: ...
def _option(params: Any, verbose: bool = False) -> None: ...
def _star(*args: Any) -> None: ...
def _keyword(params: Any, *, ctx: Context) -> None: ...


@pytest.mark.parametrize(
    ("fn", "takes"),
    [(_one, False), (_two, True), (_named_default, True), (_option, False), (_star, False), (_keyword, False)],
    ids=["params-only", "params-and-ctx", "ctx-with-default", "an-option", "star-args", "keyword-only"],
)
def test_which_functions_get_the_context(fn: Any, takes: bool) -> None:
    assert takes_context(fn) is takes
