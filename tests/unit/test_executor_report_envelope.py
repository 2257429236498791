"""The report envelope: one format, written by the runtime and read by the operator."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubetask.executor.report import Failure, Report, decode, encode
from tests.unit.strategies import json_values

AT = datetime(2026, 12, 2, 8, 0, 0, 123000, tzinfo=UTC)


@given(
    result=json_values,
    failure=st.one_of(
        st.none(),
        st.builds(
            Failure,
            kind=st.text(min_size=1, max_size=10),
            message=st.text(max_size=30),
            retryable=st.booleans(),
            retry_after_seconds=st.one_of(st.none(), st.floats(0, 10**6)),
        ),
    ),
    version=st.one_of(st.none(), st.text(max_size=5)),
)
def test_every_report_reads_back_as_written(result: object, failure: Failure | None, version: str | None) -> None:
    report = Report(handler="h", version=version, time=AT, result=None if failure else result, failure=failure)
    assert decode(encode(report)) == report


@pytest.mark.parametrize(
    "text",
    [None, "", "42", '{"a": 1}', "TaskFailed: x", '{"kubetaskReport": 0}', '["kubetaskReport"]', "{kubetaskReport"],
    ids=["none", "empty", "a-number", "plain-json", "a-line", "version-zero", "not-an-object", "not-json"],
)
def test_what_is_not_an_envelope_decodes_to_none(text: str | None) -> None:
    assert decode(text) is None


def test_keys_a_reader_does_not_know_are_ignored() -> None:
    text = '{"kubetaskReport": 2, "handler": {"name": "h"}, "result": 1, "resultRef": {"log": true}, "progress": 0.5}'
    assert decode(text) == Report(handler="h", result=1)


def test_a_failure_without_a_class_is_retryable() -> None:
    report = decode('{"kubetaskReport": 1, "handler": {"name": "h"}, "failure": {"kind": "X", "message": "m"}}')
    assert report is not None and report.failure == Failure("X", "m", retryable=True, retry_after_seconds=None)


@pytest.mark.parametrize("bad", ["8", -1, True, None], ids=["a-string", "negative", "a-bool", "null"])
def test_a_retry_after_that_is_not_seconds_is_dropped(bad: object) -> None:
    text = json.dumps({"kubetaskReport": 1, "handler": {"name": "h"}, "failure": {"retryAfterSeconds": bad}})
    report = decode(text)
    assert report is not None and report.failure is not None and report.failure.retry_after_seconds is None
