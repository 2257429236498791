"""kubetask-executor: runs a handler, leaves its report (result or failure) in the termination message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubetask.executor import PermanentError, Registry, RetryableError, TaskFailed
from kubetask.executor.report import Failure, decode
from kubetask.executor.runtime import MAX_RESULT_BYTES, run

AT = datetime(2026, 12, 2, 8, 0, 0, 123000, tzinfo=UTC)


@pytest.fixture
def term(tmp_path: Path) -> Path:
    return tmp_path / "termination-log"


def _env(term: Path, **kw: str) -> dict[str, str]:
    return {"KUBETASK_TERMINATION_PATH": str(term), **kw}


def _result(term: Path) -> object:
    report = decode(term.read_text())
    assert report is not None and report.failure is None
    return report.result


def _failure(term: Path) -> Failure:
    report = decode(term.read_text())
    assert report is not None and report.failure is not None
    return report.failure


def test_echo_writes_params_as_result(term: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([], _env(term, KUBETASK_HANDLER="echo", KUBETASK_PARAMS='{"a": [1, 2]}')) == 0
    assert _result(term) == {"a": [1, 2]}
    assert json.loads(capsys.readouterr().out) == {"a": [1, 2]}


def test_params_file_wins_over_env(term: Path, tmp_path: Path) -> None:
    f = tmp_path / "params.json"
    f.write_text('{"from": "file"}')
    assert run(["echo"], _env(term, KUBETASK_PARAMS_FILE=str(f), KUBETASK_PARAMS='{"from": "env"}')) == 0
    assert _result(term) == {"from": "file"}


def test_task_failed_sets_exit_code_and_one_line_message(term: Path) -> None:
    code = run(["fail"], _env(term, KUBETASK_PARAMS='{"message": "no\\nluck", "exitCode": 4}'))
    assert code == 4 and _failure(term) == Failure("TaskFailed", "no luck", retryable=True)


def test_exception_becomes_exit_1_with_type_and_message(term: Path) -> None:
    reg = Registry()

    @reg.handler("boom")
    def boom(_params: object) -> object:
        raise ValueError("bad input")

    assert run(["boom"], _env(term), registry=reg) == 1
    assert _failure(term) == Failure("ValueError", "bad input", retryable=True, retry_after_seconds=None)


def test_unknown_handler_lists_the_known_ones(term: Path) -> None:
    assert run(["nope"], _env(term)) == 2
    failure = _failure(term)
    assert failure.kind == "LookupError" and "no handler named 'nope'" in failure.message and "echo" in failure.message


def test_oversized_result_is_a_clear_failure(term: Path) -> None:
    big = json.dumps({"s": "x" * MAX_RESULT_BYTES})
    assert run(["echo"], _env(term, KUBETASK_PARAMS=big)) == 1
    assert _failure(term).kind == "ResultTooLarge"
    assert len(term.read_bytes()) <= MAX_RESULT_BYTES


def test_handler_modules_are_imported(term: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "myhandlers.py").write_text(
        "from kubetask.executor import handler\n@handler('double')\ndef double(p):\n    return p['n'] * 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run(["double"], _env(term, KUBETASK_HANDLER_MODULES="myhandlers", KUBETASK_PARAMS='{"n": 21}')) == 0
    assert _result(term) == 42


def test_registering_a_name_twice_is_refused() -> None:
    reg = Registry()
    reg.register("a", lambda p: p)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", lambda _p: None)


def test_task_failed_is_an_exception_with_exit_code() -> None:
    assert TaskFailed("x", exit_code=5).exit_code == 5


def test_sigterm_ends_the_executor_promptly(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    term = tmp_path / "term"
    env = {
        "KUBETASK_TERMINATION_PATH": str(term),
        "KUBETASK_HANDLER": "sleep",
        "KUBETASK_PARAMS": '{"seconds": 60}',
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    proc = subprocess.Popen([sys.executable, "-m", "kubetask.executor"], env=env)

    def catches_sigterm() -> bool:  # the handler is installed: SigCgt has bit 15 (mask 1 << 14)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return bool(int(next(x for x in status.splitlines() if x.startswith("SigCgt:")).split()[1], 16) & (1 << 14))

    deadline = time.monotonic() + 20
    while not catches_sigterm() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.terminate()
    assert proc.wait(timeout=10) == 143
    assert _failure(term) == Failure("Terminated", "SIGTERM", retryable=True)


def test_the_report_names_the_handler_its_version_and_the_time_it_returned(term: Path) -> None:
    reg = Registry()
    reg.register("v", lambda p: p, version="7")
    assert run(["v"], _env(term, KUBETASK_PARAMS="[1]"), registry=reg, clock=lambda: AT) == 0
    assert json.loads(term.read_text()) == {
        "kubetaskReport": 1,
        "handler": {"name": "v", "version": "7"},
        "time": "2026-12-02T08:00:00.123Z",
        "result": [1],
    }


def _raising(exc: BaseException) -> Registry:
    reg = Registry()

    def fn(_params: object) -> object:
        raise exc

    reg.register("h", fn, version="2")
    return reg


@pytest.mark.parametrize(
    ("exc", "code", "failure"),
    [
        (RetryableError("busy", retry_after=8), 1, Failure("RetryableError", "busy", True, 8.0)),
        (RetryableError("flaky"), 1, Failure("RetryableError", "flaky", True, None)),
        (PermanentError("no such thing", exit_code=3), 3, Failure("PermanentError", "no such thing", False, None)),
        (PermanentError("gone", kind="HTTPStatus"), 1, Failure("HTTPStatus", "gone", False, None)),
        (TaskFailed("said no"), 1, Failure("TaskFailed", "said no", True, None)),
        (KeyError("x"), 1, Failure("KeyError", "'x'", True, None)),
    ],
    ids=["retryable-after", "retryable", "permanent-with-code", "permanent-own-kind", "task-failed", "unclassified"],
)
def test_each_failure_is_reported_with_its_class_and_exit_code(
    term: Path, exc: BaseException, code: int, failure: Failure
) -> None:
    assert run(["h"], _env(term), registry=_raising(exc), clock=lambda: AT) == code
    report = decode(term.read_text())
    assert report is not None and (report.handler, report.version, report.time) == ("h", "2", AT)
    assert report.failure == failure


def test_a_long_failure_message_is_cut_to_fit_the_termination_message(term: Path) -> None:
    assert run(["h"], _env(term), registry=_raising(PermanentError("é" * 5000))) == 1
    assert len(term.read_bytes()) <= MAX_RESULT_BYTES
    failure = _failure(term)
    assert failure.retryable is False and failure.message.endswith("…") and failure.message.startswith("éé")


@pytest.mark.parametrize("bad", [-1.0, float("inf"), float("nan")])
def test_a_retry_after_that_is_no_time_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="retry_after"):
        RetryableError("x", retry_after=bad)


def test_the_builtin_fail_handler_raises_each_class_on_request(term: Path) -> None:
    assert run(["fail"], _env(term, KUBETASK_PARAMS='{"permanent": true}')) == 1
    assert _failure(term).retryable is False
    assert run(["fail"], _env(term, KUBETASK_PARAMS='{"retryAfterSeconds": 8, "exitCode": 5}')) == 5
    assert _failure(term) == Failure("RetryableError", "failed on request", True, 8.0)
