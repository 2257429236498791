"""The pure parts of an attempt's log: `tail` on a kept log cuts as the apiserver's `tailLines` does,
the 404 of a missing log says what is missing, and the apiserver is asked for what was asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubetask.api.bodies import AttemptPublic
from kubetask.api.log_service import RECENT_SECONDS, find_attempt, last_lines, missing_detail
from kubetask.api.pod_logs import LogQuery
from kubetask.api.problems import ProblemError

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _attempt(number: int = 1, *, pod: str | None = "t-1-abcde", finished: datetime | None = None) -> AttemptPublic:
    phase = "Succeeded" if finished else "Running"
    return AttemptPublic(number=number, job_name=f"t-{number}", pod_name=pod, phase=phase, finished_at=finished)


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        pytest.param("a\nb\nc\n", None, "a\nb\nc\n", id="no tail: all of it"),
        pytest.param("a\nb\nc\n", 2, "b\nc\n", id="the last two lines"),
        pytest.param("a\nb\nc", 1, "c", id="a last line without its newline"),
        pytest.param("a\nb\n", 10, "a\nb\n", id="more lines asked than there are"),
        pytest.param("a\nb\n", 0, "", id="zero lines"),
        pytest.param("", 3, "", id="an empty log"),
    ],
)
def test_tail_keeps_the_last_lines_of_a_kept_log(text: str, n: int | None, expected: str) -> None:
    assert last_lines(text, n) == expected


@pytest.mark.parametrize(
    ("attempt", "words"),
    [
        pytest.param(_attempt(pod=None), "has no pod yet", id="not started"),
        pytest.param(_attempt(), "not kept yet", id="pod gone, attempt not recorded as ended"),
        pytest.param(_attempt(finished=NOW - timedelta(seconds=5)), "ended moments ago", id="ended just now"),
        pytest.param(
            _attempt(finished=NOW - timedelta(seconds=RECENT_SECONDS + 1)), "no kept log", id="ended long ago"
        ),
    ],
)
def test_a_missing_log_says_what_is_missing(attempt: AttemptPublic, words: str) -> None:
    detail = missing_detail(attempt, "t", now=NOW)
    assert words in detail and "attempt 1 of Task 't'" in detail


def test_an_attempt_not_there_is_a_404_that_counts_the_attempts() -> None:
    assert find_attempt([_attempt(1), _attempt(2)], 2, "t", "ns").number == 2
    with pytest.raises(ProblemError) as missing:
        find_attempt([_attempt(1)], 3, "t", "ns")
    assert missing.value.status == 404
    assert missing.value.detail == "Task 't' in namespace 'ns' has no attempt 3 (it has 1)"
    with pytest.raises(ProblemError) as none:
        find_attempt([], 1, "t", "ns")
    assert "it has none yet" in none.value.detail


def test_the_apiserver_is_asked_for_the_task_container_with_only_the_options_given() -> None:
    assert LogQuery().params() == {"container": "main"}
    asked = LogQuery(follow=True, tail_lines=5, since_seconds=30).params()
    assert asked == {"container": "main", "follow": "true", "tailLines": "5", "sinceSeconds": "30"}
