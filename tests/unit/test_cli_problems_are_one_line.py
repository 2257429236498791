"""API problems (RFC 9457) become one line: status, title, detail and every field pointer."""

from __future__ import annotations

import pytest

from kubetask.cli._client import problem_line
from kubetask.cli._errors import ApiError, CliError, ExitCode, TaskFailed, UsageProblem, WaitTimedOut


@pytest.mark.parametrize(
    ("status", "body", "text", "line"),
    [
        pytest.param(
            404,
            {"title": "Not found", "detail": "Task 'x' not found"},
            "",
            "404 Not found: Task 'x' not found",
            id="title and detail",
        ),
        pytest.param(
            422,
            {
                "title": "Request is invalid",
                "detail": "bad",
                "errors": [{"pointer": "/labels/a b", "detail": "invalid key"}],
            },
            "",
            "422 Request is invalid: bad [/labels/a b: invalid key]",
            id="field pointers appended",
        ),
        pytest.param(
            422,
            {"title": "Request is invalid", "detail": "/params: x", "errors": [{"pointer": "/params", "detail": "x"}]},
            "",
            "422 Request is invalid: /params: x",
            id="pointers already in the detail are not repeated",
        ),
        pytest.param(503, {"title": "Service unavailable"}, "", "503: Service unavailable", id="title only"),
        pytest.param(502, None, "<html>bad gateway</html>", "502: <html>bad gateway</html>", id="not JSON"),
        pytest.param(500, None, "", "500: no body", id="empty"),
    ],
)
def test_problem_lines(status: int, body: object, text: str, line: str) -> None:
    assert problem_line(status, body, text) == line


def test_every_error_is_one_line_with_its_exit_code() -> None:
    cases: list[tuple[CliError, int]] = [
        (UsageProblem("a\nb"), ExitCode.USAGE),
        (ApiError("a\n  b", status=500), ExitCode.API),
        (TaskFailed("a"), ExitCode.TASK_FAILED),
        (WaitTimedOut("a"), ExitCode.TIMEOUT),
    ]
    assert [(e.exit_code, "\n" in e.message) for e, _ in cases] == [(int(code), False) for _, code in cases]
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4]
