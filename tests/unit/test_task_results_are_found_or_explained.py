"""Which attempt's result `GET …/tasks/{name}/result` serves, and the 404 that says why there is none."""

from __future__ import annotations

import hashlib

import pytest

from kubetask.api.problems import ProblemError
from kubetask.api.result_service import AttemptEnd, TaskResult, choose, encode_small

OK = AttemptEnd(2, "Succeeded", "Completed")
FAILED = AttemptEnd(1, "Failed", "Error", "exit code 1")
TOO_LARGE = AttemptEnd(1, "Failed", "ResultTooLarge", "result is 2000000 bytes of JSON; the limit is 1048576")
RUNNING = AttemptEnd(1, "Running")


@pytest.mark.parametrize(
    ("phase", "attempts", "wanted", "number"),
    [
        ("Succeeded", [FAILED, OK], None, 2),
        ("Succeeded", [FAILED, OK], 2, 2),
        ("Succeeded", [OK], None, 2),
    ],
    ids=["the-succeeded-attempt-by-default", "the-succeeded-attempt-asked-for", "the-only-attempt"],
)
def test_the_succeeded_attempt_answers(phase: str, attempts: list[AttemptEnd], wanted: int | None, number: int) -> None:
    assert choose("t", "ns", phase, attempts, wanted).number == number


@pytest.mark.parametrize(
    ("phase", "attempts", "wanted", "says"),
    [
        ("Running", [RUNNING], None, "has not finished (Running)"),
        ("Pending", [], None, "has not finished (Pending)"),
        ("Running", [RUNNING], 1, "attempt 1 of Task 't' in namespace 'ns' has not finished (Running)"),
        ("Succeeded", [FAILED, OK], 3, "has no attempt 3 (it has 2)"),
        ("Pending", [], 1, "has no attempt 1 (it has none yet)"),
        ("Succeeded", [FAILED, OK], 1, "attempt 1 of Task 't' in namespace 'ns' ended Failed (Error: exit code 1)"),
        ("Failed", [TOO_LARGE], None, "ended Failed without a result (its last attempt: Failed (ResultTooLarge: "),
        ("Cancelled", [], None, "ended Cancelled without a result (no attempt ran)"),
    ],
    ids=[
        "running",
        "no-attempt-yet",
        "attempt-running",
        "no-such-attempt",
        "no-attempt-at-all",
        "attempt-failed",
        "failed-with-its-reason",
        "cancelled-before-any-attempt",
    ],
)
def test_no_result_is_a_404_saying_why(phase: str, attempts: list[AttemptEnd], wanted: int | None, says: str) -> None:
    with pytest.raises(ProblemError) as e:
        choose("t", "ns", phase, attempts, wanted)
    assert e.value.status == 404
    assert says in e.value.detail


def test_a_small_result_is_json_as_the_executor_writes_it() -> None:
    body = encode_small({"text": "héllo", "n": [1, 2]})
    assert body == '{"text":"héllo","n":[1,2]}'.encode()
    assert encode_small(None) == b"null"
    assert TaskResult(1, body, "status").sha256 == hashlib.sha256(body).hexdigest()
