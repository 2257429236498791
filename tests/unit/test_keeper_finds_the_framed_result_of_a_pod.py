"""The log keeper reads a pod's termination report for the result framed in its log."""

from __future__ import annotations

from typing import Any

from kubetask.executor.report import Failure, Report, ResultRef, encode
from kubetask.operator.logs import framed_result

REF = ResultRef(size=614400, sha256="cd" * 32, preview="{")


def _pod(message: str | None, code: int = 0, container: str = "main") -> dict[str, Any]:
    term = {"exitCode": code, "message": message}
    return {"status": {"containerStatuses": [{"name": container, "state": {"terminated": term}}]}}


def test_a_report_with_a_result_ref_names_it() -> None:
    assert framed_result(_pod(encode(Report(handler="echo", result_ref=REF)))) == REF


def test_small_results_failures_and_plain_commands_have_none() -> None:
    assert framed_result(_pod(encode(Report(handler="echo", result={"a": 1})))) is None
    assert framed_result(_pod(encode(Report(handler="x", failure=Failure("E", "m"))), code=1)) is None
    assert framed_result(_pod('{"plain": true}')) is None
    assert framed_result(_pod(None)) is None
    assert framed_result(_pod(encode(Report(handler="echo", result_ref=REF)), container="sidecar")) is None
    assert framed_result({"status": {}}) is None
