"""Handlers found through the entry-point group `kubetask.handlers`; `kubetask run` and `run_handler` run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubetask.cli import app
from kubetask.executor.report import decode
from kubetask.testing.handlers import run_attempt, run_handler

ROOT = Path(__file__).resolve().parents[2]

TYPED = """
from dataclasses import dataclass
from kubetask.executor import handler

@dataclass
class Greet:
    name: str
    times: int = 1

@dataclass
class Greeting:
    text: str

@handler("{name}", params=Greet, result=Greeting, version="1.2")
def greet(p: Greet) -> Greeting:
    return Greeting(" ".join([f"hello {{p.name}}"] * p.times))
"""


def _dist(site: Path, dist: str, module: str, handler: str) -> None:
    """An installed distribution as pip leaves it: the module and a dist-info with its entry point."""
    (site / f"{module}.py").write_text(TYPED.format(name=handler))
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[kubetask.handlers]\n{dist} = {module}\n")


def _executor(site: Path, term: Path, handler: str, params: str, modules: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        "KUBETASK_HANDLER_MODULES": modules,
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
        "KUBETASK_TERMINATION_PATH": str(term),
        "KUBETASK_HANDLER": handler,
        "KUBETASK_PARAMS": params,
    }
    return subprocess.run([sys.executable, "-m", "kubetask.executor"], env=env, capture_output=True, text=True)


def test_an_installed_packages_entry_point_registers_its_handlers(tmp_path: Path) -> None:
    _dist(tmp_path, "shop", "shop_handlers", "ep-greet")
    term = tmp_path / "term"
    done = _executor(tmp_path, term, "ep-greet", '{"name": "Ada", "times": 2}')
    assert done.returncode == 0, done.stderr
    report = decode(term.read_text())
    assert report is not None and report.result == {"text": "hello Ada hello Ada"} and report.version == "1.2"


def test_two_packages_with_one_handler_name_fail_the_start_naming_both(tmp_path: Path) -> None:
    _dist(tmp_path, "shop", "shop_handlers", "ep-same")
    _dist(tmp_path, "store", "store_handlers", "ep-same")
    term = tmp_path / "term"
    done = _executor(tmp_path, term, "ep-same", "{}")
    assert done.returncode == 2
    line = "handler 'ep-same' is already registered by shop_handlers:greet; store_handlers:greet registers it too"
    assert done.stderr.strip() == f"DuplicateHandler: {line}"
    report = decode(term.read_text())
    assert report is not None and report.failure is not None
    assert (report.failure.kind, report.failure.message, report.failure.retryable) == ("DuplicateHandler", line, False)


def test_an_entry_point_that_does_not_import_fails_the_start_naming_it(tmp_path: Path) -> None:
    _dist(tmp_path, "shop", "shop_handlers", "ep-greet")
    (tmp_path / "shop_handlers.py").write_text("raise RuntimeError('broken on import')\n")
    term = tmp_path / "term"
    done = _executor(tmp_path, term, "ep-greet", "{}")
    assert done.returncode == 1
    assert "ImportError: entry point shop = shop_handlers (kubetask.handlers) failed to load: broken on import" in (
        done.stderr
    )


@pytest.fixture
def greet_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "local_greet.py").write_text(TYPED.format(name="local-greet"))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "local_greet"


def test_kubetask_run_prints_the_result_of_the_pods_path(greet_module: str) -> None:
    r = CliRunner().invoke(app, ["run", "local-greet", "-m", greet_module, "-p", "name=Ada", "-p", "times=2"])
    assert r.exit_code == 0 and json.loads(r.stdout) == {"text": "hello Ada hello Ada"}


def test_kubetask_run_reads_params_from_a_file(greet_module: str, tmp_path: Path) -> None:
    (tmp_path / "params.json").write_text('{"name": "Bo"}')
    r = CliRunner().invoke(app, ["run", "local-greet", "-m", greet_module, "-f", str(tmp_path / "params.json")])
    assert r.exit_code == 0 and json.loads(r.stdout) == {"text": "hello Bo"}


def test_kubetask_run_fails_with_one_line_and_the_pods_exit_code(greet_module: str) -> None:
    r = CliRunner().invoke(app, ["run", "local-greet", "-m", greet_module, "-p", "times=x"])
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.splitlines() == [
        "ParamsRejected: params do not fit the handler's model: /name: required; /times: expected integer, got string"
    ]
    r = CliRunner().invoke(app, ["run", "fail", "-p", "exitCode=7", "-p", "message=nope"])
    assert r.exit_code == 7 and r.stderr.splitlines() == ["TaskFailed: nope"]
    r = CliRunner().invoke(app, ["run", "no-such-handler"])
    assert r.exit_code == 2 and r.stderr.startswith("LookupError: no handler named 'no-such-handler'")


def test_kubetask_run_report_is_the_envelope_the_operator_reads(greet_module: str) -> None:
    r = CliRunner().invoke(app, ["run", "local-greet", "-m", greet_module, "-p", "name=Ada", "--report"])
    report = decode(r.stdout)
    assert r.exit_code == 0 and report is not None
    assert (report.handler, report.version, report.result) == ("local-greet", "1.2", {"text": "hello Ada"})


def test_the_pytest_helper_gives_what_the_executor_process_gives(greet_module: str, tmp_path: Path) -> None:
    term = tmp_path / "term"
    for params in ({"name": "Ada", "times": 3}, {"times": "x"}, {"name": "x" * 5000}):
        done = _executor(tmp_path, term, "local-greet", json.dumps(params), modules=greet_module)
        in_pod = decode(term.read_text())
        attempt = run_attempt("local-greet", params, modules=[greet_module])
        helper = run_handler("local-greet", params, modules=[greet_module])
        assert in_pod is not None and attempt.exit_code == done.returncode
        assert (helper.result, helper.version, helper.failure) == (in_pod.result, in_pod.version, in_pod.failure)


def test_the_helper_keeps_the_size_limit_and_json_round_trip() -> None:
    assert run_attempt("echo", {"s": "x" * 5000}).report.failure.kind == "ResultTooLarge"  # type: ignore[union-attr]
    assert run_handler("echo", {"t": (1, 2)}).result == {"t": [1, 2]}
