"""kubetask-executor: runs a handler, writes the result or a one-line failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetask.executor import Registry, TaskFailed
from kubetask.executor.runtime import MAX_RESULT_BYTES, run


@pytest.fixture
def term(tmp_path: Path) -> Path:
    return tmp_path / "termination-log"


def _env(term: Path, **kw: str) -> dict[str, str]:
    return {"KUBETASK_TERMINATION_PATH": str(term), **kw}


def test_echo_writes_params_as_result(term: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([], _env(term, KUBETASK_HANDLER="echo", KUBETASK_PARAMS='{"a": [1, 2]}')) == 0
    assert json.loads(term.read_text()) == {"a": [1, 2]}
    assert json.loads(capsys.readouterr().out) == {"a": [1, 2]}


def test_params_file_wins_over_env(term: Path, tmp_path: Path) -> None:
    f = tmp_path / "params.json"
    f.write_text('{"from": "file"}')
    assert run(["echo"], _env(term, KUBETASK_PARAMS_FILE=str(f), KUBETASK_PARAMS='{"from": "env"}')) == 0
    assert json.loads(term.read_text()) == {"from": "file"}


def test_task_failed_sets_exit_code_and_one_line_message(term: Path) -> None:
    code = run(["fail"], _env(term, KUBETASK_PARAMS='{"message": "no\\nluck", "exitCode": 4}'))
    assert code == 4 and term.read_text() == "TaskFailed: no luck"


def test_exception_becomes_exit_1_with_type_and_message(term: Path) -> None:
    reg = Registry()

    @reg.handler("boom")
    def boom(_params: object) -> object:
        raise ValueError("bad input")

    assert run(["boom"], _env(term), registry=reg) == 1
    assert term.read_text() == "ValueError: bad input"


def test_unknown_handler_lists_the_known_ones(term: Path) -> None:
    assert run(["nope"], _env(term)) == 2
    assert "no handler named 'nope'" in term.read_text() and "echo" in term.read_text()


def test_oversized_result_is_a_clear_failure(term: Path) -> None:
    big = json.dumps({"s": "x" * MAX_RESULT_BYTES})
    assert run(["echo"], _env(term, KUBETASK_PARAMS=big)) == 1
    assert term.read_text().startswith("ResultTooLarge:")


def test_handler_modules_are_imported(term: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "myhandlers.py").write_text(
        "from kubetask.executor import handler\n@handler('double')\ndef double(p):\n    return p['n'] * 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run(["double"], _env(term, KUBETASK_HANDLER_MODULES="myhandlers", KUBETASK_PARAMS='{"n": 21}')) == 0
    assert term.read_text() == "42"


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
    assert term.read_text() == "Terminated: SIGTERM"
