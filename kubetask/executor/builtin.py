"""Built-in handlers: `echo` (returns its params), `sleep` (waits, for tests), `fail` (exits non-zero)."""

from __future__ import annotations

import time
from typing import Any

from kubetask.executor._registry import handler
from kubetask.executor.errors import PermanentError, RetryableError, TaskFailed


@handler("echo")
def echo(params: Any) -> Any:
    """Return the params unchanged."""
    return params


@handler("sleep")
def sleep(params: Any) -> Any:
    """Sleep `seconds` (default 1), then return `result` (default {"slept": seconds})."""
    p = params if isinstance(params, dict) else {}
    seconds = float(p.get("seconds", 1))
    time.sleep(seconds)
    return p.get("result", {"slept": seconds})


@handler("fail")
def fail(params: Any) -> Any:
    """Fail with `message` and `exitCode` (default 1): `permanent: true` raises PermanentError, a
    `retryAfterSeconds` RetryableError with it, else TaskFailed (retryable as the policy says)."""
    p = params if isinstance(params, dict) else {}
    message, code = str(p.get("message", "failed on request")), int(p.get("exitCode", 1))
    if p.get("permanent") is True:
        raise PermanentError(message, exit_code=code)
    if p.get("retryAfterSeconds") is not None:
        raise RetryableError(message, exit_code=code, retry_after=float(p["retryAfterSeconds"]))
    raise TaskFailed(message, exit_code=code)
