"""What a handler raises to say how it failed, and so whether another attempt may help.

    Exception                 not classified: retryable, the task's retry policy decides (as before)
    └── TaskFailed            fail with a message and an exit code (default 1); retryable
        ├── RetryableError    another attempt may succeed, not before `retry_after` seconds (if given)
        └── PermanentError    the same input fails the same way: never retried (PermanentFailure)
            └── ParamsRejected  the params do not fit the handler's params model: never retried

The runtime turns each into the `failure` of its report (`kubetask.executor.report`); the operator
obeys it within the task's policy: a permanent failure ends the task `Failed`/`PermanentFailure`
whatever `retryOn` says; a retryable one is retried as the policy says (`noRetryOn` still wins), and
not before `retry_after` (capped by the policy's `maxDelaySeconds`). Modelled on kopf's
`TemporaryError(delay=)` / `PermanentError`.
"""

from __future__ import annotations

import math


class TaskFailed(Exception):
    """Raise in a handler to fail the task with `message` and a chosen exit code (default 1)."""

    retryable = True

    def __init__(self, message: str, *, exit_code: int = 1, kind: str | None = None) -> None:
        super().__init__(message)
        if not 1 <= exit_code <= 255:
            raise ValueError(f"exit_code must be in 1..255 (0 is success), not {exit_code!r}")
        self.exit_code = exit_code
        self.kind = kind or type(self).__name__
        self.retry_after: float | None = None


class RetryableError(TaskFailed):
    """A failure another attempt may cure (a timeout, a 503); `retry_after` in seconds, if known."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, exit_code: int = 1, kind: str | None = None
    ) -> None:
        super().__init__(message, exit_code=exit_code, kind=kind)
        if retry_after is not None and not (math.isfinite(retry_after) and retry_after >= 0):
            raise ValueError(f"retry_after must be a finite number of seconds >= 0, not {retry_after!r}")
        self.retry_after = retry_after


class PermanentError(TaskFailed):
    """A failure no retry can cure (a 404, a refused input): the task fails at once."""

    retryable = False


class ParamsRejected(PermanentError):
    """The params do not fit the handler's `params` model (reason `ParamsRejected`, never retried).

    Raised by the runtime, not by handlers: `problems` are (JSON pointer, message) pairs, all of them.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        text = "; ".join(f"{pointer or '/'}: {message}" for pointer, message in problems)
        super().__init__(f"params do not fit the handler's model: {text}", kind="ParamsRejected")
        self.problems = problems
