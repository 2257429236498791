"""The runtime frames a result over 4 KiB in stdout and leaves only its reference in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetask.executor.frames import FrameReader, digest
from kubetask.executor.report import MAX_BYTES, PREVIEW_BYTES, decode
from kubetask.executor.runtime import run


def _env(tmp_path: Path, params: object, **kw: str) -> dict[str, str]:
    return {
        "KUBETASK_TERMINATION_PATH": str(tmp_path / "term"),
        "KUBETASK_HANDLER": "echo",
        "KUBETASK_PARAMS": json.dumps(params),
        **kw,
    }


def test_a_large_result_is_framed_and_referenced(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    params = {"rows": ["é" * 100 for _ in range(2000)]}  # ~400 KB of UTF-8
    assert run([], _env(tmp_path, params, KUBETASK_RESULT_MAX_BYTES="1048576")) == 0
    out = capfd.readouterr().out.encode()
    term = (tmp_path / "term").read_text()
    assert len(term.encode()) <= MAX_BYTES
    report = decode(term)
    assert report is not None and report.failure is None and report.result is None
    ref = report.result_ref
    assert ref is not None
    reader = FrameReader(1 << 20)
    rest = reader.feed(out) + reader.finish()
    payload = reader.result(ref.sha256, ref.size)
    assert json.loads(payload) == params and digest(payload) == ref.sha256
    assert ref.preview == payload[:PREVIEW_BYTES].decode(errors="ignore") and len(ref.preview.encode()) <= PREVIEW_BYTES
    assert rest.decode() == f"result: {ref.size} bytes, sha256 {ref.sha256} (framed in this log)\n"


def test_a_result_over_the_limit_fails_permanently_naming_the_setting(tmp_path: Path) -> None:
    params = {"s": "x" * 20_000}
    assert run([], _env(tmp_path, params, KUBETASK_RESULT_MAX_BYTES="10000")) == 1
    report = decode((tmp_path / "term").read_text())
    assert report is not None and report.failure is not None
    f = report.failure
    assert f.kind == "ResultTooLarge" and not f.retryable
    assert "20008 bytes of JSON; this task's limit is 10000 (KUBETASK_OPERATOR_RESULT_MAX_BYTES)" in f.message


def test_without_an_operator_that_reads_frames_4_kib_is_the_limit(tmp_path: Path) -> None:
    assert run([], _env(tmp_path, {"s": "x" * 5000})) == 1
    report = decode((tmp_path / "term").read_text())
    assert report is not None and report.failure is not None
    assert report.failure.kind == "ResultTooLarge" and "without its SQL mirror" in report.failure.message


def test_a_small_result_stays_in_the_report(tmp_path: Path) -> None:
    assert run([], _env(tmp_path, {"a": 1}, KUBETASK_RESULT_MAX_BYTES="1048576")) == 0
    report = decode((tmp_path / "term").read_text())
    assert report is not None and report.result == {"a": 1} and report.result_ref is None
