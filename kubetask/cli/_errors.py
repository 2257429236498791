"""The CLI's errors and exit codes: each failure is one line on stderr and a documented exit code.

CliError (`error: <message>` on stderr, one line, by `KubetaskGroup` in kubetask.cli._app)
├── UsageProblem      2  a value the parser cannot check: bad -p/-f, -o, --since, config file, context
├── ApiError          3  the API is unreachable, or it answered a problem (4xx/5xx, RFC 9457)
├── TaskFailed        1  a task waited for ended in a phase other than Succeeded
└── WaitTimedOut      4  --timeout passed before the task reached a final phase

Click's own usage errors (unknown option, missing argument) also exit 2, printed on one line too.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The CLI's exit codes (README, "Exit codes"); the one home of these numbers."""

    OK = 0
    TASK_FAILED = 1
    USAGE = 2
    API = 3
    TIMEOUT = 4


class CliError(Exception):
    """A failure reported as `error: <message>` on one line of stderr, exiting with `exit_code`."""

    exit_code = int(ExitCode.API)

    def __init__(self, message: str) -> None:
        self.message = " ".join(message.split())  # one line, whatever the server or a schema said
        super().__init__(self.message)


class UsageProblem(CliError):
    exit_code = int(ExitCode.USAGE)


class ApiError(CliError):
    exit_code = int(ExitCode.API)

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TaskFailed(CliError):
    exit_code = int(ExitCode.TASK_FAILED)


class WaitTimedOut(CliError):
    exit_code = int(ExitCode.TIMEOUT)
